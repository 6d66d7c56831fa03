#!/usr/bin/env bash
# Interleaved A/B: ringpin before vs after batched delivery, 15K stream subscribers, 1 shard.
set -u
OUT=$1; ROUNDS=${2:-3}; MSGS=${3:-5}; INTERVAL=${4:-0}
/tmp/loadgen backend --listen 127.0.0.1:30080 > /dev/null 2>&1 & BACK=$!
sleep 0.5
for r in $(seq 1 "$ROUNDS"); do
  for v in before after; do
    taskset -c 0 /tmp/ringpin-$v --listen 127.0.0.1:30999 --publish-listen 127.0.0.1:30561 --shards 1 \
      --route "* 127.0.0.1:30080" --log-level warn > /tmp/bench/rp-$v.log 2>&1 & RP=$!
    sleep 0.7
    timeout 120 /tmp/loadgen run --proxy 127.0.0.1:30999 --publish http://127.0.0.1:30561 --mode stream \
      --clients 15000 --messages "$MSGS" --size 128 --interval-ms "$INTERVAL" --proxy-pids $RP --target-name "ringpin-$v" \
      --json "$OUT/$v-r$r.json" > "$OUT/$v-r$r.txt" 2>&1
    kill -TERM $RP; wait $RP 2>/dev/null
    sleep 1
  done
done
kill $BACK
