#!/bin/bash
# cloud_server.sh: caja-cloud against a real PostgreSQL (tests/support/pg.sh,
# started by tests/support/cloud_env.sh).
#
# A store of two registers (init, invite, join; events exchanged by export
# and import), an invite for the cloud, caja-cloud enroll + serve. Pushes
# made with curl(1) of the registers' export files:
#  - every event lands in PostgreSQL exactly once; the same batch again
#    gives duplicates and no new rows; gzip bodies work;
#  - concurrent prices pushed by two registers: "conflicted", a row in
#    sync_conflicts, both events marked;
#  - a tampered frame, a forged store's events and an unenrolled device's
#    events are rejected and nothing of them is stored (LMDB nor PG);
#  - per-device rate limit: 429 with Retry-After, and after waiting that
#    long the device gets through;
#  - PostgreSQL stopped: /health 503 and push 503 in < 1 s, pull still
#    served from LMDB; PostgreSQL back: pushes work again;
#  - PostgreSQL hung (SIGSTOP): shed with 503 in < 1 s, not after the
#    statement deadline; thawed: pushes work again;
#  - a price set at head office reaches both registers (signed pull,
#    cajactl import); a new register catches up in bounded pulls;
#  - sync_metrics has a row per push, device_sync_state follows devices;
#  - rows deleted behind the cloud's back come back at restart (reconcile);
#  - killed (SIGKILL) during a push of 3000 events: PostgreSQL = LMDB after
#    the restart, and the retried push completes it; a crash injected
#    between the LMDB and the PostgreSQL commits: reconciled at restart.
# Skips (exit 0) only without the PostgreSQL server binaries, and never
# when CAJA_REQUIRE_PG=1 or CI is set.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../support/cloud_env.sh"

D1=$T/reg1
D2=$T/reg2
PUSHES_OK=0

# start_cloud [serve]: CONTRACT.md's form (caja-cloud --listen ...) unless
# "serve" is given.
start_cloud() { cloud_start "$@" --rate 5 --burst 10; }

