#!/bin/bash
# lan_loopback.sh: three registers of one store in step on loopback with
# static peers (--no-mdns --peer ...), real cajad processes.
#
#  1. r1 is made by init, r2 and r3 by invite tokens; the joined registers
#     enroll over the LAN (the admin admits their first connection for the
#     enrollment only): all three converge (equal digests, 5 events) and
#     see each other "up" in status.
#  2. Concurrent appends on all three (single events and batches) converge
#     within seconds, every event on every register.
#  3. r3 is cut off (restarted alone on another port, its peers file
#     removed) and sets a price while r1 sets another: after r3 is back,
#     the same pending conflict is on all three; resolved on r2, settled on
#     all three with the chosen price.
#  4. A register of ANOTHER store dialling the same endpoints: its
#     handshakes are refused (counted in refused_handshakes on r1..r3), no
#     event goes either way (every digest unchanged).
#  5. r2 stalled (SIGSTOP): r1 and r3 go on and see it "down"; resumed,
#     it catches up.
#  6. r3 revoked on r1: r2 closes r3's session, r3's later events reach
#     nobody.
. "$(dirname "$0")/lib.sh"

# Ports: 27xxx, offset by our pid so that concurrent runs do not clash.
BASE=$((27000 + ($$ % 160) * 6))
P1=$BASE P2=$((BASE + 1)) P3=$((BASE + 2)) P3B=$((BASE + 3))
PX=$((BASE + 4)) PT=$((BASE + 5))
EP1=tcp://127.0.0.1:$P1 EP2=tcp://127.0.0.1:$P2 EP3=tcp://127.0.0.1:$P3
R1=$T/r1 R2=$T/r2 R3=$T/r3

st() { "$CAJACTL" --dir "$1" --timeout 5 status --json; }
digest() { "$CAJACTL" --dir "$1" digest; }
# sjget DIR EXPR: a python expression over DIR's status.
sjget() { jget "$(st "$1")" "$2"; }

# wait_same SECS DIR...: equal digests and vector clocks on all DIRs.
wait_same() {
	local secs=$1 n d x first ok
	shift
	n=$((secs * 10))
	while [ "$n" -gt 0 ]; do
		ok=1
		first=
		for d in "$@"; do
			x="$(digest "$d") $(sjget "$d" 'sorted(d["vector_clock"].items())')"
			[ -z "$first" ] && first=$x
			[ "$x" = "$first" ] || { ok=0; break; }
		done
		[ "$ok" = 1 ] && return 0
		sleep 0.1
		n=$((n - 1))
	done
	for d in "$@"; do
		echo "$(basename "$d"): $(digest "$d") $(sjget "$d" \
		    '(d["events"], d["vector_clock"], [(p["name"], p["state"]) for p in d["peers"]])')" >&2
	done
	return 1
}

# up_count DIR: peers of DIR in state "up".
up_count() { sjget "$1" 'len([p for p in d["peers"] if p["state"] == "up"])'; }

# ---- 1. init, join over the LAN, converge ----
"$CAJACTL" --dir "$R1" init --store "Tienda Loop" --name r1 >/dev/null ||
    fail "init"
run_reg "$R1" "$P1" --peer "$EP2" --peer "$EP3"
A1=$AGENT_PID
TOK2=$("$CAJACTL" --dir "$R1" invite) || fail "invite 2"
TOK3=$("$CAJACTL" --dir "$R1" invite) || fail "invite 3"
"$CAJACTL" --dir "$R2" join --token "$TOK2" --name r2 >/dev/null ||
    fail "join r2"
"$CAJACTL" --dir "$R3" join --token "$TOK3" --name r3 >/dev/null ||
    fail "join r3"
D1=$(sjget "$R1" 'd["device_id"]')
D2=$("$CAJACTL" --dir "$R2" status --json | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)["device_id"])')
D3=$("$CAJACTL" --dir "$R3" status --json | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)["device_id"])')
run_reg "$R2" "$P2" --peer "$EP1" --peer "$EP3"
A2=$AGENT_PID
run_reg "$R3" "$P3" --peer "$EP1" --peer "$EP2"
A3=$AGENT_PID
wait_same 30 "$R1" "$R2" "$R3" || fail "no convergence after the joins"
for d in "$R1" "$R2" "$R3"; do
	assert_eq "$(sjget "$d" 'd["events"]')" 5 "events on $(basename "$d")"
	assert_eq "$(sjget "$d" 'len(d["vector_clock"])')" 3 "devices on $d"
done
for i in $(seq 1 100); do
	[ "$(up_count "$R1")" = 2 ] && [ "$(up_count "$R2")" = 2 ] &&
	    [ "$(up_count "$R3")" = 2 ] && break
	sleep 0.1
done
for d in "$R1" "$R2" "$R3"; do
	assert_eq "$(up_count "$d")" 2 "peers up on $(basename "$d")"
