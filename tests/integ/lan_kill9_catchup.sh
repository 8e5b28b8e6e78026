#!/usr/bin/env bash
# lan_kill9_catchup.sh: a register killed with SIGKILL in the middle of a
# catch-up restarts, opens its store cleanly and finishes the catch-up.
#
# A (admin, loopback) holds KILL9_EVENTS events (default 50,000, appended
# in batches of 10,000). B joins and starts with A as its static peer;
# while B pulls A's log, it is killed with -9 as soon as it holds part of
# it (polled with cajactl devices, which reads the store directly), twice:
# as soon as it made progress, then past a third of what is left in the
# resumed catch-up. After each kill, with B down: the store opens
# read-only (status, digest, log), events == sum of the vector clock (no
# gap, no duplicate) and the log of A's device on B is contiguous. Then B
# restarts and must converge with A (equal digests and clocks), holding
# each of A's events exactly once. If the catch-up finished before a kill
# could land, the attempt is repeated with a new register (3 attempts);
# the test fails if no kill ever lands inside a catch-up.
# Env: CAJA_BUILD, CAJA_SRC (ctest); KILL9_EVENTS; CAJA_KEEP=1.
. "$(dirname "$0")/lib.sh"
T0=$SECONDS
NEV=${KILL9_EVENTS:-50000}
A=$T/a
PA=$(free_port)
EA=tcp://127.0.0.1:$PA
IDS=$T/ids

echo "== setup: A (admin) at $EA with $NEV events"
init_store "$A" "Kill Nine LAN" caja-a
start_agent_ep "$A" "$EA" --no-mdns
PID_A=$AGENT_PID
t=$(date +%s%N)
left=$NEV k=0
while [ "$left" -gt 0 ]; do
	n=$((left > 10000 ? 10000 : left))
	k=$((k + 1))
	gen_batch "$T/a$k.jsonl" "$n" "a$k" SaleCreated
	append_logged "$A" "$IDS" "$T/a$k.jsonl" || fail "append batch $k on A"
	left=$((left - n))
done
TOTAL=$(events_of "$A")
echo "   A holds $TOTAL events ($(( ($(date +%s%N) - t) / 1000000 )) ms to append)"
[ "$TOTAL" -ge "$NEV" ] || fail "A holds $TOTAL events, wanted >= $NEV"

# sane_store DIR: B's store, agent down, opens read-only and is sound.
sane_store() {
	"$CAJACTL" --dir "$1" status --json >"$T/st.json" ||
	    fail "status of $1 after SIGKILL"
	"$CAJACTL" --dir "$1" digest >/dev/null || fail "digest of $1 after SIGKILL"
	"$CAJACTL" --dir "$1" log --json --device "$DA" --limit 1000000 \
	    >"$T/lg.json" || fail "log of $1 after SIGKILL"
	"$PYTHON" - "$T/st.json" "$T/lg.json" "$DA" <<'PY' || fail "store of $1 unsound after SIGKILL"
import json, sys
st = json.load(open(sys.argv[1]))
lg = json.load(open(sys.argv[2]))
lg = lg if isinstance(lg, list) else lg["events"]
vc = st["vector_clock"]
if st["events"] != sum(vc.values()):
    sys.exit("events %d != sum of vector clock %d" % (st["events"], sum(vc.values())))
seqs = [e["seq"] for e in lg]
if seqs != list(range(1, len(seqs) + 1)):
    sys.exit("A's log on B is not contiguous from 1")
if len(seqs) != vc.get(sys.argv[3], 0):
    sys.exit("A's log on B has %d events, clock says %d" % (len(seqs), vc.get(sys.argv[3], 0)))
print("   store opens cleanly: %d events, A's log contiguous 1..%d" % (st["events"], len(seqs)))
PY
}

DA=$(device_of "$A")
HEAD_A=$("$CAJACTL" --dir "$A" status --json | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)["vector_clock"][sys.argv[1]])' "$DA")
# held_of DIR: how much of A's log DIR holds. Reads the store directly
# (cajactl devices), without asking the busy agent.
held_of() {
	"$CAJACTL" --dir "$1" devices --json 2>/dev/null | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
print(([x["head_seq"] for x in d if x["device_id"] == sys.argv[1]] or [0])[0])' "$DA" 2>/dev/null || echo 0
}
KILLS=0
attempt=0
while [ "$KILLS" -lt 2 ] && [ "$attempt" -lt 3 ]; do
	attempt=$((attempt + 1))
	B=$T/b$attempt
	PB=$(free_port)
	EB=tcp://127.0.0.1:$PB
	echo "== attempt $attempt: B joins at $EB and pulls A's log (seq 1..$HEAD_A of A)"
	join_store "$A" "$B" "caja-b$attempt"
	HEAD_A=$((HEAD_A + 1))	# the invite
	KILLS=0
	for round in 1 2; do
		start_agent_ep "$B" "$EB" --no-mdns --peer "$EA"
		PID_B=$AGENT_PID
		ts=$(date +%s%N)
		base=$(held_of "$B")
		# Kill once B holds some of A's log but not all: as soon as
		# it moved in round 1, past a third of what is left in round 2.
		if [ "$round" = 1 ]; then
			goal=$((base + 1))
		else
			goal=$((base + (HEAD_A - base) / 3))
		fi
		while :; do
			got=$(held_of "$B")
			[ "$got" -ge "$goal" ] && break
			[ $((($(date +%s%N) - ts) / 1000000000)) -ge 60 ] &&
			    fail "B holds $got of A's events after 60 s of catch-up"
			sleep 0.02
		done
		kill9_agent "$PID_B" 2>/dev/null
		el=$((($(date +%s%N) - ts) / 1000000))
		held=$(held_of "$B")
		echo "   round $round: SIGKILL after $el ms, B held $held of A's $HEAD_A events (started from $base)"
		sane_store "$B"
		if [ "$held" -ge "$HEAD_A" ]; then
			echo "   the catch-up had finished before the kill"
			break
		fi
		KILLS=$((KILLS + 1))
	done
done
[ "$KILLS" -ge 1 ] || fail "no SIGKILL landed inside a catch-up in $attempt attempts"
pass "$KILLS SIGKILL(s) in the middle of B's catch-up, store sound after each"

echo "== B restarted: it must finish the catch-up"
ts=$(date +%s%N)
start_agent_ep "$B" "$EB" --no-mdns --peer "$EA"
PID_B=$AGENT_PID
wait_converged 90 "$A" "$B" || fail "B did not converge with A after the restart"
echo "   catch-up finished $((($(date +%s%N) - ts) / 1000000)) ms after the restart"
check_exactly_once "$IDS" "$A" "$B"
"$CAJACTL" --dir "$B" status --json >"$T/st.json"
assert_eq "$(jget "$(cat "$T/st.json")" 'd["events"] == sum(d["vector_clock"].values())')" true \
    "B's events equal the sum of its vector clock"
kill -0 "$PID_A" || fail "A died"
pass "B converged with A after $KILLS SIGKILL(s): $(events_of "$B") events, digests equal"
echo "lan_kill9_catchup.sh: all passed in $((SECONDS - T0)) s"
