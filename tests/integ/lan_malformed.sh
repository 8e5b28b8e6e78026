#!/usr/bin/env bash
# lan_malformed.sh: malformed, oversized and forged frames from an enrolled
# peer are dropped and counted; the receiving agent keeps running and its
# digest does not move.
#
# A (admin, the target), B and R (registers) on loopback, static peers,
# converged; R appends a few events, then its agent is stopped and
# tests/support/rogue_peer takes its place: R's own device key (CURVE,
# admitted by A's ZAP as R), R's listen endpoint (A dials it back and
# sends its HELLO and PONGs there). One session, a valid HELLO, then each
# attack followed by a PING; the PONG shows that A read past the attack on
# the same session. Between attacks the test reads A's status: the
# per-peer `bad_frames` of R must grow for every malformed or forged frame:
#   garbage, a truncated SUMMARY, trailing bytes, non-canonical msgpack,
#   an unknown kind, container bombs (array32/map32 declaring 2^32-1
#   elements, top level and nested), EVENTS runs of R's next events with
#   the first signature flipped, the first event altered after signing, a
#   first prev that is not A's head of R (genuinely signed: it must not
#   be taken, counting it is optional), signed by a random key, or
#   carrying another device's event, a PUSH with a flipped signature, a
#   PUSH of B's next event signed with R's key (the rogue holds R's real
#   key: whatever it signs correctly is R's genuine event, so every run
#   is built with no valid event in front of the bad one);
# an oversized frame (WIRE_MAX_FRAME + 1; the agent's ZMQ_MAXMSGSIZE is twice
# that so the frame reaches wire_decode) must be dropped and counted
# against R, the session staying up. After all that: A runs, its
# digest is unchanged, no fork or other conflict was raised, and B still
# converges with A. A control: a correct PUSH of R's next event is then
# accepted by A and reaches B, so the channel really delivered the frames.
# Then a flood of 64 bad frames: A closes the session (peer.h:
# PEER_BAD_LIMIT) and still runs with its digest intact. Last, a key that
# no store enrolled: refused at the CURVE handshake, counted in
# refused_handshakes.
# Env: CAJA_BUILD, CAJA_SRC (ctest); CAJA_KEEP=1.
. "$(dirname "$0")/lib.sh"
T0=$SECONDS
ROGUE=$CAJA_BUILD/tests/rogue_peer
[ -x "$ROGUE" ] || fail "no $ROGUE (build target rogue_peer)"
# R, the register the rogue peer will speak for, is mesh3's C.
mesh3 "Malformed Store"
R=$C ER=$EC PID_R=$PID_C DR=$DC
for i in 1 2 3; do
	append_one_logged "$R" "$T/ids" ProductUpdated "{\"product_id\":\"r$i\",\"name\":\"rogue $i\"}" ||
	    fail "append on R"
	append_one_logged "$B" "$T/ids" ProductUpdated "{\"product_id\":\"b$i\",\"name\":\"b $i\"}" ||
	    fail "append on B"
done
wait_converged 30 "$A" "$B" "$R" || fail "initial convergence"
wait_peers_up 20 "$A" "$DB" "$DR" || fail "A does not see B and R up"
stop_agent "$PID_R" || fail "stop R"
# A's transport key is the store key (A is the store's first device).
SPK=$("$CAJACTL" --dir "$A" log --json --device "$DA" --limit 1 | "$PYTHON" -c \
    'import json,sys; print(json.load(sys.stdin)[0]["payload"]["store_pk"])') ||
    fail "store key"
DIG0=$(digest_of "$A")
N0=$(events_of "$A")
C0=$(conflicts_json "$A" --all)
echo "   A=${DA:0:8} B=${DB:0:8} R=${DR:0:8}; A holds $N0 events, digest ${DIG0:0:16}"