done
# The first ping may go before the other side is up: then the round trip
# is known one ping interval (1 s) later; wait for it (up to 5 s).
for i in $(seq 1 50); do
	S=$(st "$R2")
	[[ "$(jget "$S" "[p['rtt_ms'] for p in d['peers']][0]")" =~ ^[0-9]+$ ]] &&
	    break
	sleep 0.1
done
assert_eq "$(jget "$S" "sorted(p['device_id'] for p in d['peers'])")" \
    "$(jget '[]' "sorted(['$D1', '$D3'])")" "r2's peers are r1 and r3"
assert_eq "$(jget "$S" "[p['endpoint'] for p in d['peers'] if p['device_id'] == '$D1'][0]")" \
    "$EP1" "r1's endpoint on r2"
assert_match "$(jget "$S" "[p['last_seen_ms'] for p in d['peers']][0]")" \
    '^[0-9]+$' "last_seen_ms is a number"
assert_match "$(jget "$S" "[p['rtt_ms'] for p in d['peers']][0]")" \
    '^[0-9]+$' "rtt_ms is a number"
[ -s "$R2/peers" ] || fail "r2 remembers no peers"
grep -q "^$D1 $EP1\$" "$R2/peers" || fail "r2/peers lacks r1: $(cat "$R2/peers")"
H=$("$CAJACTL" --dir "$R1" status)
for n in r2 r3; do
	eval "dv=\$D${n#r}"
	echo "$H" | grep -Eq "^ +$n +${dv:0:8} +up +tcp://127\.0\.0\.1:" ||
	    fail "human status of r1 does not list $n up: $H"
done
pass "3 registers (1 init + 2 joined over the LAN) converged, all peers up"

# ---- 2. concurrent appends ----
for d in "$R1" "$R2" "$R3"; do
	n=$(basename "$d")
	gen_batch "$T/$n.jsonl" 200 "$n"
	(
		for i in $(seq 1 20); do
			"$CAJACTL" --dir "$d" append SaleCreated --json \
			    "{\"sale_id\":\"$n-s$i\",\"items\":[{\"product_id\":\"p$((i % 5))\",\"qty\":1,\"price_bs\":\"2.50\"}]}" \
			    >/dev/null || exit 1
		done
		"$CAJACTL" --dir "$d" --timeout 30 append --batch "$T/$n.jsonl" \
		    >/dev/null || exit 1
	) &
	OWN_PIDS+=("$!")
	eval "W_$n=$!"
done
wait "$W_r1" && wait "$W_r2" && wait "$W_r3" || fail "appends failed"
wait_same 15 "$R1" "$R2" "$R3" || fail "no convergence after appends"
for d in "$R1" "$R2" "$R3"; do
	assert_eq "$(sjget "$d" 'd["events"]')" $((5 + 3 * 220)) \
	    "events on $(basename "$d")"
	expect 0 --dir "$d" get sale r3-s20 --json
	assert_eq "$(jget "$OUT" 'd["total_bs"]')" 2.50 "r3's sale on $d"
	expect 0 --dir "$d" get product r1-199 --json
done
S=$(st "$R1")
assert_eq "$(jget "$S" "sum(p['bad_frames'] for p in d['peers'])")" 0 \
    "bad frames on r1"
pass "660 concurrent appends on 3 registers converged"

# ---- 3. price conflict while r3 is cut off ----
stop_agent "$A3" || fail "r3 did not stop cleanly"
rm -f "$R3/peers"
run_reg "$R3" "$P3B"			# alone: no peers, another port
A3=$AGENT_PID
expect 0 --dir "$R3" append PriceChanged --json \
    '{"product_id":"pc","price_bs":"11.00"}'
expect 0 --dir "$R1" append PriceChanged --json \
    '{"product_id":"pc","price_bs":"12.00"}'
sleep 1
assert_eq "$(sjget "$R3" 'len(d["peers"])')" 0 "r3 alone has no peers"
expect 0 --dir "$R2" get product pc --json
assert_eq "$(jget "$OUT" 'd["price_bs"]')" 12.00 "r2 has r1's price only"
[ "$(digest "$R3")" != "$(digest "$R1")" ] || fail "r3 not cut off"
stop_agent "$A3" || fail "r3 did not stop"
run_reg "$R3" "$P3" --peer "$EP1" --peer "$EP2"
A3=$AGENT_PID
wait_same 20 "$R1" "$R2" "$R3" || fail "no convergence after r3 came back"
CS='(d if isinstance(d, list) else d["conflicts"])'
CID=
for d in "$R1" "$R2" "$R3"; do
	expect 0 --dir "$d" conflicts --json
	assert_eq "$(jget "$OUT" "len($CS)")" 1 "one conflict on $d"
	assert_eq "$(jget "$OUT" "$CS[0]['entity_id']")" pc "conflict entity"
	assert_eq "$(jget "$OUT" "$CS[0]['field']")" price_bs "conflict field"
	c=$(jget "$OUT" "$CS[0]['conflict_id']")
	[ -z "$CID" ] && CID=$c
	assert_eq "$c" "$CID" "same conflict id on $d"
