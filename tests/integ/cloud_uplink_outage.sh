#!/bin/bash
# cloud_uplink_outage.sh: the cloud goes away for a while and comes back.
#
#  1. r1 uploads to caja-cloud (r2, without a cloud URL, only hears of it
#     in gossip); both see everything acknowledged.
#  2. caja-cloud is stopped; events keep coming on both registers. r1's
#     breaker opens after 5 failures (backoff 1, 2, 4, 8 s ±20%), and while
#     it is OPEN r1 makes no request at all (counted in its status for 10
#     s): no busy loop. pending grows on both.
#  3. caja-cloud is started again: r1 probes (HALF_OPEN) after 30 s, closes
#     the breaker after 2 successes and drains the backlog by itself:
#     every event in PostgreSQL exactly once, pending 0 on both.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud_uplink_lib.sh"

P1=$(free_port) P2=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
EP1=tcp://127.0.0.1:$P1 EP2=tcp://127.0.0.1:$P2
R1=$T/r1 R2=$T/r2
IDS=$T/ids

"$CAJACTL" --dir "$R1" init --store "Tienda Corte" --name r1 >/dev/null ||
    fail "init"
run_reg "$R1" "$P1" --peer "$EP2" --cloud "$CURL_BASE"
SID=$(sjget "$R1" 'd["store_id"]')
enroll_cloud "$R1"
start_cloud
join_store "$R1" "$R2" r2
run_reg "$R2" "$P2" --peer "$EP1"

# ---- 1. normal operation ----
gen_batch "$T/a1.jsonl" 200 a1
gen_batch "$T/a2.jsonl" 200 a2 SaleCreated
append_logged "$R1" "$IDS" "$T/a1.jsonl" || fail "append r1"
append_logged "$R2" "$IDS" "$T/a2.jsonl" || fail "append r2"
wait_converged 20 "$R1" "$R2" || fail "not converged"
wait_for 30 "$R1" "$ACKED" || fail "r1: not acknowledged"
wait_for 10 "$R2" "$ACKED" || fail "r2: not acknowledged"
pg_check "$(sjget "$R1" 'sum(d["vector_clock"].values())')"
pass "before the outage: $(pg_count) events in PostgreSQL, both registers acknowledged"

# ---- 2. the cloud stops ----
stop_cloud
T0=$(date +%s)
req0=$(sjget "$R1" 'd["cloud"]["counters"]["requests"]')
for k in 1 2 3 4 5; do
	gen_batch "$T/b$k.jsonl" 400 "b$k" SaleCreated
	if [ $((k % 2)) = 1 ]; then
		append_logged "$R1" "$IDS" "$T/b$k.jsonl" || fail "append r1"
	else
		append_logged "$R2" "$IDS" "$T/b$k.jsonl" || fail "append r2"
	fi
	sleep 1
done
wait_for 25 "$R1" 'd["cloud"]["breaker"] == "OPEN"' ||
    fail "breaker not OPEN 25 s into the outage"
t_open=$(($(date +%s) - T0))
reqA=$(sjget "$R1" 'd["cloud"]["counters"]["requests"]')
stA=$(sjget "$R1" 'd["cloud"]["state"]')
assert_eq "$stA" offline "r1 state with the breaker open"
[ $((reqA - req0)) -ge 5 ] && [ $((reqA - req0)) -le 6 ] ||
    fail "$((reqA - req0)) requests until the breaker opened (want 5..6)"
sleep 10
reqB=$(sjget "$R1" 'd["cloud"]["counters"]["requests"]')
[ "$reqB" = "$reqA" ] ||
    fail "r1 made $((reqB - reqA)) requests in 10 s with the breaker OPEN"
pend=$(sjget "$R2" 'd["cloud"]["pending"]')
[ "$pend" -ge 2000 ] || fail "r2 pending $pend, want >= 2000"
pass "breaker OPEN after $t_open s and $((reqA - req0)) failed requests; 0 requests in the next 10 s; pending $pend"

# ---- 3. the cloud comes back ----
start_cloud
T1=$(date +%s)
wait_for 45 "$R1" "$ACKED" || fail "r1 did not drain after the cloud came back"
t_drain=$(($(date +%s) - T1))
wait_for 10 "$R2" "$ACKED" || fail "r2: not acknowledged after the outage"
assert_eq "$(sjget "$R1" 'd["cloud"]["breaker"]')" CLOSED "breaker after drain"
TOTAL=$(sjget "$R1" 'sum(d["vector_clock"].values())')
pg_check "$TOTAL"
pg_has_ids "$IDS" || fail "appended events missing in PostgreSQL"
reqC=$(sjget "$R1" 'd["cloud"]["counters"]["requests"]')
pass "cloud back: drained by itself in $t_drain s (probe after the 30 s open period), $TOTAL events in PostgreSQL exactly once, $((reqC - req0)) requests in all since the outage began"