# push FILE DEVICE [curl args...]: HTTP status in CODE, body in BODY,
# headers in $T/hdr, seconds in TIME.
push() {
	local f=$1 dev=$2 out
	shift 2
	out=$(curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code} %{time_total}' \
	    -X POST --data-binary @"$f" \
	    -H "Content-Type: application/x-caja-events" \
	    -H "X-Caja-Store: ${STORE_HDR:-$SID}" -H "X-Caja-Device: $dev" \
	    "$@" "$CURL_BASE/v2/sync/push") || fail "curl push $f"
	CODE=${out% *}
	TIME=${out#* }
	BODY=$(cat "$T/body")
	if [ "$CODE" = 200 ] && [ "${STORE_HDR:-$SID}" = "$SID" ]; then
		PUSHES_OK=$((PUSHES_OK + 1))
	fi
}
# jbody EXPR: jget on the last push's answer (read from its file: it can
# be larger than one argument may be).
jbody() {
	"$PYTHON" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(json.dumps(v) if isinstance(v, (dict, list, bool)) or v is None else v)' "$T/body" "$1" ||
	    { echo "FAIL: $TEST_NAME: jbody $1" >&2; kill -TERM $$; exit 1; }
}
hdr() { tr -d '\r' <"$T/hdr" | awk -v h="$1" 'tolower($1) == tolower(h ":") {print $2}'; }

# vclock_of DIR: the register's vector clock, compact form.
vclock_of() {
	"$CAJACTL" --dir "$1" status --json | "$PYTHON" -c 'import json, sys
d = json.load(sys.stdin)
print(",".join("%s:%d" % kv for kv in sorted(d["vector_clock"].items())))'
}

# pull DIR [max]: a signed pull of what DIR lacks into $T/pulled.
pull() {
	local dir=$1 max=${2:-} since args
	since=$(vclock_of "$dir")
	args=(store="$SID" since="$since")
	[ -n "$max" ] && args+=(max="$max")
	"$CLOUD" sign --dir "$dir" --path /v2/sync/pull "${args[@]}" \
	    >"$T/sig" || fail "caja-cloud sign"
	CODE=$(curl -s -D "$T/hdr" -o "$T/pulled" -w '%{http_code}' -H @"$T/sig" \
	    "$CURL_BASE/v2/sync/pull?store=$SID&since=$since${max:+&max=$max}")
}

sync_both() {
	expect 0 --dir "$D1" export --out "$T/e1"
	expect 0 --dir "$D2" import "$T/e1"
	expect 0 --dir "$D2" export --out "$T/e2"
	expect 0 --dir "$D1" import "$T/e2"
}

cloud_status() {
	"$CAJACTL" --dir "$C/stores/$SID" status --json ||
	    fail "status of the cloud's store"
}

# ---- a store of two registers and an enrolled cloud ----

expect 0 --dir "$D1" init --store "Tienda Nube" --name caja-1 --json
SID=$(jget "$OUT" 'd["store_id"]')
DID1=$(jget "$OUT" 'd["device_id"]')
start_agent "$D1"
expect 0 --dir "$D1" invite --expires 1h
expect 0 --dir "$D2" join --token "$OUT" --name caja-2 --json
DID2=$(jget "$OUT" 'd["device_id"]')
start_agent "$D2"
expect 0 --dir "$D1" invite --expires 1h --role cloud
CTOKEN=$OUT
OUT=$("$CLOUD" enroll --data "$C" --token "$CTOKEN" --name head-office) ||
    fail "caja-cloud enroll"
assert_eq "$(jget "$OUT" 'd["store_id"]')" "$SID" "enrolled store"
CDID=$(jget "$OUT" 'd["device_id"]')
"$CLOUD" enroll --data "$C" --token "$CTOKEN" 2>/dev/null &&
    fail "enrolling twice in one store must fail"
[ "$(stat -c %a "$C/admin.token")" = 600 ] || fail "admin.token mode"
pass "store $SID: two registers, the cloud enrolled as $CDID"

expect 0 --dir "$D1" append ProductUpdated --json '{"product_id":"p1","name":"Cafe"}'
expect 0 --dir "$D1" append PriceChanged --json '{"product_id":"p1","price_bs":"10.00"}'
expect 0 --dir "$D1" append StockReceived --json '{"product_id":"p1","qty":20}'
expect 0 --dir "$D1" append ProductUpdated --json '{"product_id":"p2","name":"Pan"}'
expect 0 --dir "$D1" append PriceChanged --json '{"product_id":"p2","price_bs":"5.00"}'
expect 0 --dir "$D2" append CustomerUpdated --json '{"customer_id":"c1","name":"Ana"}'
expect 0 --dir "$D2" append SaleCreated --json '{"sale_id":"s1","items":[{"product_id":"p1","qty":2,"price_bs":"10.00"}]}'
sync_both
# concurrent prices of p2, not synced between the registers
expect 0 --dir "$D1" append PriceChanged --json '{"product_id":"p2","price_bs":"6.00"}'
P2A=$(jget "$OUT" 'd["event_id"]')
expect 0 --dir "$D2" append PriceChanged --json '{"product_id":"p2","price_bs":"7.00"}'
P2B=$(jget "$OUT" 'd["event_id"]')
expect 0 --dir "$D1" export --out "$T/e1"
expect 0 --dir "$D2" export --out "$T/e2"

start_cloud serve
PSQL "SELECT 1 FROM stores WHERE store_id = '$SID'" | grep -q 1 ||
    fail "stores row"
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE device_id = '$CDID'")" 1 \
    "the cloud's own enrollment in PostgreSQL at start"

# ---- push: every event once ----

N1=$("$CAJACTL" --dir "$D1" status --json | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["events"])')
push "$T/e1" "$DID1"
assert_eq "$CODE" 200 "push e1: $BODY"
assert_eq "$(jbody 'd["accepted"] + d["conflicted"]')" "$N1" "accepted of e1"
assert_eq "$(jbody 'len(d["results"])')" "$N1" "one result per frame"
assert_eq "$(jbody 'd["rejected"]')" 0 "rejected of e1"
assert_eq "$(jbody 'd["vector_clock"]["'"$DID1"'"]')" \
    "$(jget "$("$CAJACTL" --dir "$D1" status --json)" 'd["vector_clock"]["'"$DID1"'"]')" \
    "cloud's vector clock for reg1"
push "$T/e2" "$DID2"
assert_eq "$CODE" 200 "push e2: $BODY"
assert_eq "$(jbody 'd["conflicted"]')" 1 "the concurrent price is conflicted"
assert_eq "$(jbody '[r["status"] for r in d["results"] if r["event_id"] == "'"$P2B"'"][0]')" \
    conflicted "status of reg2's price"
assert_eq "$(jbody 'd["conflicts_pending"]')" 1 "pending conflicts"
assert_eq "$(jbody 'd["accepted"] + d["conflicted"]')" 1 "only reg2's new event is new"

# Every event of both registers is in PostgreSQL exactly once.
"$CAJACTL" --dir "$D1" log --json >"$T/log1" || fail "log reg1"
"$CAJACTL" --dir "$D2" log --json >"$T/log2" || fail "log reg2"
PSQL "SELECT event_id FROM events WHERE store_id = '$SID'" >"$T/pg_ids"
assert_eq "$(PSQL "SELECT count(*) - count(DISTINCT event_id) FROM events")" 0 \
    "no event twice"
"$PYTHON" - "$T/log1" "$T/log2" "$T/pg_ids" "$CDID" <<'PY' || fail "PostgreSQL holds a different set of events"
import json, sys
regs = set()
for p in sys.argv[1:3]:
    regs |= {e["event_id"] for e in json.load(open(p))}
pg = [l.strip() for l in open(sys.argv[3]) if l.strip()]
assert len(pg) == len(set(pg)), "duplicates"
extra = set(pg) - regs
missing = regs - set(pg)
assert not missing, "missing: %s" % sorted(missing)[:3]
assert len(extra) == 1, "extra: %s" % extra    # the cloud's enrollment
PY
NPG=$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")
assert_eq "$NPG" "$(jget "$(cloud_status)" 'd["events"]')" "PostgreSQL = the cloud's LMDB"
pass "every event of both registers in PostgreSQL exactly once ($NPG rows)"

assert_eq "$(PSQL "SELECT count(*) FROM sync_conflicts WHERE store_id = '$SID' AND resolution_status = 'pending' AND entity_id = 'p2' AND field = 'price_bs'")" 1 \
    "sync_conflicts row"
assert_eq "$(PSQL "SELECT count(*) FROM sync_conflicts WHERE (event_id_a, event_id_b) IN (('$P2A', '$P2B'), ('$P2B', '$P2A'))")" 1 \
    "conflict's event pair"
assert_eq "$(PSQL "SELECT string_agg(conflict_status, ',') FROM events WHERE event_id IN ('$P2A', '$P2B')")" \
    "conflicted,conflicted" "events marked conflicted"
# vector clocks rebuilt from the causal contexts: reg2's price saw reg1's
# events up to the sync
VC=$(PSQL "SELECT vector_clock FROM events WHERE event_id = '$P2B'")
jget "$VC" 'd["'"$DID1"'"] >= 5 and d["'"$DID2"'"] >= 3' | grep -q true ||
    fail "vector_clock of reg2's price: $VC"
pass "concurrent prices: conflicted, in sync_conflicts, events marked"

# ---- idempotent ----

push "$T/e1" "$DID1"
assert_eq "$CODE" 200 "push e1 again"
assert_eq "$(jbody 'd["duplicate"]')" "$N1" "all duplicates"
assert_eq "$(jbody 'd["accepted"] + d["conflicted"] + d["rejected"]')" 0 "nothing new"
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" "$NPG" "no new rows"
expect 0 --dir "$D2" append SaleCreated --json '{"sale_id":"s2","items":[{"product_id":"p1","qty":1,"price_bs":"10.00"}]}'
expect 0 --dir "$D2" append DebtPaymentAdded --json '{"customer_id":"c1","amount_bs":"3.00"}'
expect 0 --dir "$D2" export --out "$T/e2"
gzip -9 -c "$T/e2" >"$T/e2.gz"
push "$T/e2.gz" "$DID2" -H "Content-Encoding: gzip" -H "X-Caja-Breaker: HALF_OPEN" \
    -H "X-Caja-Last-Error: timeout talking to the cloud"
assert_eq "$CODE" 200 "gzip push: $BODY"
assert_eq "$(jbody 'd["accepted"]')" 2 "gzip push: the two new events"
NPG=$((NPG + 2))
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" "$NPG" "two new rows"
RATIO=$(PSQL "SELECT compression_ratio FROM sync_metrics ORDER BY id DESC LIMIT 1")
jget "$RATIO" 'd > 1.1' | grep -q true || fail "compression ratio $RATIO"
printf 'not gzip' >"$T/bad.gz"
push "$T/bad.gz" "$DID2" -H "Content-Encoding: gzip"
assert_eq "$CODE" 400 "corrupt gzip"
pass "same batch again: duplicates, no new rows; gzip body (ratio $RATIO)"

# ---- tampered, forged, unenrolled: rejected, nothing stored ----

expect 0 --dir "$D1" append ProductUpdated --json '{"product_id":"t1","name":"before"}'
S_BEFORE=$(jget "$OUT" 'd["seq"]')
expect 0 --dir "$D1" append ProductUpdated --json '{"product_id":"t2","name":"TAMPERME"}'
expect 0 --dir "$D1" append CustomerUpdated --json '{"customer_id":"c9","name":"after"}'
expect 0 --dir "$D1" export --out "$T/e3"
"$PYTHON" - "$T/e3" <<'PY' || fail "tamper"
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
i = b.find(b"TAMPERME")
assert i > 0 and b.find(b"TAMPERME", i + 1) < 0
b[i + 7] ^= 0x01
open(p, "wb").write(bytes(b))
PY
push "$T/e3" "$DID1"
assert_eq "$CODE" 200 "tampered push"
assert_eq "$(jbody 'd["accepted"]')" 1 "the event before the tampered one"
assert_eq "$(jbody '[r["error"] for r in d["results"] if r["status"] == "rejected" and r["seq"] == '"$((S_BEFORE + 1))"'][0]')" \
    signature "the tampered event's error"
assert_eq "$(jbody 'd["rejected"]')" 2 "tampered and its successor rejected"
assert_eq "$(PSQL "SELECT max(seq) FROM events WHERE device_id = '$DID1'")" "$S_BEFORE" \
    "PostgreSQL stops before the tampered event"
assert_eq "$(jget "$(cloud_status)" 'd["vector_clock"]["'"$DID1"'"]')" "$S_BEFORE" \
    "the cloud's LMDB stops before the tampered event"
NPG=$((NPG + 1))
pass "tampered frame rejected (signature), nothing of it stored"

D9=$T/other
expect 0 --dir "$D9" init --store "Otra Tienda" --name intruso --json
SID9=$(jget "$OUT" 'd["store_id"]')
DID9=$(jget "$OUT" 'd["device_id"]')
start_agent "$D9"
expect 0 --dir "$D9" append PriceChanged --json '{"product_id":"p1","price_bs":"0.01"}'
expect 0 --dir "$D9" export --out "$T/e9"
push "$T/e9" "$DID9"
assert_eq "$CODE" 200 "forged push"
assert_eq "$(jbody 'd["rejected"]')" "$(jbody 'len(d["results"])')" "all rejected"
assert_eq "$(jbody 'sorted(set(r["error"] for r in d["results"]))')" '["wrong_store"]' "error"
STORE_HDR=$SID9 push "$T/e9" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
assert_eq "$CODE" 404 "push to a store the cloud is not enrolled in"
STORE_HDR=zz push "$T/e9" aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
assert_eq "$CODE" 404 "push to a malformed store id"
# A device of "our" store enrolled with an invite no admin ever made.
STORE_PK=$(jget "$(cat "$T/log1")" '[e["payload"]["store_pk"] for e in d if e["type"] == "DeviceEnrolled" and "store_pk" in e["payload"]][0]')
FAKE=$("$PYTHON" - "$STORE_PK" <<'PY'
import base64, os, struct, sys, time
raw = bytes.fromhex(sys.argv[1]) + os.urandom(32) + struct.pack(">Q", int(time.time() * 1000) + 3600000)
print("caja1-" + base64.urlsafe_b64encode(raw).decode().rstrip("="))
PY
)
D3=$T/rogue
expect 0 --dir "$D3" join --token "$FAKE" --name rogue --json
DID3=$(jget "$OUT" 'd["device_id"]')
assert_eq "$(jget "$OUT" 'd["store_id"]')" "$SID" "rogue claims our store"
start_agent "$D3"
expect 0 --dir "$D3" append PriceChanged --json '{"product_id":"p1","price_bs":"0.01"}'
expect 0 --dir "$D3" export --out "$T/e3r"
push "$T/e3r" "$DID3"
assert_eq "$CODE" 200 "unenrolled push"
assert_eq "$(jbody 'd["rejected"]')" 2 "unenrolled events rejected"
assert_eq "$(jbody 'sorted(set(r["error"] for r in d["results"]))')" '["unenrolled"]' "error"
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE device_id = '$DID3' OR store_id <> '$SID'")" 0 \
    "nothing of the forged and unenrolled events in PostgreSQL"
jget "$(cloud_status)" '"'"$DID3"'" in d["vector_clock"]' | grep -q false ||
    fail "the rogue device reached the cloud's LMDB"
assert_eq "$(PSQL "SELECT count(*) FROM events")" "$NPG" "row count unchanged"
assert_eq "$(PSQL "SELECT count(*) FROM device_sync_state WHERE device_id = '$DID3'")" 0 \
    "no device state for an unenrolled device"
pass "another store's events and an unenrolled device's: rejected, nothing stored"

# ---- rate limit ----

printf 'CAJAEXP1' >"$T/empty"
RL=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
GOT429=0
for _ in $(seq 1 25); do
	push "$T/empty" "$RL"
	if [ "$CODE" = 429 ]; then
		GOT429=1
		break
	fi
	assert_eq "$CODE" 200 "empty push"
done
[ "$GOT429" = 1 ] || fail "no 429 in 25 quick pushes (burst 10)"
RA=$(hdr Retry-After)
[ -n "$RA" ] && [ "$RA" -ge 1 ] || fail "429 without Retry-After"
push "$T/e1" "$DID1"
assert_eq "$CODE" 200 "another device is not limited"
sleep "$RA"
push "$T/empty" "$RL"
assert_eq "$CODE" 200 "after Retry-After the device gets through"
pass "rate limit: 429 with Retry-After $RA s; through after waiting"

# ---- head office ----

OUT=$("$CLOUD" event --data "$C" --store "$SID" PriceChanged \
    --json '{"product_id":"p1","price_bs":"15.00"}') || fail "caja-cloud event"
HO=$(jget "$OUT" 'd["events"][0]["event_id"]')
assert_eq "$(jget "$OUT" 'd["db"]')" stored "head-office event stored"
assert_eq "$(PSQL "SELECT device_id || ' ' || type FROM events WHERE event_id = '$HO'")" \
    "$CDID PriceChanged" "head-office event in PostgreSQL"
NPG=$((NPG + 1))
"$CLOUD" event --data "$C" --store "$SID" PriceChanged --json '{"product_id":"p1"}' \
    2>"$T/err" && fail "an invalid head-office event must be refused"
grep -q "HTTP 400" "$T/err" || fail "invalid head-office event: $(cat "$T/err")"
C401=$(curl -s -o /dev/null -w '%{http_code}' -X POST -H 'Authorization: Bearer nope' \
    --data '{"type":"PriceChanged","payload":{"product_id":"p1","price_bs":"1"}}' \
    "$CURL_BASE/v2/stores/$SID/events")
assert_eq "$C401" 401 "head office without the admin token"
C401=$(curl -s -o /dev/null -w '%{http_code}' "$CURL_BASE/v2/sync/pull?store=$SID")
assert_eq "$C401" 401 "unsigned pull"
pull "$D1"
assert_eq "$CODE" 200 "pull by reg1"
[ "$(hdr X-Caja-Events)" -ge 2 ] || fail "pull: $(hdr X-Caja-Events) events"
assert_eq "$(head -c 8 "$T/pulled")" CAJAEXP1 "pull body format"
expect 0 --dir "$D1" import "$T/pulled"
expect 0 --dir "$D1" get product p1 --json
assert_eq "$(jget "$OUT" 'd["price_bs"]')" 15.00 "head-office price on reg1"
pull "$D2"
expect 0 --dir "$D2" import "$T/pulled"
expect 0 --dir "$D2" get product p1 --json
assert_eq "$(jget "$OUT" 'd["price_bs"]')" 15.00 "head-office price on reg2"
pull "$D2"
assert_eq "$(hdr X-Caja-Events)" 0 "nothing more to pull"
assert_eq "$(hdr X-Caja-More)" 0 "X-Caja-More"
pass "a price set at head office reaches both registers by pull"

# A new register catches up from the cloud alone, 3 events at a time.
D4=$T/reg4
expect 0 --dir "$D1" invite --expires 1h
expect 0 --dir "$D4" join --token "$OUT" --name caja-4 --json
start_agent "$D4"
expect 0 --dir "$D1" export --out "$T/e1"
push "$T/e1" "$DID1"
assert_eq "$CODE" 200 "push the invite"
# the invite, and reg1's genuine events that followed the tampered copy
assert_eq "$(jbody 'd["accepted"]')" 3 "reg1's new events"
expect 0 --dir "$D4" export --out "$T/e4"
push "$T/e4" "$(jget "$("$CAJACTL" --dir "$D4" status --json)" 'd["device_id"]')"
assert_eq "$(jbody 'd["accepted"]')" 1 "reg4's enrollment"
NPG=$((NPG + 4))
for i in $(seq 1 60); do
	pull "$D4" 3
	assert_eq "$CODE" 200 "bounded pull"
	[ "$(hdr X-Caja-Events)" -le 3 ] || fail "pull max=3 gave $(hdr X-Caja-Events)"
	expect 0 --dir "$D4" import "$T/pulled"
	[ "$(hdr X-Caja-More)" = 0 ] && break
done
[ "$(hdr X-Caja-More)" = 0 ] || fail "bounded pulls never finished"
assert_eq "$(vclock_of "$D4")" "$(hdr X-Caja-Vector-Clock)" "reg4 holds all the cloud holds"
expect 0 --dir "$D4" get product p1 --json
assert_eq "$(jget "$OUT" 'd["price_bs"]')" 15.00 "head-office price on reg4"
pass "a new register caught up in $i bounded pulls (max 3)"

# ---- the database goes away and comes back ----

"$PGSH" stop "$PGD" || fail "stop PostgreSQL"
T0=$(date +%s%N)
HC=$(curl -s -o /dev/null -w '%{http_code}' "$CURL_BASE/health")
push "$T/e1" "$DID1"
T1=$(date +%s%N)
assert_eq "$HC" 503 "/health with the database down"
assert_eq "$CODE" 503 "push with the database down"
[ -n "$(hdr Retry-After)" ] || fail "503 without Retry-After"
MS=$(((T1 - T0) / 1000000))
[ "$MS" -lt 1000 ] || fail "503s took $MS ms"
pull "$D1"
assert_eq "$CODE" 200 "pull is served from LMDB while the database is down"
expect 0 --dir "$D1" append SaleCreated --json '{"sale_id":"s3","items":[{"product_id":"p1","qty":1,"price_bs":"15.00"}]}'
expect 0 --dir "$D1" export --out "$T/e1"
"$PGSH" start "$PGD" >/dev/null || fail "restart PostgreSQL"
for _ in $(seq 1 100); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$CURL_BASE/health")" = 200 ] && break
	sleep 0.1
