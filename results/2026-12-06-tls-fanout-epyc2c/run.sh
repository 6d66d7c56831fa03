#!/bin/bash
# TLS cost per delivery in the fan-out case (issue 13): the same ringpin configuration,
# listening on a plain and a TLS port at once, measured over plain TCP and over TLS in
# interleaved rounds (odd rounds plain then TLS, even rounds TLS then plain).
#
# Each measurement gets a freshly started ringpin (both listeners, --shards 2): RSS per held
# connection is only meaningful against a fresh process (the allocator keeps what an earlier
# run freed), and a fresh process leaves no earlier run's connections closing.
# The loadgen backend runs once for the whole run.
#
# Usage (from anywhere; run it on a quiet machine, nothing else running):
#   results/2026-12-06-tls-fanout-epyc2c/run.sh [OUT_DIR]     (default: run1 beside this file)
# Settings (environment):
#   ROUNDS=5 CLIENTS=15000 MESSAGES=5 (the stream case) SSE_CLIENTS=1000 (0: no SSE case)
#   SSE_MESSAGES=50 (5 messages to 1,000 subscribers would be ~2 ticks of ringpin CPU, too
#   coarse for a per-delivery ratio) SIZE=128 SHARDS=2
#   TIMEOUT_S=120 PORT_FROM=17000 (ports are searched upward from here, below the ephemeral
#   range) B=DIR (ringpin and ringpin-loadgen binaries; default: cargo build --release)
# Then: python3 results/2026-12-06-tls-fanout-epyc2c/summarize.py OUT_DIR
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$HERE/run1}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-15000}
SSE_CLIENTS=${SSE_CLIENTS:-1000}
MESSAGES=${MESSAGES:-5}
SSE_MESSAGES=${SSE_MESSAGES:-50}
SIZE=${SIZE:-128}
SHARDS=${SHARDS:-2}
TIMEOUT_S=${TIMEOUT_S:-120}
PORT_FROM=${PORT_FROM:-17000}

if [ -z "${B:-}" ]; then
  (cd "$ROOT" && cargo build --release --bin ringpin --bin ringpin-loadgen)
  B=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
B=$(cd "$B" && pwd)
mkdir -p "$OUT"
CERTS=$(mktemp -d /tmp/tls-fanout-certs.XXXXXX)
BACKEND_PID=
RINGPIN_PID=

# True while our child `$1` runs (an exited child stays a zombie until waited for).
running() {
  local state
  state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) && [ -n "$state" ] && [ "$state" != Z ]
}

# Stops a child of this script: SIGTERM, SIGKILL after 5 s, then reaps it.
stop_child() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    running "$pid" || break
    sleep 0.1
  done
  running "$pid" && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  stop_child "$RINGPIN_PID"
  stop_child "$BACKEND_PID"
  rm -rf "$CERTS"
}
trap cleanup EXIT

# N ports from $1 upward that 127.0.0.1 can bind now (other engineers' servers hold some).
free_ports() {
  python3 - "$1" "$2" <<'EOF'
import socket, sys
port, want, found = int(sys.argv[1]), int(sys.argv[2]), []
while len(found) < want and port < 32768:
    s = socket.socket()
    try:
        s.bind(('127.0.0.1', port))
        found.append(port)
    except OSError:
        pass
    finally:
        s.close()
    port += 1
print(' '.join(map(str, found)))
EOF
}

wait_port() {
  for _ in $(seq 200); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.05
  done
  echo "nothing accepts on 127.0.0.1:$1" >&2
  return 1
}

# The value of one ringpin metric from the publish listener's /metrics.
metric() {
  python3 - "$1" "$2" <<'EOF'
import sys, urllib.request
text = urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/metrics', timeout=5).read().decode()
print(next((l.split()[1] for l in text.splitlines() if l.startswith(sys.argv[2] + ' ')), '0'))
EOF
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src loadgen Cargo.toml Cargo.lock || echo ' (modified)')"
  echo "command: $0 $*"
  echo "settings: ROUNDS=$ROUNDS CLIENTS=$CLIENTS MESSAGES=$MESSAGES SSE_CLIENTS=$SSE_CLIENTS SSE_MESSAGES=$SSE_MESSAGES SIZE=$SIZE SHARDS=$SHARDS B=$B"
  echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(nproc) cores"
  echo "kernel: $(uname -r)"
  echo "mitigations: $(grep -r . /sys/devices/system/cpu/vulnerabilities/ 2>/dev/null | sed 's|.*/||' | paste -sd';')"
  echo "sched_autogroup_enabled: $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo -)"
  echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "nofile: $(ulimit -n)"
} > "$OUT/meta.txt"

