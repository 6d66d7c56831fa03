#!/bin/bash
# Issue 14's publish-path cases on a quiet machine, each in one interleaved run.
#   BEFORE: ringpin at 8b18bda (serde_json::Value parse) with this tree's loadgen beside it
#   AFTER:  ringpin and loadgen of this tree (borrowed JSON tree, one item at a time)
# Each directory holds a `ringpin` and a `ringpin-loadgen` (compare starts the ringpin next
# to it). Usage: results/2026-12-06-publish-path-epyc2c/run.sh OUT_DIR
set -euo pipefail
BEFORE=${BEFORE:-/tmp/rp-before}
AFTER=${AFTER:-/tmp/rp-after}
D=${1:?usage: run.sh OUT_DIR}
mkdir -p "$D"

# 1. 2,500 channels x 6 subscribers, one 2,500-item POST per message (mode-only formats):
#    ringpin before, ringpin after and Pushpin in turn, three rounds.
ch="--ringpin-shards 2 --mode stream --clients 15000 --channels 2500 --item-formats mode --messages 3 --interval-ms 500 --size 128 --rounds 1"
for r in 1 2 3; do
  "$BEFORE/ringpin-loadgen" compare --targets ringpin $ch --json-dir "$D/channels/before-r$r" --base-port 24000 > "$D/channels-before-r$r.log" 2>&1
  "$AFTER/ringpin-loadgen" compare --targets ringpin $ch --json-dir "$D/channels/after-r$r" --base-port 25000 > "$D/channels-after-r$r.log" 2>&1
  "$AFTER/ringpin-loadgen" compare --targets pushpin $ch --json-dir "$D/channels/pushpin-r$r" --base-port 26000 > "$D/channels-pushpin-r$r.log" 2>&1
done

# 2. 1 channel x 15,000 subscribers: ringpin, Pushpin and the io_uring floor, three rounds.
"$AFTER/ringpin-loadgen" compare --targets ringpin,pushpin,floor-uring --ringpin-shards 2 \
  --mode stream --clients 15000 --messages 3 --interval-ms 500 --size 128 --rounds 3 \
  --json-dir "$D/one-channel" --base-port 27000 > "$D/one-channel.log" 2>&1

# 3. Sustained: one item per POST into 10,000 channels with one subscriber each, a rate
#    ladder, two publisher threads, two rounds.
"$AFTER/ringpin-loadgen" compare --targets ringpin,pushpin --ringpin-shards 2 --mode stream \
  --clients 10000 --channels 10000 --messages 6 --size 128 --rounds 2 --publishers 2 \
  --rates 2500,5000,10000,20000,40000,60000,80000 \
  --json-dir "$D/sustained" --base-port 28000 --timeout-s 120 > "$D/sustained.log" 2>&1
echo done > "$D/DONE"
