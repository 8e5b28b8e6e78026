# avahi_env.sh -- a private D-Bus system bus and avahi-daemon for tests.
# Sourced (bash), not run; not a test itself (ctest runs tests/integ/*.sh).
#
#   . "$CAJA_SRC/tests/support/avahi_env.sh"
#   why=$(avahi_env_check) || { echo "SKIP: $why"; exit 0; }
#   start_private_avahi "$DIR"      # exports DBUS_SYSTEM_BUS_ADDRESS
#   ...                             # clients (cajad, avahi-browse) use it
#   stop_private_avahi "$DIR"
#
# How (as in the project's lab notes): the stock
# /usr/share/dbus-1/system.conf with its socket and pid file moved into DIR
# and no user switch; then avahi-daemon with DIR/avahi-run bind-mounted
# over /run/avahi-daemon (its compiled-in pid file and socket) in a mount
# namespace of its own, configured with allow-interfaces=lo, IPv4 only and
# a host name of its own.
#
# One more thing than the lab notes: the daemon runs in a network namespace
# of its own (`ip netns add`, only `lo`, up). Two avahi-daemons on one `lo`
# fight over the reverse record of 127.0.0.1 and one of them renames itself
# forever, so two tests (or two engineers) running at once would break each
# other; and nothing at all is multicast in the root namespace. Clients
# anywhere reach the daemon through DIR/dbus.sock (a path, not a network
# address). Services it publishes resolve to 127.0.0.1, which is the
# client's own loopback too: a cajad in the root namespace listening on
# 127.0.0.1:PORT is reachable at the endpoint its peers discover.
#
# Needs root, ip (iproute2), dbus-daemon, dbus-send, avahi-daemon (user
# avahi); the configuration files and the checks are dbus_avahi.sh's
# (shared with netns.sh). Daemons forked with --fork / -D are re-parented
# and reaped late: stopping waits for the PID to be gone or a zombie. Only the PIDs recorded
# in DIR are ever signalled, only the namespace recorded there is deleted.
# DIR must be an absolute path, and it and its parents must be searchable
# by user avahi (mktemp -d makes a 0700 dir: chmod 755 it).
#
# Functions:
#   avahi_env_check                  0 when usable; else prints why, returns 1
#   start_private_avahi DIR [HOST]   netns + dbus + avahi; waits for RUNNING
#   stop_private_avahi DIR           stops all that (idempotent)
#   avahi_daemon_stop DIR            stops avahi-daemon only (bus stays)
#   avahi_daemon_start DIR           starts it again with the same config
#   avahi_is_running DIR             0 when the daemon answers RUNNING
#   avahi_bus DIR                    prints DIR's DBUS_SYSTEM_BUS_ADDRESS
#   start_companion_avahi DIR2 DIR [HOST]
#                                    a second dbus + avahi-daemon in DIR's
#                                    namespace (another "host" on the same
#                                    link) that publishes no address records
#                                    (so no reverse-record fight): for
#                                    conflicting services. Stop it with
#                                    stop_private_avahi DIR2, before DIR.

. "$(dirname "${BASH_SOURCE[0]}")/dbus_avahi.sh"

avahi_env_check() {
	if [[ $EUID -ne 0 ]]; then
		echo "needs root (network namespace, bind mount, daemons)"
		return 1
	fi
	if ! command -v ip >/dev/null 2>&1; then
		echo "missing command: ip (apt-get install iproute2)"
		return 1
	fi
	dbus_avahi_check
}

avahi_bus() {
	echo "unix:path=$1/dbus.sock"
}

# _avahi_env_kill PID: SIGTERM, wait up to 5 s, then SIGKILL and wait.
_avahi_env_kill() {
	local pid=$1 k
	[[ -n $pid ]] || return 0
	dbus_avahi_gone "$pid" && return 0
	kill "$pid" 2>/dev/null || true
	for ((k = 0; k < 50; k++)); do
		dbus_avahi_gone "$pid" && return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || true
	for ((k = 0; k < 50; k++)); do
		dbus_avahi_gone "$pid" && return 0
		sleep 0.1
	done
	echo "avahi_env: PID $pid would not exit" >&2
	return 1
}

avahi_is_running() {
	dbus_avahi_running "$(avahi_bus "$1")"
}

