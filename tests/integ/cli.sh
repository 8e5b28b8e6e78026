#!/bin/bash
# cli.sh: cajactl and cajad end to end on one data dir: init, every event
# type through the agent, reads with and without the agent, usage errors
# (exit 1), refusals (exit 2) naming the field, config check, daemon mode.
. "$(dirname "$0")/lib.sh"

D=$T/reg1

# --- usage errors: exit 1
expect 1
expect 1 bogus
expect 1 --dir "$D" get product
expect 1 --dir "$D" get gadget p1
expect 1 --dir "$D" append
expect 1 --dir "$D" init
expect 1 --dir "$D" log --since abc
expect 0 --help
assert_match "$OUT" "usage: cajactl" "help"
expect 0 append --help
assert_match "$OUT" "all or nothing" "append --help"
pass "usage errors exit 1, help exits 0"

# --- init
expect 0 --dir "$D" init --store "Tienda Centro" --name caja-1 --json
SID=$(jget "$OUT" 'd["store_id"]')
DID=$(jget "$OUT" 'd["device_id"]')
assert_match "$SID" '^[0-9a-f]{32}$' "store_id"
assert_match "$DID" '^[0-9a-f]{32}$' "device_id"
expect 2 --dir "$D" init --store X
assert_match "$ERR" "already" "second init"
pass "init prints ids; a second init is refused"

# --- writes without an agent
expect 2 --dir "$D" append ProductUpdated --json '{"product_id":"p1","name":"x"}'
assert_eq "$ERR" "cajactl: agent not running ($D/ctl.sock)" "no agent"
pass "append without agent: exit 2, clear message"

# --- agent
start_agent "$D"
A=$AGENT_PID
"$CAJAD" --dir "$D" -d --no-mdns --http off 2>"$T/second.err"
assert_eq "$?" 1 "second cajad exit"
assert_match "$(cat "$T/second.err")" "already running" "second cajad"
kill -0 "$A" || fail "first agent died"
pass "a second cajad on the same dir is refused"

# --- every event type
SEQ=1	# seq 1 is the device's DeviceEnrolled
app() {
	expect 0 --dir "$D" append "$1" --json "$2"
	SEQ=$((SEQ + 1))
	assert_eq "$(jget "$OUT" 'd["seq"]')" "$SEQ" "seq of $1"
	assert_eq "$(jget "$OUT" 'd["device_id"]')" "$DID" "device of $1"
	assert_match "$(jget "$OUT" 'd["event_id"]')" '^[0-9a-f]{64}$' "id"
}
app ProductUpdated '{"product_id":"p1","name":"Cafe","barcode":"7591","active":true}'
app PriceChanged '{"product_id":"p1","price_bs":"12.50","price_usd":"0.35"}'
app StockReceived '{"product_id":"p1","qty":10}'
app StockAdjusted '{"product_id":"p1","delta":-2}'
app CustomerUpdated '{"customer_id":"c1","name":"Ana","phone":"0414","address":"Centro"}'
app SaleCreated '{"sale_id":"s1","items":[{"product_id":"p1","qty":3,"price_bs":"12.50"}],"customer_id":"c1","on_credit":true}'
app DebtPaymentAdded '{"customer_id":"c1","amount_bs":"10"}'
app NoteEdited '{"sale_id":"s1","ops":[{"type":"INSERT","position":0,"text":"hola"}]}'
app SaleCreated '{"sale_id":"s2","items":[{"product_id":"p1","qty":1,"price_bs":"12.50"}]}'
app SaleVoided '{"sale_id":"s2"}'
pass "every event type appended, seq 2..$SEQ"

# --- refusals: exit 2, the field named, nothing appended
expect 2 --dir "$D" append PriceChanged --json '{"product_id":"p1","price_bs":1.5}'
assert_match "$ERR" "price_bs" "real money refused"
expect 2 --dir "$D" append StockReceived --json '{"product_id":"p1","qty":0}'
assert_match "$ERR" "qty" "qty 0 refused"
expect 2 --dir "$D" append StockReceived --json '{"qty":3}'
assert_match "$ERR" "product_id" "missing product_id"
expect 2 --dir "$D" append Teleported --json '{"x":1}'
assert_match "$ERR" "unknown event type" "unknown type"
expect 2 --dir "$D" append ConflictResolved --json '{}'
expect 1 --dir "$D" append ProductUpdated --json '{not json'
pass "bad events refused with the field named"

