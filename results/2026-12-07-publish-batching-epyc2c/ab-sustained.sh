#!/bin/bash
# A/B of one sustained run: ringpin (2 shards) + loadgen's backend + `loadgen run` at RATE
# items/s from PUBS publishers into 10,000 channels x 1 subscriber, 24 items per channel;
# 2 s into the publishing, the CPU of every thread over 2 s (cpu_split.py).
# Usage: ab-sustained.sh DIR [RATE] [PUBS]   (DIR holds ringpin and ringpin-loadgen)
D=$1; RATE=${2:-40000}; PUBS=${3:-16}
HERE=$(dirname "$0")
"$D/ringpin-loadgen" backend --listen 127.0.0.1:29001 > /dev/null 2>&1 & B=$!
taskset -c 0-1 "$D/ringpin" --listen 127.0.0.1:29000 --publish-listen 127.0.0.1:29561 --shards 2 \
  --route "* 127.0.0.1:29001" --log-level warn --push-in-spec "" --push-in-sub-spec "" \
  --command-spec "" > /dev/null 2>&1 & R=$!
sleep 1
LOG=$(mktemp)
"$D/ringpin-loadgen" run --proxy 127.0.0.1:29000 --publish http://127.0.0.1:29561 --mode stream \
  --clients 10000 --channels 10000 --messages 24 --size 128 --rate "$RATE" --publishers "$PUBS" \
  --proxy-pids $R > "$LOG" 2>&1 & L=$!
for _ in $(seq 1 200); do grep -q "^published" "$LOG" && break; sleep 0.1; done
sleep 1
python3 "$HERE/cpu_split.py" 2 > "$LOG.cpu"
wait $L
grep -E "^(sustained|deliveries|latency)" "$LOG"
grep -E "busy|ringpin-" "$LOG.cpu"
kill $R $B; wait 2>/dev/null
rm -f "$LOG" "$LOG.cpu"
