#!/usr/bin/env bash
# import_live.sh: sales do not stop while a large export file merges.
#
# B (a register, its agent alone) appends IMPORT_EVENTS events (default
# 200,000) and exports them. A's agent imports the file; while it does:
#  - every append on A is acknowledged within APPEND_MAX_MS (default
#    1500): the agent merges the file in steps and serves requests between
#    them (before, the whole import ran in one go and appends waited for
#    it);
#  - `status` shows the import and its progress;
#  - a second import is refused at once ("an import is running", exit 2).
# Then the import's answer counts every event, A holds all of B's log and
# its own appends, and the file imported again is all duplicates.
# Last, on K (a copy of A's data dir from before the import, its agent
# alone): an agent stopped (SIGTERM) mid-import answers its client with
# how far it got; one killed (SIGKILL) mid-import restarts on a store that
# opens cleanly and holds a prefix-closed part of the file (every device's
# events 1..n, events = sum of the vector clock); the same file imported
# again brings the rest.
# Env: CAJA_BUILD, CAJA_SRC (ctest); IMPORT_EVENTS, APPEND_MAX_MS.
. "$(dirname "$0")/lib.sh"
T0=$SECONDS
NEV=${IMPORT_EVENTS:-200000}
APPEND_MAX_MS=${APPEND_MAX_MS:-1500}
A=$T/a B=$T/b

echo "== setup: A (admin) and B; B appends $NEV events alone"
init_store "$A" "Import Store" caja-a
start_agent_ep "$A" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_A=$AGENT_PID
join_store "$A" "$B" caja-b
start_agent_ep "$B" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_B=$AGENT_PID
DB=$(device_of "$B")
append_sales "$B" "$NEV" b || fail "appends on B"
stop_agent "$PID_B" || fail "stop B"
"$CAJACTL" --dir "$B" export --out "$T/b.caja" >/dev/null || fail "export B"
NB=$("$CAJACTL" --dir "$B" status --json | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)["vector_clock"][sys.argv[1]])' "$DB")
echo "   B's log: $NB events, export $(stat -c %s "$T/b.caja") bytes"

# K: A's data dir as it is now (agent stopped for the copy).
stop_agent "$PID_A" || fail "stop A"
cp -a "$A" "$T/k"
rm -f "$T/k/ctl.sock" "$T/k/cajad.pid" "$T/k/peers"
K=$T/k
start_agent_ep "$A" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_A=$AGENT_PID

echo "== A imports the file and sells meanwhile"
"$CAJACTL" --dir "$A" import "$T/b.caja" --json >"$T/imp.json" 2>"$T/imp.err" &
IMP=$!
seen=
for i in $(seq 1 200); do
	"$CAJACTL" --dir "$A" status --json >"$T/st.json" 2>/dev/null &&
	    "$PYTHON" -c 'import json,sys; sys.exit(0 if "import" in json.load(open(sys.argv[1])) else 1)' \
	    "$T/st.json" && { seen=1; break; }
	kill -0 "$IMP" 2>/dev/null || break
	sleep 0.02
done
[ -n "$seen" ] || fail "status never showed the import running"
echo "   status: $("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["import"])' "$T/st.json")"
# A second import while the first runs: refused at once.
if "$CAJACTL" --dir "$A" --timeout 5 import "$T/b.caja" >"$T/imp2.out" 2>&1; then
	fail "a second import was accepted while one runs"
fi
grep -q "an import is running" "$T/imp2.out" || fail "second import: $(cat "$T/imp2.out")"
pass "a second import is refused while one runs: $(head -1 "$T/imp2.out")"
worst=0 nsales=0
while kill -0 "$IMP" 2>/dev/null; do
	ts=$(date +%s%N)
	"$CAJACTL" --dir "$A" --timeout 30 append SaleCreated --json \
	    "{\"sale_id\":\"a-live-$nsales\",\"items\":[{\"product_id\":\"p1\",\"qty\":1,\"price_bs\":\"2.50\"}]}" \
	    >/dev/null || fail "append on A during the import"
	ms=$((($(date +%s%N) - ts) / 1000000))
	[ "$ms" -gt "$worst" ] && worst=$ms
	nsales=$((nsales + 1))
	sleep 0.05
done
wait "$IMP" || fail "import failed: $(cat "$T/imp.err")"
echo "   $nsales appends on A during the import, the slowest acknowledged in $worst ms"
[ "$nsales" -ge 3 ] || fail "the import ended before A could sell ($nsales appends): make IMPORT_EVENTS larger"
[ "$worst" -le "$APPEND_MAX_MS" ] || fail "an append waited $worst ms during the import (bound $APPEND_MAX_MS ms)"
pass "sales went on during the import: $nsales appends, slowest $worst ms"

echo "== the import's result"
"$PYTHON" - "$T/imp.json" "$NB" <<'PY' || fail "import report"
import json, sys
r = json.load(open(sys.argv[1]))
nb = int(sys.argv[2])
# B's log holds its enrollment and A's events it had: all but A's are new.
if r["refused"] != 0 or r["accepted"] + r["duplicate"] < nb:
    sys.exit("report %r (B's log: %d)" % (r, nb))
