#!/usr/bin/env bash
# lan_netns.sh: a store in network namespaces (tests/support/netns.sh)
# through a silent partition, a link flap and 25% packet loss.
#
# LAN_NODES registers (default 4), each in its own namespace behind a
# bridge namespace (the Wi-Fi access point), 10.77.0.11... Static peers by
# namespace address (LAN_MDNS=1: no --peer, discovery through one
# avahi-daemon per namespace instead). Each fault runs while every
# register appends (a batch and single appends, all acknowledged ids
# kept); after each, all registers must converge (equal digests and
# vector clocks) and every register's log must hold every acknowledged
# event exactly once (same id, device and seq), no (device, seq) twice,
# every device's log contiguous:
#   1. silent partition: nft drop between {1,2} and {3,4} on the bridge
#      (carriers stay up); the halves must diverge and the agents must
#      see their peers across the cut as not up (liveness by heartbeat),
#      then converge after the heal;
#   2. link flap: register 3's bridge port down for 6 s (NO-CARRIER),
#      appends on all meanwhile, port up;
#   3. 25% packet loss on every frame the bridge forwards (nft numgen),
#      appends on all; convergence is required WHILE the loss goes on,
#      then again after it stops.
# Skips (exit 0) without root/ip/nft unless CAJA_REQUIRE_NETNS=1.
# Env: CAJA_BUILD, CAJA_SRC (ctest); LAN_NODES; LAN_MDNS; LAN_AGENT_ARGS
# (more cajad flags, e.g. -v); CAJA_KEEP=1.
. "$(dirname "$0")/lib.sh"
SRC=${CAJA_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
. "$SRC/tests/support/netns.sh"
T0=$SECONDS
N=${LAN_NODES:-4}
MDNS=${LAN_MDNS:-0}
IDS=$T/ids
: >"$IDS"

if ! why=$(netns_check) || { [ "$MDNS" = 1 ] && ! why=$(netns_avahi_check); }; then
	[ "${CAJA_REQUIRE_NETNS:-0}" = 1 ] && fail "cannot run: $why"
	echo "SKIP lan_netns: $why"
	exit 0
fi
[ "$N" -ge 4 ] || fail "LAN_NODES must be >= 4"

echo "== setup: $N registers in namespaces ($([ "$MDNS" = 1 ] && echo "mDNS discovery" || echo "static peers"))"
netns_up "$N" || fail "netns_up"
declare -a D PID DEV
for ((i = 1; i <= N; i++)); do D[$i]=$T/r$i; done
peers_of() {	# I: --peer flags for every other register (static mode)
	local j
	[ "$MDNS" = 1 ] && return
	for ((j = 1; j <= N; j++)); do
		[ "$j" = "$1" ] || printf -- '--peer tcp://%s:7700 ' "$(netns_addr "$j")"
	done
}
mdns_flag() {
	[ "$MDNS" = 1 ] || echo --no-mdns
	echo "${LAN_AGENT_ARGS:-}"	# e.g. -v for debug logs
}
if [ "$MDNS" = 1 ]; then
	for ((i = 1; i <= N; i++)); do netns_avahi_start "$i" || fail "avahi in $i"; done
fi
init_store "${D[1]}" "Netns Store" caja-1
# shellcheck disable=SC2046
start_agent_ns 1 "${D[1]}" $(mdns_flag) $(peers_of 1)
PID[1]=$AGENT_PID
for ((i = 2; i <= N; i++)); do
	join_store "${D[1]}" "${D[$i]}" "caja-$i"
	# shellcheck disable=SC2046
	start_agent_ns "$i" "${D[$i]}" $(mdns_flag) $(peers_of "$i")
	PID[$i]=$AGENT_PID
done
for ((i = 1; i <= N; i++)); do DEV[$i]=$(device_of "${D[$i]}"); done
wait_converged 60 "${D[@]:1}" || fail "initial convergence"
pass "$N registers converged at start"

# appends_all TAG: on every register, at once, a batch of 40 and 5 single
# appends; acknowledged ones are logged. Unacknowledged appends fail the
# test (the agent must take local writes whatever the network does).
appends_all() {
	local i k pids=()
	for ((i = 1; i <= N; i++)); do
		(
			gen_batch "$T/$1-$i.jsonl" 40 "$1-$i" SaleCreated
			append_logged "${D[$i]}" "$T/ids.$1.$i" "$T/$1-$i.jsonl" || exit 1
			for ((k = 1; k <= 5; k++)); do
				append_one_logged "${D[$i]}" "$T/ids.$1.$i" StockReceived \
				    "{\"product_id\":\"p$k\",\"qty\":$i}" || exit 1
				sleep 0.1
			done
		) &
		pids+=($!)
	done
	for k in "${pids[@]}"; do wait "$k" || fail "appends ($1) failed: $(tail -3 "$T/append.err")"; done
	cat "$T"/ids."$1".* >>"$IDS"
	echo "   appended $(cat "$T"/ids."$1".* | wc -l) events on $N registers"
}
# peer_state DIR DEVICE: that peer's state in DIR's status ("" if none).
peer_state() {
	peers_json "$1" | "$PYTHON" -c 'import json,sys
print("".join(p.get("state", "") for p in json.load(sys.stdin) if p.get("device_id") == sys.argv[1]))' "$2"
}
alive() {
	local i
	for ((i = 1; i <= N; i++)); do
		kill -0 "${PID[$i]}" 2>/dev/null || fail "agent $i died"
	done
}

echo "== 1. silent partition {1,2} | {3..$N} (nft drop on the bridge)"
LEFT="1 2" RIGHT=$(seq 3 "$N" | tr '\n' ' ')
netns_split "$LEFT" "$RIGHT" || fail "split"
netns_ping 1 3 && fail "partition does not cut 1 from 3"
netns_ping 1 2 || fail "partition cut 1 from 2"
appends_all part
sleep 5	# past the peers' liveness timeout
st=$(peer_state "${D[1]}" "${DEV[3]}")
[ "$st" != up ] || fail "register 1 still sees register 3 up after 5 s of silent partition"
echo "   register 1 sees register 3 '$st', register 2 '$(peer_state "${D[1]}" "${DEV[2]}")'"
wait_converged 20 "${D[1]}" "${D[2]}" || fail "left half does not converge during the partition"
# shellcheck disable=SC2046
wait_converged 20 $(for i in $RIGHT; do echo "${D[$i]}"; done) ||
    fail "right half does not converge during the partition"
[ "$(digest_of "${D[1]}")" != "$(digest_of "${D[3]}")" ] ||
    fail "the halves did not diverge: is the partition real?"
echo "   halves converged separately, digests differ: $(digest_of "${D[1]}" | cut -c1-12) vs $(digest_of "${D[3]}" | cut -c1-12)"
netns_heal || fail "heal"
wait_converged 60 "${D[@]:1}" || fail "no convergence after the partition healed"
HEAL1=$CONVERGED_MS
check_exactly_once "$IDS" "${D[@]:1}"
alive
pass "partition: converged ${HEAL1} ms after the heal, every event exactly once"

echo "== 2. link flap: register 3's port down 6 s, appends meanwhile"
netns_link 3 down || fail "link down"
tf=$SECONDS
appends_all flap
sleep $((6 - (SECONDS - tf) > 0 ? 6 - (SECONDS - tf) : 0))
st=$(peer_state "${D[3]}" "${DEV[1]}")
[ "$st" != up ] || fail "register 3 still sees register 1 up after 6 s without carrier"
echo "   after $((SECONDS - tf)) s down, register 3 sees register 1 '$st'"
netns_link 3 up || fail "link up"
wait_converged 60 "${D[@]:1}" || fail "no convergence after the flap"
FLAP=$CONVERGED_MS
check_exactly_once "$IDS" "${D[@]:1}"
alive
pass "flap: converged ${FLAP} ms after the port came up, every event exactly once"

echo "== 3. 25% loss on every forwarded frame, appends meanwhile"
netns_loss 25 || fail "loss"
echo "   rules: $(netns_rules | tr '\n' ';')"
echo "   ping 1->2 under loss: $(netns_exec 1 ping -c 100 -i 0.01 -W 1 -q "$(netns_addr 2)" | grep -o '[0-9.]*% packet loss')"
appends_all loss
wait_converged 90 "${D[@]:1}" || fail "no convergence under 25% loss"
LOSS=$CONVERGED_MS
check_exactly_once "$IDS" "${D[@]:1}"
netns_heal || fail "heal"
appends_all after
wait_converged 30 "${D[@]:1}" || fail "no convergence after the loss stopped"
check_exactly_once "$IDS" "${D[@]:1}"
alive
pass "loss: converged under 25% loss in ${LOSS} ms, and again after it stopped"
for ((i = 1; i <= N; i++)); do
	echo "   r$i peers: $(peers_json "${D[$i]}" | "$PYTHON" -c 'import json,sys
print(", ".join("%s %s bad=%s" % (p["device_id"][:8], p.get("state"), p.get("bad_frames")) for p in json.load(sys.stdin)))')"
done
echo "lan_netns.sh: all passed in $((SECONDS - T0)) s (heal $HEAL1 ms, flap $FLAP ms, loss $LOSS ms)"