# --- batch: all or nothing
cat >"$T/good.jsonl" <<'J'
{"type":"StockReceived","payload":{"product_id":"p2","qty":5}}

{"type":"ProductUpdated","payload":{"product_id":"p2","name":"Pan"}}
{"type":"PriceChanged","payload":{"product_id":"p2","price_bs":"2"}}
J
cat >"$T/bad.jsonl" <<'J'
{"type":"StockReceived","payload":{"product_id":"p3","qty":5}}
{"type":"ProductUpdated","payload":{"product_id":"p3","name":"Leche"}}
{"type":"StockAdjusted","payload":{"product_id":"p3","delta":"x"}}
J
expect 2 --dir "$D" append --batch "$T/bad.jsonl"
assert_match "$ERR" "bad.jsonl:3: .*delta" "bad batch line named"
expect 0 --dir "$D" append --batch "$T/good.jsonl"
assert_eq "$(echo "$OUT" | wc -l)" 3 "one result per line"
assert_eq "$(echo "$OUT" | tail -n1 | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["seq"])')" $((SEQ + 3)) "batch seqs"
SEQ=$((SEQ + 3))
expect 0 --dir "$D" --json append --batch "$T/good.jsonl"
assert_eq "$(jget "$OUT" 'len(d)')" 3 "--json batch array"
assert_eq "$(jget "$OUT" 'd[0]["seq"]')" $((SEQ + 1)) "batch array seq"
SEQ=$((SEQ + 3))
expect 2 --dir "$D" get product p3
pass "batch: one result per line; a bad line refuses the whole file"

