#!/bin/bash
# TLS cost per delivery in the fan-out case (issue 13): the same ringpin configuration,
# listening on a plain and a TLS port at once, measured over plain TCP and over TLS in
# interleaved rounds (odd rounds plain then TLS, even rounds TLS then plain); Pushpin 1.36
# the same way when it is installed (PUSHPIN=0 skips it).
#
# Each measurement gets a freshly started proxy with both listeners (ringpin --shards 2):
# RSS per held connection is only meaningful against a fresh process (the allocator keeps
# what an earlier run freed), and a fresh process has no earlier run's connections closing.
# The loadgen backend runs once for the whole run.
#
# Usage (from anywhere; run it on a quiet machine, nothing else running):
#   results/2026-12-06-tls-fanout-epyc2c/run.sh [OUT_DIR]     (default: run1 beside this file)
# Settings (environment):
#   ROUNDS=5 CLIENTS=15000 MESSAGES=5 (the stream case) SSE_CLIENTS=1000 (0: no SSE case)
#   SSE_MESSAGES=50 (5 messages to 1,000 subscribers would be ~2 ticks of ringpin CPU, too
#   coarse for a per-delivery ratio) SIZE=128 SHARDS=2 TIMEOUT_S=120
#   PUSHPIN=1 if `pushpin` is installed, else 0; PUSHPIN_CONNECT_RATE=1000 (Pushpin 1.36
#   fails part of an unpaced connect burst)
#   PORT_FROM=17000 (ports are searched upward from here, below the ephemeral range)
#   B=DIR (ringpin and ringpin-loadgen binaries; default: cargo build --release)
# Then: python3 results/2026-12-06-tls-fanout-epyc2c/summarize.py OUT_DIR
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
OUT=${1:-$HERE/run1}
ROUNDS=${ROUNDS:-5}
CLIENTS=${CLIENTS:-15000}
MESSAGES=${MESSAGES:-5}
SSE_CLIENTS=${SSE_CLIENTS:-1000}
SSE_MESSAGES=${SSE_MESSAGES:-50}
SIZE=${SIZE:-128}
SHARDS=${SHARDS:-2}
TIMEOUT_S=${TIMEOUT_S:-120}
PORT_FROM=${PORT_FROM:-17000}
PUSHPIN=${PUSHPIN:-$(command -v pushpin > /dev/null && echo 1 || echo 0)}
PUSHPIN_CONNECT_RATE=${PUSHPIN_CONNECT_RATE:-1000}

if [ -z "${B:-}" ]; then
  (cd "$ROOT" && cargo build --release --bin ringpin --bin ringpin-loadgen)
  B=${CARGO_TARGET_DIR:-$ROOT/target}/release
fi
B=$(cd "$B" && pwd)
mkdir -p "$OUT"
WORK=$(mktemp -d /tmp/tls-fanout.XXXXXX)
CERTS=$WORK/certs
BACKEND_PID=
TARGET_PID=
TARGET_DIR=

# True while process `$1` runs (an exited child stays a zombie until waited for).
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

# Every descendant of `$1` (Pushpin's runner starts condure, zurl, proxy and handler).
descendants() {
  local child
  for child in $(pgrep -P "$1" || true); do
    echo "$child"
    descendants "$child"
  done
}

# Stops the current target; Pushpin's services that outlive their runner are killed only if
# their command line names this target's directory (never a process that reused a pid).
stop_target() {
  local services=() pid
  [ -n "$TARGET_PID" ] && mapfile -t services < <(descendants "$TARGET_PID")
  stop_child "$TARGET_PID"
  if [ -n "$TARGET_DIR" ]; then
    for pid in "${services[@]}"; do
      running "$pid" && tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF "$TARGET_DIR" &&
        kill -KILL "$pid" 2>/dev/null
    done
  fi
  TARGET_PID=
  TARGET_DIR=
}