# _avahi_env_conf DIR HOST PUBLISH_ADDRESSES(yes|no)
_avahi_env_conf() {
	local dir=$1
	mkdir -p "$dir/avahi-run"
	# avahi-daemon drops to user avahi and must reach dbus.sock.
	chmod 755 "$dir"
	dbus_avahi_dbus_conf "$dir"
	dbus_avahi_conf "$dir/avahi.conf" "$2" lo "$3"
}

_avahi_env_dbus() {
	local dir=$1 k
	if ! dbus-daemon --config-file="$dir/dbus.conf" --fork \
	    --print-pid >"$dir/dbus.pidout" 2>"$dir/dbus.log"; then
		echo "avahi_env: dbus-daemon failed (see $dir/dbus.log)" >&2
		return 1
	fi
	head -n1 "$dir/dbus.pidout" >"$dir/dbus.daemon.pid"
	for ((k = 0; k < 50; k++)); do
		[[ -S $dir/dbus.sock ]] && return 0
		sleep 0.1
	done
	echo "avahi_env: no $dir/dbus.sock" >&2
	return 1
}

avahi_daemon_start() {
	local dir=$1 k ns
	ns=$(cat "$dir/netns") || return 1
	rm -f "$dir/avahi-run/pid" "$dir/avahi.pid"
	# `ip netns exec` gives the command a mount namespace of its own: the
	# bind mount is this daemon's only.
	if ! DBUS_SYSTEM_BUS_ADDRESS=$(avahi_bus "$dir") ip netns exec "$ns" \
	    sh -c "mount --bind '$dir/avahi-run' /run/avahi-daemon &&
	    exec avahi-daemon -f '$dir/avahi.conf' --no-chroot -D" \
	    >>"$dir/avahi.log" 2>&1; then
		echo "avahi_env: avahi-daemon failed to start (see $dir/avahi.log)" >&2
		return 1
	fi
	for ((k = 0; k < 100; k++)); do
		if [[ -s $dir/avahi-run/pid ]]; then
			cat "$dir/avahi-run/pid" >"$dir/avahi.pid"
			break
		fi
		sleep 0.1
	done
	if [[ ! -s $dir/avahi.pid ]]; then
		echo "avahi_env: avahi-daemon wrote no pid file" >&2
		return 1
	fi
	for ((k = 0; k < 100; k++)); do
		avahi_is_running "$dir" && return 0
		sleep 0.1
	done
	echo "avahi_env: avahi-daemon not RUNNING after 10 s (see $dir/avahi.log)" >&2
	return 1
}

avahi_daemon_stop() {
	local dir=$1
	if [[ -s $dir/avahi.pid ]]; then
		_avahi_env_kill "$(cat "$dir/avahi.pid")" || return 1
		rm -f "$dir/avahi.pid"
	fi
	return 0
}

start_private_avahi() {
	local dir=$1 host=${2:-caja-test-$$} ns
	[[ $dir == /* ]] || { echo "avahi_env: DIR must be absolute" >&2; return 1; }
	mkdir -p "$dir"
	# The mount point; never removed (another test may be using it).
	mkdir -p /run/avahi-daemon
	ns=cajat-$$-$RANDOM
	ip netns add "$ns" || return 1
	echo "$ns" >"$dir/netns"
	touch "$dir/netns.owned"
	ip -n "$ns" link set lo up || return 1
	_avahi_env_conf "$dir" "$host" yes
	_avahi_env_dbus "$dir" || return 1
	export DBUS_SYSTEM_BUS_ADDRESS
	DBUS_SYSTEM_BUS_ADDRESS=$(avahi_bus "$dir")
	avahi_daemon_start "$dir"
}

start_companion_avahi() {
	local dir=$1 main=$2 host=${3:-caja-comp-$$}
	[[ $dir == /* ]] || { echo "avahi_env: DIR must be absolute" >&2; return 1; }
	mkdir -p "$dir"
	cp "$main/netns" "$dir/netns" || return 1
	_avahi_env_conf "$dir" "$host" no
	_avahi_env_dbus "$dir" || return 1
	avahi_daemon_start "$dir"
}

stop_private_avahi() {
	local dir=$1 rc=0
	avahi_daemon_stop "$dir" || rc=1
	if [[ -s $dir/dbus.daemon.pid ]]; then
		_avahi_env_kill "$(cat "$dir/dbus.daemon.pid")" || rc=1
		rm -f "$dir/dbus.daemon.pid"
	fi
	if [[ -f $dir/netns.owned && -s $dir/netns ]]; then
		ip netns del "$(cat "$dir/netns")" 2>/dev/null || rc=1
		rm -f "$dir/netns.owned"
	fi
	return $rc
}