print("   accepted %d, duplicate %d, refused %d, %d signatures checked" %
      (r["accepted"], r["duplicate"], r["refused"], r["sig_checks"]))
PY
"$CAJACTL" --dir "$A" status --json >"$T/st.json"
"$PYTHON" - "$T/st.json" "$DB" "$NB" "$nsales" <<'PY' || fail "A's vector clock"
import json, sys
st = json.load(open(sys.argv[1]))
db, nb, nsales = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
vc = st["vector_clock"]
if vc.get(db) != nb:
    sys.exit("A holds B up to %r, B wrote %d" % (vc.get(db), nb))
if "import" in st:
    sys.exit("status still shows an import: %r" % st["import"])
if st["events"] != sum(vc.values()):
    sys.exit("events %d != sum of the vector clock" % st["events"])
PY
for i in 0 $((nsales - 1)); do
	"$CAJACTL" --dir "$A" get sale "a-live-$i" >/dev/null || fail "sale a-live-$i missing on A"
done
"$CAJACTL" --dir "$A" import "$T/b.caja" --json >"$T/imp3.json" || fail "import again"
assert_eq "$(jget "$(cat "$T/imp3.json")" 'd["accepted"]')" 0 "events accepted by the second import"
pass "A holds B's $NB events and its own $nsales sales; the same file again is all duplicates"
kill -0 "$PID_A" || fail "A died"

echo "== K: the agent stopped, then killed, in the middle of an import"
# wait_importing DIR: until DIR's status shows an import with accepted > 0.
wait_importing() {
	local i
	for i in $(seq 1 500); do
		"$CAJACTL" --dir "$1" --timeout 2 status --json 2>/dev/null |
		    "$PYTHON" -c 'import json,sys
d = json.load(sys.stdin)
sys.exit(0 if d.get("import", {}).get("accepted", 0) > 0 else 1)' && return 0
		sleep 0.01
	done
	return 1
}
start_agent_ep "$K" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_K=$AGENT_PID
"$CAJACTL" --dir "$K" import "$T/b.caja" >"$T/k1.out" 2>&1 &
IMP=$!
wait_importing "$K" || fail "K's import never showed progress"
stop_agent "$PID_K" || fail "K did not stop cleanly during an import"
wait "$IMP" && fail "the interrupted import reported success"
grep -q "interrupted" "$T/k1.out" || fail "interrupted import: $(cat "$T/k1.out")"
pass "SIGTERM mid-import: the client was told: $(head -1 "$T/k1.out" | cut -c1-110)..."
start_agent_ep "$K" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_K=$AGENT_PID
"$CAJACTL" --dir "$K" import "$T/b.caja" >"$T/k2.out" 2>&1 &
IMP=$!
wait_importing "$K" || fail "K's second import never showed progress"
kill9_agent "$PID_K"
wait "$IMP"
# prefix-closed: each device's events are 1..n, nothing half-written
"$CAJACTL" --dir "$K" status --json >"$T/k.json" || fail "K's store does not open after SIGKILL"
"$PYTHON" - "$T/k.json" "$DB" "$NB" <<'PY' || fail "K after SIGKILL"
import json, sys
st = json.load(open(sys.argv[1]))
vc, db, nb = st["vector_clock"], sys.argv[2], int(sys.argv[3])
if st["events"] != sum(vc.values()):
    sys.exit("events %d != sum of the vector clock %d" % (st["events"], sum(vc.values())))
if not 0 < vc.get(db, 0) < nb:
    sys.exit("B's events on K after the kill: %r of %d" % (vc.get(db), nb))
print("   K after SIGKILL: %d of B's %d events, %d events in all = sum of the clock" % (vc[db], nb, st["events"]))
PY
start_agent_ep "$K" "tcp://127.0.0.1:$(free_port)" --no-mdns
PID_K=$AGENT_PID
"$CAJACTL" --dir "$K" import "$T/b.caja" --json >"$T/k3.json" ||
    fail "import after the kill: $(cat "$T/k3.json")"
"$CAJACTL" --dir "$K" status --json >"$T/k.json"
assert_eq "$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["vector_clock"][sys.argv[2]])' "$T/k.json" "$DB")" \
    "$NB" "B's events on K after importing again"
for since in 0 $((NB - 1)); do
	x=$("$CAJACTL" --dir "$A" log --json --device "$DB" --since "$since" --limit 1)
	y=$("$CAJACTL" --dir "$K" log --json --device "$DB" --since "$since" --limit 1)
	[ -n "$x" ] && [ "$x" = "$y" ] || fail "B's event after seq $since differs on K"
done
pass "SIGKILL mid-import: the store reopened whole, the same file again brought the rest ($(jget "$(cat "$T/k3.json")" 'd["accepted"]') events)"
echo "import_live.sh: all passed in $((SECONDS - T0)) s"
