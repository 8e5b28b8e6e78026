#!/usr/bin/env bash
# lan_discovery.sh: agents given no peers find each other by mDNS through
# private avahi-daemons, and never connect to an agent of another store.
#
# Three hosts in network namespaces (tests/support/netns.sh), each with
# its own D-Bus system bus and avahi-daemon (eth0 only: nothing on the
# root namespace): host 1 runs A, admin of store S; host 2 runs B, which
# joins S (invite on A, `cajactl join`); host 3 runs X, admin of another
# store T. No agent gets --peer; B knows nothing of A but the token.
# Checks:
#   - avahi-browse (a third-party client) on host 3 resolves the three
#     `_caja._tcp` services with their store and device TXT records;
#   - A and B see each other "up" and converge (equal digests); events
#     appended on each reach the other exactly once;
#   - X, A and B never list each other across stores as peers (sampled
#     throughout), X's events never reach S and S's never reach X, X's
#     digest does not move while S works;
#   - B restarted on another port with its remembered peers deleted: A
#     and B find each other again by mDNS alone (A at B's new endpoint)
#     and converge.
# Skips (exit 0) without root, ip, nft, dbus or avahi-daemon unless
# CAJA_REQUIRE_AVAHI=1. Env: CAJA_BUILD, CAJA_SRC (ctest); CAJA_KEEP=1.
. "$(dirname "$0")/lib.sh"
SRC=${CAJA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/tests/support/netns.sh"
T0=$SECONDS
if ! why=$(netns_check) || ! why=$(netns_avahi_check) ||
    ! command -v avahi-browse >/dev/null; then
	why=${why:-"missing avahi-browse (apt-get install avahi-utils)"}
	[ "${CAJA_REQUIRE_AVAHI:-0}" = 1 ] && fail "cannot run: $why"
	echo "SKIP lan_discovery: $why"
	exit 0
fi
A=$T/a B=$T/b X=$T/x
IDS=$T/ids
: >"$IDS"

echo "== setup: 3 hosts, one avahi-daemon each"
netns_up 3 || fail "netns_up"
for i in 1 2 3; do netns_avahi_start "$i" || fail "avahi on host $i"; done
init_store "$A" "Store S" caja-a
init_store "$X" "Store T" caja-x
start_agent_ns 1 "$A"
PID_A=$AGENT_PID
start_agent_ns 3 "$X"
PID_X=$AGENT_PID
join_store "$A" "$B" caja-b
[ ! -e "$B/peers" ] || fail "B has remembered peers before its first start"
start_agent_ns 2 "$B"
PID_B=$AGENT_PID
DA=$(device_of "$A") DB=$(device_of "$B") DX=$(device_of "$X")
SA=$(jget "$("$CAJACTL" --dir "$A" status --json)" 'd["store_id"]')
SX=$(jget "$("$CAJACTL" --dir "$X" status --json)" 'd["store_id"]')
echo "   A=${DA:0:8} B=${DB:0:8} (store ${SA:0:8}) on hosts 1-2, X=${DX:0:8} (store ${SX:0:8}) on host 3"
for d in "$A" "$B" "$X"; do
	for ((k = 0; k < 50; k++)); do
		m=$(jget "$("$CAJACTL" --dir "$d" status --json)" 'd.get("mdns")')
		[ "$m" = running ] && break
		sleep 0.1
	done
	assert_eq "$m" running "mDNS state of $(basename "$d")"
done

# cross_check: nobody lists an agent of the other store as a peer.
cross_check() {
	local pa pb px
	pa=$(peers_json "$A") pb=$(peers_json "$B") px=$(peers_json "$X")
	case "$pa$pb" in *"$DX"*) fail "an agent of store S lists X: $pa $pb" ;; esac
	case "$px" in *"$DA"* | *"$DB"*) fail "X lists an agent of store S: $px" ;; esac
}

