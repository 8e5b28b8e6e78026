#!/usr/bin/env bash
# Runs the benchmarks of BENCHMARKS.md from build dir $1 and prints their
# figures; each program measures the machine's limits in the same run and
# states its figures against them. The outputs (and the append latency
# CSV) go to $OUT (default $1/bench-results), the append latency
# plot to docs/bench_append_latency.svg.
#
#   EVENTS=1000000   events imported (from 5 devices)
#   SECONDS_PER_RUN=5  seconds of each bench_append phase (1, 8 clients)
#   PLOT=0           no plot
#   (EVENTS also sizes bench_lan's catch-up; its plots: docs/bench_lan_*.svg)
#   CLOUD_EVENTS, DRAIN_EVENTS  cloud benchmarks (bench_uplink.sh)
set -euo pipefail
build=${1:-build}
out=${OUT:-$build/bench-results}
top=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"

echo "== machine: $(nproc) cores, $(uname -sr), $(date -u +%FT%TZ)"
echo "   load: $(cut -d' ' -f1-3 /proc/loadavg) (other work on the machine skews every figure)"

echo "== bench_limits"
"$build/bench_limits" | tee "$out/limits.txt"

echo "== bench_append (durable appends through cajad's control socket)"
"$build/bench_append" --seconds "${SECONDS_PER_RUN:-5}" \
    --csv "$out/append_latency.csv" | tee "$out/append.txt"

echo "== bench_import (${EVENTS:-1000000} events from 5 devices)"
"$build/bench_import" --events "${EVENTS:-1000000}" --devices 5 |
    tee "$out/import.txt"

if [ "${PLOT:-1}" != 0 ] && command -v python3 >/dev/null; then
	python3 "$top/tools/bench/plot_append.py" "$out/append_latency.csv" \
	    "$top/docs/bench_append_latency.svg"
fi
echo "== cloud: bench_cloud and the offline drain (tools/bench/bench_uplink.sh)"
bash "$top/tools/bench/bench_uplink.sh" "$build" | tee "$out/cloud.txt"

echo "== bench_lan (LAN replication between real cajad processes on loopback)"
"$build/bench_lan" --catchup-events "${EVENTS:-1000000}" --out "$out/lan" |
    tee "$out/lan.txt"
if [ "${PLOT:-1}" != 0 ] && command -v python3 >/dev/null; then
	python3 "$top/tools/bench/bench_lan_plot.py" "$out/lan" "$top/docs"
fi

echo "== raw outputs in $out"