# Between attacks (run by rogue_peer --after): R's bad_frames on A.
cat >"$T/probe.sh" <<EOF
#!/bin/sh
"$CAJACTL" --dir "$A" --timeout 5 status --json | "$PYTHON" -c '
import json, os, sys
d = json.load(sys.stdin)
p = [p for p in d.get("peers", []) if p.get("device_id") == "$DR"]
bf = p[0].get("bad_frames") if p else None
st = p[0].get("state") if p else None
tr = d.get("transport", {})
print("probe %s bad_frames=%s state=%s refused_handshakes=%s dropped_messages=%s" % (os.environ["ROGUE_ATTACK"], bf, st, d.get("refused_handshakes"), tr.get("dropped_messages")))'
EOF
chmod +x "$T/probe.sh"

BAD="garbage truncated trailing noncanonical unknown-kind bomb bomb-nested bomb-map events-badsig events-tampered events-wrongkey events-mislabel push-badsig push-foreign"
# Signed with R's real key, but not linking to what A holds: not a forgery
# (it may be evidence of a fork of R): must not be taken; counting it as a
# bad frame is the agent's choice (shown, not asserted).
ODD="events-badlink"
echo "== 1. R's key, R's endpoint, one session: hello, then every attack"
# shellcheck disable=SC2086	# $BAD and $ODD: one attack per word
"$ROGUE" --dir "$R" --connect "$EA" --server-pk "$SPK" --listen "$ER" \
    --foreign-device "$DB" --wait-ms 3000 --after "$T/probe.sh" \
    ping $BAD $ODD oversized ping >"$T/rogue.out" 2>"$T/rogue.err"
rc=$?
cat "$T/rogue.out" | grep -E '^(sent|pong|probe|reconnected|monitor|recv BYE|attack|after|foreign|device)' | sed 's/^/   /'
[ "$rc" = 0 ] || fail "rogue_peer exited $rc: $(cat "$T/rogue.err")"
kill -0 "$PID_A" 2>/dev/null || fail "A died under the attacks"
"$PYTHON" - "$T/rogue.out" "$BAD" "$ODD" <<'PY' || fail "bad frames not counted"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
bad = sys.argv[2].split()
probes, pongs = {}, {}
for l in lines:
    m = re.match(r"probe (\S+) bad_frames=(\S+) state=(\S+)", l)
    if m:
        probes.setdefault(m.group(1), []).append(None if m.group(2) == "None" else int(m.group(2)))
    m = re.match(r"pong (\S+) (yes|no)", l)
    if m:
        pongs.setdefault(m.group(1), []).append(m.group(2) == "yes")
if not pongs.get("hello", [False])[0]:
    sys.exit("no PONG to the first PING after HELLO: A never answered on R's endpoint")
prev = probes.get("ping", [None])[0]
if prev is None:
    sys.exit("A's status lists no bad_frames for R before the attacks")
problems = []
for a in bad:
    cur = probes.get(a, [None])[0]
    if cur is None:
        problems.append("%s: no bad_frames in A's status" % a)
        continue
    d = cur - prev
    ok = pongs.get(a, [False])[0]
    print("   %-16s bad_frames +%d, session %s" % (a, d, "alive (PONG)" if ok else "NO PONG"))
    if d < 1:
        problems.append("%s: not counted (bad_frames %d -> %d)" % (a, prev, cur))
    if not ok:
        problems.append("%s: no PONG after it" % a)
    prev = cur
for a in sys.argv[3].split():
    cur = probes.get(a, [None])[0]
    ok = pongs.get(a, [False])[0]
    print("   %-16s bad_frames +%s, session %s (signed by R's key: counting optional)" % (
        a, None if cur is None else cur - prev, "alive (PONG)" if ok else "NO PONG"))
    if not ok:
        problems.append("%s: no PONG after it" % a)
    if cur is not None:
        prev = cur
o = probes.get("oversized", [None])[0]
g = {}
for l in lines:
    m = re.match(r"probe (\S+) .*refused_handshakes=(\S+) dropped_messages=(\S+)", l)
    if m:
        g.setdefault(m.group(1), (m.group(2), m.group(3)))
print("   %-16s bad_frames +%s, PONG on the new connection: %s; global refused_handshakes/dropped_messages %s -> %s" % (
      "oversized", None if o is None else o - prev, pongs.get("oversized", [False])[0],
      g.get(bad[-1]), g.get("oversized")))
if o is None or o - prev < 1:
    problems.append("oversized: not counted against R")