# --- reads
expect 0 --dir "$D" get product p1 --json
assert_eq "$(jget "$OUT" 'd["name"]')" Cafe "product name"
assert_eq "$(jget "$OUT" 'd["price_bs"]')" 12.50 "price_bs"
assert_eq "$(jget "$OUT" 'd["barcode"]')" 7591 "barcode"
assert_eq "$(jget "$OUT" 'd["stock"]')" 5 "stock 10-2-3 (s2 voided)"
expect 0 --dir "$D" get customer c1 --json
assert_eq "$(jget "$OUT" 'd["balance_bs"]')" 27.50 "balance 37.50-10"
assert_eq "$(jget "$OUT" 'd["phone"]')" 0414 "phone"
expect 0 --dir "$D" get sale s1 --json
assert_eq "$(jget "$OUT" 'd["total_bs"]')" 37.50 "sale total"
assert_eq "$(jget "$OUT" 'd["note"]')" hola "sale note"
expect 0 --dir "$D" get sale s2 --json
assert_eq "$(jget "$OUT" 'd["status"]')" voided "voided sale"
expect 2 --dir "$D" get product nope
assert_match "$ERR" "not found" "missing product"
expect 0 --dir "$D" get product p1
assert_match "$OUT" "^name +Cafe" "human get"
expect 0 --dir "$D" list product --json
assert_eq "$(jget "$OUT" 'sorted(p["product_id"] for p in (d if isinstance(d, list) else d["items"]))')" '["p1", "p2"]' "list product"
expect 0 --dir "$D" totals --json
assert_match "$OUT" "37.50" "totals hold the open sale's total"
expect 0 --dir "$D" log --json
EV=$(jget "$OUT" 'len(d if isinstance(d, list) else d["events"])')
assert_eq "$EV" "$SEQ" "log length"
assert_eq "$(jget "$OUT" '[e["seq"] for e in (d if isinstance(d, list) else d["events"])] == list(range(1, '"$SEQ"' + 1))')" true "log seqs contiguous"
expect 0 --dir "$D" log --since 5 --json
assert_eq "$(jget "$OUT" 'min(e["seq"] for e in (d if isinstance(d, list) else d["events"]))')" 6 "log --since"
expect 0 --dir "$D" devices --json
assert_match "$OUT" "$DID" "devices lists this device"
expect 0 --dir "$D" digest
DIG=$OUT
assert_match "$DIG" '^[0-9a-f]{64}$' "digest"
expect 0 --dir "$D" status --json
assert_eq "$(jget "$OUT" 'd["agent"]')" running "status agent"
assert_eq "$(jget "$OUT" 'd["pid"]')" "$A" "status pid"
assert_eq "$(jget "$OUT" 'd["events"]')" "$SEQ" "status events"
assert_eq "$(jget "$OUT" 'd["device_id"]')" "$DID" "status device"
assert_eq "$(jget "$OUT" 'd["store_id"]')" "$SID" "status store"
assert_eq "$(jget "$OUT" 'd["peers"]')" "[]" "status peers"
assert_eq "$(jget "$OUT" 'd["cloud"]["state"]')" disabled "cloud state"
assert_eq "$(jget "$OUT" 'd["cloud"]["breaker"]')" CLOSED "breaker"
assert_eq "$(jget "$OUT" 'd["store_full"]')" false "store_full"
assert_eq "$(jget "$OUT" 'd["vector_clock"]["'"$DID"'"]')" "$SEQ" "vector clock"
assert_eq "$(jget "$OUT" 'd["requests"]["appended"]')" $((SEQ - 1)) "appended counter"
expect 0 --dir "$D" log --device "${DID:0:8}" --since $((SEQ - 2)) --json
assert_eq "$(jget "$OUT" '[e["seq"] for e in d]')" "[$((SEQ - 1)), $SEQ]" "log --device prefix --since"
expect 0 --dir "$D" export --out "$T/since.exp" --since "{\"$DID\": $((SEQ - 2))}" --json
assert_eq "$(jget "$OUT" 'd["events"]')" 2 "export --since"
expect 0 --dir "$D" export --out "$T/all.exp"
assert_match "$OUT" "^exported $SEQ events" "export all"
expect 1 --dir "$D" export --out "$T/x" --since '{"nothex": 1}'
expect 0 --dir "$D" export --out "$T/since8.exp" --since "{\"${DID:0:8}\": $((SEQ - 2))}" --json
assert_eq "$(jget "$OUT" 'd["events"]')" 2 "export --since with an id prefix"
expect 2 --dir "$D" export --out "$T/x" --since '{"0123456789": 1}'
assert_match "$ERR" "no device 0123456789" "export --since: unknown prefix named"
expect 1 --dir "$D" log --device "${DID:0:6}"
assert_match "$ERR" "at least 8 hex digits" "short id prefix: usage error"
expect 1 --dir "$D" revoke abc
expect 1 --dir "$D" resolve 1234 --value 1
expect 1 --dir "$D" totals --day 2026-02-30
expect 0 --dir "$D" totals --day 2024-02-29
expect 2 --dir "$T/nojoin" join --token nonsense
assert_match "$ERR" "not an invite token" "join: a bad token is named"
assert_eq "$(stat -c %a "$D/ctl.sock")" 600 "control socket mode"
pass "get/list/totals/log/devices/digest/status/export read back the events"

# --- stop; reads without the agent
stop_agent "$A"
assert_eq "$?" 0 "cajad exit on SIGTERM"
[ -e "$D/cajad.pid" ] && fail "pid file left behind"
expect 0 --dir "$D" get product p1 --json
assert_eq "$(jget "$OUT" 'd["stock"]')" 5 "stock, agent stopped"
expect 0 --dir "$D" digest
assert_eq "$OUT" "$DIG" "digest, agent stopped"
expect 0 --dir "$D" status --json
assert_eq "$(jget "$OUT" 'd["agent"]')" stopped "status agent stopped"
assert_eq "$(jget "$OUT" 'd["events"]')" "$SEQ" "status events stopped"
expect 2 --dir "$D" append ProductUpdated --json '{"product_id":"p1","name":"x"}'
assert_match "$ERR" "agent not running \($D/ctl.sock\)" "write, agent stopped"
expect 2 --dir "$D" invite
assert_match "$ERR" "agent not running" "invite, agent stopped"
pass "SIGTERM exits 0; reads work with the agent stopped, writes say why not"

