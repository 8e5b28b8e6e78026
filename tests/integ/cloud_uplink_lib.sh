# cloud_uplink_lib.sh: helpers of the uplink tests (tests/integ/cloud_uplink*.sh),
# sourced after lib.sh: a real PostgreSQL and caja-cloud
# (tests/support/cloud_env.sh), registers on loopback with static peers,
# and checks through `cajactl status --json` (its "cloud" object) and psql.
#
# Skips (exit 0) only when the PostgreSQL server binaries are missing, and
# never when CAJA_REQUIRE_PG=1 or CI is set.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	echo "cloud_uplink_lib.sh: helpers sourced by the uplink tests"
	exit 0
fi

. "$(dirname "${BASH_SOURCE[0]}")/../support/cloud_env.sh"

# start_cloud [caja-cloud serve options...]: serve on CPORT, wait for
# /health.
start_cloud() { cloud_start serve "$@"; }

# enroll_cloud ADMIN_DIR: the cloud joins the admin's store (agent running).
enroll_cloud() {
	local tok out
	tok=$("$CAJACTL" --dir "$1" invite --role cloud --expires 1h) ||
	    fail "invite --role cloud"
	out=$("$CLOUD" enroll --data "$C" --token "$tok" --name head-office) ||
	    fail "caja-cloud enroll"
	CLOUD_DID=$(jget "$out" 'd["device_id"]')
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

# pg_has_ids IDS_FILE: every event id of IDS_FILE (first column, as
# append_logged writes it) is a row of the store in PostgreSQL.
pg_has_ids() {
	PSQL "select event_id from events where store_id = '$SID'" >"$T/pg_ids"
	"$PYTHON" - "$1" "$T/pg_ids" <<'PY'
import sys
want = [l.split()[0] for l in open(sys.argv[1]) if l.strip()]
have = set(l.strip() for l in open(sys.argv[2]) if l.strip())
miss = [w for w in want if w not in have]
if miss:
    sys.exit("%d of %d missing, e.g. %s" % (len(miss), len(want), miss[:3]))
PY
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
