#!/usr/bin/env bash
# lan_join_200k.sh: a register that joins a store holding 200,000 events
# catches up fully.
#
# A (admin) and B (register) on loopback, static peers. Both append
# JOIN_EVENTS/2 events at once (default 100,000 each, batches of 10,000,
# SaleCreated), each running cut off from the other (faster), then they
# are connected and converge (100,000 events each way). Then C joins (invite on A,
# `cajactl join`, cajad with A and B as peers: its enrollment reaches A,
# which admits it) and must catch up fully: equal digests and vector
# clocks on A, B and C, the same event count, no gap and no duplicate
# (events == sum of the vector clock), and the first and last events of
# A's and B's logs present on C under the same ids. Prints the time and
# rate of the generation, of A<->B convergence and of C's catch-up.
# Env: CAJA_BUILD, CAJA_SRC (ctest); JOIN_EVENTS (default 200000).
. "$(dirname "$0")/lib.sh"
T0=$SECONDS
NEV=${JOIN_EVENTS:-200000}
HALF=$((NEV / 2))
A=$T/a B=$T/b C=$T/c
PA=$(free_port) PB=$(free_port) PC=$(free_port)
EA=tcp://127.0.0.1:$PA EB=tcp://127.0.0.1:$PB EC=tcp://127.0.0.1:$PC

echo "== setup: A (admin) $EA and B $EB"
init_store "$A" "Big Store" caja-a
start_agent_ep "$A" "$EA" --no-mdns --peer "$EB"
PID_A=$AGENT_PID
join_store "$A" "$B" caja-b
start_agent_ep "$B" "$EB" --no-mdns --peer "$EA"
PID_B=$AGENT_PID
DA=$(device_of "$A") DB=$(device_of "$B")
wait_converged 30 "$A" "$B" || fail "A and B do not converge at start"
# Generation runs on both at once, each cut off from the other (a free
# port each, no peers: replication would only slow the appends down).
stop_agent "$PID_A" || fail "stop A"
stop_agent "$PID_B" || fail "stop B"
start_agent_ep "$A" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_A=$AGENT_PID
start_agent_ep "$B" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_B=$AGENT_PID

echo "== generating $NEV events: $HALF on A and $HALF on B at once"
# One template for both producers (append_sales would make it otherwise).
gen_batch "$T/sales-tmpl.jsonl" 10000 x SaleCreated
ts=$(date +%s%N)
append_sales "$A" "$HALF" a 2>>"$T/producer-a.err" &
P1=$!
append_sales "$B" "$((NEV - HALF))" b 2>>"$T/producer-b.err" &
P2=$!
wait "$P1" || fail "producer on A: $(cat "$T/producer-a.err")"
wait "$P2" || fail "producer on B: $(cat "$T/producer-b.err")"
GEN_MS=$((($(date +%s%N) - ts) / 1000000))
echo "   appended $NEV events in $GEN_MS ms ($((NEV * 1000 / (GEN_MS + 1))) events/s)"
stop_agent "$PID_A" || fail "stop A"
stop_agent "$PID_B" || fail "stop B"
start_agent_ep "$A" "$EA" --no-mdns --peer "$EB"
PID_A=$AGENT_PID
start_agent_ep "$B" "$EB" --no-mdns --peer "$EA"
PID_B=$AGENT_PID
wait_converged 120 "$A" "$B" || fail "A and B do not converge after the generation"
TOTAL=$(events_of "$A")
[ "$TOTAL" -ge "$NEV" ] || fail "A holds $TOTAL events, wanted >= $NEV"
pass "A and B hold $TOTAL events, converged ${CONVERGED_MS} ms after they were connected"

echo "== C joins and catches up from A and B"
join_store "$A" "$C" caja-c
DC=$(device_of "$C")
ts=$(date +%s%N)
start_agent_ep "$C" "$EC" --no-mdns --peer "$EA" --peer "$EB"
PID_C=$AGENT_PID
wait_converged 150 "$A" "$B" "$C" || fail "C did not catch up"
CU_MS=$((($(date +%s%N) - ts) / 1000000))
N_C=$(events_of "$C")
echo "   C caught up with $N_C events in $CU_MS ms ($((N_C * 1000 / (CU_MS + 1))) events/s, from agent start)"
assert_eq "$N_C" "$(events_of "$A")" "events on C vs A"
assert_eq "$N_C" "$(events_of "$B")" "events on C vs B"
"$CAJACTL" --dir "$C" status --json >"$T/st.json"
"$PYTHON" - "$T/st.json" "$DA" "$DB" "$DC" "$HALF" <<'PY' || fail "C's vector clock"
import json, sys
st = json.load(open(sys.argv[1]))
vc = st["vector_clock"]
da, db, dc, half = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
if st["events"] != sum(vc.values()):
    sys.exit("events %d != sum of the vector clock %d" % (st["events"], sum(vc.values())))
if vc.get(da, 0) < half or vc.get(db, 0) < half or vc.get(dc, 0) != 1:
    sys.exit("vector clock %r" % vc)
print("   C's vector clock: A %d, B %d, C %d; events %d = sum of the clock" %
      (vc[da], vc[db], vc[dc], st["events"]))
PY
# Same events: the first and last of A's and B's logs, by id.
for dev in "$DA" "$DB"; do
	for since in 0 $(($("$CAJACTL" --dir "$A" status --json | "$PYTHON" -c \
	    'import json,sys; print(json.load(sys.stdin)["vector_clock"][sys.argv[1]])' "$dev") - 1)); do
		x=$("$CAJACTL" --dir "$A" log --json --device "$dev" --since "$since" --limit 1)
		y=$("$CAJACTL" --dir "$C" log --json --device "$dev" --since "$since" --limit 1)
		[ -n "$x" ] && [ "$x" = "$y" ] ||
		    fail "event after seq $since of ${dev:0:8} differs on C: $y vs $x"
	done
done
pass "C (joined last) caught up fully: $N_C events, digest equal to A's and B's"
for p in "$PID_A" "$PID_B" "$PID_C"; do kill -0 "$p" || fail "an agent died"; done
echo "lan_join_200k.sh: all passed in $((SECONDS - T0)) s (generation $GEN_MS ms, catch-up $CU_MS ms)"
