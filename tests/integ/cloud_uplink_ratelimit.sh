#!/bin/bash
# cloud_uplink_ratelimit.sh: a rate-limited register backs off as told.
#
# caja-cloud --rate 0.5 --burst 3 (one request every 2 s per device, 3 at
# once) and a register that must push 100 events in batches of at most 10:
#  - it gets 429 with Retry-After (1 or 2 s), and waits exactly that long
#    (plus up to 20%) before the next request, then spaces its requests
#    by it: the cloud refused few requests (not a retry storm: fewer 429s
#    than successful requests), and the request rate stays at the
#    allowed one;
#  - the breaker stays CLOSED (a 429 proves the cloud reachable);
#  - everything arrives, exactly once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cloud_uplink_lib.sh"

P1=$(free_port)
R1=$T/r1
IDS=$T/ids
printf 'cloud_batch_max = 10\nlog_level = debug\n' >"$T/cajad.conf"

"$CAJACTL" --dir "$R1" init --store "Tienda Lenta" --name r1 >/dev/null ||
    fail "init"
run_reg "$R1" "$P1"
PID1=$AGENT_PID
SID=$(sjget "$R1" 'd["store_id"]')
enroll_cloud "$R1"
gen_batch "$T/a.jsonl" 100 a
append_logged "$R1" "$IDS" "$T/a.jsonl" || fail "append"
stop_agent "$PID1" || fail "stop r1"
start_cloud --rate 0.5 --burst 3

T0=$(date +%s%N)
run_reg "$R1" "$P1" -f "$T/cajad.conf" --cloud "$CURL_BASE"
wait_for 90 "$R1" "$ACKED" || fail "not everything acknowledged"
el=$((($(date +%s%N) - T0) / 1000000))
pg_check "$(sjget "$R1" 'sum(d["vector_clock"].values())')"
pass "100 events in batches of <= 10 through a 0.5 request/s limit: all in PostgreSQL once, in $el ms"

c=$(sjget "$R1" 'd["cloud"]')
req=$(jget "$c" 'd["counters"]["requests"]')
rl=$(jget "$c" 'd["counters"]["rate_limited"]')
ok=$((req - rl))
cloud_rl=$(curl -s "$CURL_BASE/metrics" | awk '$1 == "caja_cloud_rate_limited_total" {print $2}')
assert_eq "$(jget "$c" 'd["breaker"]')" CLOSED "breaker"
[ "$rl" -ge 1 ] || fail "never rate limited ($req requests)"
assert_eq "$cloud_rl" "$rl" "429s counted by the cloud and by the register"
[ "$rl" -le "$ok" ] ||
    fail "$rl requests refused with 429 for $ok served: a retry storm"
# At most burst + rate * time requests can be served.
[ "$ok" -le $((3 + el / 2000 + 1)) ] ||
    fail "$ok requests served in $el ms through a 0.5/s limit"
# Each wait after a 429 is its Retry-After, plus 0..20% jitter.
grep -o 'rate limited (Retry-After [0-9]* s), retry in [0-9]* ms' \
    "$T/r1.log" | awk '{print $4, $8}' >"$T/waits"
[ -s "$T/waits" ] || fail "no rate-limit wait logged"
bad=$(awk '$2 < $1 * 1000 || $2 > $1 * 1200' "$T/waits")
[ -z "$bad" ] || fail "waits not within Retry-After..+20% (s ms): $bad"
waits=$(awk '{printf "%s%d/%d", (NR > 1 ? "," : ""), $2, $1 * 1000}' "$T/waits")
pass "$rl answers 429 for $ok served; waits/Retry-After (ms): $waits; breaker CLOSED"