done
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$CURL_BASE/health")" 200 "/health after the restart"
push "$T/e1" "$DID1"
assert_eq "$CODE" 200 "push after the restart: $BODY"
assert_eq "$(jbody 'd["accepted"]')" 1 "the sale made meanwhile"
NPG=$((NPG + 1))
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" "$NPG" "rows after the restart"
pass "database down: /health and push 503 in $MS ms, pull still served; back: pushes work"

# ---- the database hangs: shed at once instead of waiting on it ----

"$PGSH" freeze "$PGD" || fail "freeze PostgreSQL"
sleep 2.5	# the watchdog's ping is then unanswered for > --db-slow
T0=$(date +%s%N)
HC=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "$CURL_BASE/health")
push "$T/e1" "$DID1" --max-time 10
T1=$(date +%s%N)
"$PGSH" thaw "$PGD" || fail "thaw PostgreSQL"
assert_eq "$HC" 503 "/health with the database hung"
assert_eq "$CODE" 503 "push with the database hung"
MS2=$(((T1 - T0) / 1000000))
[ "$MS2" -lt 1000 ] || fail "503s with a hung database took $MS2 ms"
for _ in $(seq 1 150); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "$CURL_BASE/health")" = 200 ] && break
	sleep 0.1
done
assert_eq "$(curl -s -o /dev/null -w '%{http_code}' "$CURL_BASE/health")" 200 "/health after the thaw"
push "$T/e1" "$DID1"
assert_eq "$CODE" 200 "push after the thaw"
pass "database hung: /health and push 503 in $MS2 ms; thawed: pushes work"

