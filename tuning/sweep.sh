#!/usr/bin/env bash
# Runs `ringpin-loadgen run` over a matrix of ringpin's delivery knobs and writes one markdown
# table to results/sweep-<date>.md (raw JSON and logs beside it in results/sweep-<date>/).
#
# Matrix: --shards {1,2} x --outbound-bytes-max {65536,262144} x --send-mode {uring,sendmsg}
# x --socket-send-buffer {0,16384}: the delivery knobs `ringpin --help` offers (the send mode
# is its flush policy; a send buffer of 0 leaves it to the kernel's autotuning).
# Each repetition first runs the kernel floor (`ringpin-loadgen floor-server`, send and uring
# modes) so every row can be read as a ratio to the floor measured in the same run (STYLE §12).
#
# Usage: tuning/sweep.sh [options]
#   --clients N       held clients per run, 1-19000 (one ringpin process; default 10000)
#   --messages M      publishes per run (default 10)
#   --size S          payload bytes per message (default 100)
#   --timeout SECS    hard bound on each loadgen run, 10-600 (default 180)
#   --repeat R        run the whole matrix R times, interleaved (1-5, default 1)
#   --shards LIST     shard counts to sweep, space-separated (default "1 2"; > cores are skipped)
#   --send-modes LIST send modes to sweep, space-separated (default "uring sendmsg")
#   --send-buffers LIST  client SO_SNDBUF sizes to sweep, 0 = autotuning (default "0 16384")
#   --no-floor        skip the floor-server rows
#   --port-base P     client port P, publish P+1, backend P+2 on 127.0.0.1 (default 28000)
#   --ringpin PATH    ringpin binary (default: $CARGO_TARGET_DIR or target/ + release/ringpin)
#   --loadgen PATH    ringpin-loadgen binary (default: same directory, ringpin-loadgen)
#   --out DIR         results directory (default: results/ at the repository root)
# Everything runs on loopback and stops by itself: each run is bounded by --timeout, and every
# process the sweep starts is stopped by its pid when the sweep ends.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
target_dir="${CARGO_TARGET_DIR:-$repo/target}"

clients=10000
messages=10
size=100
run_timeout=180
repeat=1
shard_list="1 2"
outbound_list="65536 262144"
send_mode_list="uring sendmsg"
send_buffer_list="0 16384"
with_floor=1
port_base=28000
ringpin="$target_dir/release/ringpin"
loadgen=""
out_root="$repo/results"

die() {
    echo "sweep.sh: $*" >&2
    exit 2
}

usage() {
    sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

need_value() {
    [[ $# -ge 2 ]] || die "$1 needs a value"
}

while (($# > 0)); do
    case "$1" in
        --clients) need_value "$@"; clients="$2"; shift ;;
        --messages) need_value "$@"; messages="$2"; shift ;;
        --size) need_value "$@"; size="$2"; shift ;;
        --timeout) need_value "$@"; run_timeout="$2"; shift ;;
        --repeat) need_value "$@"; repeat="$2"; shift ;;
        --shards) need_value "$@"; shard_list="$2"; shift ;;
        --send-modes) need_value "$@"; send_mode_list="$2"; shift ;;
        --send-buffers) need_value "$@"; send_buffer_list="$2"; shift ;;
        --no-floor) with_floor=0 ;;
        --port-base) need_value "$@"; port_base="$2"; shift ;;
        --ringpin) need_value "$@"; ringpin="$2"; shift ;;
        --loadgen) need_value "$@"; loadgen="$2"; shift ;;
        --out) need_value "$@"; out_root="$2"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument $1 (try --help)" ;;
    esac
    shift
done
loadgen="${loadgen:-$(dirname "$ringpin")/ringpin-loadgen}"

in_range() {
    if ! [[ "$2" =~ ^[0-9]+$ ]] || (($2 < $3 || $2 > $4)); then
        die "$1 must be $3-$4, not $2"
    fi
}
in_range --clients "$clients" 1 19000
in_range --messages "$messages" 1 10000
in_range --size "$size" 1 1048576
in_range --timeout "$run_timeout" 10 600
in_range --repeat "$repeat" 1 5
in_range --port-base "$port_base" 1024 65000
for shards in $shard_list; do
    in_range --shards "$shards" 1 64
done
for send_buffer in $send_buffer_list; do
    in_range --send-buffers "$send_buffer" 0 67108864
