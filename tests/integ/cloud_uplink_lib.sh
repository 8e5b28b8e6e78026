# cloud_uplink_lib.sh: helpers of the uplink tests (tests/integ/cloud_uplink*.sh),
# sourced after lib.sh: a real PostgreSQL (tests/support/pg.sh), caja-cloud,
# registers on loopback with static peers, and checks through
# `cajactl status --json` (its "cloud" object) and psql.
#
# Skips (exit 0) only when the PostgreSQL server binaries are missing, and
# never when CAJA_REQUIRE_PG=1 or CI is set.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "cloud_uplink_lib.sh: helpers sourced by the uplink tests"
	exit 0
fi

SRC=${CAJA_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PGSH=$SRC/tests/support/pg.sh
CLOUD=$CAJA_BUILD/caja-cloud
[ -x "$CLOUD" ] || fail "no $CLOUD"
command -v curl >/dev/null || fail "curl(1) needed"
if ! "$PGSH" check; then
	if [ "${CAJA_REQUIRE_PG:-0}" = 1 ] || [ -n "${CI:-}" ]; then
		fail "PostgreSQL server binaries missing (CAJA_REQUIRE_PG=1)"
	fi
	echo "SKIP: $TEST_NAME: PostgreSQL server binaries not installed"
	exit 0
fi
command -v psql >/dev/null || fail "psql needed"

PGD=$T/pg
uplink_cleanup() {
	local rc=$?
	"$PGSH" stop "$PGD" >/dev/null 2>&1
	(exit $rc)
	lib_cleanup
}
trap uplink_cleanup EXIT
DBURL=$("$PGSH" start "$PGD") || fail "PostgreSQL did not start"

PSQL() {
	psql "$DBURL" -X -q -t -A -v ON_ERROR_STOP=1 -c "$1" 2>"$T/psql.err" ||
	    fail "psql: $1: $(cat "$T/psql.err")"
}

C=$T/cloud
CPORT=$(free_port)
CURL_BASE=http://127.0.0.1:$CPORT
CLOUD_PID=

# start_cloud [caja-cloud args...]: serve on CPORT, wait for /health.
start_cloud() {
	"$CLOUD" serve --listen "127.0.0.1:$CPORT" --db "$DBURL" --data "$C" \
	    -v "$@" >>"$T/cloud.log" 2>&1 &
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

# stop_cloud: SIGTERM, wait.
stop_cloud() {
	kill -TERM "$CLOUD_PID" 2>/dev/null
	wait_gone "$CLOUD_PID" 100 || fail "caja-cloud did not stop"
	wait "$CLOUD_PID" 2>/dev/null
	CLOUD_PID=
}

# enroll_cloud ADMIN_DIR: the cloud joins the admin's store (agent running).
enroll_cloud() {
	local tok out
	tok=$("$CAJACTL" --dir "$1" invite --role cloud --expires 1h) ||
	    fail "invite --role cloud"
	out=$("$CLOUD" enroll --data "$C" --token "$tok" --name head-office) ||
	    fail "caja-cloud enroll"
	CLOUD_DID=$(jget "$out" 'd["device_id"]')
}

# run_reg DIR PORT [cajad args...]: cajad -d on 127.0.0.1:PORT.
run_reg() {
	local dir=$1 port=$2
	shift 2
	"$CAJAD" --dir "$dir" -d --no-mdns --http off \
	    --listen "tcp://127.0.0.1:$port" "$@" \
	    >>"$T/$(basename "$dir").log" 2>&1 &
	AGENT_PID=$!
	OWN_PIDS+=("$AGENT_PID")
	wait_agent "$dir" || fail "agent on $dir did not start"
}

st() { "$CAJACTL" --dir "$1" --timeout 5 status --json 2>/dev/null; }
# sjget DIR EXPR: a python expression over DIR's status (d).
sjget() { jget "$(st "$1")" "$2"; }

# wait_for SECS DIR EXPR: until EXPR over DIR's status is True. Sets
# WAITED_MS.
WAITED_MS=
wait_for() {
	local secs=$1 dir=$2 expr=$3 t0
	t0=$(date +%s%N)
	while :; do
		if [ "$(jget "$(st "$dir")" "bool($expr)" 2>/dev/null)" = true ]; then
			WAITED_MS=$((($(date +%s%N) - t0) / 1000000))
			return 0
		fi
		if [ $((($(date +%s%N) - t0) / 1000000000)) -ge "$secs" ]; then
			echo "   $(basename "$dir") after $secs s: cloud $(sjget "$dir" 'd["cloud"]')" >&2
			return 1
		fi
		sleep 0.2
	done
}

# Status expression: everything this register holds is acknowledged.
ACKED='d["cloud"]["pending"] == 0 and all(d["cloud"]["acked_vector_clock"].get(k, 0) >= v for k, v in d["vector_clock"].items())'

# pg_check TOTAL: PostgreSQL holds TOTAL events of the store, each once.
pg_check() {
	local want=$1 got
	got=$(PSQL "select count(*) || ' ' || count(distinct event_id) || ' ' || count(distinct (device_id, seq)) from events where store_id = '$SID'")
	assert_eq "$got" "$want $want $want" "PostgreSQL rows, distinct ids, distinct (device, seq)"
}

# pg_count: events of the store in PostgreSQL.
pg_count() {
	PSQL "select count(*) from events where store_id = '$SID'"
}

# cloud_metric NAME: a counter of /metrics (sum over labels).
cloud_metric() {
	curl -s "$CURL_BASE/metrics" | awk -v m="$1" '
	    index($0, m) == 1 && substr($0, length(m) + 1, 1) ~ /[{ ]/ { s += $NF }
	    END { printf "%d\n", s }'
}
