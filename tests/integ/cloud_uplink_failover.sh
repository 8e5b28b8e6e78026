#!/bin/bash
# cloud_uplink_failover.sh: three registers that all reach the cloud; one
# uploads at a time; the uploader is killed mid-upload (kill -9).
#
#  1. r1, r2, r3 all have the cloud's URL. A backlog of 15,000 events (5,000
#     per register) is uploaded by one of them, the one with the smallest
#     device id (lease rule, agent/lease.h): the other two stand by
#     ("standby", no requests while the lease is fresh) and show the same
#     uploader.
#  2. While it uploads (PostgreSQL holds part of the backlog), the uploader
#     is killed with SIGKILL. Within the lease TTL (10 s) the smallest of
#     the two survivors takes over and drains the rest.
#  3. Every event of the store is in PostgreSQL exactly once, and both
#     survivors see everything acknowledged (pending 0).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud_uplink_lib.sh"

P1=$(free_port) P2=$(free_port) P3=$(free_port)
while [ "$P2" = "$P1" ]; do P2=$(free_port); done
while [ "$P3" = "$P1" ] || [ "$P3" = "$P2" ]; do P3=$(free_port); done
EP1=tcp://127.0.0.1:$P1 EP2=tcp://127.0.0.1:$P2 EP3=tcp://127.0.0.1:$P3
R1=$T/r1 R2=$T/r2 R3=$T/r3
IDS=$T/ids
# Batches of at most 100: the upload of the backlog takes a few seconds,
# so that the kill lands in the middle of it.
printf 'cloud_batch_max = 100\n' >"$T/cajad.conf"

"$CAJACTL" --dir "$R1" init --store "Tienda Relevo" --name r1 >/dev/null ||
    fail "init"
run_reg "$R1" "$P1" -f "$T/cajad.conf" --peer "$EP2" --peer "$EP3" \
    --cloud "$CURL_BASE"
declare -A PID
PID[1]=$AGENT_PID
SID=$(sjget "$R1" 'd["store_id"]')
enroll_cloud "$R1"
start_cloud
join_store "$R1" "$R2" r2
join_store "$R1" "$R3" r3
run_reg "$R2" "$P2" -f "$T/cajad.conf" --peer "$EP1" --peer "$EP3" \
    --cloud "$CURL_BASE"
PID[2]=$AGENT_PID
run_reg "$R3" "$P3" -f "$T/cajad.conf" --peer "$EP1" --peer "$EP2" \
    --cloud "$CURL_BASE"
PID[3]=$AGENT_PID
declare -A DEV
for r in 1 2 3; do
	DEV[$r]=$(sjget "$T/r$r" 'd["device_id"]')
done
wait_peers_up 20 "$R1" "${DEV[2]}" "${DEV[3]}" || fail "peers not up"
wait_converged 20 "$R1" "$R2" "$R3" || fail "not converged"
wait_for 20 "$R1" "$ACKED" || fail "enrollments not acknowledged"

# The expected uploader: the smallest device id.
order=$(for r in 1 2 3; do echo "${DEV[$r]} $r"; done | sort)
U=$(echo "$order" | sed -n 1p | cut -d' ' -f2)
NEXT=$(echo "$order" | sed -n 2p | cut -d' ' -f2)
for r in 1 2 3; do
	wait_for 15 "$T/r$r" "d[\"cloud\"][\"uploader\"] == \"${DEV[$U]}\"" ||
	    fail "r$r does not name r$U (${DEV[$U]}) the uploader"
done
pass "three registers, all with the cloud; uploader r$U (smallest id), then r$NEXT"

# ---- 1. a backlog, uploaded by one register ----
for r in 1 2 3; do
	gen_batch "$T/b$r.jsonl" 5000 "b$r" SaleCreated
done
req0=$(for r in 1 2 3; do sjget "$T/r$r" 'd["cloud"]["counters"]["pushes"]'; done | tr '\n' ' ')
for r in 1 2 3; do
	append_logged "$T/r$r" "$IDS" "$T/b$r.jsonl" || fail "append r$r"
done
wait_converged 30 "$R1" "$R2" "$R3" || fail "backlog not converged"
TOTAL=$(sjget "$R1" 'sum(d["vector_clock"].values())')

# ---- 2. kill the uploader in the middle of its upload ----
n=0
while :; do
	c=$(pg_count)
	[ "$c" -ge $((TOTAL / 10)) ] && break
	n=$((n + 1))
	[ "$n" -lt 300 ] || fail "upload did not start ($c of $TOTAL in PostgreSQL)"
	sleep 0.05
done
stU=$(sjget "$T/r$U" 'd["cloud"]["state"]')
kill9_agent "${PID[$U]}"
T0=$(date +%s%N)
c=$(pg_count)
[ "$c" -lt "$TOTAL" ] || fail "the upload was over before the kill ($c)"
pass "r$U ($stU) killed with SIGKILL at $c of $TOTAL events in PostgreSQL"
req1=$(for r in 1 2 3; do [ "$r" = "$U" ] && echo - || sjget "$T/r$r" 'd["cloud"]["counters"]["pushes"]'; done | tr '\n' ' ')
echo "   pushes per register before the backlog: $req0; at the kill: $req1"
for r in 1 2 3; do
	[ "$r" = "$U" ] && continue
	[ "$r" = "$NEXT" ] && continue
	a=$(echo "$req0" | cut -d' ' -f$r)
	b=$(echo "$req1" | cut -d' ' -f$r)
	[ "$b" = "$a" ] || fail "r$r pushed while r$U held the lease ($a -> $b)"
done

# ---- 3. another one takes over; nothing lost, nothing twice ----
S=()
for r in 1 2 3; do [ "$r" = "$U" ] || S+=("$T/r$r"); done
wait_for 60 "$T/r$NEXT" "$ACKED" || fail "r$NEXT did not take over"
ms=$((($(date +%s%N) - T0) / 1000000))
for d in "${S[@]}"; do
	wait_for 15 "$d" "$ACKED" || fail "$(basename "$d"): not acknowledged"
done
assert_eq "$(sjget "$T/r$NEXT" 'd["cloud"]["uploader"]')" "${DEV[$NEXT]}" \
    "uploader after the failover"
pg_check "$TOTAL"
pg_has_ids "$IDS" || fail "appended events missing in PostgreSQL"
dup=$(sjget "$T/r$NEXT" 'd["cloud"]["counters"]["events_duplicate"]')
pass "r$NEXT took over and drained: all $TOTAL events in PostgreSQL exactly once $ms ms after the kill ($dup re-sent as duplicates)"
