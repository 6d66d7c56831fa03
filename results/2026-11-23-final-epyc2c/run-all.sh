#!/usr/bin/env bash
# Every fan-out figure of this results folder, in one run on a quiet machine.
# Run from the repository root after `cargo build --release`:  RESULTS/run-all.sh
# Each compare interleaves its targets round by round; ports stay below the ephemeral range.
set -uo pipefail
D="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
L=./target/release/ringpin-loadgen
log() { echo "== $(date -u +%H:%M:%S) $*" | tee -a "$D/run-all.log"; }

# Parts to run (default all): stream sse ws sustained demo
parts="${*:-stream sse ws sustained demo}"
want() { [[ " $parts " == *" $1 "* ]]; }

label="${parts// /-}"
uptime > "$D/uptime-start-$label.txt"
git rev-parse HEAD > "$D/commit-$label.txt"
cat /proc/sys/kernel/sched_autogroup_enabled > "$D/sched_autogroup_enabled.txt"

want stream && log "stream 15000, burst of 5" && \
$L compare --ringpin-shards 2 --mode stream --clients 15000 --messages 5 --size 128 --rounds 3 \
    --json-dir "$D/stream-15000" --base-port 21000 > "$D/compare-stream-15000.log" 2>&1
want sse && log "sse 1000, burst of 5" && \
$L compare --ringpin-shards 2 --mode sse --clients 1000 --messages 5 --size 128 --rounds 3 \
    --json-dir "$D/sse-1000" --base-port 22000 > "$D/compare-sse-1000.log" 2>&1
want ws && log "ws 1000, burst of 5" && \
$L compare --ringpin-shards 2 --mode ws --clients 1000 --messages 5 --size 128 --rounds 3 \
    --json-dir "$D/ws-1000" --base-port 23000 > "$D/compare-ws-1000.log" 2>&1
want sustained && log "sustained: 15000 stream, 20 messages 100 ms apart" && \
$L compare --targets ringpin,floor-send,floor-uring --ringpin-shards 2 --mode stream --clients 15000 \
    --messages 20 --interval-ms 100 --size 128 --rounds 3 \
    --json-dir "$D/sustained" --base-port 24000 > "$D/compare-sustained.log" 2>&1
want demo && log "demo 100000" && \
$L demo --clients 100000 --messages 1 --size 128 --json-dir "$D/demo" --base-port 25000 \
    --timeout-s 300 > "$D/demo-100000.log" 2>&1
want stream && log "plots" && \
$L plot --out "$D/plots" "$D"/stream-15000/stream-15000-*-r2.json > /dev/null 2>&1
uptime > "$D/uptime-end-$label.txt"
log "done"
