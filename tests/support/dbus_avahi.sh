# dbus_avahi.sh -- what a private D-Bus system bus and avahi-daemon need,
# for tests/support/avahi_env.sh (one daemon in a namespace of its own,
# on lo) and tests/support/netns.sh (one per register, on its eth0): the
# checks, the two configuration files, the daemon's state. Sourced (bash)
# by those two; not a test itself.
#
# Functions:
#   dbus_avahi_check                 0 when dbus-daemon, dbus-send,
#                                    avahi-daemon, mount, user avahi and
#                                    the stock bus config are there; else
#                                    prints why, returns 1
#   dbus_avahi_dbus_conf DIR         DIR/dbus.conf: the stock
#                                    /usr/share/dbus-1/system.conf with its
#                                    socket (DIR/dbus.sock) and pid file
#                                    (DIR/dbus.pid) moved into DIR and no
#                                    user switch
#   dbus_avahi_conf FILE HOST IFACE PUBLISH_ADDRESSES(yes|no)
#                                    an avahi-daemon.conf: host name HOST,
#                                    only interface IFACE, IPv4 only, no
#                                    wide area, no hinfo or workstation
#   dbus_avahi_running BUS           0 when the avahi-daemon on the D-Bus
#                                    address BUS answers RUNNING
#   dbus_avahi_gone PID              0 when PID is gone or a zombie (a
#                                    daemon forked with -D / --fork is
#                                    re-parented and reaped late)

dbus_avahi_check() {
	local c
	for c in dbus-daemon dbus-send avahi-daemon mount; do
		if ! command -v "$c" >/dev/null 2>&1; then
			echo "missing command: $c (apt-get install dbus avahi-daemon)"
			return 1
		fi
	done
	if ! getent passwd avahi >/dev/null; then
		echo "user avahi missing (apt-get install avahi-daemon)"
		return 1
	fi
	if [[ ! -f /usr/share/dbus-1/system.conf ]]; then
		echo "missing /usr/share/dbus-1/system.conf"
		return 1
	fi
	return 0
}

dbus_avahi_dbus_conf() {
	local dir=$1
	sed -e "s#unix:path=/run/dbus/system_bus_socket#unix:path=$dir/dbus.sock#" \
	    -e "s#<pidfile>/run/dbus/pid</pidfile>#<pidfile>$dir/dbus.pid</pidfile>#" \
	    -e "s#<includedir>system.d</includedir>#<includedir>/usr/share/dbus-1/system.d</includedir>#" \
	    -e 's#<user>messagebus</user>##' \
	    -e 's#<standard_system_servicedirs/>##' \
	    /usr/share/dbus-1/system.conf >"$dir/dbus.conf"
}

dbus_avahi_conf() {
	cat >"$1" <<EOF
[server]
host-name=$2
domain-name=local
use-ipv4=yes
use-ipv6=no
allow-interfaces=$3
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-addresses=$4
publish-hinfo=no
publish-workstation=no
[reflector]
[rlimits]
EOF
}

dbus_avahi_running() {
	local st
	st=$(dbus-send --bus="$1" --print-reply=literal \
	    --reply-timeout=1000 --dest=org.freedesktop.Avahi / \
	    org.freedesktop.Avahi.Server.GetState 2>/dev/null |
	    awk '{print $2}')
	[[ $st == 2 ]]
}

dbus_avahi_gone() {
	local st
	[[ -e /proc/$1 ]] || return 0
	st=$(sed -e 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[[ -z $st || $st == Z ]]
}
