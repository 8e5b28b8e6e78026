#!/bin/bash
# bench_uplink.sh: the cloud benchmarks of issue 4 ("Performance"), on a
# throw-away PostgreSQL (tests/support/pg.sh). BENCHMARKS.md "The cloud
# (issue 4)" says what each figure means and what bounds it.
#
#   bash tools/bench/bench_uplink.sh [BUILD] [ingest] [drain]
#   (no mode: both; BUILD defaults to build)
#
#   ingest  bench_cloud: caja-cloud's push handler in process (ingestion
#           rate into PostgreSQL with verification, where the time goes,
#           bytes per event). CLOUD_EVENTS (default 100000) events of the
#           POS mix from CLOUD_DEVICES (3) registers.
#   drain   a store offline with DRAIN_EVENTS (default 100000) events:
#           DRAIN_REGISTERS (default 2) real cajad on loopback with static
#           peers, each with --cloud pointing at a caja-cloud that is not
#           running. The events are appended through cajactl (the
#           catalog, then the POS mix, split between the registers), the
#           registers converge on the LAN, then caja-cloud starts; timed
#           from the moment it answers /health to the last event
#           acknowledged (cloud.pending = 0 in the uploader's status),
#           every event in PostgreSQL exactly once, and every register
#           seeing it acknowledged (gossip). The upload rate is the
#           uploader's, from the cloud's sync_metrics rows (its first
#           push's start to its last push's end). DRAIN_OFFLINE_S keeps
#           the store offline that many seconds more before the cloud
#           starts (a long outage: the uplink's backoff at its 60 s step).
#
# Prints the limits of this machine measured in the same run
# (bench_limits) next to the figures. Processes started here are stopped
# by PID at exit (tests/integ/lib.sh); CAJA_KEEP=1 keeps the temp dir.
set -u
SRC=$(cd "$(dirname "$0")/../.." && pwd)
BUILD=build
MODES=
for a in "$@"; do
	case $a in
	ingest|drain) MODES="$MODES $a" ;;
	-h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) BUILD=$a ;;
	esac
done
MODES=${MODES:- ingest drain}
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "bench_uplink: no build dir" >&2; exit 1; }
export CAJA_BUILD=$BUILD CAJA_SRC=$SRC
DRAIN_EVENTS=${DRAIN_EVENTS:-100000}
DRAIN_REGISTERS=${DRAIN_REGISTERS:-2}
DRAIN_OFFLINE_S=${DRAIN_OFFLINE_S:-0}
CLOUD_EVENTS=${CLOUD_EVENTS:-100000}
CLOUD_DEVICES=${CLOUD_DEVICES:-3}
INGEST=0	# events/s of the ingest mode, when it ran first

if ! "$SRC/tests/support/pg.sh" check; then
	echo "SKIP: bench_uplink: PostgreSQL server binaries not installed"
	exit 0
