#!/bin/bash
# This session's merges (ZeroMQ, TLS, relay, WebSocket parity, CORS/JSONP, status
# histograms, publish auth) against the session's first commit 5bc3dd2, on the sustained 15K
# stream fan-out: interleaved rounds, each variant with its own ringpin and loadgen binaries.
#   BASE: a checkout of 5bc3dd2 built with `cargo build --release` (ringpin + loadgen)
#   NEW:  this tree, built the same way
set -euo pipefail
NEW=${NEW:-/work/main}
BASE=${BASE:-/work/wt-base5}
D=${1:-$NEW/results/2026-12-06-session4-fanout-epyc2c/run1}
mkdir -p "$D"
common="--ringpin-shards 2 --mode stream --clients 15000 --messages 20 --interval-ms 100 --size 128 --rounds 1"
for r in $(seq "${FIRST_ROUND:-1}" "${LAST_ROUND:-3}"); do
  "$BASE/target/release/ringpin-loadgen" compare --targets ringpin $common --json-dir "$D/base-r$r" --base-port 24000 > "$D/base-r$r.log" 2>&1
  "$NEW/target/release/ringpin-loadgen" compare --targets ringpin $common --json-dir "$D/new-r$r" --base-port 25000 > "$D/new-r$r.log" 2>&1
done
[ "${FIRST_ROUND:-1}" = 1 ] && "$NEW/target/release/ringpin-loadgen" compare --targets floor-uring $common --json-dir "$D/floor" --base-port 26000 > "$D/floor.log" 2>&1
echo done > "$D/DONE"
