#!/bin/bash
# The fuzz campaign's second pass: each target until 10 million executions or MAX_SECONDS,
# two at a time (a pool of two, longest first, so a short target never waits for a long one).
# It runs binaries copied out of fuzz/target (BIN), not `cargo fuzz run`, so editing src/
# while it runs neither rebuilds them nor changes what is being fuzzed.
# Usage, from the repository root:
#   (cd fuzz && cargo +nightly fuzz build) && mkdir -p $BIN && cp fuzz/target/x86_64-unknown-linux-gnu/release/T $BIN/
#   MAX_SECONDS=1800 results/2026-12-06-fuzz-campaign-2-epyc2c/run.sh TARGET...
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${OUT:-$here}" && cd "${OUT:-$here}" && pwd)
max=${MAX_SECONDS:-1800}
bin=${BIN:-/tmp/ringpin-fuzz-bin}
scratch=${SCRATCH:-/tmp/ringpin-fuzz-corpus}
cd "$here/../../fuzz"
run_one() {
  local t=$1
  mkdir -p "$scratch/$t"
  # Niced: compiling beside it takes the CPU it needs (with kernel.sched_autogroup_enabled=0).
  timeout $((max + 300)) nice -n 10 "$bin/$t" "$scratch/$t" "corpus/$t" \
    -runs=10000000 -max_total_time="$max" -rss_limit_mb=2048 -print_final_stats=1 \
    > "$out/$t.log" 2>&1
  echo "$t exit=$?" >> "$out/exits.txt"
}
for t in "$@"; do
  # Keep two running: wait for one to finish before starting the third.
  while [ "$(jobs -rp | wc -l)" -ge 2 ]; do wait -n; done
  run_one "$t" &
done
wait
