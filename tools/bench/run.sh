#!/usr/bin/env bash
# Runs every benchmark of tools/bench/ from build dir $1 and prints their
# figures (each states its own limits measured in the same run). Set
# EVENTS to change the import size (default 1,000,000).
set -euo pipefail
build=${1:-build}
echo "== bench_limits"; "$build/bench_limits"
echo "== bench_append"; "$build/bench_append" --seconds "${SECONDS_PER_RUN:-5}"
echo "== bench_import"; /usr/bin/time -v "$build/bench_import" \
    --events "${EVENTS:-1000000}" --devices 5 2> >(grep -E "Maximum resident|Elapsed" >&2)
