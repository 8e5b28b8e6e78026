# cloud_env.sh -- a throw-away PostgreSQL and caja-cloud for the cloud
# tests (tests/integ/cloud_server.sh, tests/integ/cloud_uplink_lib.sh).
# Sourced (bash) after tests/integ/lib.sh, whose T, OWN_PIDS, fail,
# free_port, wait_gone and lib_cleanup it uses; not a test itself.
#
# Sourcing it checks for caja-cloud, curl(1) and psql, starts PostgreSQL
# in $T/pg (tests/support/pg.sh) and sets an EXIT trap that stops it, then
# runs lib_cleanup. Without the PostgreSQL server binaries the test skips
# (exit 0), unless CAJA_REQUIRE_PG=1 or CI is set: then it fails.
#
# Variables:
#   SRC PGSH CLOUD     the tree, pg.sh, the caja-cloud binary
#   PGD DBURL          PostgreSQL's dir and URL
#   C                  caja-cloud's data dir ($T/cloud)
#   CPORT CURL_BASE    its port and http://127.0.0.1:$CPORT
#   CLOUD_PID          the running caja-cloud, empty when none
# Functions:
#   PSQL SQL                  runs SQL on DBURL, prints rows (unaligned,
#                             no header); fails the test on an error
#   cloud_start [ARGS...]     caja-cloud ARGS --listen 127.0.0.1:$CPORT
#                             --db $DBURL --data $C -v in the background
#                             (log $T/cloud.log); waits up to 15 s for
#                             /health. ARGS: "serve" or nothing (the
#                             CONTRACT.md form), then options
#   stop_cloud                SIGTERM, waits until it is gone

SRC=${CAJA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PGSH=$SRC/tests/support/pg.sh
CLOUD=$CAJA_BUILD/caja-cloud
[ -x "$CLOUD" ] || fail "no $CLOUD"
command -v curl >/dev/null || fail "curl(1) needed (tools/deps.sh)"
if ! "$PGSH" check; then
	if [ "${CAJA_REQUIRE_PG:-0}" = 1 ] || [ -n "${CI:-}" ]; then
		fail "PostgreSQL server binaries missing (CAJA_REQUIRE_PG=1)"
	fi
	echo "SKIP: $TEST_NAME: PostgreSQL server binaries not installed (tools/deps.sh)"
	exit 0
fi
command -v psql >/dev/null || fail "psql needed"

PGD=$T/pg
cloud_env_cleanup() {
	local rc=$?
	"$PGSH" stop "$PGD" >/dev/null 2>&1
	(exit $rc)
	lib_cleanup
}
trap cloud_env_cleanup EXIT
DBURL=$("$PGSH" start "$PGD") || fail "PostgreSQL did not start"

PSQL() {
	psql "$DBURL" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1" 2>"$T/psql.err" ||
	    fail "psql: $1: $(cat "$T/psql.err")"
}

C=$T/cloud
CPORT=$(free_port)
CURL_BASE=http://127.0.0.1:$CPORT
CLOUD_PID=

cloud_start() {
	"$CLOUD" "$@" --listen "127.0.0.1:$CPORT" --db "$DBURL" --data "$C" \
	    -v >>"$T/cloud.log" 2>&1 &
	CLOUD_PID=$!
	OWN_PIDS+=("$CLOUD_PID")
	local n=150
	while [ $n -gt 0 ]; do
		curl -s -o /dev/null "$CURL_BASE/health" && return 0
		kill -0 "$CLOUD_PID" 2>/dev/null || fail "caja-cloud exited (see log)"
		sleep 0.1
		n=$((n - 1))
	done
	fail "caja-cloud did not answer"
}

stop_cloud() {
	kill -TERM "$CLOUD_PID" 2>/dev/null
	wait_gone "$CLOUD_PID" 100 || fail "caja-cloud did not stop"
	wait "$CLOUD_PID" 2>/dev/null
	CLOUD_PID=
}
