#!/bin/bash
# perf of ringpin's router thread during 2,500-item POSTs (2,500 channels x 6 subscribers).
BIN=${BIN:-/tmp/rp-final}
"$BIN/ringpin-loadgen" backend --listen 127.0.0.1:29001 > /dev/null 2>&1 & B=$!
taskset -c 0-1 "$BIN/ringpin" --listen 127.0.0.1:29000 --publish-listen 127.0.0.1:29561 \
    --shards 2 --route "* 127.0.0.1:29001" --log-level warn --push-in-spec "" \
    --push-in-sub-spec "" --command-spec "" > /dev/null 2>&1 & S=$!
sleep 1
TID=$(ls /proc/$S/task | while read t; do case "$(cat /proc/$S/task/$t/comm)" in ringpin-router*) true;; *) false;; esac && echo $t; done)
LOG=$(mktemp)
"$BIN/ringpin-loadgen" run --proxy 127.0.0.1:29000 --publish http://127.0.0.1:29561 \
  --mode stream --clients 15000 --channels 2500 --item-formats mode --messages 12 --interval-ms 400 --size 128 > "$LOG" 2>&1 & L=$!
for _ in $(seq 1 300); do grep -q "^connected 15000" "$LOG" 2>/dev/null && break; sleep 0.1; done
sleep 1
perf record -F 4000 --call-graph dwarf,16384 -t $(echo $TID | tr " " ",") -o /tmp/perf-post.data -- sleep 4 > /dev/null 2>&1
wait $L
grep -E "^posts" "$LOG"
curl -s http://127.0.0.1:29561/metrics | grep -E "publish_latency_seconds_(sum|count)"
kill $S $B; wait 2>/dev/null