done
for send_mode in $send_mode_list; do
    [[ "$send_mode" == uring || "$send_mode" == sendmsg ]] || die "--send-modes: $send_mode is not uring or sendmsg"
done
for tool in jq curl timeout; do
    command -v "$tool" >/dev/null 2>&1 || die "needs $tool (apt-get install $tool)"
done
[[ -x "$ringpin" ]] || die "no ringpin at $ringpin (cargo build --release, or --ringpin PATH)"
[[ -x "$loadgen" ]] || die "no ringpin-loadgen at $loadgen (cargo build --release -p ringpin-loadgen, or --loadgen PATH)"

client_port="$port_base"
publish_port=$((port_base + 1))
backend_port=$((port_base + 2))
for port in "$client_port" "$publish_port" "$backend_port"; do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "port $port is in use on 127.0.0.1 (choose another --port-base)"
    fi
done

stamp="$(date +%Y-%m-%d-%H%M%S)"
out_dir="$out_root/sweep-$stamp"
report="$out_root/sweep-$stamp.md"
mkdir -p "$out_dir"

# Processes this sweep started, stopped by pid on any exit.
started=()
cleanup() {
    local pid
    for pid in "${started[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

# Stops one started process: TERM, then KILL after 15 s.
stop() {
    local pid="$1" waited=0
    kill -TERM "$pid" 2>/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null && ((waited < 150)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Waits up to 10 s for `GET /metrics` on the publish port to answer.
wait_ready() {
    local pid="$1" tries=0
    until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$publish_port/metrics" 2>/dev/null; do
        kill -0 "$pid" 2>/dev/null || return 1
        ((tries++ < 100)) || return 1
        sleep 0.1
    done
}

# Waits up to 10 s for a TCP port to accept connections.
wait_port() {
    local port="$1" tries=0
    until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
        ((tries++ < 100)) || return 1
        sleep 0.1
    done
}

commands=()
rows=()

# A command line as it can be pasted back into a shell.
quoted() {
    local line
    printf -v line '%q ' "$@"
    echo "${line% }"
}
floor_cpu=""

# Runs loadgen against the server with pid $1, named $2; appends a table row with $3 to $6
# (shards, outbound bytes max, send mode, socket send buffer).
measure() {
    local pid="$1" name="$2" shards="$3" outbound="$4" send_mode="$5" send_buffer="$6"
    local json="$out_dir/$name.json" log="$out_dir/$name.log"
    local cmd=("$loadgen" run --proxy "127.0.0.1:$client_port"
        --publish "http://127.0.0.1:$publish_port/publish/" --mode stream
        --clients "$clients" --messages "$messages" --size "$size"
        --proxy-pids "$pid" --target-name "$name" --json "$json")
    commands+=("$(quoted timeout --kill-after=10 "$run_timeout" "${cmd[@]}")")
    echo "sweep: $name" >&2
    if ! timeout --kill-after=10 "$run_timeout" "${cmd[@]}" >"$log" 2>&1 || [[ ! -s "$json" ]]; then
        rows+=("| $name | $shards | $outbound | $send_mode | $send_buffer | failed: see sweep-$stamp/$name.log |||||||||||")
        return 0
    fi
    local cpu ratio="n/a"
    cpu="$(jq -r '.proxy.cpu_us_per_delivery // empty' "$json")"
    if [[ "$name" == floor-send* && -n "$cpu" ]]; then
        floor_cpu="$cpu"
    fi
    if [[ -n "$cpu" && -n "$floor_cpu" ]]; then
        ratio="$(awk -v a="$cpu" -v b="$floor_cpu" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }')"
    fi
    rows+=("$(jq -r --arg shards "$shards" --arg outbound "$outbound" --arg send "$send_mode" --arg sndbuf "$send_buffer" --arg ratio "$ratio" '
        def num: if . == null then "n/a" elif (type == "number" and . != floor) then (. * 100 | round / 100) else . end;
        [ .target, $shards, $outbound, $send, $sndbuf, .clients,
          "\(.deliveries.received)/\(.deliveries.expected)", .deliveries.lost,
          .latency_us.p50, .latency_us.p99, .latency_us.max, .time_to_last_delivery_ms_max,
          (.deliveries_per_s | floor), .proxy.cpu_us_per_delivery, $ratio,
          .proxy.rss_bytes_per_connection ]
        | map(num | tostring) | "| " + join(" | ") + " |"' "$json")")
}

# Starts a server (the command in the remaining arguments) with its log in $1 and waits
# until it answers; retries twice when its ports are still taken. Sets server_pid.
server_pid=""
start_server() {
    local log="$1" attempt
    shift
    for attempt in 1 2 3; do
        "$@" >"$log" 2>&1 &
        server_pid=$!
        started+=("$server_pid")
        if wait_ready "$server_pid"; then
            return 0
        fi
        stop "$server_pid"
        grep -qi 'in use' "$log" 2>/dev/null || break
        echo "sweep: a port was still in use (attempt $attempt); retrying" >&2
        sleep 2
    done
    return 1
}

run_floor() {
    local mode="$1" name="floor-$1-r$2"
    local cmd=("$loadgen" floor-server --listen "127.0.0.1:$client_port"
        --publish-listen "127.0.0.1:$publish_port" --mode "$mode")
    commands+=("$(quoted "${cmd[@]}")")
    if start_server "$out_dir/$name.server.log" "${cmd[@]}"; then
        measure "$server_pid" "$name" - - "$mode" 0
        stop "$server_pid"
    else
        rows+=("| $name | - | - | $mode | 0 | failed to start: see sweep-$stamp/$name.server.log |||||||||||")
    fi
}

run_ringpin() {
    local shards="$1" outbound="$2" send_mode="$3" send_buffer="$4" rep="$5"
    local name="ringpin-s$shards-ob$outbound-$send_mode-sb$send_buffer-r$rep"
    local cmd=("$ringpin" --listen "127.0.0.1:$client_port" --publish-listen "127.0.0.1:$publish_port"
        --route "* 127.0.0.1:$backend_port" --shards "$shards" --outbound-bytes-max "$outbound"
        --send-mode "$send_mode" --socket-send-buffer "$send_buffer" --log-level warn)
    commands+=("$(quoted "${cmd[@]}")")
    if start_server "$out_dir/$name.server.log" "${cmd[@]}"; then
        measure "$server_pid" "$name" "$shards" "$outbound" "$send_mode" "$send_buffer"
        stop "$server_pid"
    else
        rows+=("| $name | $shards | $outbound | $send_mode | $send_buffer | failed to start: see sweep-$stamp/$name.server.log |||||||||||")
    fi
}

backend_cmd=("$loadgen" backend --listen "127.0.0.1:$backend_port")
commands+=("$(quoted "${backend_cmd[@]}")")
"${backend_cmd[@]}" >"$out_dir/backend.log" 2>&1 &
backend_pid=$!
started+=("$backend_pid")
wait_port "$backend_port" || die "the backend did not start: see $out_dir/backend.log"

cores="$(nproc)"
for rep in $(seq 1 "$repeat"); do
    if ((with_floor)); then
        run_floor send "$rep"
        run_floor uring "$rep"
    fi
    for shards in $shard_list; do
        if ((shards > cores)); then
            echo "sweep: skipping --shards $shards: more than the $cores cores (DESIGN §2)" >&2
            continue
        fi
        for outbound in $outbound_list; do
            for send_mode in $send_mode_list; do
                for send_buffer in $send_buffer_list; do
                    run_ringpin "$shards" "$outbound" "$send_mode" "$send_buffer" "$rep"
                done
            done
        done
    done
done

commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$repo" status --porcelain 2>/dev/null)" ]]; then
    commit+=" (dirty)"
fi
{
    echo "# Sweep $stamp"
    echo
    echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- commit: $commit"
    echo "- machine: $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $cores cores, kernel $(uname -r), $(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
    echo "- spectre_v2: $(cat /sys/devices/system/cpu/vulnerabilities/spectre_v2 2>/dev/null || echo unknown)"
    echo "- load: $clients clients, $messages messages of $size bytes, stream mode, loopback; each run bounded by ${run_timeout}s"
    echo "- raw JSON and logs: sweep-$stamp/"
    echo
    echo "CPU ratio = the server's CPU µs per delivery over floor-send's in the same repetition (STYLE §12)."
    echo
    echo "| target | shards | outbound-bytes-max | send mode | socket send buffer | clients | received/expected | lost | p50 µs | p99 µs | max µs | last delivery max ms | deliveries/s | CPU µs/delivery | CPU ratio | RSS bytes/conn |"
    echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "## Commands"
    echo
    echo '```'
    printf '%s\n' "${commands[@]}"
    echo '```'
    echo
    echo "## tuning/check.sh at the time of the run"
    echo
    echo '```'
    bash "$here/check.sh" || true
    echo '```'
} >"$report"
echo "sweep: wrote $report"
