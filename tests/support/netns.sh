# netns.sh -- a store in network namespaces, for caja's LAN fault tests.
# Sourced (bash), not run; not a test itself (ctest runs tests/integ/*.sh).
#
#   . "$CAJA_SRC/tests/support/netns.sh"
#   why=$(netns_check) || { echo "SKIP: $why"; exit 0; }
#   netns_up 4 || fail "netns_up"     # 4 registers behind one "Wi-Fi AP"
#   netns_spawn 1 "$T/r1.log" "$CAJAD" --dir ... --listen "tcp://$(netns_addr 1):7700"
#   netns_partition 3 ... netns_heal ... netns_flap 2 1.5 ... netns_loss 25 3
#   netns_down                        # also run by the EXIT trap
#
# Topology (as shared/LAB.md's lab, rebuilt here so that the project's tests
# need nothing outside the tree): a namespace $NETNS_P-sw holds bridge br0,
# the access point; register i is namespace $NETNS_P-n$i, whose eth0 is a
# veth to port p$i on br0, address $NETNS_SUBNET.(10+i)/24. Both ends of
# each veth are created directly inside the namespaces, so nothing at all
# is added to the root namespace: no address of the test range exists
# there, no packet can leave the machine, the root namespace's eth0 never
# sees a multicast. Every run uses its own prefix (pid and a random number):
# parallel tests and engineers don't collide (interface names live inside
# the namespaces, so they can be short and fixed).
#
# Faults, all applied on the bridge (the registers' own links stay up, as
# behind a real AP, except for a flap):
#   silent partition  nft bridge-family rules: iifname/oifname pI drop
#                     (or iifname only: an asymmetric cut)
#   split             drop between two groups of ports, both ways
#   link flap         ip -n SW link set pI down, later up (NO-CARRIER)
#   lossy Wi-Fi       nft `numgen random mod 100 lt PCT drop`: on every
#                     frame the bridge forwards (PCT% loss between any two
#                     registers, each way), or per port and direction
#                     (a frame between two lossy ports is tested twice)
# netns_heal removes every nft rule and brings every port up.
#
# mDNS (optional, per register): netns_avahi_start I gives register I its
# own D-Bus system bus and avahi-daemon (allow-interfaces=eth0, IPv4, a
# host name of its own; configured by dbus_avahi.sh, as avahi_env.sh's),
# as shared/LAB.md describes; netns_spawn then runs the program with
# DBUS_SYSTEM_BUS_ADDRESS pointing to that bus. The daemon's
# /run/avahi-daemon is a bind mount of a dir of ours, in the mount
# namespace `ip netns exec` makes for it.
#
# Processes: netns_spawn starts a program in the background inside a
# register's namespace (`env ... ip netns exec NS prog`: both exec, so $!
# is the program itself) and records its PID (also in lib.sh's OWN_PIDS
# when that is defined). netns_down signals only the PIDs recorded in
# $NETNS_DIR/pids (SIGTERM, then SIGKILL after 5 s), then, as a safety
# net, whatever still runs inside the namespaces this run created (nobody
# else can have entered them: their names are unique to this run), and
# deletes only the namespaces listed in $NETNS_DIR/netns (each is listed
# the moment it is created, so a failure half-way is cleaned up too).
# dbus-daemon and avahi-daemon run in the foreground as our children (a
# forked daemon would be re-parented to a PID 1 that may never reap it);
# a zombie counts as gone.
#
# Cleanup on any exit: netns_up installs an EXIT trap that runs netns_down
# and then, when lib.sh is loaded, lib_cleanup (which stops OWN_PIDS, shows
# logs on failure and removes $T). Tests that install their own EXIT trap
# afterwards must call netns_down themselves.
#
# Env (read by netns_up):
#   NETNS_PREFIX  namespace name prefix (default caja-<pid>-<random>)
#   NETNS_SUBNET  first three octets (default 10.77.0)
#   NETNS_DIR     configs, pid lists, avahi dirs (default $T/netns with
#                 lib.sh, else a new /tmp dir); made traversable (755)
#                 because avahi-daemon drops to user avahi
#
# Functions:
#   netns_check                 0 when usable, else prints why, returns 1
#   netns_up N                  bridge + N registers, ping-checked
#   netns_down                  kill our PIDs, delete our namespaces
#   netns_ns I / netns_addr I   namespace name / IPv4 address of register I
#   netns_exec I CMD...         run CMD in register I (foreground)
#   netns_in I                  prints a command prefix for `$(netns_in I)
#                               prog &` (then $! is prog's PID)
#   netns_spawn I LOG CMD...    background CMD in register I, stdout and
#                               stderr appended to LOG; sets NETNS_PID
#   netns_kill PID [SIG]        signal a recorded PID, wait until gone
#   netns_partition I...        isolate registers I... silently
#   netns_split "I..." "J..."   cut every I from every J (both ways)
#   netns_cut_from I...         asymmetric: drop only what I... send
#   netns_heal                  no rules, every port up
#   netns_link I up|down        carrier of register I's bridge port
#   netns_flap I [SECONDS]      down, wait (default 1), up
#   netns_loss PCT [I...]       drop PCT% of forwarded frames (no I), or
#                               PCT% each way on ports I...
#   netns_rules                 prints the active nft rules
#   netns_ping I J              0 when I reaches J (3 tries)
#   netns_avahi_start I         private dbus + avahi-daemon for register I
#   netns_avahi_running I       0 when its avahi-daemon answers RUNNING
#   netns_bus I                 its DBUS_SYSTEM_BUS_ADDRESS

