#!/bin/bash
# sendmsg vs uring vs unpinned, and the floors; sustained 15K, interleaved rounds
cd /work/main
L=./target/release/ringpin-loadgen
D=${1:-results/2026-11-23-uring-send-epyc2c}
common="--ringpin-shards 2 --mode stream --clients 15000 --messages 20 --interval-ms 100 --size 128 --rounds 1"
for r in 1 2 3; do
  $L compare --targets ringpin --ringpin-args "--send-mode sendmsg" $common --json-dir $D/sendmsg-r$r --base-port 24000 > $D/sendmsg-r$r.log 2>&1
  $L compare --targets ringpin --ringpin-args "--send-mode uring" $common --json-dir $D/uring-r$r --base-port 25000 > $D/uring-r$r.log 2>&1
  $L compare --targets ringpin --ringpin-args "--send-mode uring --pin-shards no" $common --json-dir $D/uringnopin-r$r --base-port 23000 > $D/uringnopin-r$r.log 2>&1
  $L compare --targets floor-send,floor-uring $common --json-dir $D/floor-r$r --base-port 26000 > $D/floor-r$r.log 2>&1
done
echo done > $D/DONE
