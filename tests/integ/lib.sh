# lib.sh: shared helpers for caja's integration tests (sourced).
#
# Each test gets a temp dir $T, removed at exit unless CAJA_KEEP=1. Agents
# are started in the foreground (-d) in the background of the test shell
# and stopped by PID; the EXIT trap stops every process the test started.
# JSON is checked with python3 (no jq needed).

set -u

# Run directly (ctest globs integ/*.sh): nothing to test here.
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "lib.sh: helpers sourced by the integration tests"
	exit 0
fi

CAJA_BUILD=${CAJA_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" && pwd)}
CAJAD="$CAJA_BUILD/cajad"
CAJACTL="$CAJA_BUILD/cajactl"
[ -x "$CAJAD" ] || { echo "FAIL: no $CAJAD (set CAJA_BUILD)" >&2; exit 1; }
[ -x "$CAJACTL" ] || { echo "FAIL: no $CAJACTL" >&2; exit 1; }
# /usr/bin/python3 first: a pyenv shim costs ~0.3 s per call.
PYTHON=$(command -v /usr/bin/python3 || command -v python3) ||
    { echo "FAIL: python3 needed" >&2; exit 1; }

T=$(mktemp -d /tmp/caja-integ.XXXXXX)
TEST_NAME=$(basename "$0" .sh)
OWN_PIDS=()		# every background process we started
AGENT_PID=		# set by start_agent

lib_cleanup() {
	local rc=$? p
	for p in "${OWN_PIDS[@]}"; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in "${OWN_PIDS[@]}"; do
		wait_gone "$p" 50 || kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ "$rc" -ne 0 ]; then
		echo "--- $TEST_NAME failed (rc $rc); agent logs:" >&2
		tail -n 30 "$T"/*.log 2>/dev/null >&2
	fi
	if [ "${CAJA_KEEP:-0}" = 1 ]; then
		echo "kept $T" >&2
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap lib_cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $TEST_NAME: $*" >&2; exit 1; }
pass() { echo "ok - $*"; }

# A free-ish loopback port for --listen (agents don't collide).
rand_port() { echo $((20000 + RANDOM % 30000)); }

# 0 when PID is gone or a zombie; waits up to N tenths of a second.
wait_gone() {
	local pid=$1 n=${2:-100} st
	while [ "$n" -gt 0 ]; do
		[ -e "/proc/$pid" ] || return 0
		st=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)
		[ -z "$st" ] || [ "$st" = Z ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# Waits until the agent of DIR answers a status request.
wait_agent() {
	local dir=$1 n=${2:-100}
	while [ "$n" -gt 0 ]; do
		if [ -S "$dir/ctl.sock" ] &&
		    "$CAJACTL" --dir "$dir" --timeout 2 status --json 2>/dev/null |
		    grep -q '"agent": "running"'; then
			return 0
		fi
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# start_agent DIR [cajad args...]: cajad -d in the background; sets
# AGENT_PID; log in $T/<basename DIR>.log.
start_agent() {
	local dir=$1; shift
	"$CAJAD" --dir "$dir" -d --no-mdns --http off \
	    --listen "tcp://127.0.0.1:$(rand_port)" "$@" \
	    >>"$T/$(basename "$dir").log" 2>&1 &
	AGENT_PID=$!
	OWN_PIDS+=("$AGENT_PID")
	wait_agent "$dir" || fail "agent on $dir did not start (see log)"
}

# stop_agent PID: SIGTERM, wait; returns cajad's exit status.
stop_agent() {
	local pid=$1 rc
	kill -TERM "$pid" 2>/dev/null || return 1
	wait_gone "$pid" 100 || fail "agent $pid did not stop on SIGTERM"
	wait "$pid" 2>/dev/null
	rc=$?
	return $rc
}

# kill9_agent PID
kill9_agent() {
	kill -KILL "$1" 2>/dev/null
	wait_gone "$1" 100 || fail "agent $1 survived SIGKILL"
	wait "$1" 2>/dev/null
	return 0
}

# ctl ARGS...: cajactl; output in $OUT, stderr in $ERR, status in $RC.
ctl() {
	OUT=$("$CAJACTL" "$@" 2>"$T/stderr")
	RC=$?
	ERR=$(cat "$T/stderr")
	return 0
}

# expect RC ARGS...: cajactl must exit with RC.
expect() {
	local want=$1; shift
	ctl "$@"
	[ "$RC" -eq "$want" ] ||
	    fail "cajactl $* exited $RC, wanted $want; stderr: $ERR; out: $OUT"
}

# jget JSON EXPR: python expression over d (the parsed JSON), printed.
jget() {
	"$PYTHON" -c 'import json,sys
d = json.loads(sys.argv[1])
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$1" "$2" ||
	    fail "jget $2 on: $1"
}

# assert_eq GOT WANT WHAT
assert_eq() {
	[ "$1" = "$2" ] || fail "$3: got '$1', wanted '$2'"
}

# assert_match TEXT REGEX WHAT
assert_match() {
	echo "$1" | grep -Eq -- "$2" || fail "$3: '$1' does not match /$2/"
}