. "$(dirname "${BASH_SOURCE[0]}")/dbus_avahi.sh"

NETNS_P=
NETNS_N=0
NETNS_SUBNET=${NETNS_SUBNET:-10.77.0}
NETNS_DIR=${NETNS_DIR:-}
NETNS_PID=
NETNS_TABLE=caja_fault

_netns_log() { printf '[%s] netns: %s\n' "$(date +%T.%3N)" "$*" >&2; }

netns_check() {
	local c
	if [[ $EUID -ne 0 ]]; then
		echo "needs root (network namespaces, nft)"
		return 1
	fi
	for c in ip nft ping; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "missing command: $c (apt-get install iproute2 nftables iputils-ping)"
			return 1
		fi
	done
	return 0
}

# Extra checks for netns_avahi_start.
netns_avahi_check() {
	dbus_avahi_check
}

netns_ns() { echo "$NETNS_P-n$1"; }
netns_sw() { echo "$NETNS_P-sw"; }
netns_addr() { echo "$NETNS_SUBNET.$((10 + $1))"; }
netns_bus() { echo "unix:path=$NETNS_DIR/n$1/dbus.sock"; }

# The environment a program in register I runs with: its private bus when
# it has an avahi-daemon, else a bus path that does not exist (so that a
# program never talks to a system bus outside the test).
_netns_env() {
	if [[ -f $NETNS_DIR/n$1/avahi.pid ]]; then
		echo "DBUS_SYSTEM_BUS_ADDRESS=$(netns_bus "$1")"
	else
		echo "DBUS_SYSTEM_BUS_ADDRESS=unix:path=$NETNS_DIR/n$1/no-bus"
	fi
}

netns_in() { echo "env $(_netns_env "$1") ip netns exec $(netns_ns "$1")"; }

netns_exec() {
	local i=$1
	shift
	env "$(_netns_env "$i")" ip netns exec "$(netns_ns "$i")" "$@"
}

_netns_sw() { ip netns exec "$NETNS_P-sw" "$@"; }

_netns_record_pid() {
	echo "$1" >>"$NETNS_DIR/pids"
	if declare -p OWN_PIDS >/dev/null 2>&1; then
		OWN_PIDS+=("$1")
	fi
}

netns_spawn() {
	local i=$1 logf=$2
	shift 2
	$(netns_in "$i") "$@" >>"$logf" 2>&1 &
	NETNS_PID=$!
	_netns_record_pid "$NETNS_PID"
}

# _netns_wait_gone PID TENTHS
_netns_wait_gone() {
	local k
	for ((k = 0; k < $2; k++)); do
		dbus_avahi_gone "$1" && return 0
		sleep 0.1
	done
	dbus_avahi_gone "$1"
}

netns_kill() {
	local pid=$1 sig=${2:-TERM}
	grep -qx "$pid" "$NETNS_DIR/pids" 2>/dev/null ||
	    { _netns_log "refusing to signal $pid: not started by netns.sh"; return 1; }
	kill -"$sig" "$pid" 2>/dev/null
	_netns_wait_gone "$pid" 100 || return 1
	wait "$pid" 2>/dev/null
	return 0
}

