#!/bin/sh
# Memory per connection, ringpin before and after this change and Pushpin 1.36, interleaved:
# per round, per count and mode, each target once (a fresh start each time).
#   run.sh OUT.jsonl [ROUNDS] [COUNTS]
# BEFORE and AFTER name the two ringpin binaries (default /tmp/ringpin-before, -after).
set -eu
here=$(dirname "$0")
out=$1
rounds=${2:-2}
counts=${3:-"5000 15000 100000"}
before=${BEFORE:-/tmp/ringpin-before}
after=${AFTER:-/tmp/ringpin-after}
for round in $(seq 1 "$rounds"); do
  for n in $counts; do
    for mode in idle held; do
      for target in "ringpin:$before" "ringpin:$after" pushpin; do
        echo "round $round: $target $mode $n" >&2
        timeout 900 python3 "$here/measure.py" "$target" "$mode" "$n" --out "$out" \
          || echo "round $round: $target $mode $n failed" >&2
      done
    done
  done
  # The allocator's share: the new binary with mimalloc's transparent huge pages off.
  for mode in idle held; do
    MIMALLOC_ALLOW_THP=0 timeout 900 python3 "$here/measure.py" "ringpin:$after" "$mode" 15000 \
      --out "$out" || echo "round $round: no-THP $mode failed" >&2
  done
done
