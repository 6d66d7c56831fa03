#!/bin/bash
# The fuzz campaign: each target until 10 million executions or MAX_SECONDS, two at a time
# (one per core), new inputs written to a scratch corpus (not committed: minimise first).
# Usage, from the repository root after `cd fuzz && cargo +nightly fuzz build`:
#   MAX_SECONDS=600 results/2026-12-06-fuzz-campaign-epyc2c/run.sh [TARGET...]
# OUT=DIR writes the logs and exits.txt into DIR instead of this folder (a later pass).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=$(mkdir -p "${OUT:-$here}" && cd "${OUT:-$here}" && pwd)
max=${MAX_SECONDS:-1800}
scratch=${SCRATCH:-/tmp/ringpin-fuzz-corpus}
cd "$here/../../fuzz"
targets=("$@")
[ ${#targets[@]} -eq 0 ] && mapfile -t targets < <(cargo +nightly fuzz list)
run_one() {
  local t=$1
  mkdir -p "$scratch/$t"
  timeout $((max + 300)) cargo +nightly fuzz run "$t" "$scratch/$t" "corpus/$t" -- \
    -runs=10000000 -max_total_time="$max" -rss_limit_mb=2048 -print_final_stats=1 \
    > "$out/$t.log" 2>&1
  echo "$t exit=$?" >> "$out/exits.txt"
}
for ((i = 0; i < ${#targets[@]}; i += 2)); do
  run_one "${targets[i]}" &
  [ $((i + 1)) -lt ${#targets[@]} ] && run_one "${targets[i + 1]}" &
  wait
done