fi
# The test harness: temp dir $T, PIDs stopped at exit, a throw-away
# PostgreSQL ($DBURL), start_cloud/enroll_cloud/run_reg, status helpers.
. "$SRC/tests/integ/lib.sh"
# shellcheck disable=SC2034 # read by cloud_uplink_lib.sh
CAJA_REQUIRE_PG=1
. "$SRC/tests/integ/cloud_uplink_lib.sh"
fail() { echo "bench_uplink: $*" >&2; exit 1; }
# Each mode on a new database of the cluster: rows left by one do not
# slow the other (the events table's indexes grow).
BASEURL=$DBURL
use_db() {
	PSQL "CREATE DATABASE $1" >/dev/null
	DBURL=${BASEURL%/*}/$1
}

for mode in $MODES; do
case $mode in
ingest)
	use_db bench_ingest
	echo "== ingest: bench_cloud --events $CLOUD_EVENTS --devices $CLOUD_DEVICES (push handler in process)"
	"$BUILD/bench_cloud" --db "$DBURL" --events "$CLOUD_EVENTS" \
	    --devices "$CLOUD_DEVICES" 2> >(grep -v "reconcile inserted" >&2) |
	    tee "$T/ingest.txt"
	[ "${PIPESTATUS[0]}" = 0 ] || fail "bench_cloud"
	INGEST=$(sed -n 's/^  ingestion[^:]*: \([0-9]*\) events\/s.*/\1/p' "$T/ingest.txt")
	;;
drain)
	use_db bench_drain
	echo "== drain: $DRAIN_EVENTS events appended on $DRAIN_REGISTERS registers while the cloud is down"
	LIMITS=$("$BUILD/bench_limits" --json "$T") || fail "bench_limits"
	VERIFY=$(jget "$LIMITS" 'd["verify_per_s"]')
	jget "$LIMITS" '"  limits, this run: ed25519 verify %(verify_per_s).0f/s, sign %(sign_per_s).0f/s, lmdb commit+fsync %(lmdb_commit_per_s).0f/s" % d'
	R=() EP=() PORTS=()
	for ((i = 1; i <= DRAIN_REGISTERS; i++)); do
		p=$(free_port)
		while [[ " ${PORTS[*]} " == *" $p "* ]]; do p=$(free_port); done
		PORTS+=("$p")
		R+=("$T/r$i")
		EP+=("tcp://127.0.0.1:$p")
	done
	peers_but() {
		local k out=()
		for ((k = 0; k < DRAIN_REGISTERS; k++)); do
			[ "$k" = "$1" ] || out+=(--peer "${EP[$k]}")
		done
		echo "${out[@]}"
	}
	PIDS=()
	"$CAJACTL" --dir "${R[0]}" init --store "Tienda Sin Nube" --name r1 \
	    >/dev/null || fail "init"
	# shellcheck disable=SC2046
	run_reg "${R[0]}" "${PORTS[0]}" $(peers_but 0) --cloud "$CURL_BASE"
	PIDS+=("$AGENT_PID")
	SID=$(sjget "${R[0]}" 'd["store_id"]')
	enroll_cloud "${R[0]}"
	for ((i = 1; i < DRAIN_REGISTERS; i++)); do
		join_store "${R[0]}" "${R[$i]}" "r$((i + 1))"
		# shellcheck disable=SC2046
		run_reg "${R[$i]}" "${PORTS[$i]}" $(peers_but "$i") \
		    --cloud "$CURL_BASE"
		PIDS+=("$AGENT_PID")
	done

	# The events: the catalog on r1, then the POS mix (as benchutil.c's
	# bench_catalog_event() and bench_mix_event(), BENCH_MIX_FULL, with
	# Python's generator), split between the registers, in files of at
	# most 10000 lines (cajactl append --batch).
	"$PYTHON" - "$T/ev" "$DRAIN_EVENTS" "$DRAIN_REGISTERS" <<'PY' || fail "generating events"
import json, os, random, sys
out, total, nreg = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
NP, NC = 2000, 500
brands = ["Polar", "PAN", "Mavesa", "Nestle", "Colgate", "Savoy", "Diablitos", "Frica", "Primor", "Ronco"]
items = ["Harina de maiz", "Arroz blanco", "Aceite vegetal", "Pasta larga", "Cafe molido", "Leche en polvo",
         "Azucar refinada", "Mantequilla", "Jabon de tocador", "Atun en aceite", "Galletas de soda", "Refresco de cola"]
sizes = ["1 kg", "500 g", "1 L", "2 L", "250 g", "900 g", "12 und", "170 g"]
first = ["Maria", "Jose", "Luis", "Carmen", "Ana", "Carlos", "Rosa", "Pedro", "Yolanda", "Jesus"]
last = ["Perez", "Gonzalez", "Rodriguez", "Hernandez", "Garcia", "Martinez", "Lopez", "Ramirez"]
streets = ["Av. Bolivar", "Calle Sucre", "Av. Urdaneta", "Calle Miranda", "Av. Lara", "Calle Paez"]
cities = ["Valencia", "Maracay", "Barquisimeto", "Caracas", "Maracaibo"]
R = random.randrange
money = lambda c: "%d.%02d" % (c // 100, c % 100)
pname = lambda: "%s %s %s" % (random.choice(items), random.choice(brands), random.choice(sizes))
phone = lambda: "+58 4%02d %03d %04d" % (12 + R(14), R(1000), R(10000))
addr = lambda: "%s %d, %s" % (random.choice(streets), 1 + R(200), random.choice(cities))
def catalog():
    for p in range(NP):
        pid = "p%05d" % p
        yield "ProductUpdated", {"product_id": pid, "name": pname(), "barcode": "759%010d" % R(10**10), "active": True}
        yield "PriceChanged", {"product_id": pid, "price_bs": money(100 + R(50000)), "price_usd": money(10 + R(1500))}
        yield "StockReceived", {"product_id": pid, "qty": 24 + R(200)}
    for c in range(NC):
        yield "CustomerUpdated", {"customer_id": "c%04d" % c, "name": "%s %s %s" % (random.choice(first),
              random.choice(last), random.choice(last)), "phone": phone(), "address": addr()}
def mix(dev, i):
    r, pid = R(100), "p%05d" % R(NP)
    if r < 60:
        s = {"sale_id": "r%d-s%d" % (dev, i), "items": [{"product_id": "p%05d" % R(NP), "qty": 1 + R(4),
             "price_bs": money(100 + R(50000))} for _ in range(1 + R(5))]}
        if R(5) == 0:
            s["customer_id"] = "c%04d" % R(NC)
        return "SaleCreated", s
    if r < 70:
        return "StockReceived", {"product_id": pid, "qty": 1 + R(48)}
    if r < 75:
        return "StockAdjusted", {"product_id": pid, "delta": random.choice([-3, -2, -1, 1, 2, 3])}
    if r < 85:
        return "PriceChanged", {"product_id": "p%05d" % (R(NP // nreg) * nreg + dev), "price_bs": money(100 + R(50000))}
    if r < 95:
        c = "c%04d" % R(NC)
        return "CustomerUpdated", ({"customer_id": c, "phone": phone()} if R(2) else {"customer_id": c, "address": addr()})
    if R(2):
        return "ProductUpdated", {"product_id": pid, "name": pname()}
    return "ProductUpdated", {"product_id": pid, "barcode": "759%010d" % R(10**10)}
cat = list(catalog())
nmix = total - len(cat)
per = [nmix // nreg + (1 if d < nmix % nreg else 0) for d in range(nreg)]
os.makedirs(out, exist_ok=True)
def write(dev, evs):
    k = 0
    for j in range(0, len(evs), 10000):
        with open("%s/r%d-%03d.jsonl" % (out, dev + 1, k), "w") as f:
            for t, p in evs[j:j + 10000]:
                f.write(json.dumps({"type": t, "payload": p}, separators=(",", ":")) + "\n")
        k += 1
write(0, cat + [mix(0, i) for i in range(per[0])])
for d in range(1, nreg):
    write(d, [mix(d, i) for i in range(per[d])])
print("  %d events: catalog %d, POS mix %d (%s per register)" % (total, len(cat), nmix, "/".join(map(str, per))))
PY
	t0=$(date +%s%N)
	for f in "$T"/ev/r*.jsonl; do
		k=$(basename "$f" | sed 's/^r\([0-9]*\)-.*/\1/')
		"$CAJACTL" --dir "$T/r$k" --timeout 120 append --batch "$f" \
		    >/dev/null 2>>"$T/append.err" || fail "append $f: $(tail -n 1 "$T/append.err")"
	done
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "  appended through cajactl in $ms ms ($((DRAIN_EVENTS * 1000 / (ms + 1))) events/s)"
	wait_converged 300 "${R[@]}" >/dev/null || fail "registers did not converge"
	echo "  registers converged on the LAN $CONVERGED_MS ms after the last append"
	if [ "$DRAIN_OFFLINE_S" -gt 0 ]; then
		echo "  the store stays offline $DRAIN_OFFLINE_S s more"
		sleep "$DRAIN_OFFLINE_S"
	fi
	TOTAL=$(sjget "${R[0]}" 'sum(d["vector_clock"].values())')
	for ((i = 0; i < DRAIN_REGISTERS; i++)); do
		echo "  r$((i + 1)): $(jget "$(st "${R[$i]}")" '"pending %d, state %s, breaker %s, %d failed requests so far" % (d["cloud"]["pending"], d["cloud"]["state"], d["cloud"]["breaker"], d["cloud"]["counters"]["requests"])')"
	done
	cpu_of() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }
	pg_cpu() {
		local s=0 p pm
		pm=$(head -n 1 "$PGD/data/postmaster.pid")
		for p in "$pm" $(ps -o pid= --ppid "$pm"); do
			s=$((s + $(cpu_of "$p")))
		done
		echo "$s"
	}
	CPU0=()
	for p in "${PIDS[@]}"; do CPU0+=("$(cpu_of "$p")"); done
	pg_cpu0=$(pg_cpu)

	# The cloud becomes reachable.
	t_launch=$(date +%s%N)
	start_cloud
	t_up=$(date +%s%N)
	echo "  caja-cloud answers /health $(((t_up - t_launch) / 1000000)) ms after its launch"
	"$PYTHON" - "$CAJACTL" "$TOTAL" "$t_up" "$DBURL" "$SID" "$CLOUD_DID" \
	    "$T/drain.json" "${R[@]}" <<'PY' || fail "drain"
import json, subprocess, sys, time
ctl, total, t_up, db, sid, cdid, outf = sys.argv[1:8]
regs = sys.argv[8:]
total, t_up = int(total), int(t_up)
now = lambda: (time.time_ns() - t_up) / 1e9
def status(d):
    try:
        return json.loads(subprocess.run([ctl, "--dir", d, "--timeout", "5", "status", "--json"],
            capture_output=True, timeout=10).stdout)
    except Exception:
        return None
def acked(s):
    c = s["cloud"]
    return c["pending"] == 0 and all(c["acked_vector_clock"].get(k, 0) >= v for k, v in s["vector_clock"].items())
def pg(sql):
    return subprocess.run(["psql", db, "-X", "-q", "-t", "-A", "-F", " ", "-c", sql],
        capture_output=True, text=True, timeout=30).stdout.strip()
r = {"acked_s": {}, "pg_s": None, "next_attempt_ms": {}, "device": {}}
last_pg = -1
while now() < 600:
    for d in regs:
        s = status(d)
        if s is None:
            continue
        r["device"][d] = s["device_id"]
        if d not in r["next_attempt_ms"]:
            r["next_attempt_ms"][d] = s["cloud"].get("next_attempt_ms", 0)
        if d not in r["acked_s"] and acked(s):
            r["acked_s"][d] = now()
            r["uploader"] = s["cloud"].get("uploader")
    if r["pg_s"] is None and now() - last_pg >= 0.5:
        last_pg = now()
        n = pg("select count(*), count(distinct event_id), count(distinct (device_id, seq)) from events "
               "where store_id = '%s' and device_id <> '%s'" % (sid, cdid)).split()
        if n == [str(total)] * 3:
            r["pg_s"] = now()
    if r["pg_s"] is not None and len(r["acked_s"]) == len(regs):
        break
    time.sleep(0.1)
else:
    sys.exit("not drained after 600 s: %s" % r)
json.dump(r, open(outf, "w"))
PY
	CPU=()
	for ((i = 0; i < DRAIN_REGISTERS; i++)); do
		CPU+=("$(( $(cpu_of "${PIDS[$i]}") - ${CPU0[$i]} ))")
	done
	pg_cpu1=$(( $(pg_cpu) - pg_cpu0 ))
	cl_cpu=$(cpu_of "$CLOUD_PID")
	# The drain as the cloud saw it: each push's start is its server_time
	# (its PostgreSQL transaction's start, after verify) minus verify_ms.
	M=$(PSQL "with p as (select server_time - verify_ms * interval '1 ms' as t0, device_id, events_pushed n, latency_ms, verify_ms, db_ms, bytes_wire, bytes_raw from sync_metrics where store_id = '$SID' and kind = 'push' and success and events_pushed > 0) select json_build_object('pushes', count(*), 'events', sum(n), 'window_s', extract(epoch from max(t0 + latency_ms * interval '1 ms') - min(t0)), 'busy_s', sum(latency_ms) / 1000, 'verify_s', sum(verify_ms) / 1000, 'db_s', sum(db_ms) / 1000, 'wire', sum(bytes_wire), 'raw', sum(bytes_raw), 'max_batch', max(n), 'p50_ms', percentile_cont(0.5) within group (order by latency_ms), 'first_push_s', extract(epoch from min(t0)), 'failed', (select count(*) from sync_metrics where store_id = '$SID' and not success), 'by_device', (select json_object_agg(coalesce(device_id, '-'), json_build_object('pushes', k, 'events', e, 'window_s', ws, 'busy_s', bs)) from (select device_id, count(*) k, sum(n) e, extract(epoch from max(t0 + latency_ms * interval '1 ms') - min(t0)) ws, sum(latency_ms) / 1000 bs from p group by device_id) d), 'duplicate', (select sum(duplicate) from sync_metrics where store_id = '$SID')) from p")
	TUP_EPOCH=$(awk -v n="$t_up" 'BEGIN { printf "%.3f", n / 1e9 }')
	"$PYTHON" - "$T/drain.json" "$M" "$TOTAL" "$VERIFY" "$TUP_EPOCH" \
	    "$(getconf CLK_TCK)" "$cl_cpu" "$pg_cpu1" "$INGEST" "${R[@]}" -- \
	    "${CPU[@]}" \
	    <<'PY' || fail "drain report"
import json, sys
r = json.load(open(sys.argv[1])); m = json.loads(sys.argv[2])
total, verify, t_up, tck = int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
clc, pgc = int(sys.argv[7]) / tck, int(sys.argv[8]) / tck
ingest = float(sys.argv[9])
rest = sys.argv[10:]
regs, cpus = rest[:rest.index("--")], [int(x) / tck for x in rest[rest.index("--") + 1:]]
name = {r["device"][d]: "r%d" % (i + 1) for i, d in enumerate(regs)}
up = [d for d in regs if r["device"][d] == r.get("uploader")]
up = up[0] if up else regs[0]
w = m["window_s"]; rate = m["events"] / w
first = m["first_push_s"] - t_up
print("  uploader: %s (lease); it had its next attempt due in %d ms when the cloud came up" % (
    name[r["device"][up]], r["next_attempt_ms"][up]))
print("  cloud reachable -> last event acknowledged (%s: cloud.pending = 0): %.1f s" % (name[r["device"][up]], r["acked_s"][up]))
print("    waiting for the uplink's next attempt (breaker/backoff): %.1f s to the first push" % first)
print("    drain: %d events in %d pushes (batches up to %d, p50 %.0f ms): %.1f s" % (m["events"], m["pushes"], m["max_batch"], m["p50_ms"], w))
print("    every register sees everything acknowledged at %.1f s; PostgreSQL holds the %d events exactly once at %.1f s" % (
    max(r["acked_s"].values()), total, r["pg_s"]))
ud = m["by_device"].get(r["device"][up], {"events": 0, "window_s": 1, "busy_s": 0, "pushes": 0})
urate = ud["events"] / ud["window_s"]
print("  upload rate of one register through caja-cloud (HTTP, gzip): %.0f events/s = %.2f x Ed25519 verify (%.0f/s)" % (urate, urate / verify, verify))
if ingest > 0:
    print("    = %.2f x the push handler's rate in process (ingest above, %.0f events/s, no HTTP, no register)" % (urate / ingest, ingest))
print("    %s's own pushes: %d events in %d pushes over %.1f s, the cloud busy %.0f%% of it; the whole drain %.0f events/s" % (
    name[r["device"][up]], ud["events"], ud["pushes"], ud["window_s"], 100 * ud["busy_s"] / ud["window_s"], rate))
print("    cloud busy %.1f s of the %.1f s window (%.0f%%): verify %.1f s, db %.1f s; the rest is the register's side (cut, gzip, HTTP)" % (
    m["busy_s"], w, 100 * m["busy_s"] / w, m["verify_s"], m["db_s"]))
print("    CPU from the cloud's start to the end: %s, caja-cloud %.1f s, PostgreSQL %.1f s (2 cores, shared)" % (
    ", ".join("%s %.1f s%s" % (name[r["device"][d]], c, " (uploader)" if d == up else "") for d, c in zip(regs, cpus)), clc, pgc))
print("    bytes: %.0f per event on the wire (gzip), %.0f raw; %d failed pushes" % (m["wire"] / m["events"], m["raw"] / m["events"], m["failed"]))
print("    pushes with events by register: %s; events sent twice (duplicate): %d" % (
    ", ".join("%s %d (%d events)" % (name.get(k, k[:8]), v["pushes"], v["events"]) for k, v in sorted(m["by_device"].items())), m["duplicate"] or 0))
PY
	;;
esac
done
