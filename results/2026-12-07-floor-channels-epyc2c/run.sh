#!/bin/bash
# Issue 14's many-channel cases with a floor that keeps channels: ringpin, the kernel-floor
# servers and Pushpin 1.36 in one interleaved run each, on a quiet machine
# (kernel.sched_autogroup_enabled=0). BIN holds `ringpin` and `ringpin-loadgen` of one build.
# Usage: results/2026-12-07-floor-channels-epyc2c/run.sh OUT_DIR [final]
# run1 used the first build with a channel-keeping floor (2e600a6, BIN=/tmp/rp-now); `final`
# (run2) adds the one-channel case and a finer Pushpin ladder, for the session's last build.
set -euo pipefail
BIN=${BIN:-/tmp/rp-now}
D=${1:?usage: run.sh OUT_DIR [final]}
mkdir -p "$D"
PUSHPIN_RATES=2500,5000,7500,10000
if [ "${2:-}" = final ]; then
  PUSHPIN_RATES=2500,3000,3500,4000,4500,5000,6000
  # 0. 1 channel x 15,000 subscribers: ringpin, Pushpin and the io_uring floor, three rounds.
  "$BIN/ringpin-loadgen" compare --targets ringpin,pushpin,floor-uring --ringpin-shards 2 \
    --mode stream --clients 15000 --messages 3 --interval-ms 500 --size 128 --rounds 3 \
    --json-dir "$D/one-channel" --base-port 27000 > "$D/one-channel.log" 2>&1
fi

# 1. Sustained: one item per POST into 10,000 channels x 1 subscriber, 16 publishers, a rate
#    ladder up to past 10x Pushpin, two rounds; ringpin and both floors (one process each).
sus="--ringpin-shards 2 --mode stream --clients 10000 --channels 10000 --messages 6 --size 128 --rounds 2 --publishers 16 --timeout-s 120"
"$BIN/ringpin-loadgen" compare --targets ringpin,floor-uring,floor-send $sus \
  --rates 25000,30000,35000,40000,45000,50000,60000 \
  --json-dir "$D/sustained" --base-port 28000 > "$D/sustained.log" 2>&1
# Pushpin's ladder, the same run's reference.
"$BIN/ringpin-loadgen" compare --targets pushpin $sus --rates "$PUSHPIN_RATES" \
  --json-dir "$D/sustained-pushpin" --base-port 30000 > "$D/sustained-pushpin.log" 2>&1

# 2. 2,500 channels x 6 subscribers, one 2,500-item POST per message: ringpin, Pushpin and the
#    io_uring floor (two processes, as many as ringpin's shards), three rounds.
"$BIN/ringpin-loadgen" compare --targets ringpin,pushpin,floor-uring --ringpin-shards 2 \
  --mode stream --clients 15000 --channels 2500 --item-formats mode --messages 3 \
  --interval-ms 500 --size 128 --rounds 3 --json-dir "$D/channels" --base-port 24000 \
  > "$D/channels.log" 2>&1
echo done > "$D/DONE"