netns_up() {
	local n=$1 i k t0=$SECONDS ns sw
	[[ $n -ge 1 && $n -le 50 ]] || { _netns_log "netns_up: bad count $n"; return 1; }
	if [[ -n $NETNS_P ]]; then
		_netns_log "netns_up: already up ($NETNS_P)"
		return 1
	fi
	NETNS_P=${NETNS_PREFIX:-caja-$$-$RANDOM}
	NETNS_N=$n
	if [[ -z $NETNS_DIR ]]; then
		if [[ -n ${T:-} && -d ${T:-} ]]; then
			NETNS_DIR=$T/netns
		else
			NETNS_DIR=$(mktemp -d /tmp/caja-netns.XXXXXX)
		fi
	fi
	mkdir -p "$NETNS_DIR"
	# avahi-daemon (user avahi) must reach the bus sockets below.
	chmod 755 "$NETNS_DIR"
	if [[ -n ${T:-} && $NETNS_DIR == "$T/netns" ]]; then
		chmod 755 "$T"
	fi
	: >"$NETNS_DIR/netns"
	: >"$NETNS_DIR/pids"
	_netns_install_trap
	sw=$NETNS_P-sw
	for ns in $sw $(for ((i = 1; i <= n; i++)); do echo "$NETNS_P-n$i"; done); do
		if ip netns list | awk '{print $1}' | grep -qx "$ns"; then
			_netns_log "namespace $ns exists already"
			return 1
		fi
	done
	ip netns add "$sw" || return 1
	echo "$sw" >>"$NETNS_DIR/netns"
	ip -n "$sw" link set lo up || return 1
	ip -n "$sw" link add br0 type bridge || return 1
	ip -n "$sw" link set br0 up || return 1
	for ((i = 1; i <= n; i++)); do
		ns=$(netns_ns "$i")
		ip netns add "$ns" || return 1
		echo "$ns" >>"$NETNS_DIR/netns"
		mkdir -p "$NETNS_DIR/n$i"
		chmod 755 "$NETNS_DIR/n$i"
		ip -n "$ns" link set lo up || return 1
		ip link add eth0 netns "$ns" type veth peer name "p$i" \
		    netns "$sw" || return 1
		ip -n "$ns" addr add "$(netns_addr "$i")/24" dev eth0 || return 1
		ip -n "$ns" link set eth0 up || return 1
		ip -n "$sw" link set "p$i" master br0 || return 1
		ip -n "$sw" link set "p$i" up || return 1
	done
	_netns_sw nft add table bridge "$NETNS_TABLE" || return 1
	_netns_sw nft add chain bridge "$NETNS_TABLE" filt \
	    '{ type filter hook forward priority 0; policy accept; }' || return 1
	# The bridge forwards once its ports leave the listening state (no
	# STP: at once); check every register reaches register 1 and back.
	for ((i = 2; i <= n; i++)); do
		for ((k = 0; k < 30; k++)); do
			netns_exec "$i" ping -c 1 -W 1 -q "$(netns_addr 1)" \
			    >/dev/null 2>&1 && break
			sleep 0.1
		done
		[[ $k -lt 30 ]] || { _netns_log "register $i cannot reach register 1"; return 1; }
	done
	_netns_log "up: $n registers $NETNS_SUBNET.11-$((10 + n)) behind $sw (prefix $NETNS_P) in $((SECONDS - t0)) s"
	return 0
}

_netns_trap() {
	local rc=$?
	netns_down
	if declare -F lib_cleanup >/dev/null; then
		(exit "$rc")
		lib_cleanup
	fi
	exit "$rc"
}

_netns_install_trap() {
	trap _netns_trap EXIT
}