# ---- bookkeeping ----

assert_eq "$(PSQL "SELECT count(*) FROM sync_metrics WHERE store_id = '$SID' AND kind = 'push' AND success")" \
    "$PUSHES_OK" "a sync_metrics row per push"
assert_eq "$(PSQL "SELECT count(*) FROM sync_metrics WHERE kind = 'push' AND http_status = 400")" 1 \
    "the corrupt gzip push has its row"
ROW=$(PSQL "SELECT circuit_breaker_state || '|' || health || '|' || last_error || '|' || last_seq FROM device_sync_state WHERE device_id = '$DID2'")
assert_eq "$ROW" "HALF_OPEN|degraded|timeout talking to the cloud|$(jget "$(cloud_status)" 'd["vector_clock"]["'"$DID2"'"]')" \
    "device_sync_state of reg2"
ROW=$(PSQL "SELECT pushes >= 5 AND last_seq = $(jget "$(cloud_status)" 'd["vector_clock"]["'"$DID1"'"]') FROM device_sync_state WHERE device_id = '$DID1'")
assert_eq "$ROW" t "device_sync_state of reg1"
assert_eq "$(PSQL "SELECT count(*) FROM device_sync_state WHERE device_id = '$RL'")" 0 \
    "no device state for an unknown device id"
