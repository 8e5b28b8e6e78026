#!/bin/bash
# pg.sh: a throw-away PostgreSQL cluster for caja's cloud tests.
#
#   pg.sh start DIR     initdb (first time) and start; prints the URL
#   pg.sh stop DIR      fast shutdown of the postmaster, by its PID; keeps
#                       the data, so `start DIR` brings it back (same port)
#   pg.sh destroy DIR   stop if running, then remove DIR
#   pg.sh url DIR       prints the URL
#   pg.sh freeze DIR    SIGSTOP the postmaster and its children (a hung
#                       server: connections open, no answers)
#   pg.sh thaw DIR      SIGCONT them
#   pg.sh check         exit 0 when the server binaries are installed
#
# As root, initdb and postgres run as user postgres (initdb refuses root);
# DIR is then made theirs. The server listens on 127.0.0.1 only, on a free
# port chosen at the first start, with its socket in DIR, trust auth and
# fsync off (test data only). Exit 3 when the binaries are missing.
set -u

die() { echo "pg.sh: $*" >&2; exit 2; }

pgbin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/initdb" ] && [ -x "$d/postgres" ] && { echo "$d"; return 0; }
	done
	d=$(command -v initdb 2>/dev/null) && [ -x "$(dirname "$d")/pg_ctl" ] &&
	    { dirname "$d"; return 0; }
	return 1
}

free_port() {
	local py
	py=$(command -v /usr/bin/python3 || command -v python3) ||
	    { echo $((20000 + RANDOM % 30000)); return; }
	"$py" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])'
}

# as_owner CMD...: run as the cluster's owner (postgres when we are root).
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

pid_of() {
	local f=$1/data/postmaster.pid
	[ -r "$f" ] && head -n 1 "$f"
}

alive() {
	local pid=$1 st
	[ -n "$pid" ] && [ -e "/proc/$pid" ] || return 1
	st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

url_of() {
	echo "postgresql://postgres@127.0.0.1:$(cat "$1/port")/postgres"
}

cmd=${1:-}
D=${2:-}
case $cmd in
check)
	pgbin >/dev/null || exit 3
	exit 0
	;;
start)
	[ -n "$D" ] || die "usage: pg.sh start DIR"
	BIN=$(pgbin) || { echo "pg.sh: PostgreSQL server binaries not found" >&2; exit 3; }
	mkdir -p "$D" || die "mkdir $D"
	D=$(cd "$D" && pwd)
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "no user postgres"
		chown postgres:postgres "$D"
		# every parent must be traversable by postgres
		p=$(dirname "$D")
		while [ "$p" != / ]; do
			[ -x "$p" ] || die "$p not traversable"
			if ! runuser -u postgres -- test -x "$p"; then
				chmod o+x "$p" || die "chmod $p"
			fi
			p=$(dirname "$p")
		done
	fi
	if [ ! -f "$D/data/PG_VERSION" ]; then
		as_owner "$BIN/initdb" -D "$D/data" -A trust -U postgres -E UTF8 \
		    --locale=C.UTF-8 >"$D/initdb.log" 2>&1 ||
		    { cat "$D/initdb.log" >&2; die "initdb failed"; }
		free_port >"$D/port"
	fi
	if alive "$(pid_of "$D")"; then
		url_of "$D"
		exit 0
	fi
	PORT=$(cat "$D/port")
	as_owner "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w -t 30 \
	    -o "-p $PORT -k $D -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c synchronous_commit=off" \
	    start >/dev/null 2>&1 ||
	    { tail -n 20 "$D/server.log" >&2; die "postgres did not start"; }
	url_of "$D"
	;;
stop)
	[ -n "$D" ] || die "usage: pg.sh stop DIR"
	pid=$(pid_of "$D") || exit 0
	alive "$pid" || exit 0
	kill -INT "$pid" 2>/dev/null	# fast shutdown
	for _ in $(seq 1 300); do
		alive "$pid" || exit 0
		sleep 0.1
	done
	kill -QUIT "$pid" 2>/dev/null	# immediate shutdown
	sleep 1
	alive "$pid" && die "postmaster $pid did not stop"
	exit 0
	;;
destroy)
	[ -n "$D" ] || die "usage: pg.sh destroy DIR"
	"$0" stop "$D"
	rm -rf "$D"
	;;
freeze|thaw)
	pid=$(pid_of "$D") || die "$D: not running"
	alive "$pid" || die "$D: not running"
	sig=STOP
	[ "$cmd" = thaw ] && sig=CONT
	# the postmaster's children first, so none notices it stopped
	for c in $(ps -o pid= --ppid "$pid"); do
		kill -"$sig" "$c" 2>/dev/null
	done
	kill -"$sig" "$pid"
	;;
url)
	[ -f "$D/port" ] || die "$D: no cluster"
	url_of "$D"
	;;
*)
	die "usage: pg.sh start|stop|destroy|freeze|thaw|url DIR | check"
	;;
esac