done
expect 0 --dir "$R2" resolve "${CID:0:10}" --value '"11.50"' --by ana
wait_same 10 "$R1" "$R2" "$R3" || fail "no convergence after resolve"
for d in "$R1" "$R2" "$R3"; do
	expect 0 --dir "$d" conflicts --json
	assert_eq "$(jget "$OUT" "len($CS)")" 0 "no pending conflict on $d"
	expect 0 --dir "$d" get product pc --json
	assert_eq "$(jget "$OUT" 'd["price_bs"]')" 11.50 "resolved price on $d"
done
pass "conflict made while r3 was cut off: on all three, resolved from r2"

# ---- 4. a register of another store dials the same peers ----
TA=$T/t-admin X=$T/x
"$CAJACTL" --dir "$TA" init --store "Otra Tienda" --name t1 >/dev/null ||
    fail "init other store"
run_reg "$TA" "$PT"
ATA=$AGENT_PID
TOKX=$("$CAJACTL" --dir "$TA" invite) || fail "invite x"
"$CAJACTL" --dir "$X" join --token "$TOKX" --name x >/dev/null ||
    fail "join x"
stop_agent "$ATA" || fail "other admin did not stop"
for i in 1 2 3; do
	eval "DG$i=\$(digest \"\$R$i\")"
	eval "RH$i=\$(sjget \"\$R$i\" 'd[\"refused_handshakes\"]')"
done
DGX=$(digest "$X")
run_reg "$X" "$PX" --peer "$EP1" --peer "$EP2" --peer "$EP3"
AX=$AGENT_PID
sleep 5
for i in 1 2 3; do
	eval "d=\$R$i; dg=\$DG$i; rh=\$RH$i"
	assert_eq "$(digest "$d")" "$dg" "digest of r$i with a foreign peer"
	now=$(sjget "$d" 'd["refused_handshakes"]')
	[ "$now" -gt "$rh" ] ||
	    fail "r$i: refused_handshakes $rh -> $now: foreign key not refused"
done
assert_eq "$(digest "$X")" "$DGX" "digest of the foreign register"
S=$(st "$X")
assert_eq "$(jget "$S" 'd["events"]')" 1 "foreign register's events"
assert_eq "$(jget "$S" "len([p for p in d['peers'] if p['state'] == 'up'])")" \
    0 "foreign register has no session"
stop_agent "$AX" || fail "x did not stop"
pass "another store's register: handshakes refused and counted, no event moved"

# ---- 5. a stalled register (SIGSTOP) holds nobody back ----
kill -STOP "$A2"
for i in $(seq 1 20); do
	expect 0 --dir "$R1" append StockReceived --json \
	    "{\"product_id\":\"p1\",\"qty\":$i}"
	expect 0 --dir "$R3" append StockAdjusted --json \
	    "{\"product_id\":\"p1\",\"delta\":-1}"
done
wait_same 10 "$R1" "$R3" || { kill -CONT "$A2"; fail "r1 and r3 stalled by r2"; }
for i in $(seq 1 100); do
	[ "$(sjget "$R1" "[p['state'] for p in d['peers'] if p['device_id'] == '$D2'][0]")" = down ] && break
	sleep 0.1
done
ST=$(sjget "$R1" "[p['state'] for p in d['peers'] if p['device_id'] == '$D2'][0]")
kill -CONT "$A2"
assert_eq "$ST" down "r1's view of the stopped r2"
wait_same 15 "$R1" "$R2" "$R3" || fail "r2 did not catch up after SIGCONT"
expect 0 --dir "$R2" get product p1 --json
# received 1+..+20, adjusted -20, and 4 sales of one p1 on each register
assert_eq "$(jget "$OUT" 'd["stock"]')" $((210 - 20 - 12)) "stock on r2"
pass "stalled r2: r1 and r3 went on, r2 down, then caught up"

# ---- 6. revocation closes the session ----
expect 0 --dir "$R1" revoke "$D3" --reason "stolen"
wait_same 10 "$R1" "$R2" || fail "revocation did not reach r2"
for i in $(seq 1 50); do
	[ "$(sjget "$R2" "len([p for p in d['peers'] if p['device_id'] == '$D3' and p['state'] == 'up'])")" = 0 ] && break
	sleep 0.1
done
assert_eq "$(sjget "$R2" "len([p for p in d['peers'] if p['device_id'] == '$D3' and p['state'] == 'up'])")" \
    0 "r3's session on r2 after revocation"
DR=$(digest "$R1")
"$CAJACTL" --dir "$R3" append ProductUpdated --json \
    '{"product_id":"after-revoke","name":"x"}' >/dev/null 2>&1
sleep 2
assert_eq "$(digest "$R1")" "$DR" "r1 unchanged by the revoked register"
assert_eq "$(digest "$R2")" "$DR" "r2 unchanged by the revoked register"
expect 2 --dir "$R2" get product after-revoke --json
pass "revoked register: session closed, its new events go nowhere"

for a in "$A1" "$A2" "$A3"; do
	stop_agent "$a" || fail "agent $a did not exit 0"
done
pass "clean stops"
