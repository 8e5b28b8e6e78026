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
		tail -n 30 "$T"/*.log >&2 2>/dev/null
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
rand_port() { echo $((20000 + RANDOM % 12000)); }	# below the ephemeral range

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

# ---------------------------------------------------------------------------
# LAN replication helpers (tests/integ/lan_*.sh). Agents of one store talk
# to each other: on loopback with static --peer endpoints, or inside the
# network namespaces of tests/support/netns.sh. cajactl reaches an agent
# in a namespace through DIR/ctl.sock (a path: no network namespace).

# A loopback TCP port nobody listens on now.
free_port() {
	local p k
	for ((k = 0; k < 100; k++)); do
		# Below the kernel's ephemeral range (32768-60999 here), so the
		# outgoing connections of other agents never take it first.
		p=$((20000 + RANDOM % 12000))
		# /proc/net/tcp: local address hex ip:port, st 0A = LISTEN
		if ! awk -v hp="$(printf ':%04X' "$p")" \
		    'NR > 1 && substr($2, length($2) - 4) == hp { f = 1 }
		    END { exit !f }' /proc/net/tcp; then
			echo "$p"
			return 0
		fi
	done
	echo "$p"
}

# start_agent_ep DIR LISTEN_ENDPOINT [cajad args...]: like start_agent,
# with the listen endpoint given (peers must know it) and mDNS left to the
# caller (pass --no-mdns for static peers). Sets AGENT_PID.
start_agent_ep() {
	local dir=$1 ep=$2
	shift 2
	"$CAJAD" --dir "$dir" -d --http off --listen "$ep" "$@" \
	    >>"$T/$(basename "$dir").log" 2>&1 &
	AGENT_PID=$!
	OWN_PIDS+=("$AGENT_PID")
	wait_agent "$dir" || fail "agent on $dir did not start (see log)"
}

# run_reg DIR PORT [cajad args...]: cajad -d on 127.0.0.1:PORT with no
# mDNS (static --peer endpoints only). Sets AGENT_PID.
run_reg() {
	local dir=$1 port=$2
	shift 2
	start_agent_ep "$dir" "tcp://127.0.0.1:$port" --no-mdns "$@"
}

# start_agent_ns I DIR [cajad args...]: cajad -d in register I's network
# namespace (tests/support/netns.sh), listening on its address, port 7700.
# Sets AGENT_PID; log in $T/<basename DIR>.log.
start_agent_ns() {
	local i=$1 dir=$2
	shift 2
	netns_spawn "$i" "$T/$(basename "$dir").log" "$CAJAD" --dir "$dir" \
	    -d --http off --listen "tcp://$(netns_addr "$i"):7700" "$@"
	AGENT_PID=$NETNS_PID
	wait_agent "$dir" || fail "agent on $dir (netns $i) did not start"
}

# init_store DIR NAME DEVNAME: a new store; prints nothing.
init_store() {
	"$CAJACTL" --dir "$1" init --store "$2" --name "$3" >/dev/null ||
	    fail "init $1"
}

# join_store ADMIN_DIR NEW_DIR NAME: invite (the admin's agent must run)
# and join; prints nothing.
join_store() {
	local tok
	tok=$("$CAJACTL" --dir "$1" invite) || fail "invite on $1"
	"$CAJACTL" --dir "$2" join --token "$tok" --name "$3" >/dev/null ||
	    fail "join $2"
}

# mesh3 STORE_NAME: a store of three registers on loopback, A (the
# admin) and B and C joined, each agent with the other two as static
# peers; returns when they converged and A sees B and C up. Sets A B C
# (data dirs $T/a..c), EA EB EC, PID_A PID_B PID_C and DA DB DC.
mesh3() {
	A=$T/a B=$T/b C=$T/c
	EA=tcp://127.0.0.1:$(free_port) EB=tcp://127.0.0.1:$(free_port)
	EC=tcp://127.0.0.1:$(free_port)
	echo "== setup: A (admin) $EA, B $EB, C $EC, static peers"
	init_store "$A" "$1" caja-a
	start_agent_ep "$A" "$EA" --no-mdns --peer "$EB" --peer "$EC"
	PID_A=$AGENT_PID
	join_store "$A" "$B" caja-b
	join_store "$A" "$C" caja-c
	start_agent_ep "$B" "$EB" --no-mdns --peer "$EA" --peer "$EC"
	PID_B=$AGENT_PID
	start_agent_ep "$C" "$EC" --no-mdns --peer "$EA" --peer "$EB"
	PID_C=$AGENT_PID
	DA=$(device_of "$A") DB=$(device_of "$B") DC=$(device_of "$C")
	echo "   devices A=${DA:0:8} B=${DB:0:8} C=${DC:0:8}"
	wait_converged 30 "$A" "$B" "$C" || fail "initial convergence"
	wait_peers_up 20 "$A" "$DB" "$DC" || fail "A does not see B and C up"
}

# device_of DIR: this register's device id.
device_of() {
	"$CAJACTL" --dir "$1" status --json 2>/dev/null |
	    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["device_id"])' ||
	    fail "device id of $1"
}

digest_of() {
	"$CAJACTL" --dir "$1" digest 2>/dev/null
}

# events_of DIR: number of events held.
events_of() {
	"$CAJACTL" --dir "$1" status --json 2>/dev/null |
	    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["events"])' 2>/dev/null
}

# vclock_of DIR: the vector clock as sorted compact JSON.
vclock_of() {
	"$CAJACTL" --dir "$1" status --json 2>/dev/null |
	    "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["vector_clock"], sort_keys=True, separators=(",", ":")))' 2>/dev/null
}

# wait_converged SECONDS DIR...: until every DIR has the same digest and
# vector clock. Prints how long it took; on timeout prints each DIR's
# events, vector clock, digest and peers and returns 1.
CONVERGED_MS=
wait_converged() {
	local secs=$1 t0 d first ok
	shift
	t0=$(date +%s%N)
	while :; do
		ok=1
		first=
		for d in "$@"; do
			local x
			x="$(digest_of "$d") $(vclock_of "$d")"
			if [ -z "$first" ]; then
				first=$x
			elif [ "$x" != "$first" ]; then
				ok=0
				break
			fi
		done
		if [ "$ok" = 1 ] && [ -n "${first// /}" ]; then
			CONVERGED_MS=$((($(date +%s%N) - t0) / 1000000))
			echo "   converged in ${CONVERGED_MS} ms: $(echo "$first" | cut -c1-16)... events $(events_of "$1")"
			return 0
		fi
		if [ $((($(date +%s%N) - t0) / 1000000000)) -ge "$secs" ]; then
			echo "   NOT converged after $secs s:" >&2
			for d in "$@"; do
				echo "   $(basename "$d"): events $(events_of "$d") digest $(digest_of "$d" | cut -c1-16) vc $(vclock_of "$d")" >&2
				"$CAJACTL" --dir "$d" --timeout 2 status --json 2>/dev/null |
				    "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
for p in d.get("peers", []):
    print("      peer %s %s %s last_seen_ms=%s" % (str(p.get("device_id"))[:8], p.get("endpoint"), p.get("state"), p.get("last_seen_ms")))' >&2
			done
			return 1
		fi
		sleep 0.2
	done
}

# peers_json DIR: the peers array of status (agent running).
peers_json() {
	"$CAJACTL" --dir "$1" --timeout 5 status --json 2>/dev/null |
	    "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin).get("peers", [])))'
}

# wait_peers_up SECONDS DIR DEVICE...: until DIR's status shows every
# DEVICE with state "up".
wait_peers_up() {
	local secs=$1 dir=$2 n
	shift 2
	n=$((secs * 5))
	while [ "$n" -gt 0 ]; do
		if "$CAJACTL" --dir "$dir" --timeout 2 status --json 2>/dev/null |
		    "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
up = set(p.get("device_id") for p in d.get("peers", []) if p.get("state") == "up")
sys.exit(0 if all(w in up for w in sys.argv[1:]) else 1)' "$@"; then
			return 0
		fi
		sleep 0.2
		n=$((n - 1))
	done
	echo "   peers of $(basename "$dir") after $secs s: $(peers_json "$dir")" >&2
	return 1
}

# gen_batch FILE N TAG [TYPE]: N appendable events, one JSON per line.
# TYPE: ProductUpdated (default), SaleCreated or StockReceived; ids carry
# TAG so that every line is a distinct fact.
gen_batch() {
	"$PYTHON" - "$1" "$2" "$3" "${4:-ProductUpdated}" <<'PY'
import json, sys
path, n, tag, typ = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
with open(path, "w") as f:
    for i in range(n):
        if typ == "SaleCreated":
            p = {"sale_id": "%s-%d" % (tag, i), "items": [
                {"product_id": "p%d" % (i % 97), "qty": 1 + i % 3,
                 "price_bs": "%d.50" % (10 + i % 50)}]}
        elif typ == "StockReceived":
            p = {"product_id": "p%d" % (i % 97), "qty": 1 + i % 5}
        else:
            p = {"product_id": "%s-%d" % (tag, i), "name": "item %s %d" % (tag, i)}
        f.write(json.dumps({"type": typ, "payload": p}) + "\n")
PY
}

# append_sales DIR N TAG: N SaleCreated events through DIR's agent, in
# batches of 10,000 (one template, its sale ids rewritten to TAG<k>-<i>:
# fast). Returns 1 when a batch is refused.
append_sales() {
	local dir=$1 left=$2 tag=$3 k=0 n
	[ -f "$T/sales-tmpl.jsonl" ] ||
	    gen_batch "$T/sales-tmpl.jsonl" 10000 x SaleCreated
	while [ "$left" -gt 0 ]; do
		k=$((k + 1))
		n=$((left > 10000 ? 10000 : left))
		sed -e "s/\"sale_id\": \"x-/\"sale_id\": \"$tag$k-/" \
		    "$T/sales-tmpl.jsonl" | head -n "$n" >"$T/sales-$tag.jsonl"
		"$CAJACTL" --dir "$dir" --timeout 60 append --batch \
		    "$T/sales-$tag.jsonl" >/dev/null || return 1
		left=$((left - n))
	done
	rm -f "$T/sales-$tag.jsonl"
}

# append_logged DIR IDS_FILE FILE.jsonl: append the batch through DIR's
# agent; each acknowledged event's "event_id device_id seq" is added to
# IDS_FILE. Returns cajactl's status (the batch is all or nothing).
append_logged() {
	local out rc
	out=$("$CAJACTL" --dir "$1" --timeout 30 append --batch "$3" --json \
	    2>>"$T/append.err")
	rc=$?
	[ "$rc" = 0 ] || return "$rc"
	echo "$out" | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
r = d if isinstance(d, list) else d.get("results", d)
for e in r:
    print(e["event_id"], e["device_id"], e["seq"])' >>"$2"
}

# append_one_logged DIR IDS_FILE TYPE JSON: one event, logged likewise.
append_one_logged() {
	local out
	out=$("$CAJACTL" --dir "$1" --timeout 10 append "$3" --json "$4" \
	    2>>"$T/append.err") || return 2
	[[ $out =~ \"event_id\":\ *\"([0-9a-f]{64})\" ]] || return 2
	local id=${BASH_REMATCH[1]}
	[[ $out =~ \"device_id\":\ *\"([0-9a-f]{32})\" ]] || return 2
	local dev=${BASH_REMATCH[1]}
	[[ $out =~ \"seq\":\ *([0-9]+) ]] || return 2
	echo "$id $dev ${BASH_REMATCH[1]}" >>"$2"
}

# check_exactly_once IDS_FILE DIR...: every DIR's log holds each event of
# IDS_FILE exactly once (same device and seq), no (device, seq) twice, each
# device's seqs contiguous from 1, and as many events as status says.
# Prints one line per DIR. CHECK_ALLOW_FORK=1: a (device, seq) held twice
# (fork evidence) is allowed, and the count is not compared.
check_exactly_once() {
	local ids=$1 d
	shift
	for d in "$@"; do
		"$CAJACTL" --dir "$d" log --json >"$T/check.log.json" ||
		    fail "log of $d"
		"$CAJACTL" --dir "$d" status --json >"$T/check.status.json" ||
		    fail "status of $d"
		"$PYTHON" - "$T/check.log.json" "$T/check.status.json" "$ids" \
		    "$(basename "$d")" <<'PY' || fail "exactly-once check on $d"
import json, os, sys, collections
log = json.load(open(sys.argv[1]))
log = log if isinstance(log, list) else log["events"]
st = json.load(open(sys.argv[2]))
name = sys.argv[4]
ids = collections.Counter(e["event_id"] for e in log)
dups = [i for i, c in ids.items() if c > 1]
if dups:
    sys.exit("%s: %d event ids listed more than once, e.g. %s" % (name, len(dups), dups[:3]))
keys = collections.Counter((e["device_id"], e["seq"]) for e in log)
twice = [k for k, c in keys.items() if c > 1]
byseq = collections.defaultdict(list)
for e in log:
    byseq[e["device_id"]].append(e["seq"])
for dev, seqs in byseq.items():
    s = sorted(set(seqs))
    if s != list(range(1, len(s) + 1)):
        sys.exit("%s: device %s seqs not contiguous: %s..." % (name, dev[:8], s[:20]))
if len(log) != st["events"] and not os.environ.get("CHECK_ALLOW_FORK"):
    sys.exit("%s: log lists %d events, status says %d" % (name, len(log), st["events"]))
want = [l.split() for l in open(sys.argv[3]) if l.strip()]
have = {e["event_id"]: (e["device_id"], e["seq"]) for e in log}
missing = [w for w in want if w[0] not in have]
moved = [w for w in want if w[0] in have and have[w[0]] != (w[1], int(w[2]))]
if missing:
    sys.exit("%s: %d of %d appended events missing, e.g. %s" % (name, len(missing), len(want), missing[:3]))
if moved:
    sys.exit("%s: %d events at another (device, seq), e.g. %s" % (name, len(moved), moved[:3]))
if len(set(w[0] for w in want)) != len(want):
    sys.exit("%s: one event id acknowledged twice" % name)
if twice and not os.environ.get("CHECK_ALLOW_FORK"):
    sys.exit("%s: %d (device, seq) pairs held twice, e.g. %s" % (name, len(twice), twice[:3]))
fk = " (%d (device, seq) pairs held twice: fork evidence)" % len(twice) if twice else ""
print("   %s: %d events, all %d appended present exactly once, %d devices contiguous%s" %
      (name, len(log), len(want), len(byseq), fk))
PY
	done
}

# conflicts_json DIR [--all]
conflicts_json() {
	"$CAJACTL" --dir "$1" conflicts ${2:-} --json 2>/dev/null
}
