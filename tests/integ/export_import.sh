#!/bin/bash
# export_import.sh: two registers synced only by export files (USB stick):
# init + invite + join, events on both, export/import both ways -> equal
# digests; a price conflict appears on both and is resolved on one,
# settling both; a tampered export is refused naming the event, the rest
# kept.
. "$(dirname "$0")/lib.sh"

D1=$T/reg1
D2=$T/reg2

# both ways: D1 -> D2 and D2 -> D1
sync_both() {
	expect 0 --dir "$D1" export --out "$T/e1"
	expect 0 --dir "$D2" import "$T/e1"
	expect 0 --dir "$D2" export --out "$T/e2"
	expect 0 --dir "$D1" import "$T/e2"
}
digest() { "$CAJACTL" --dir "$1" digest || fail "digest $1"; }

expect 0 --dir "$D1" init --store "Dos Cajas" --name caja-1 --json
SID=$(jget "$OUT" 'd["store_id"]')
DID1=$(jget "$OUT" 'd["device_id"]')
start_agent "$D1"
A1=$AGENT_PID
expect 0 --dir "$D1" invite --expires 1h
TOKEN=$OUT
assert_match "$TOKEN" '^caja1-' "token"
expect 0 --dir "$D2" join --token "$TOKEN" --name caja-2 --json
assert_eq "$(jget "$OUT" 'd["store_id"]')" "$SID" "joined store id"
DID2=$(jget "$OUT" 'd["device_id"]')
[ "$DID1" != "$DID2" ] || fail "same device id"
start_agent "$D2"
A2=$AGENT_PID
pass "init, invite, join"

expect 0 --dir "$D1" append ProductUpdated --json '{"product_id":"p1","name":"Cafe"}'
expect 0 --dir "$D1" append PriceChanged --json '{"product_id":"p1","price_bs":"10.00"}'
expect 0 --dir "$D1" append StockReceived --json '{"product_id":"p1","qty":20}'
expect 0 --dir "$D2" append CustomerUpdated --json '{"customer_id":"c1","name":"Ana"}'
expect 0 --dir "$D2" append SaleCreated --json '{"sale_id":"s2","items":[{"product_id":"p1","qty":2,"price_bs":"10.00"}]}'
sync_both
assert_eq "$(digest "$D1")" "$(digest "$D2")" "digests after sync"
expect 0 --dir "$D2" get product p1 --json
assert_eq "$(jget "$OUT" 'd["stock"]')" 18 "stock on reg2"
expect 0 --dir "$D1" get sale s2 --json
assert_eq "$(jget "$OUT" 'd["device_id"]')" "$DID2" "sale of reg2 on reg1"
expect 0 --dir "$D1" devices --json
assert_match "$OUT" "$DID2" "reg2 enrolled on reg1"
# Importing the same file again changes nothing.
expect 0 --dir "$D1" import "$T/e2"
expect 0 --dir "$D1" --json import "$T/e2"
assert_eq "$(jget "$OUT" 'd["accepted"]')" 0 "re-import accepts nothing"
pass "export/import both ways: equal digests"

# Concurrent different prices: a conflict on both.
expect 0 --dir "$D1" append PriceChanged --json '{"product_id":"p1","price_bs":"11.00"}'
expect 0 --dir "$D2" append PriceChanged --json '{"product_id":"p1","price_bs":"12.00"}'
sync_both
assert_eq "$(digest "$D1")" "$(digest "$D2")" "digests with conflict"
expect 0 --dir "$D1" conflicts --json
C1=$OUT
expect 0 --dir "$D2" conflicts --json
C2=$OUT
CS='(d if isinstance(d, list) else d["conflicts"])'
assert_eq "$(jget "$C1" "len($CS)")" 1 "one pending conflict on reg1"
CID=$(jget "$C1" "$CS[0]['conflict_id']")
assert_eq "$(jget "$C2" "$CS[0]['conflict_id']")" "$CID" "same conflict on reg2"
assert_eq "$(jget "$C1" "$CS[0]['field']")" price_bs "conflict field"
expect 0 --dir "$D2" get product p1 --json
assert_match "$(jget "$OUT" 'd["conflicts"]')" "$CID" "product lists its conflict"
expect 0 --dir "$D1" conflicts
assert_match "$OUT" "CONFLICT" "human conflicts table"
pass "a price conflict appears on both registers ($CID)"

expect 0 --dir "$D1" resolve "${CID:0:10}" --value '"11.50"' --by ana
sync_both
for d in "$D1" "$D2"; do
	expect 0 --dir "$d" conflicts --json
	assert_eq "$(jget "$OUT" "len($CS)")" 0 "no pending conflict on $d"
	expect 0 --dir "$d" get product p1 --json
	assert_eq "$(jget "$OUT" 'd["price_bs"]')" 11.50 "resolved price on $d"
done
assert_eq "$(digest "$D1")" "$(digest "$D2")" "digests after resolve"
pass "resolved on reg1, settled on both"

# A tampered export: three new events of reg1, the middle one altered.
expect 0 --dir "$D1" append ProductUpdated --json '{"product_id":"t1","name":"before"}'
S_BEFORE=$(jget "$OUT" 'd["seq"]')
expect 0 --dir "$D1" append ProductUpdated --json '{"product_id":"t2","name":"TAMPERME"}'
S_BAD=$(jget "$OUT" 'd["seq"]')
expect 0 --dir "$D1" append CustomerUpdated --json '{"customer_id":"c9","name":"after"}'
expect 0 --dir "$D1" export --out "$T/e3"
"$PYTHON" - "$T/e3" <<'PY' || fail "tamper"
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"TAMPERME")
assert i > 0 and b.find(b"TAMPERME", i + 1) < 0
b[i + 7] ^= 0x01          # one bit of one byte
open(p, "wb").write(bytes(b))
PY
expect 2 --dir "$D2" import "$T/e3"
assert_match "$ERR" "refused event $DID1 seq $S_BAD" "refusal names the event"
expect 0 --dir "$D2" get product t1 --json
assert_eq "$(jget "$OUT" 'd["name"]')" before "event before the tampered one kept"
expect 2 --dir "$D2" get product t2
expect 0 --dir "$D2" status --json
assert_eq "$(jget "$OUT" 'd["vector_clock"]["'"$DID1"'"]')" "$S_BEFORE" "reg1's chain on reg2 stops before the bad event"
pass "a tampered export is refused naming the event; the rest kept"

stop_agent "$A1" || fail "stop reg1"
stop_agent "$A2" || fail "stop reg2"
echo "export_import.sh: all passed"
