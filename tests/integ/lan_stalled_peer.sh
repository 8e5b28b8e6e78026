#!/usr/bin/env bash
# lan_stalled_peer.sh: flow control. A stalled peer cannot make another
# agent's memory grow without bound, and one busy peer cannot starve the
# others (issue 3, "Gossip and catch-up").
#
# A (admin), B and C on loopback, full mesh of static peers.
#  1. B is stopped (SIGSTOP: its TCP connections stay open, nothing reads
#     them). A appends STALL_EVENTS events (default 150,000) in batches:
#     every one is pushed at once to its peers, and B reads none. A's
#     anonymous memory (heap, ZeroMQ queues: RssAnon) may grow by at most
#     STALL_RSS_MB (default 40) over what it was before; queued without
#     bound, the pushes alone would be ~60 MB (400 B each). What bounds
#     it (agent/peer.c): at most PEER_SNDHWM messages queued per peer; a
#     failed push stops the pushes to that peer (anti-entropy takes
#     over); ZeroMQ's heartbeat drops the silent connection after 4 s,
#     and its queue with it. C, meanwhile, receives everything: A and C
#     converge within seconds of the last batch.
#  2. B resumes and catches up the whole backlog from A and C. While it
#     does, a price set on A reaches C within STARVE_MS (default 3000):
#     serving B's catch-up does not hold up the live push to C.
#  3. All three converge: same digest and vector clock.
# Env: CAJA_BUILD, CAJA_SRC (ctest); STALL_EVENTS, STALL_RSS_MB, STARVE_MS.
. "$(dirname "$0")/lib.sh"
T0=$SECONDS
NEV=${STALL_EVENTS:-150000}
RSS_MAX_KB=$((${STALL_RSS_MB:-40} * 1024))
STARVE_MS=${STARVE_MS:-3000}
rss_anon_kb() { awk '/^RssAnon:/ { print $2 }' "/proc/$1/status"; }

mesh3 "Flow Store"

echo "== 1. B stalled (SIGSTOP); A appends $NEV events"
# A warm-up batch first, so that the baseline includes the allocator's
# working set of a batch append.
append_sales "$A" 10000 w || fail "warm-up batch"
wait_converged 60 "$A" "$B" "$C" || fail "no convergence after the warm-up"
kill -STOP "$PID_B"
RSS0=$(rss_anon_kb "$PID_A")
peak=$RSS0
left=$NEV k=0
while [ "$left" -gt 0 ]; do
	k=$((k + 1))
	n=$((left > 10000 ? 10000 : left))
	append_sales "$A" "$n" "s$k-" ||
	    { kill -CONT "$PID_B"; fail "batch $k on A"; }
	r=$(rss_anon_kb "$PID_A")
	[ "$r" -gt "$peak" ] && peak=$r
	left=$((left - n))
done
wait_converged 60 "$A" "$C" ||
    { kill -CONT "$PID_B"; fail "C did not keep up with A while B was stalled"; }
r=$(rss_anon_kb "$PID_A")
[ "$r" -gt "$peak" ] && peak=$r
GROWTH=$((peak - RSS0))
echo "   A's RssAnon: $RSS0 KiB before, peak $peak KiB: +$GROWTH KiB for $NEV events pushed to a peer that reads nothing"
[ "$GROWTH" -le "$RSS_MAX_KB" ] ||
    { kill -CONT "$PID_B"; fail "A's memory grew by $GROWTH KiB (bound $RSS_MAX_KB KiB)"; }
kill -0 "$PID_A" || fail "A died"
pass "stalled B: A's memory +$((GROWTH / 1024)) MiB (bound $((RSS_MAX_KB / 1024))), C in step with A"

echo "== 2. B resumes and catches up; a live price on A reaches C meanwhile"
kill -CONT "$PID_B"
# Let B's catch-up get going (its WANTs reach A and C) before the probe.
for i in $(seq 1 50); do
	[ "$(events_of "$B")" -gt "$((10000 + 3))" ] 2>/dev/null && break
	sleep 0.1
done
HB=$(events_of "$B")
ts=$(date +%s%N)
"$CAJACTL" --dir "$A" append PriceChanged --json \
    '{"product_id":"live","price_bs":"7.25"}' >/dev/null || fail "price on A"
got=
while [ $((($(date +%s%N) - ts) / 1000000)) -lt $((STARVE_MS * 3)) ]; do
	if "$CAJACTL" --dir "$C" get product live --json >"$T/live.json" 2>/dev/null; then
		got=$((($(date +%s%N) - ts) / 1000000))
		break
	fi
	sleep 0.01
done
HB2=$(events_of "$B")
[ -n "$got" ] || fail "the live price never reached C"
echo "   the price reached C in $got ms, while B went from $HB to $HB2 events"
[ "$got" -le "$STARVE_MS" ] || fail "the live price took $got ms to reach C (bound $STARVE_MS ms) during B's catch-up"
assert_eq "$(jget "$(cat "$T/live.json")" 'd["price_bs"]')" "7.25" "price on C"
pass "B's catch-up did not starve C: live price in $got ms"

echo "== 3. all three converge"
wait_converged 120 "$A" "$B" "$C" || fail "B did not catch up"
N=$(events_of "$A")
assert_eq "$(events_of "$B")" "$N" "events on B"
"$CAJACTL" --dir "$B" status --json >"$T/st.json"
"$PYTHON" - "$T/st.json" <<'PY' || fail "B's event count vs its vector clock"
import json, sys
st = json.load(open(sys.argv[1]))
if st["events"] != sum(st["vector_clock"].values()):
    sys.exit("events %d != sum of the vector clock %d" %
             (st["events"], sum(st["vector_clock"].values())))
PY
for p in "$PID_A" "$PID_B" "$PID_C"; do kill -0 "$p" || fail "an agent died"; done
pass "B caught up: $N events on all three, digests equal"
echo "lan_stalled_peer.sh: all passed in $((SECONDS - T0)) s"