curl -s "$CURL_BASE/metrics" >"$T/metrics" || fail "/metrics"
grep -q '^caja_cloud_http_requests_total{route="push",code="429"} [1-9]' "$T/metrics" ||
    fail "metrics: 429 count"
grep -q '^caja_cloud_rate_limited_total [1-9]' "$T/metrics" || fail "metrics: rate limited"
grep -q '^caja_cloud_events_total{result="accepted"} [1-9]' "$T/metrics" || fail "metrics: accepted"
grep -q '^caja_cloud_push_duration_seconds_count [1-9]' "$T/metrics" || fail "metrics: histogram"
grep -q '^caja_cloud_shed_total [1-9]' "$T/metrics" || fail "metrics: shed"
pass "sync_metrics row per push, device_sync_state, Prometheus metrics"

# ---- rows lost behind the cloud's back come back at restart ----

SUM=$(PSQL "SELECT md5(string_agg(event_id || vector_clock::text || encode(signed_bytes, 'hex'), ',' ORDER BY event_id)) FROM events")
kill -TERM "$CLOUD_PID"
wait_gone "$CLOUD_PID" 100 || fail "caja-cloud did not stop on SIGTERM"
wait "$CLOUD_PID"
assert_eq "$?" 0 "caja-cloud exit status"
PSQL "DELETE FROM events WHERE device_id = '$DID2' AND seq > 2"
PSQL "DELETE FROM events WHERE device_id = '$CDID'"
start_cloud
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" "$NPG" "rows after reconcile"
assert_eq "$(PSQL "SELECT md5(string_agg(event_id || vector_clock::text || encode(signed_bytes, 'hex'), ',' ORDER BY event_id)) FROM events")" \
    "$SUM" "the same rows, byte for byte"