# --- configuration: -n -v, file twins, flags win, errors
cat >"$T/cajad.conf" <<EOF2
# test config
dir = $D
listen = tcp://127.0.0.1:7701
peer = tcp://10.0.0.2:7700
peer = tcp://10.0.0.3:7700   # second register
mdns = no
http = off
cloud = "http://127.0.0.1:8080"
map_max = 512M
max_skew = 2m
log_level = warn
EOF2
"$CAJAD" -f "$T/cajad.conf" -n -v >"$T/n.out" 2>&1 || fail "cajad -n -v: $(cat "$T/n.out")"
grep -q "^peer = tcp://10.0.0.3:7700$" "$T/n.out" || fail "-n -v peers: $(cat "$T/n.out")"
grep -q "^map_max = 536870912$" "$T/n.out" || fail "-n -v map_max"
grep -q "^max_skew = 120000ms$" "$T/n.out" || fail "-n -v max_skew"
grep -q "^cloud = http://127.0.0.1:8080$" "$T/n.out" || fail "-n -v cloud"
"$CAJAD" -f "$T/cajad.conf" -n -v --peer tcp://10.0.0.9:7700 --log-level debug >"$T/n.out" 2>&1 || fail "cajad -n -v flags"
[ "$(grep -c '^peer = ' "$T/n.out")" = 1 ] || fail "flag peers replace file peers"
grep -q "^log_level = debug$" "$T/n.out" || fail "flag wins over file"
echo "bogus = 1" >>"$T/cajad.conf"
"$CAJAD" -f "$T/cajad.conf" -n 2>"$T/n.err" && fail "unknown key accepted"
assert_match "$(cat "$T/n.err")" "cajad.conf:12: unknown key 'bogus'" "conf error line"
"$CAJAD" --dir "$D" --listen 7700 -n 2>"$T/n.err" && fail "bad listen accepted"
assert_match "$(cat "$T/n.err")" "listen" "bad listen named"
"$CAJAD" --bogus 2>/dev/null; assert_eq "$?" 1 "unknown flag"
"$CAJAD" --dir "$T/nothing" -d 2>"$T/n.err"; assert_eq "$?" 1 "missing dir"
assert_match "$(cat "$T/n.err")" "nothing" "missing dir named"
mkdir "$T/empty"
"$CAJAD" --dir "$T/empty" -d --no-mdns 2>"$T/n.err"; assert_eq "$?" 1 "no store"
assert_match "$(cat "$T/n.err")" "store" "no store message"
pass "config: -n -v prints it, flags win, errors name file:line and key"

# --- daemon mode, SIGHUP reload
cat >"$T/d.conf" <<EOF2
log_level = info
mdns = no
http = off
listen = tcp://127.0.0.1:$(rand_port)
EOF2
"$CAJAD" --dir "$D" -f "$T/d.conf" || fail "daemon start"
[ -s "$D/cajad.pid" ] || fail "no pid file"
DP=$(cat "$D/cajad.pid")
OWN_PIDS+=("$DP")
kill -0 "$DP" || fail "daemon not running"
wait_agent "$D" || fail "daemon does not answer"
expect 0 --dir "$D" append ProductUpdated --json '{"product_id":"p9","name":"Sal"}'
SEQ=$((SEQ + 1))
assert_eq "$(jget "$OUT" 'd["seq"]')" "$SEQ" "seq through the daemon"
sed -i 's/log_level = info/log_level = debug/' "$T/d.conf"
kill -HUP "$DP"
sleep 0.5
expect 0 --dir "$D" status --json
assert_eq "$(jget "$OUT" 'd["config"]["log_level"]')" debug "SIGHUP reload"
kill -0 "$DP" || fail "daemon died on SIGHUP"
kill -TERM "$DP"
wait_gone "$DP" 100 || fail "daemon did not stop"
[ -e "$D/cajad.pid" ] && fail "daemon left its pid file"
pass "daemon mode: detaches, pid file, SIGHUP reloads, SIGTERM stops"

echo "cli.sh: all passed"