cleanup() {
  stop_target
  stop_child "$BACKEND_PID"
  rm -rf "$WORK"
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

# Waits until a request through the proxy on port $1 reaches the backend (its 404 for
# /ready): Pushpin's condure accepts before its proxy is wired up.
wait_proxied() {
  python3 - "$1" <<'EOF'
import sys, time, urllib.error, urllib.request
deadline = time.time() + 20
while time.time() < deadline:
    try:
        urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/ready', timeout=2)
    except urllib.error.HTTPError as e:
        if e.code == 404:
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(f'127.0.0.1:{sys.argv[1]} never proxied a request to the backend')
EOF
}

# The value of one ringpin metric from the publish listener's /metrics (0 if absent).
metric() {
  python3 - "$1" "$2" <<'EOF'
import sys, urllib.request
text = urllib.request.urlopen(f'http://127.0.0.1:{sys.argv[1]}/metrics', timeout=5).read().decode()
print(next((l.split()[1] for l in text.splitlines() if l.startswith(sys.argv[2] + ' ')), '0'))
EOF
}

# ringpin with a plain and a TLS listener. Args: plain, tls, publish ports, log file.
start_ringpin() {
  "$B/ringpin" --listen "127.0.0.1:$1" --listen-tls "127.0.0.1:$2" \
    --tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key" \
    --publish-listen "127.0.0.1:$3" --shards "$SHARDS" \
    --route "* 127.0.0.1:$BACKEND" --log-level warn \
    --push-in-spec "" --push-in-sub-spec "" --command-spec "" 2> "$4" &
  TARGET_PID=$!
  wait_port "$1" && wait_port "$2" && wait_port "$3"
}

# Pushpin 1.36 with http_port and https_ports, its certificate in runner/certs beside the
# config (condure picks the file named after the SNI, else default), the same settings
# loadgen's compare gives it (src/targets.rs). Args: plain, tls, publish ports, log file.
start_pushpin() {
  local d cert
  d=$(mktemp -d "$WORK/pushpin.XXXXXX")
  TARGET_DIR=$d
  mkdir -p "$d/run" "$d/log" "$d/runner/certs"
  for cert in default localhost; do
    cp "$CERTS/server.pem" "$d/runner/certs/$cert.crt"
    cp "$CERTS/server.key" "$d/runner/certs/$cert.key"
  done
  echo "* 127.0.0.1:$BACKEND" > "$d/routes"
  cat > "$d/pushpin.conf" <<EOF
[global]
include={libdir}/internal.conf
rundir=$d/run
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120

[runner]
services=condure,zurl,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:$1
https_ports=127.0.0.1:$2
logdir=$d/log
log_level=2
client_buffer_size=8192
client_maxconn=200000
condure_bin=condure
zurl_bin=zurl

[proxy]
routesfile=$d/routes
debug=false
auto_cross_origin=false
zurl_out_specs=ipc://{rundir}/{ipc_prefix}zurl-in
zurl_out_stream_specs=ipc://{rundir}/{ipc_prefix}zurl-in-stream
zurl_in_specs=ipc://{rundir}/{ipc_prefix}zurl-out
sig_iss=pushpin
sig_key=changeme
updates_check=off

[handler]
push_in_spec=ipc://{rundir}/{ipc_prefix}push-in
push_in_sub_specs=ipc://{rundir}/{ipc_prefix}push-in-sub
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port=$3
push_in_http_max_headers_size=10000
push_in_http_max_body_size=1000000
stats_spec=ipc://{rundir}/{ipc_prefix}stats
command_spec=ipc://{rundir}/{ipc_prefix}handler-command
message_rate=
message_hwm=1000000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
EOF
  pushpin --config "$d/pushpin.conf" > "$4" 2>&1 &
  TARGET_PID=$!
  wait_port "$2" && wait_port "$3" && wait_proxied "$1"
}

# One measurement: a fresh target with both listeners, one loadgen run against its plain or
# TLS port, the target stopped. Args: round, target (ringpin|pushpin), transport (plain|tls),
# mode, clients, messages.
measure() {
  local round=$1 target=$2 transport=$3 mode=$4 clients=$5 messages=$6
  local ports plain tls publish
  ports=$(free_ports $((BACKEND + 1)) 3)
  read -r plain tls publish <<< "$ports"
  local name="$mode-$clients-$target-$transport-r$round"
  echo "== round $round: $target, $mode × $clients, $messages messages, over $transport"
  if ! "start_$target" "$plain" "$tls" "$publish" "$OUT/$name.$target.log"; then
    echo "   $target did not start (see $name.$target.log)"
    stop_target
    return 0
  fi
  local pids=$TARGET_PID flags=() proxy=$plain
  [ "$target" = pushpin ] && pids=$(descendants "$TARGET_PID" | paste -sd, | sed "s/^/$TARGET_PID,/")
  [ "$target" = pushpin ] && flags+=(--connect-rate "$PUSHPIN_CONNECT_RATE")
  if [ "$transport" = tls ]; then
    proxy=$tls
    flags+=(--tls --tls-ca "$CERTS/ca.pem" --tls-server-name localhost)
  fi
  # The readiness probe opened and closed a connection on ringpin's TLS port without a
  # handshake, which ringpin counts as a failed one: report the run's own count.
  local failed_before=0 failed_after=0
  [ "$target" = ringpin ] && failed_before=$(metric "$publish" ringpin_tls_handshakes_failed_total 2>/dev/null || echo 0)
  "$B/ringpin-loadgen" run --proxy "127.0.0.1:$proxy" "${flags[@]}" \
    --publish "http://127.0.0.1:$publish" --mode "$mode" --clients "$clients" \
    --messages "$messages" --size "$SIZE" --proxy-pids "$pids" \
    --target-name "$target-$transport" --timeout-s "$TIMEOUT_S" \
    --json "$OUT/$name.json" > "$OUT/$name.log" 2>&1 || echo "   run exited nonzero (see $name.log)"
  if [ "$target" = ringpin ]; then
    failed_after=$(metric "$publish" ringpin_tls_handshakes_failed_total 2>/dev/null || echo "$failed_before")
    echo "ringpin_tls_handshakes_failed_total during the run: $((failed_after - failed_before))" >> "$OUT/$name.log"
  fi
  grep -E '^(deliveries|latency|last delivery|proxy|tls) ' "$OUT/$name.log" | sed 's/^/   /' || true
  stop_target
}

{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "commit: $(git -C "$ROOT" rev-parse HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src loadgen Cargo.toml Cargo.lock || echo ' (modified)')"
  echo "command: $0 $*"
  echo "settings: ROUNDS=$ROUNDS CLIENTS=$CLIENTS MESSAGES=$MESSAGES SSE_CLIENTS=$SSE_CLIENTS SSE_MESSAGES=$SSE_MESSAGES SIZE=$SIZE SHARDS=$SHARDS PUSHPIN=$PUSHPIN PUSHPIN_CONNECT_RATE=$PUSHPIN_CONNECT_RATE B=$B"
  [ "$PUSHPIN" = 1 ] && echo "pushpin: $(pushpin --version 2>&1 | head -1)"
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

TARGETS="ringpin"
[ "$PUSHPIN" = 1 ] && TARGETS="ringpin pushpin"
CASES=("stream $CLIENTS $MESSAGES")
[ "$SSE_CLIENTS" -gt 0 ] && CASES+=("sse $SSE_CLIENTS $SSE_MESSAGES")
for round in $(seq "$ROUNDS"); do
  order="plain tls"
  [ $((round % 2)) -eq 0 ] && order="tls plain"
  for case in "${CASES[@]}"; do
    read -r mode clients messages <<< "$case"
    for target in $TARGETS; do
      for transport in $order; do
        measure "$round" "$target" "$transport" "$mode" "$clients" "$messages"
      done
    done
  done
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/meta.txt"
python3 "$HERE/summarize.py" "$OUT" | tee "$OUT/summary.md"
