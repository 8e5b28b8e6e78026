#!/usr/bin/env bash
# lan_fork.sh: a register restored from an old copy of its data dir forks
# its own log; its peers detect it and keep replicating everyone else.
#
# Three registers on loopback with static peers (A admin, B, C):
#   1. all converge, each appends; converged;
#   2. B is stopped and its data dir copied (cp -a: the "backup"); B runs
#      again and appends 5 events, which reach A and C;
#   3. B is stopped and the old copy restored; it starts cut off from the
#      LAN (no peers, its remembered peers file emptied: the register was
#      restored while its cable was out) and sells 3 more events with the
#      same key: seqs that A and C already hold with other content;
#   4. B is restarted with its peers and appends 5 more, so its log goes
#      past the seqs A and C hold; A and C must report a `fork`
#      conflict about B (cajactl conflicts --json, conflict_type "fork",
#      the same conflict id on both), show B as forked in `devices`, and
#      keep running;
#   5. replication of the other devices goes on: new appends on A and C
#      reach all three registers (by event id), A and C converge, and
#      neither takes B's events past the fork (DESIGN.md decision 1).
# Env: CAJA_BUILD, CAJA_SRC (ctest); CAJA_KEEP=1 keeps the temp dir;
# FORK_ONLINE (default 5): B's appends after it is back (0: its log stays
# behind what A and C hold of its first life).
. "$(dirname "$0")/lib.sh"
T0=$SECONDS
IDS=$T/ids

mesh3 "Fork Store"

echo "== 1. appends on all three"
for d in "$A" "$B" "$C"; do
	n=$(basename "$d")
	gen_batch "$T/$n-1.jsonl" 20 "$n-1"
	append_logged "$d" "$IDS" "$T/$n-1.jsonl" || fail "append on $n"
done
wait_converged 30 "$A" "$B" "$C" || fail "convergence after appends"
check_exactly_once "$IDS" "$A" "$B" "$C"
HEAD_B=$("$CAJACTL" --dir "$B" status --json | "$PYTHON" -c \
    'import json,sys; d=json.load(sys.stdin); print(d["vector_clock"][d["device_id"]])')
pass "3 registers converged; B's log head is seq $HEAD_B"

echo "== 2. backup of B (stopped), then B appends 5 events that reach A and C"
stop_agent "$PID_B" || fail "stop B"
cp -a "$B" "$T/b.backup" || fail "copy B"
start_agent_ep "$B" "$EB" --no-mdns --peer "$EA" --peer "$EC"
PID_B=$AGENT_PID
: >"$T/ids.lost"
for i in 1 2 3 4 5; do
	append_one_logged "$B" "$T/ids.lost" ProductUpdated \
	    "{\"product_id\":\"b-before-$i\",\"name\":\"first life $i\"}" ||
	    fail "append on B"
done
wait_converged 30 "$A" "$B" "$C" || fail "convergence of B's first-life events"
for d in "$A" "$C"; do
	got=$("$CAJACTL" --dir "$d" status --json | "$PYTHON" -c \
	    'import json,sys; print(json.load(sys.stdin)["vector_clock"].get(sys.argv[1], 0))' "$DB")
	assert_eq "$got" "$((HEAD_B + 5))" "B's head seq on $(basename "$d")"
done
pass "A and C hold B up to seq $((HEAD_B + 5))"

echo "== 3. B restored from the backup, offline, appends 3 events with the same key"
stop_agent "$PID_B" || fail "stop B"
rm -rf "$B"
mv "$T/b.backup" "$B"
: >"$B/peers"	# remembered peers: the restored register is cut off
# Another port too: A and C keep dialling B's endpoint and would reach it.
start_agent_ep "$B" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_B=$AGENT_PID
: >"$T/ids.fork"
for i in 1 2 3; do
	append_one_logged "$B" "$T/ids.fork" ProductUpdated \
	    "{\"product_id\":\"b-after-$i\",\"name\":\"second life $i\"}" ||
	    fail "append on restored B"
done
"$PYTHON" - "$T/ids.lost" "$T/ids.fork" <<'PY' || fail "restored B did not reuse seqs"
import sys
lost = {int(l.split()[2]): l.split()[0] for l in open(sys.argv[1])}
fork = {int(l.split()[2]): l.split()[0] for l in open(sys.argv[2])}
same = sorted(set(lost) & set(fork))
if len(same) != 3 or any(lost[s] == fork[s] for s in same):
    sys.exit("expected 3 reused seqs with other events: lost %r fork %r" % (lost, fork))
print("   restored B wrote seqs %s again, with other events (fork)" % same)
PY
stop_agent "$PID_B" || fail "stop offline B"

echo "== 4. B back on the LAN, appends ${FORK_ONLINE:-5} more (5: its log then goes past what A and C hold)"
start_agent_ep "$B" "$EB" --no-mdns --peer "$EA" --peer "$EC"
PID_B=$AGENT_PID
t0=$(date +%s%N)
for ((i = 4; i < 4 + ${FORK_ONLINE:-5}; i++)); do
	append_one_logged "$B" "$T/ids.fork" ProductUpdated \
	    "{\"product_id\":\"b-after-$i\",\"name\":\"second life $i\"}" ||
	    fail "append on restored B"