grep -q "reconcile inserted" "$T/cloud.log" || fail "reconcile not logged"
pass "reconcile at start restores rows PostgreSQL lost"

# ---- killed mid-push: LMDB and PostgreSQL agree after the restart ----

"$PYTHON" - "$T/many.jsonl" <<'PY' || fail "batch file"
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(3000):
        f.write(json.dumps({"type": "SaleCreated", "payload": {"sale_id": "k%d" % i,
            "items": [{"product_id": "p1", "qty": 1, "price_bs": "15.00"}]}}) + "\n")
PY
expect 0 --dir "$D2" append --batch "$T/many.jsonl"
expect 0 --dir "$D2" export --out "$T/e2"
curl -s -o /dev/null -X POST --data-binary @"$T/e2" \
    -H "Content-Type: application/x-caja-events" -H "X-Caja-Store: $SID" \
    -H "X-Caja-Device: $DID2" "$CURL_BASE/v2/sync/push" &
CURL_PID=$!
sleep 0.$((RANDOM % 4 + 1))
kill -KILL "$CLOUD_PID"
wait_gone "$CLOUD_PID" 100 || fail "caja-cloud survived SIGKILL"
wait "$CLOUD_PID" 2>/dev/null
wait "$CURL_PID" 2>/dev/null
start_cloud
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" \
    "$(jget "$(cloud_status)" 'd["events"]')" "PostgreSQL = LMDB after the crash"