if not pongs.get("oversized", [False])[0]:
    problems.append("oversized: no PONG after it")
if problems:
    sys.exit("; ".join(problems))
PY
grep -q "^sent oversized 4194305" "$T/rogue.out" || fail "oversized frame not sent"
assert_eq "$(digest_of "$A")" "$DIG0" "A's digest after the attacks"
assert_eq "$(events_of "$A")" "$N0" "A's event count after the attacks"
assert_eq "$(conflicts_json "$A" --all)" "$C0" "A's conflicts after the attacks"
wait_converged 20 "$A" "$B" || fail "B no longer converges with A"
pass "every malformed and forged frame dropped and counted against R; A running, digest unchanged"

echo "== 2. control: a correct PUSH of R's next event is accepted"
"$ROGUE" --dir "$R" --connect "$EA" --server-pk "$SPK" --listen "$ER" \
    --wait-ms 3000 push-valid >"$T/rogue2.out" 2>&1 || fail "rogue_peer push-valid: $(cat "$T/rogue2.out")"
read -r _ EID _ ESEQ < <(grep '^event ' "$T/rogue2.out")
[ -n "$EID" ] || fail "no control event: $(cat "$T/rogue2.out")"
for ((k = 0; k < 50; k++)); do
	[ "$(events_of "$A")" = $((N0 + 1)) ] && break
	sleep 0.1
done
assert_eq "$(events_of "$A")" "$((N0 + 1))" "A's events after the valid PUSH"
"$CAJACTL" --dir "$A" log --json --device "$DR" --since $((ESEQ - 1)) | grep -q "$EID" ||
    fail "A does not hold the control event $EID"
wait_converged 20 "$A" "$B" || fail "the control event did not reach B"
pass "valid PUSH (seq $ESEQ) accepted by A and replicated to B: the rogue's frames did reach the gossip layer"

echo "== 3. a flood of bad frames closes the session; A keeps running"
DIG1=$(digest_of "$A")
"$ROGUE" --dir "$R" --connect "$EA" --server-pk "$SPK" --listen "$ER" \
    --wait-ms 3000 --after "$T/probe.sh" flood ping >"$T/rogue3.out" 2>&1
grep -E '^(sent|pong|probe|recv BYE)' "$T/rogue3.out" | sed 's/^/   /'
kill -0 "$PID_A" 2>/dev/null || fail "A died under the flood"
assert_eq "$(digest_of "$A")" "$DIG1" "A's digest after the flood"
grep -q "^pong flood yes" "$T/rogue3.out" &&
    fail "A still answers R after 64 bad frames (PEER_BAD_LIMIT is 50)"
wait_converged 20 "$A" "$B" || fail "B no longer converges with A after the flood"
pass "flood: A stopped answering R, kept running, digest unchanged, B still in step"
echo "== 4. a key no store enrolled is refused at the handshake, and counted"
RH0=$(jget "$("$CAJACTL" --dir "$A" status --json)" 'd.get("refused_handshakes")')
"$ROGUE" --dir "$R" --connect "$EA" --server-pk "$SPK" --random-key \
    --wait-ms 1000 garbage >"$T/rogue4.out" 2>&1
rc=$?
grep -E '^(stranger|monitor|sent|\{)' "$T/rogue4.out" | sed 's/^/   /'
assert_eq "$rc" 3 "rogue_peer exit status with a stranger's key (3: handshake refused)"
grep -q '"handshake":"failed"' "$T/rogue4.out" || fail "the stranger's handshake did not fail: $(cat "$T/rogue4.out")"
RH1=$(jget "$("$CAJACTL" --dir "$A" status --json)" 'd.get("refused_handshakes")')
[ "$RH1" -gt "$RH0" ] || fail "refused_handshakes did not grow ($RH0 -> $RH1)"
assert_eq "$(digest_of "$A")" "$DIG1" "A's digest after the stranger"
pass "stranger refused by ZAP, refused_handshakes $RH0 -> $RH1, nothing sent reached A"
kill -0 "$PID_A" && kill -0 "$PID_B" || fail "A or B is not running at the end"
echo "lan_malformed.sh: all passed in $((SECONDS - T0)) s"
