#!/bin/bash
# diskfull.sh: a store that hits its map_max refuses writes with a clear
# "store full" error (exit 2) while reads, status and the agent go on;
# restarted with a bigger map_max it takes writes again, nothing
# acknowledged lost.
. "$(dirname "$0")/lib.sh"

D=$T/reg
"$CAJACTL" --dir "$D" init --store "Full Store" >/dev/null || fail "init"
start_agent "$D" --map-max 2M
A=$AGENT_PID

NAME=$("$PYTHON" -c 'print("x" * 600)')
mkbatch() {
	"$PYTHON" - "$1" "$2" "$NAME" >"$T/batch.jsonl" <<'PY'
import json, sys
b, n, name = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
for i in range(n):
    print(json.dumps({"type": "ProductUpdated",
                      "payload": {"product_id": "f%d-%d" % (b, i),
                                  "name": name}}))
PY
}

: >"$T/acked"
full=
for b in $(seq 1 400); do
	mkbatch "$b" 100
	ctl --dir "$D" append --batch "$T/batch.jsonl"
	if [ "$RC" -eq 0 ]; then
		echo "$OUT" >>"$T/acked"
		continue
	fi
	[ "$RC" -eq 2 ] || fail "append exited $RC: $ERR"
	full=$ERR
	break
done
[ -n "$full" ] || fail "store never filled up at map_max 2M"
assert_match "$full" "[Ss]tore full" "full error message"
# Fill the last bytes with single appends until they too are refused.
for i in $(seq 1 500); do
	ctl --dir "$D" append ProductUpdated --json "{\"product_id\":\"s$i\",\"name\":\"$NAME\"}"
	[ "$RC" -eq 0 ] || break
	echo "$OUT" >>"$T/acked"
done
assert_eq "$RC" 2 "single append on a full store"
assert_match "$ERR" "[Ss]tore full" "single append error"
ACKED=$(wc -l <"$T/acked")
echo "store full after $ACKED acknowledged appends: $ERR"

kill -0 "$A" || fail "agent died when the store filled up"
expect 0 --dir "$D" get product f1-0 --json
assert_eq "$(jget "$OUT" 'd["product_id"]')" f1-0 "read on a full store"
expect 0 --dir "$D" status --json
assert_eq "$(jget "$OUT" 'd["agent"]')" running "status via agent"
assert_eq "$(jget "$OUT" 'd["store_full"]')" true "store_full flag"
pass "full store: exit 2 'store full', reads and status go on"

stop_agent "$A" || fail "clean stop of a full agent"
start_agent "$D" --map-max 64M
A=$AGENT_PID
expect 0 --dir "$D" append ProductUpdated --json '{"product_id":"after","name":"ok"}'
expect 0 --dir "$D" status --json
assert_eq "$(jget "$OUT" 'd["store_full"]')" false "store_full cleared"
expect 0 --dir "$D" log --json
echo "$OUT" >"$T/log.json"
"$PYTHON" - "$T/log.json" "$T/acked" <<'PY' || fail "acknowledged appends lost"
import json, sys
d = json.load(open(sys.argv[1]))
evs = d if isinstance(d, list) else d["events"]
ids = {e["event_id"] for e in evs}
acked = [json.loads(l)["event_id"] for l in open(sys.argv[2]) if l.strip()]
lost = [i for i in acked if i not in ids]
if lost:
    sys.exit("%d of %d acknowledged events lost" % (len(lost), len(acked)))
seqs = [e["seq"] for e in evs]
if seqs != list(range(1, len(seqs) + 1)):
    sys.exit("seqs not contiguous")
PY
pass "restart with map_max 64M: writes again, all $ACKED acknowledged kept"
echo "diskfull.sh: all passed"