echo "== 1. discovery"
t=$(date +%s%N)
wait_peers_up 30 "$A" "$DB" || fail "A never saw B up"
wait_peers_up 30 "$B" "$DA" || fail "B never saw A up"
echo "   A and B up on each other $((($(date +%s%N) - t) / 1000000)) ms after B started"
cross_check
echo "   A's peers: $(peers_json "$A")"
echo "   B's peers: $(peers_json "$B")"
src=$(peers_json "$B" | "$PYTHON" -c 'import json,sys
print("".join(p.get("source", "") for p in json.load(sys.stdin) if p.get("device_id") == sys.argv[1]))' "$DA")
assert_eq "$src" mdns "how B found A"
assert_match "$(peers_json "$A")" "tcp://$(netns_addr 2):7700" "B's endpoint on A (found by mDNS)"
# Host 3's daemon sometimes resolves its own service to a link-local IPv6
# address for the first second or so (use-ipv6=no notwithstanding): up to
# 5 tries, one second apart, and every service must be there at once.
browse_ok() {
	local pair s dv ad
	for pair in "$SA:$DA:$(netns_addr 1)" "$SA:$DB:$(netns_addr 2)" \
	    "$SX:$DX:$(netns_addr 3)"; do
		IFS=: read -r s dv ad <<<"$pair"
		echo "$out" | awk -F';' '$1 == "="' | grep ";$ad;7700;" |
		    grep -q "\"store=$s\"" &&
		echo "$out" | awk -F';' '$1 == "="' | grep ";$ad;7700;" |
		    grep -q "\"device=$dv\"" ||
		    { missing="${dv:0:8} at $ad"; return 1; }
	done
}
for try in 1 2 3 4 5; do
	out=$(netns_exec 3 avahi-browse -t -r -p _caja._tcp 2>/dev/null)
	browse_ok && break
	[ "$try" = 5 ] &&
	    { echo "$out" >&2; fail "avahi-browse on host 3 lacks $missing"; }
	sleep 1
done
pass "A and B found each other by mDNS; avahi-browse resolves all 3 services with store and device TXT"

echo "== 2. replication between A and B, X of another store alongside"
wait_converged 30 "$A" "$B" || fail "A and B do not converge"
DIG_X=$(digest_of "$X")
gen_batch "$T/x.jsonl" 20 x
append_logged "$X" "$T/ids.x" "$T/x.jsonl" || fail "append on X"
DIG_X=$(digest_of "$X")
gen_batch "$T/a.jsonl" 30 a
gen_batch "$T/b.jsonl" 30 b
append_logged "$A" "$IDS" "$T/a.jsonl" || fail "append on A"
append_logged "$B" "$IDS" "$T/b.jsonl" || fail "append on B"
for k in 1 2 3 4 5; do
	append_one_logged "$A" "$IDS" StockReceived "{\"product_id\":\"a$k\",\"qty\":2}" || fail "append A"
	append_one_logged "$B" "$IDS" StockReceived "{\"product_id\":\"b$k\",\"qty\":3}" || fail "append B"
	cross_check
done
wait_converged 30 "$A" "$B" || fail "A and B do not converge after appends"
check_exactly_once "$IDS" "$A" "$B"
sleep 3	# give X every chance to misbehave
cross_check
assert_eq "$(digest_of "$X")" "$DIG_X" "X's digest while store S worked"
for d in "$A" "$B"; do
	"$CAJACTL" --dir "$d" log --json --device "$DX" >/dev/null 2>&1 &&
	    [ "$("$CAJACTL" --dir "$d" log --json --device "$DX" 2>/dev/null | "$PYTHON" -c 'import json,sys; print(len(json.load(sys.stdin)))' 2>/dev/null)" != 0 ] &&
	    fail "$(basename "$d") holds events of X"
done
vx=$(vclock_of "$X")
[ "$vx" = "{\"$DX\":$(jget "$("$CAJACTL" --dir "$X" status --json)" "d['vector_clock']['$DX']")}" ] ||
    fail "X's vector clock has other devices: $vx"
echo "   X: refused_handshakes $(jget "$("$CAJACTL" --dir "$X" status --json)" 'd.get("refused_handshakes")'), peers $(peers_json "$X")"
for p in "$PID_A" "$PID_B" "$PID_X"; do kill -0 "$p" || fail "an agent died"; done
pass "A and B converged, every event exactly once; store T never connected, its log and digest untouched"

echo "== 3. B moves: restarted on another port, its remembered peers forgotten"
stop_agent "$PID_B" || fail "stop B"
rm -f "$B/peers"
NEWEP=tcp://$(netns_addr 2):7711
netns_spawn 2 "$T/b.log" "$CAJAD" --dir "$B" -d --http off --listen "$NEWEP"
PID_B=$NETNS_PID
wait_agent "$B" || fail "B did not restart"
t=$(date +%s%N)
wait_peers_up 30 "$B" "$DA" || fail "B did not find A again by mDNS"
wait_peers_up 30 "$A" "$DB" || fail "A does not see B up at its new endpoint"
echo "   up again on both sides $((($(date +%s%N) - t) / 1000000)) ms after the restart"
assert_match "$(peers_json "$A")" "$NEWEP" "B's new endpoint on A"
src=$(peers_json "$B" | "$PYTHON" -c 'import json,sys
print("".join(p.get("source", "") for p in json.load(sys.stdin) if p.get("device_id") == sys.argv[1]))' "$DA")
assert_eq "$src" mdns "how B found A after the move"
append_one_logged "$A" "$IDS" StockReceived '{"product_id":"moved","qty":1}' || fail "append A"
append_one_logged "$B" "$IDS" StockReceived '{"product_id":"moved","qty":2}' || fail "append B"
wait_converged 30 "$A" "$B" || fail "A and B do not converge after B moved"
check_exactly_once "$IDS" "$A" "$B"
cross_check
pass "B found again at $NEWEP by mDNS alone; converged"
echo "lan_discovery.sh: all passed in $((SECONDS - T0)) s"
