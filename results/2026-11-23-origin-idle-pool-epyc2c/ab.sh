#!/bin/bash
# Long-poll A/B, interleaved: ringpin with 32 (before) and 256 (after) idle origin
# connections kept per shard and target. Binaries: /tmp/ringpin-idle32 and
# /tmp/ringpin-idle256, release builds of the same tree differing only in
# limits::ORIGIN_POOL_IDLE_PER_TARGET_MAX. Run from the repository root.
set -u
D="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
L=./target/release/ringpin-loadgen
$L backend --listen 127.0.0.1:29999 > /dev/null 2>&1 & BE=$!
sleep 0.5
for r in 1 2 3; do
  for v in idle32 idle256; do
    /tmp/ringpin-$v --listen 127.0.0.1:29990 --publish-listen 127.0.0.1:29991 \
        --route "* 127.0.0.1:29999" --log-level warn > /dev/null 2>&1 & RP=$!
    sleep 1
    $L run --proxy 127.0.0.1:29990 --publish http://127.0.0.1:29991 --mode longpoll \
        --clients 5000 --messages 10 --size 128 --proxy-pids $RP --target-name $v \
        --json "$D/longpoll-5000-$v-r$r.json" --timeout-s 120 > "$D/longpoll-5000-$v-r$r.log" 2>&1
    kill $RP; wait $RP 2>/dev/null; sleep 2
  done
done
kill $BE
