#!/bin/bash
# One sustained run, and where the machine's CPU goes during it: TARGET (ringpin with 2 shards,
# or the floor server in uring mode) fed by `loadgen run` at RATE items/s from 16 publishers
# into 10,000 channels x 1 subscriber, 24 items per channel. 2 s into the publishing, the CPU
# of the server, of the loadgen run and of everything else over 2 s (cpu_by_process.py).
# Usage: cpu-sustained.sh BIN ringpin|floor RATE   (BIN holds ringpin and ringpin-loadgen)
BIN=$1; TARGET=$2; RATE=$3
HERE=$(dirname "$0")
BACKEND=""
if [ "$TARGET" = ringpin ]; then
  "$BIN/ringpin-loadgen" backend --listen 127.0.0.1:29001 > /dev/null 2>&1 & BACKEND=$!
  taskset -c 0-1 "$BIN/ringpin" --listen 127.0.0.1:29000 --publish-listen 127.0.0.1:29561 \
    --shards 2 --route "* 127.0.0.1:29001" --log-level warn --push-in-spec "" \
    --push-in-sub-spec "" --command-spec "" > /dev/null 2>&1 & S=$!
else
  "$BIN/ringpin-loadgen" floor-server --listen 127.0.0.1:29000 \
    --publish-listen 127.0.0.1:29561 --mode uring > /dev/null 2>&1 & S=$!
fi
sleep 1
LOG=$(mktemp)
"$BIN/ringpin-loadgen" run --proxy 127.0.0.1:29000 --publish http://127.0.0.1:29561 \
  --mode stream --clients 10000 --channels 10000 --messages 24 --size 128 --rate "$RATE" \
  --publishers 16 --proxy-pids $S > "$LOG" 2>&1 & L=$!
for _ in $(seq 1 200); do grep -q "^published" "$LOG" && break; sleep 0.1; done
sleep 1
python3 "$HERE/cpu_by_process.py" 2 "$TARGET=$S" "loadgen=$L" > "$LOG.cpu"
wait $L
echo "== $TARGET at $RATE items/s"
grep -E "^(sustained|deliveries|latency)" "$LOG"
cat "$LOG.cpu"
kill $S $BACKEND; wait 2>/dev/null
rm -f "$LOG" "$LOG.cpu"
