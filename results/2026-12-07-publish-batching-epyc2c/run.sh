#!/bin/bash
# Issue 14's publish-path cases after batching the router -> shard hand-off, each case in
# one interleaved run on a quiet machine (kernel.sched_autogroup_enabled=0).
#   BEFORE: ringpin at 6653abd (one inbox message per item per shard, flushed before the
#           reply) with this tree's loadgen beside it
#   AFTER:  ringpin and loadgen of this tree (outbox batches, flushed after the reply, at
#           most once per 250 µs while publishes keep coming)
# Each directory holds a `ringpin` and a `ringpin-loadgen` (compare starts the ringpin next
# to it). Usage: results/2026-12-07-publish-batching-epyc2c/run.sh OUT_DIR
# With `fine` as a second argument it runs only the sustained ladder between 25,000 and
# 32,500 items/s (run2), where run1's rungs were too coarse to tell before from after; with
# `final`, case 1 and that ladder again for the session's last build (run3, AFTER=its dir).
set -euo pipefail
BEFORE=${BEFORE:-/tmp/rp-base}
AFTER=${AFTER:-/tmp/rp-after2}
D=${1:?usage: run.sh OUT_DIR [fine|final]}
mkdir -p "$D"

# Case 1: 2,500 channels x 6 subscribers, one 2,500-item POST per message (mode-only
# formats): ringpin before, ringpin after and Pushpin in turn, three rounds.
channels_case() {
  local ch="--ringpin-shards 2 --mode stream --clients 15000 --channels 2500 --item-formats mode --messages 3 --interval-ms 500 --size 128 --rounds 1"
  for r in 1 2 3; do
    "$BEFORE/ringpin-loadgen" compare --targets ringpin $ch --json-dir "$D/channels/before-r$r" --base-port 24000 > "$D/channels-before-r$r.log" 2>&1
    "$AFTER/ringpin-loadgen" compare --targets ringpin $ch --json-dir "$D/channels/after-r$r" --base-port 25000 > "$D/channels-after-r$r.log" 2>&1
    "$AFTER/ringpin-loadgen" compare --targets pushpin $ch --json-dir "$D/channels/pushpin-r$r" --base-port 26000 > "$D/channels-pushpin-r$r.log" 2>&1
  done
}

if [ "${2:-}" = final ]; then
  # run3: case 1 and the fine sustained ladder for the final build, after lazy encoding and
  # the one-check UTF-8 parse.
  channels_case
  fine="--ringpin-shards 2 --mode stream --clients 10000 --channels 10000 --messages 6 --size 128 --rounds 2 --publishers 16 --rates 25000,27500,30000,32500,35000 --timeout-s 120"
  "$AFTER/ringpin-loadgen" compare --targets ringpin $fine --json-dir "$D/sustained-fine/after" --base-port 29000 > "$D/sustained-fine-after.log" 2>&1
  echo done > "$D/DONE"
  exit 0
fi
if [ "${2:-}" = fine ]; then
  fine="--ringpin-shards 2 --mode stream --clients 10000 --channels 10000 --messages 6 --size 128 --rounds 2 --publishers 16 --rates 25000,27500,30000,32500 --timeout-s 120"
  "$BEFORE/ringpin-loadgen" compare --targets ringpin $fine --json-dir "$D/sustained-fine/before" --base-port 28000 > "$D/sustained-fine-before.log" 2>&1
  "$AFTER/ringpin-loadgen" compare --targets ringpin $fine --json-dir "$D/sustained-fine/after" --base-port 29000 > "$D/sustained-fine-after.log" 2>&1
  echo done > "$D/DONE"
  exit 0
fi

# 1. Case 1 (above).
channels_case

# 2. 1 channel x 15,000 subscribers: ringpin after, Pushpin and the io_uring floor, three
#    rounds.
"$AFTER/ringpin-loadgen" compare --targets ringpin,pushpin,floor-uring --ringpin-shards 2 \
  --mode stream --clients 15000 --messages 3 --interval-ms 500 --size 128 --rounds 3 \
  --json-dir "$D/one-channel" --base-port 27000 > "$D/one-channel.log" 2>&1

# 3. Sustained: one item per POST into 10,000 channels with one subscriber each, 16
#    publisher threads, a rate ladder, two rounds; ringpin before, after, and Pushpin.
sus="--ringpin-shards 2 --mode stream --clients 10000 --channels 10000 --messages 6 --size 128 --rounds 2 --publishers 16 --rates 5000,10000,20000,25000,30000,40000 --timeout-s 120"
"$BEFORE/ringpin-loadgen" compare --targets ringpin $sus --json-dir "$D/sustained/before" --base-port 28000 > "$D/sustained-before.log" 2>&1
"$AFTER/ringpin-loadgen" compare --targets ringpin $sus --json-dir "$D/sustained/after" --base-port 29000 > "$D/sustained-after.log" 2>&1
"$AFTER/ringpin-loadgen" compare --targets pushpin $sus --json-dir "$D/sustained/pushpin" --base-port 30000 > "$D/sustained-pushpin.log" 2>&1
echo done > "$D/DONE"
