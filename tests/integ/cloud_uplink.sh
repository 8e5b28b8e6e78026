#!/bin/bash
# cloud_uplink.sh: three registers, one cloud (real PostgreSQL + caja-cloud
# + cajad on loopback with static peers).
#
#  r1 has the cloud's URL; r2 has a URL to a closed port (the cloud is
#  unreachable from it); r3 has no cloud at all.
#  1. Events appended on all three end up in PostgreSQL exactly once
#     (count(*) = count(distinct event_id) = every event the store holds,
#     and every appended event id is there), uploaded by r1 alone.
#  2. r2 and r3 see in `cajactl status --json` that their events are
#     acknowledged (cloud.acked_vector_clock covers their vector clock,
#     pending 0: shared in gossip) and name r1 as the uploader.
#  3. A price set at head office (caja-cloud event) reaches all three
#     (cajactl get product on each).
#  4. r2 backs off against its dead URL: no busy loop (a handful of
#     requests, breaker opening after 5 failures), or, when r1's device id
#     is the smaller, it stands by and makes no requests at all.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud_uplink_lib.sh"

P1=$(free_port) P2=$(free_port) P3=$(free_port) PDEAD=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
while [ "$P3" = "$P1" ] || [ "$P3" = "$P2" ]; do P3=$(free_port); done
EP1=tcp://127.0.0.1:$P1 EP2=tcp://127.0.0.1:$P2 EP3=tcp://127.0.0.1:$P3
R1=$T/r1 R2=$T/r2 R3=$T/r3

# ---- setup: a store, the cloud enrolled, three registers ----
"$CAJACTL" --dir "$R1" init --store "Tienda Nube" --name r1 >/dev/null ||
    fail "init"
run_reg "$R1" "$P1" --peer "$EP2" --peer "$EP3" --cloud "$CURL_BASE"
SID=$(sjget "$R1" 'd["store_id"]')
D1=$(sjget "$R1" 'd["device_id"]')
enroll_cloud "$R1"
start_cloud
join_store "$R1" "$R2" r2
join_store "$R1" "$R3" r3
run_reg "$R2" "$P2" --peer "$EP1" --peer "$EP3" \
    --cloud "http://127.0.0.1:$PDEAD"
T_R2=$(date +%s)
run_reg "$R3" "$P3" --peer "$EP1" --peer "$EP2"
D2=$(sjget "$R2" 'd["device_id"]')
D3=$(sjget "$R3" 'd["device_id"]')
wait_peers_up 20 "$R1" "$D2" "$D3" || fail "r1 does not see r2 and r3 up"
pass "store $SID: r1 $D1 (cloud), r2 $D2 (dead URL), r3 $D3 (none)"

# ---- 1. events of all three reach PostgreSQL exactly once ----
IDS=$T/ids
for r in 1 2 3; do
	gen_batch "$T/p$r.jsonl" 300 "r$r"
	gen_batch "$T/s$r.jsonl" 100 "s$r" SaleCreated
done
t0=$(date +%s%N)
for r in 1 2 3; do
	append_logged "$T/r$r" "$IDS" "$T/p$r.jsonl" || fail "append on r$r"
	append_logged "$T/r$r" "$IDS" "$T/s$r.jsonl" || fail "append on r$r"
done
for r in 1 2 3; do
	append_one_logged "$T/r$r" "$IDS" StockReceived \
	    "{\"product_id\":\"r$r-1\",\"qty\":5}" || fail "append one on r$r"
done
wait_converged 30 "$R1" "$R2" "$R3" || fail "registers did not converge"
wait_for 60 "$R1" "$ACKED" || fail "r1: not everything acknowledged"
ms=$((($(date +%s%N) - t0) / 1000000))
TOTAL=$(sjget "$R1" 'sum(d["vector_clock"].values())')
pg_check "$TOTAL"
pg_has_ids "$IDS" || fail "appended events missing in PostgreSQL"
N=$(wc -l <"$IDS")
pass "all $N appended events ($TOTAL with enrollments) in PostgreSQL exactly once, acknowledged $ms ms after the first append"
sent1=$(sjget "$R1" 'd["cloud"]["counters"]["events_sent"]')
up2=$(sjget "$R2" 'd["cloud"]["counters"]["events_acked"]')
up3=$(sjget "$R3" 'd["cloud"]["counters"]["events_acked"]')
assert_eq "$up2" 0 "events r2 got acknowledged itself"
assert_eq "$up3" 0 "events r3 got acknowledged itself"
pass "r1 uploaded everything ($sent1 events sent), r2 and r3 nothing"

# ---- 2. r2 and r3 see their events acknowledged ----
for r in 2 3; do
	wait_for 15 "$T/r$r" "$ACKED" ||
	    fail "r$r does not see its events acknowledged"
	assert_eq "$(sjget "$T/r$r" 'd["cloud"]["uploader"]')" "$D1" \
	    "uploader seen by r$r"
done
assert_eq "$(sjget "$R3" 'd["cloud"]["state"]')" disabled "r3 state"
pass "r2 and r3: acked_vector_clock covers their vector clock, pending 0, uploader r1"

# ---- 3. a price set at head office reaches every register ----
out=$("$CLOUD" event --data "$C" --store "$SID" PriceChanged \
    --json '{"product_id":"r1-7","price_bs":"15.00"}') ||
    fail "caja-cloud event: $out"
t0=$(date +%s%N)
for r in 1 2 3; do
	n=150
	while [ $n -gt 0 ]; do
		p=$("$CAJACTL" --dir "$T/r$r" get product r1-7 --json 2>/dev/null |
		    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin).get("price_bs"))' 2>/dev/null)
		[ "$p" = "15.00" ] && break
		sleep 0.2
		n=$((n - 1))
	done
	[ "$p" = "15.00" ] || fail "r$r: price of r1-7 is '$p', not 15.00"
done
ms=$((($(date +%s%N) - t0) / 1000000))
wait_converged 20 "$R1" "$R2" "$R3" || fail "not converged after the pull"
pass "head office price 15.00 on r1, r2, r3 within $ms ms"

# ---- 4. r2's dead URL: backoff, no busy loop ----
# Failures at about 0, 1, 3, 7, 15 s (±20%), then OPEN for 30 s: at most
# 5 requests in its first 20 s, and the breaker open from ~15 s on. When
# r1's lease outranks it (r1's id is smaller), r2 makes none at all.
if [[ "$D2" < "$D1" ]]; then
	now=$(date +%s)
	[ $((now - T_R2)) -lt 21 ] && sleep $((21 - (now - T_R2)))
fi
req2=$(sjget "$R2" 'd["cloud"]["counters"]["requests"]')
state2=$(sjget "$R2" 'd["cloud"]["state"]')
el=$(($(date +%s) - T_R2))
if [[ "$D1" < "$D2" ]]; then
	assert_eq "$state2" standby "r2 state (r1 holds the lease)"
	[ "$req2" -le 1 ] || fail "r2 made $req2 requests in standby"
else
	[ "$req2" -ge 3 ] && [ "$req2" -le 6 ] ||
	    fail "r2 made $req2 requests to a dead URL in $el s (want 3..6)"
	assert_eq "$(sjget "$R2" 'd["cloud"]["breaker"]')" OPEN "r2 breaker"
	assert_eq "$state2" offline "r2 state"
	assert_match "$(sjget "$R2" 'd["cloud"]["last_error"]')" \
	    "onnect|refused" "r2 last_error"
fi
pass "r2 ($state2): $req2 requests to its dead URL in $el s"
