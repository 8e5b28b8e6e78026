#!/bin/bash
# kill9.sh: acknowledged = durable. Concurrent clients append while cajad
# is killed with SIGKILL at random moments and restarted, several rounds.
# Every append whose cajactl exited 0 must be in the log afterwards, at
# the seq it was acknowledged with, and the log must be contiguous.
. "$(dirname "$0")/lib.sh"

D=$T/reg
CLIENTS=${KILL9_CLIENTS:-3}
ROUNDS=${KILL9_ROUNDS:-5}

"$CAJACTL" --dir "$D" init --store "Kill Nine" --name caja-1 >/dev/null ||
    fail "init"
start_agent "$D"

# client N: append until $T/stop exists; log "seq event_id" of every
# acknowledged append.
client() {
	local c=$1 i=0 out seq
	while [ ! -e "$T/stop" ]; do
		i=$((i + 1))
		if out=$("$CAJACTL" --dir "$D" --timeout 5 append ProductUpdated \
		    --json "{\"product_id\":\"k$c-$i\",\"name\":\"n$i\"}" \
		    2>>"$T/client$c.err"); then
			[[ $out =~ \"seq\":([0-9]+) ]] || fail "no seq in $out"
			seq=${BASH_REMATCH[1]}
			[[ $out =~ \"event_id\":\"([0-9a-f]{64})\" ]] ||
			    fail "no event_id in $out"
			echo "$seq ${BASH_REMATCH[1]}" >>"$T/acked.$c"
		else
			sleep 0.02
		fi
	done
}

for c in $(seq 1 "$CLIENTS"); do
	: >"$T/acked.$c"
	client "$c" &
	OWN_PIDS+=("$!")
done

for r in $(seq 1 "$ROUNDS"); do
	sleep "0.$((2 + RANDOM % 8))"
	before=$(cat "$T"/acked.* | wc -l)
	kill9_agent "$AGENT_PID"
	echo "round $r: killed agent after $before acknowledged appends"
	[ $((RANDOM % 2)) = 0 ] && sleep 0.3
	start_agent "$D"
done
sleep 0.5
touch "$T/stop"
for p in "${OWN_PIDS[@]}"; do
	[ "$p" = "$AGENT_PID" ] && continue
	wait "$p" 2>/dev/null
done
ACKED=$(cat "$T"/acked.* | wc -l)
[ "$ACKED" -gt 20 ] || fail "only $ACKED appends acknowledged"

# A last kill, then reopen: what was acknowledged must be there.
kill9_agent "$AGENT_PID"
start_agent "$D"
"$CAJACTL" --dir "$D" log --json >"$T/log.json" || fail "log after restart"
cat "$T"/acked.* >"$T/acked.all"
"$PYTHON" - "$T/log.json" "$T/acked.all" <<'PY' || fail "durability check"
import json, sys
d = json.load(open(sys.argv[1]))
evs = d if isinstance(d, list) else d["events"]
seqs = [e["seq"] for e in evs]
if seqs != list(range(1, len(seqs) + 1)):
    sys.exit("log seqs not contiguous: %r" % seqs[:50])
by_seq = {e["seq"]: e["event_id"] for e in evs}
acked = [l.split() for l in open(sys.argv[2]) if l.strip()]
missing = [(s, i) for s, i in acked if by_seq.get(int(s)) != i]
if missing:
    sys.exit("%d acknowledged appends lost or changed, e.g. %r" %
             (len(missing), missing[:5]))
if len(set(i for _, i in acked)) != len(acked):
    sys.exit("one event acknowledged twice")
print("log holds %d events, all %d acknowledged present" %
      (len(evs), len(acked)))
PY
expect 0 --dir "$D" status --json
assert_eq "$(jget "$OUT" 'd["agent"]')" running "agent after rounds"
pass "$ROUNDS SIGKILL rounds, $CLIENTS clients: $ACKED acknowledged appends all durable"
stop_agent "$AGENT_PID" || fail "clean stop"
echo "kill9.sh: all passed"