netns_down() {
	local pid n k left
	[[ -n $NETNS_DIR && -d $NETNS_DIR ]] || return 0
	if [[ -s $NETNS_DIR/pids ]]; then
		while read -r pid; do
			[[ -n $pid ]] && kill -TERM "$pid" 2>/dev/null
		done <"$NETNS_DIR/pids"
		while read -r pid; do
			[[ -n $pid ]] || continue
			if ! _netns_wait_gone "$pid" 50; then
				kill -KILL "$pid" 2>/dev/null
				_netns_wait_gone "$pid" 50 ||
				    _netns_log "PID $pid would not exit"
			fi
			wait "$pid" 2>/dev/null	# our child: reap it
		done <"$NETNS_DIR/pids"
	fi
	# Safety net: anything left inside OUR namespaces is ours (their
	# names are unique to this run).
	if [[ -s $NETNS_DIR/netns ]]; then
		for ((k = 0; k < 50; k++)); do
			left=
			while read -r n; do
				[[ -n $n ]] || continue
				left+=" $(ip netns pids "$n" 2>/dev/null | tr '\n' ' ')"
			done <"$NETNS_DIR/netns"
			[[ -z ${left// /} ]] && break
			for pid in $left; do
				if [[ $k -lt 30 ]]; then
					kill -TERM "$pid" 2>/dev/null
				else
					kill -KILL "$pid" 2>/dev/null
				fi
			done
			sleep 0.1
		done
		while read -r n; do
			[[ -n $n ]] || continue
			ip netns del "$n" 2>/dev/null ||
			    _netns_log "cannot delete namespace $n"
		done <"$NETNS_DIR/netns"
		: >"$NETNS_DIR/netns"
	fi
	: >"$NETNS_DIR/pids"
	NETNS_P=
	return 0
}

_netns_rule() {
	_netns_sw nft add rule bridge "$NETNS_TABLE" filt "$@"
}

netns_partition() {
	local i
	for i in "$@"; do
		_netns_rule iifname "p$i" drop || return 1
		_netns_rule oifname "p$i" drop || return 1
	done
}

netns_cut_from() {
	local i
	for i in "$@"; do
		_netns_rule iifname "p$i" drop || return 1
	done
}

netns_split() {
	local i j
	for i in $1; do
		for j in $2; do
			_netns_rule iifname "p$i" oifname "p$j" drop || return 1
			_netns_rule iifname "p$j" oifname "p$i" drop || return 1
		done
	done
}

netns_loss() {
	local pct=$1 i
	shift
	if [[ $# -eq 0 ]]; then
		# Every frame the bridge forwards, whichever port.
		_netns_rule numgen random mod 100 lt "$pct" drop
		return
	fi
	for i in "$@"; do
		_netns_rule iifname "p$i" numgen random mod 100 lt "$pct" drop ||
		    return 1
		_netns_rule oifname "p$i" numgen random mod 100 lt "$pct" drop ||
		    return 1
	done
}

netns_link() {
	ip -n "$NETNS_P-sw" link set "p$1" "$2"
}

netns_flap() {
	netns_link "$1" down || return 1
	sleep "${2:-1}"
	netns_link "$1" up
}

netns_heal() {
	local i
	_netns_sw nft flush chain bridge "$NETNS_TABLE" filt || return 1
	for ((i = 1; i <= NETNS_N; i++)); do
		netns_link "$i" up || return 1
	done
}

netns_rules() {
	_netns_sw nft list chain bridge "$NETNS_TABLE" filt |
	    grep -E 'drop|numgen' | sed -e 's/^[[:space:]]*//'
}

netns_ping() {
	netns_exec "$1" ping -c 3 -i 0.2 -W 1 -q "$(netns_addr "$2")" \
	    >/dev/null 2>&1
}

netns_avahi_running() {
	dbus_avahi_running "$(netns_bus "$1")"
}

netns_avahi_start() {
	local i=$1 d=$NETNS_DIR/n$1 k pid
	mkdir -p "$d/avahi-run" /run/avahi-daemon	# mount point, kept
	chmod 755 "$d"
	dbus_avahi_dbus_conf "$d"
	# Only eth0 (the veth to the bridge): never lo, never anything of the
	# root namespace (it is not visible here anyway).
	dbus_avahi_conf "$d/avahi.conf" "$NETNS_P-n$i" eth0 yes
	# Both daemons stay in the foreground, as our children: recorded by
	# PID, reaped by netns_down (no zombies left behind for a PID 1 that
	# does not reap).
	ip netns exec "$(netns_ns "$i")" dbus-daemon \
	    --config-file="$d/dbus.conf" --nofork >>"$d/dbus.log" 2>&1 &
	_netns_record_pid "$!"
	echo "$!" >"$d/dbus.daemon.pid"
	for ((k = 0; k < 50; k++)); do
		[[ -S $d/dbus.sock ]] && break
		sleep 0.1
	done
	[[ -S $d/dbus.sock ]] || { _netns_log "no $d/dbus.sock (see $d/dbus.log)"; return 1; }
	# `ip netns exec` gives sh a mount namespace of its own: the bind
	# mount is this daemon's only; sh execs the daemon (same PID).
	DBUS_SYSTEM_BUS_ADDRESS=$(netns_bus "$i") ip netns exec \
	    "$(netns_ns "$i")" sh -c "mount --bind '$d/avahi-run' /run/avahi-daemon &&
	    exec avahi-daemon -f '$d/avahi.conf' --no-chroot" \
	    >>"$d/avahi.log" 2>&1 &
	pid=$!
	_netns_record_pid "$pid"
	echo "$pid" >"$d/avahi.pid"
	for ((k = 0; k < 100; k++)); do
		netns_avahi_running "$i" && return 0
		sleep 0.1
	done
	_netns_log "avahi-daemon in $(netns_ns "$i") not RUNNING after 10 s"
	return 1
}