done
echo "   B's head: seq $(tail -1 "$T/ids.fork" | cut -d' ' -f3) (A and C hold $((HEAD_B + 5)) of its first life)"
fork_of() {	# prints "conflict_id" of the pending fork conflict about B
	conflicts_json "$1" --all | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
d = d if isinstance(d, list) else d.get("conflicts", [])
dev = sys.argv[1]
for c in d:
    if c.get("conflict_type") == "fork" and dev in json.dumps(c):
        print(c["conflict_id"]); break' "$DB" 2>/dev/null
}
FA='' FC=''
for ((k = 0; k < 150; k++)); do
	FA=$(fork_of "$A")
	FC=$(fork_of "$C")
	[ -n "$FA" ] && [ -n "$FC" ] && break
	sleep 0.2
done
if [ -z "$FA" ] || [ -z "$FC" ]; then
	echo "   conflicts on A: $(conflicts_json "$A" --all)" >&2
	echo "   conflicts on C: $(conflicts_json "$C" --all)" >&2
	echo "   devices on A: $("$CAJACTL" --dir "$A" devices --json | tr -d ' \n')" >&2
	for d in "$A" "$B" "$C"; do
		echo "   $(basename "$d") vc $(vclock_of "$d") peers $(peers_json "$d")" >&2
	done
	fail "no fork conflict about B on A ('$FA') and C ('$FC') after 30 s"
fi
echo "   fork detected on A and C $((($(date +%s%N) - t0) / 1000000)) ms after B came back"
assert_eq "$FA" "$FC" "fork conflict id on A and C"
conflicts_json "$A" --all | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
d = d if isinstance(d, list) else d.get("conflicts", [])
for c in d:
    if c["conflict_id"] == sys.argv[1]:
        print("   " + json.dumps({k: c.get(k) for k in ("conflict_id", "conflict_type",
            "entity_type", "entity_id", "resolution_status", "priority")}))' "$FA"
for d in "$A" "$C"; do
	forked=$("$CAJACTL" --dir "$d" devices --json | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
d = d if isinstance(d, list) else d.get("devices", [])
print([x.get("forked") for x in d if x["device_id"] == sys.argv[1]][0])' "$DB")
	assert_eq "$forked" True "B forked in $(basename "$d")'s devices"
done
for p in "$PID_A" "$PID_B" "$PID_C"; do
	kill -0 "$p" 2>/dev/null || fail "agent $p died after the fork"
done
pass "fork of B reported as conflict ${FA:0:8} on A and C, B marked forked, all agents running"

echo "== 5. the other devices keep replicating"
: >"$T/ids.after"
for d in "$A" "$C"; do
	n=$(basename "$d")
	gen_batch "$T/$n-2.jsonl" 10 "$n-2"
	append_logged "$d" "$T/ids.after" "$T/$n-2.jsonl" || fail "append on $n"
done
has_all() {	# DIR: holds every event of ids.after
	"$CAJACTL" --dir "$1" log --json | "$PYTHON" -c 'import json,sys
log = json.load(sys.stdin)
log = log if isinstance(log, list) else log["events"]
have = set(e["event_id"] for e in log)
want = [l.split()[0] for l in open(sys.argv[1]) if l.strip()]
sys.exit(0 if all(w in have for w in want) else 1)' "$T/ids.after"
}
for d in "$A" "$B" "$C"; do
	for ((k = 0; k < 100; k++)); do
		has_all "$d" && break
		sleep 0.2
	done
	has_all "$d" || fail "$(basename "$d") lacks new events of A and C after 20 s"
done
wait_converged 30 "$A" "$C" || fail "A and C do not converge after the fork"
cat "$IDS" "$T/ids.after" >"$T/ids.others"
grep -v " $DB " "$T/ids.others" >"$T/ids.check"
CHECK_ALLOW_FORK=1 check_exactly_once "$T/ids.check" "$A" "$C" "$B"
# DESIGN.md 1: a forked device's later events are not trusted until the
# fork is resolved: A and C keep B's log where it was.
for d in "$A" "$C"; do
	got=$("$CAJACTL" --dir "$d" status --json | "$PYTHON" -c \
	    'import json,sys; print(json.load(sys.stdin)["vector_clock"].get(sys.argv[1], 0))' "$DB")
	[ "$got" -le "$((HEAD_B + 5))" ] ||
	    fail "$(basename "$d") took B's events past the fork (B at seq $got)"
done
echo "   B's own view: $(conflicts_json "$B" --all | "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin); d = d if isinstance(d, list) else d.get("conflicts", [])
print("%d conflicts, types %s" % (len(d), sorted(set(c.get("conflict_type") for c in d))))')"
pass "new events of A and C reached A, B and C; A and C converged"
echo "lan_fork.sh: all passed in $((SECONDS - T0)) s"