"$B/ringpin-loadgen" tls-cert --out "$CERTS" --names localhost,127.0.0.1 > /dev/null

read -r BACKEND <<< "$(free_ports "$PORT_FROM" 1)"
"$B/ringpin-loadgen" backend --listen "127.0.0.1:$BACKEND" 2> "$OUT/backend.log" &
BACKEND_PID=$!
wait_port "$BACKEND"

# One measurement: a fresh ringpin with both listeners, one loadgen run against the plain or
# the TLS port, ringpin stopped. Args: round, transport (plain|tls), mode, clients, messages.
measure() {
  local round=$1 transport=$2 mode=$3 clients=$4 messages=$5
  local ports plain tls publish
  ports=$(free_ports $((BACKEND + 1)) 3)
  read -r plain tls publish <<< "$ports"
  local name="$mode-$clients-$transport-r$round"
  "$B/ringpin" --listen "127.0.0.1:$plain" --listen-tls "127.0.0.1:$tls" \
    --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
    --publish-listen "127.0.0.1:$publish" --shards "$SHARDS" \
    --route "* 127.0.0.1:$BACKEND" --log-level warn \
    --push-in-spec "" --push-in-sub-spec "" --command-spec "" 2> "$OUT/$name.ringpin.log" &
  RINGPIN_PID=$!
  local pid=$RINGPIN_PID
  if ! { wait_port "$plain" && wait_port "$tls" && wait_port "$publish"; }; then
    echo "   ringpin did not start (see $name.ringpin.log)"
    stop_child "$pid"
    RINGPIN_PID=
    return 0
  fi
  # The readiness probe above opened and closed a connection on the TLS port without a
  # handshake, which ringpin counts as a failed one: report the run's own count.
  local failed_before
  failed_before=$(metric "$publish" ringpin_tls_handshakes_failed_total 2>/dev/null || echo 0)
  local proxy=$plain flags=()
  if [ "$transport" = tls ]; then
    proxy=$tls
    flags=(--tls --tls-ca "$CERTS/ca.pem" --tls-server-name localhost)
  fi
  echo "== round $round: $mode × $clients, $messages messages, over $transport"
  "$B/ringpin-loadgen" run --proxy "127.0.0.1:$proxy" "${flags[@]}" \
    --publish "http://127.0.0.1:$publish" --mode "$mode" --clients "$clients" \
    --messages "$messages" --size "$SIZE" --proxy-pids "$pid" \
    --target-name "ringpin-$transport" --timeout-s "$TIMEOUT_S" \
    --json "$OUT/$name.json" > "$OUT/$name.log" 2>&1 || echo "   run exited nonzero (see $name.log)"
  local failed_after
  failed_after=$(metric "$publish" ringpin_tls_handshakes_failed_total 2>/dev/null || echo "$failed_before")
  echo "ringpin_tls_handshakes_failed_total during the run: $((failed_after - failed_before))" >> "$OUT/$name.log"
  grep -E '^(deliveries|latency|last delivery|proxy|tls) ' "$OUT/$name.log" | sed 's/^/   /' || true
  stop_child "$pid"
  RINGPIN_PID=
}

CASES=("stream $CLIENTS $MESSAGES")
[ "$SSE_CLIENTS" -gt 0 ] && CASES+=("sse $SSE_CLIENTS $SSE_MESSAGES")
for round in $(seq "$ROUNDS"); do
  order="plain tls"
  [ $((round % 2)) -eq 0 ] && order="tls plain"
  for case in "${CASES[@]}"; do
    read -r mode clients messages <<< "$case"
    for transport in $order; do
      measure "$round" "$transport" "$mode" "$clients" "$messages"
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/meta.txt"
python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
