#!/usr/bin/env bash
# integ/disco: mDNS discovery (agent/disco.c) against a real avahi-daemon.
#
# Starts a private D-Bus bus and avahi-daemon (tests/support/avahi_env.sh:
# its own network namespace, lo only, nothing on the root namespace) and a
# companion daemon on the same link that already publishes a service name
# (for the remote name collision), then runs the Avahi tests of disco_test
# with CAJA_AVAHI=1:
#   - two agents of store S find each other with tcp://127.0.0.1:PORT within
#     5 s, never agents of store T nor themselves; DOWN after one leaves;
#   - disco_reannounce keeps the service visible: a newcomer finds it, and
#     so does avahi-browse -a -r -t -p (a third-party client; this script
#     with --browse-check, called back by the test);
#   - local and remote name collisions give "NAME #2";
#   - the daemon stopped and started again: disco reconnects, republishes.
# Then checks that every service the tests published was withdrawn.
#
# Skips (exit 0, with a message) without root, ip, dbus or avahi-daemon,
# unless CAJA_REQUIRE_AVAHI=1, which turns the skip into a failure.
# Env (set by ctest): CAJA_BUILD (build dir), CAJA_SRC (source dir).
set -euo pipefail

SRC=${CAJA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${CAJA_BUILD:-$SRC/build}
SELF=$SRC/tests/integ/disco.sh

log() { printf '[%s] disco.sh: %s\n' "$(date +%T.%3N)" "$*"; }
fail() { log "FAIL: $*"; exit 1; }

# --browse-check: run by disco_test through system() while its services are
# published; CAJA_DISCO_EXPECT_* say what avahi-browse must show, exactly once.
if [[ ${1:-} == --browse-check ]]; then
	name=$CAJA_DISCO_EXPECT_NAME
	out=$(avahi-browse -a -r -t -p 2>/dev/null) || fail "avahi-browse failed"
	lines=$(awk -F';' -v n="$name" \
	    '$1 == "=" && $3 == "IPv4" && $4 == n && $5 == "_caja._tcp"' <<<"$out")
	count=$(grep -c . <<<"$lines" || true)
	[[ $count == 1 ]] || { echo "$out"; fail "'$name' resolved $count times (want 1)"; }
	IFS=';' read -r _ _ _ _ _ _ _ addr port txt <<<"$lines"
	[[ $addr == 127.0.0.1 ]] || fail "'$name' address $addr (want 127.0.0.1)"
	[[ $port == "$CAJA_DISCO_EXPECT_PORT" ]] || fail "'$name' port $port"
	for kv in "v=1" "store=$CAJA_DISCO_EXPECT_STORE" \
	    "device=$CAJA_DISCO_EXPECT_DEVICE"; do
		[[ $txt == *"\"$kv\""* ]] || fail "'$name' TXT $txt lacks $kv"
	done
	log "avahi-browse sees '$name' at $addr:$port with $txt"
	exit 0
fi

. "$SRC/tests/support/avahi_env.sh"

skip() {
	if [[ ${CAJA_REQUIRE_AVAHI:-0} == 1 ]]; then
		fail "cannot run (CAJA_REQUIRE_AVAHI=1): $*"
	fi
	echo "SKIP integ/disco: $*"
	exit 0
}
why=$(avahi_env_check) || skip "$why"
for c in avahi-browse avahi-publish; do
	command -v "$c" >/dev/null 2>&1 ||
	    skip "missing command: $c (apt-get install avahi-utils)"
done
BIN=$BUILD/tests/disco_test
[[ -x $BIN ]] || fail "$BIN not built"

DIR=$(mktemp -d /tmp/caja-disco.XXXXXX)
chmod 755 "$DIR"	# avahi-daemon (user avahi) must reach the bus socket
PUB_PID=
cleanup() {
	local rc=$?
	set +e
	if [[ -n $PUB_PID ]]; then
		kill "$PUB_PID" 2>/dev/null
		wait "$PUB_PID" 2>/dev/null
	fi
	stop_private_avahi "$DIR/comp" || rc=1
	stop_private_avahi "$DIR/main" || rc=1
	if [[ $rc == 0 ]]; then
		rm -rf "$DIR"
	else
		log "logs kept in $DIR"
	fi
	exit $rc
}
trap cleanup EXIT

HOST=caja-disco-$$
start_private_avahi "$DIR/main" "$HOST" || fail "private avahi-daemon"
start_companion_avahi "$DIR/comp" "$DIR/main" "$HOST-peer" ||
    fail "companion avahi-daemon"
log "avahi-daemon RUNNING as $HOST.local (pid $(cat "$DIR/main/avahi.pid"))," \
    "companion pid $(cat "$DIR/comp/avahi.pid"), netns $(cat "$DIR/main/netns")"

# The companion host publishes CLASH first (its SRV points at our daemon's
# host, so it resolves; its store is nobody's).
CLASH=caja-clash-$$
hex() { od -An -tx1 -N16 /dev/urandom | tr -d ' \n'; }
DBUS_SYSTEM_BUS_ADDRESS=$(avahi_bus "$DIR/comp") avahi-publish -s \
    -H "$HOST.local" "$CLASH" _caja._tcp 9 "v=1" "store=$(hex)" \
    "device=$(hex)" >"$DIR/publish.log" 2>&1 &
PUB_PID=$!
for ((k = 0; k < 50; k++)); do
	grep -qs "Established under name '$CLASH'" "$DIR/publish.log" && break
	sleep 0.1
done
grep -q "Established under name '$CLASH'" "$DIR/publish.log" ||
    fail "companion could not publish $CLASH: $(cat "$DIR/publish.log")"
avahi-browse -a -r -t -p 2>/dev/null | grep -q "^=;lo;IPv4;$CLASH;_caja._tcp;" ||
    fail "our daemon does not see the companion's $CLASH"

export CAJA_AVAHI=1
export CAJA_DISCO_REMOTE_NAME=$CLASH
export CAJA_DISCO_BROWSE_CHECK="bash '$SELF' --browse-check"
export CAJA_AVAHI_STOP="bash -c '. \"$SRC/tests/support/avahi_env.sh\" && avahi_daemon_stop \"$DIR/main\"'"
export CAJA_AVAHI_START="bash -c '. \"$SRC/tests/support/avahi_env.sh\" && avahi_daemon_start \"$DIR/main\"'"
rc=0
"$BIN" --jobs 1 >"$DIR/test.log" 2>&1 || rc=$?
cat "$DIR/test.log"
[[ $rc == 0 ]] || fail "disco_test exited $rc"
grep -q "Failing: 0 | Crashing: 0" "$DIR/test.log" || fail "disco_test failures"
# Skipped tests pass silently: demand that each Avahi test really ran.
for t in finds_its_store_ignores_others name_collision_takes_alternative_name \
    remote_name_collision_takes_alternative_name survives_daemon_restart; do
	grep -q "^DISCO-AVAHI-OK $t\$" "$DIR/test.log" || fail "$t did not run"
done
grep -q "avahi-browse sees 'caja-" "$DIR/test.log" || fail "browse check did not run"

# Every service the tests published is withdrawn: only CLASH is left (the
# namespace is ours, nobody else publishes on this link).
left=$(avahi-browse -t -p _caja._tcp 2>/dev/null | awk -F';' '$1 == "+" {print $4}' |
    grep -v "^$CLASH\$" || true)
[[ -z $left ]] || fail "services left behind: $left"
[[ $(avahi_is_running "$DIR/main" && echo up) == up ]] || fail "daemon not running at the end"
log "OK"