push "$T/e2" "$DID2"
assert_eq "$CODE" 200 "push again after the crash"
assert_eq "$(jbody 'd["accepted"] + d["duplicate"] + d["conflicted"]')" \
    "$(jbody 'len(d["results"])')" "every event held"
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE device_id = '$DID2'")" \
    "$(jget "$("$CAJACTL" --dir "$D2" status --json)" 'd["vector_clock"]["'"$DID2"'"]')" \
    "every event of reg2 in PostgreSQL"
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" \
    "$(jget "$(cloud_status)" 'd["events"]')" "PostgreSQL = LMDB after the retry"
assert_eq "$(PSQL "SELECT count(*) - count(DISTINCT event_id) FROM events")" 0 "no event twice"
pass "killed mid-push (3000 events): consistent after restart; the retry completes it"

# A crash exactly between the LMDB commit and the PostgreSQL commit.
expect 0 --dir "$D1" append SaleCreated --json '{"sale_id":"x1","items":[{"product_id":"p1","qty":1,"price_bs":"15.00"}]}'
expect 0 --dir "$D1" append SaleCreated --json '{"sale_id":"x2","items":[{"product_id":"p1","qty":1,"price_bs":"15.00"}]}'
expect 0 --dir "$D1" export --out "$T/e1"
stop_cloud
NLMDB=$(jget "$(cloud_status)" 'd["events"]')
NPG=$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")
assert_eq "$NPG" "$NLMDB" "before the crash"
CAJA_CLOUD_CRASH=after-lmdb-commit start_cloud
CODE=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data-binary @"$T/e1" \
    -H "Content-Type: application/x-caja-events" -H "X-Caja-Store: $SID" \
    -H "X-Caja-Device: $DID1" "$CURL_BASE/v2/sync/push")
[ "$CODE" != 200 ] || fail "the crash point did not crash"
wait_gone "$CLOUD_PID" 100 || fail "caja-cloud did not crash"
wait "$CLOUD_PID" 2>/dev/null
assert_eq "$(jget "$(cloud_status)" 'd["events"]')" "$((NLMDB + 2))" "LMDB has the two sales"
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" "$NPG" \
    "PostgreSQL does not (yet)"
start_cloud
assert_eq "$(PSQL "SELECT count(*) FROM events WHERE store_id = '$SID'")" "$((NPG + 2))" \
    "reconcile at restart inserted them"
push "$T/e1" "$DID1"
assert_eq "$(jbody 'd["duplicate"] == len(d["results"])')" true "the retry: all duplicates"
pass "crash between the LMDB and PostgreSQL commits: reconciled at restart"

echo "cloud_server.sh: all passed"
