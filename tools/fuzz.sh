#!/usr/bin/env bash
# Runs each libFuzzer target of build dir $1 for $2 seconds, starting from
# its corpus in tests/fuzz/corpus/<name>. Fails on any crash, leak or
# sanitizer report. Crash files go to a temp dir, never into the tree.
set -euo pipefail
build=${1:-build-fuzz}
secs=${2:-20}
src=$(cd "$(dirname "$0")/.." && pwd)
out=$(mktemp -d /tmp/caja-fuzz.XXXXXX)
status=0
for t in "$build"/tests/fuzz_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	corpus="$out/$name"
	mkdir -p "$corpus"
	cp "$src/tests/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
	echo "fuzz: $name for ${secs}s"
	if ! "$t" -max_total_time="$secs" -max_len=70000 -rss_limit_mb=1024 \
	    -artifact_prefix="$out/$name-" -print_final_stats=1 "$corpus" \
	    >"$out/$name.log" 2>&1; then
		echo "fuzz: $name FAILED; last lines of $out/$name.log:"
		tail -n 40 "$out/$name.log"
		status=1
	else
		grep -E "^(stat::number_of_executed_units|#[0-9]+.*DONE)" \
		    "$out/$name.log" | tail -n 1 || true
	fi
done
[ $status -eq 0 ] && rm -rf "$out"
exit $status
