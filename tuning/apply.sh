#!/usr/bin/env bash
# Brings the settings check.sh flags up to the recommended values.
#
# Usage: tuning/apply.sh [--apply] [--undo-file PATH]
#   (no flag)          dry run: prints the exact commands it would run, changes nothing
#   --apply            runs them (as root) and writes an undo script restoring the old values
#   --undo-file PATH   where --apply writes the undo script (default ./undo.sh)
#
# Only settings below their recommendation are touched; a second run plans nothing. Kernel
# settings are written to /proc/sys and last until reboot (a benchmark box should not keep
# them by surprise). Descriptor and memlock limits go to /etc/security/limits.d and apply to
# new login sessions. IRQ affinity and RPS are machine-specific: printed as advice, never run.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

mode=dry-run
undo_file="$PWD/undo.sh"
while (($# > 0)); do
    case "$1" in
        --apply) mode=apply ;;
        --undo-file)
            [[ $# -ge 2 ]] || { echo "apply.sh: --undo-file needs a path" >&2; exit 2; }
            undo_file="$2"
            shift
            ;;
        -h | --help)
            sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) echo "apply.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
    shift
done

# The plan: parallel arrays of "what", the command, and the command that undoes it.
plan_what=()
plan_do=()
plan_undo=()
advice=()

plan() {
    plan_what+=("$1")
    plan_do+=("$2")
    plan_undo+=("$3")
}

# The exact shell command writing $2 to the file $1.
write_cmd() {
    printf "printf '%%s\\\\n' '%s' > %s" "$2" "$1"
}

sysctl_path() {
    echo "$ROOT/proc/sys/${1//.//}"
}

# Plans KEY = VALUE when the current value is below MIN (VALUE when MIN is not given).
want_at_least() {
    local key="$1" value="$2" min="${3:-$2}" current
    current="$(read_sysctl "$key")"
    [[ "$current" == "n/a" ]] && return 0
    at_least "$current" "$min" && return 0
    local path
    path="$(sysctl_path "$key")"
    plan "$key: $current -> $value" "$(write_cmd "$path" "$value")" "$(write_cmd "$path" "$current")"
}

plan_sysctls() {
    # nr_open first: RLIMIT_NOFILE cannot be raised above it.
    want_at_least fs.nr_open "$REC_NR_OPEN"
    want_at_least fs.file-max "$REC_FILE_MAX"
    want_at_least net.core.somaxconn "$REC_SOMAXCONN"
    want_at_least net.ipv4.tcp_max_syn_backlog "$REC_SYN_BACKLOG"
    want_at_least net.core.netdev_max_backlog "$REC_NETDEV_MAX_BACKLOG"
    want_at_least net.core.rmem_max "$REC_CORE_BUF_MAX"
    want_at_least net.core.wmem_max "$REC_CORE_BUF_MAX"
    want_at_least net.netfilter.nf_conntrack_max "$REC_CONNTRACK_MAX"
    local path current
    current="$(read_sysctl net.ipv4.ip_local_port_range)"
    if [[ "$current" != "n/a" ]] && (($(field "$current" 2) - $(field "$current" 1) + 1 < 60000)); then
        path="$(sysctl_path net.ipv4.ip_local_port_range)"
        plan "net.ipv4.ip_local_port_range: $current -> $REC_PORT_LOW $REC_PORT_HIGH" \
            "$(write_cmd "$path" "$REC_PORT_LOW $REC_PORT_HIGH")" "$(write_cmd "$path" "$current")"
    fi
    current="$(read_sysctl net.ipv4.tcp_tw_reuse)"
    if [[ "$current" == 0 ]]; then
        path="$(sysctl_path net.ipv4.tcp_tw_reuse)"
        plan "net.ipv4.tcp_tw_reuse: 0 -> $REC_TW_REUSE" \
            "$(write_cmd "$path" "$REC_TW_REUSE")" "$(write_cmd "$path" "$current")"
    fi
}

plan_tcp_memory() {
    local current pages path
    current="$(read_sysctl net.ipv4.tcp_mem)"
    pages="$(rec_tcp_mem_max_pages)"
    if [[ "$current" != "n/a" ]] && ! at_least "$(field "$current" 3)" "$pages"; then
        path="$(sysctl_path net.ipv4.tcp_mem)"
        local wanted="$((pages / 2)) $((pages * 3 / 4)) $pages"
        plan "net.ipv4.tcp_mem: $current -> $wanted" "$(write_cmd "$path" "$wanted")" "$(write_cmd "$path" "$current")"
    fi
    local name
    for name in tcp_rmem tcp_wmem; do
        current="$(read_sysctl "net.ipv4.$name")"
        [[ "$current" == "n/a" ]] && continue
        if ! at_least "$(field "$current" 3)" "$REC_TCP_BUF_MAX_MIN"; then
            path="$(sysctl_path "net.ipv4.$name")"
            local wanted
            wanted="$(field "$current" 1) $(field "$current" 2) $REC_TCP_BUF_MAX_MIN"
            plan "net.ipv4.$name: $current -> $wanted" "$(write_cmd "$path" "$wanted")" "$(write_cmd "$path" "$current")"
        fi
    done
}

plan_limits() {
    local file="$ROOT/etc/security/limits.d/90-ringpin.conf"
    local lines=(
        "# Written by ringpin tuning/apply.sh: 100K connections per process, io_uring memlock."
        "* soft nofile $REC_NOFILE" "* hard nofile $REC_NOFILE"
        "root soft nofile $REC_NOFILE" "root hard nofile $REC_NOFILE"
        "* soft memlock $REC_MEMLOCK_KIB" "* hard memlock $REC_MEMLOCK_KIB"
    )
    if [[ -f "$file" ]] && [[ "$(cat "$file")" == "$(printf '%s\n' "${lines[@]}")" ]]; then
        return 0
    fi
    if at_least "$(ulimit -Hn)" "$REC_NOFILE" && at_least "$(ulimit -l)" "$REC_MEMLOCK_KIB"; then
        return 0
    fi
    local undo="rm -f $file"
    if [[ -f "$file" ]]; then
        undo="mv $file.ringpin-undo $file"
        plan "keep the old $file" "cp $file $file.ringpin-undo" "true"
    fi
    local write line
    write="mkdir -p $(dirname "$file") && printf '%s\\n'"
    for line in "${lines[@]}"; do
        write+=" '$line'"
    done
    plan "RLIMIT_NOFILE $(ulimit -Hn) -> $REC_NOFILE, RLIMIT_MEMLOCK $(ulimit -l) -> $REC_MEMLOCK_KIB KiB (new logins)" \
        "$write > $file" "$undo"
    advice+=("systemd services ignore limits.d: set LimitNOFILE=$REC_NOFILE and LimitMEMLOCK=$((REC_MEMLOCK_KIB * 1024)) in the unit")
    advice+=("containers: pass --ulimit nofile=$REC_NOFILE:$REC_NOFILE (docker) or the runtime's equivalent")
}

plan_cpu_and_memory() {
    local governor_file current
    for governor_file in "$ROOT"/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor; do
        [[ -w "$governor_file" || "$mode" == dry-run ]] || continue
        [[ -r "$governor_file" ]] || continue
        current="$(cat "$governor_file")"
        [[ "$current" == performance ]] && continue
        plan "$(basename "$(dirname "$(dirname "$governor_file")")") governor: $current -> performance" \
            "$(write_cmd "$governor_file" performance)" "$(write_cmd "$governor_file" "$current")"
    done
    # Autogroup shares CPU per session, so `nice` cannot keep a build in another terminal
    # from taking half of a core from a benchmarked proxy.
    current="$(read_sysctl kernel.sched_autogroup_enabled)"
    if [[ "$current" == 1 ]]; then
        local path
        path="$(sysctl_path kernel.sched_autogroup_enabled)"
        plan "kernel.sched_autogroup_enabled: 1 -> 0" "$(write_cmd "$path" 0)" "$(write_cmd "$path" 1)"
    fi
    local thp_file="$ROOT/sys/kernel/mm/transparent_hugepage/enabled"
    if [[ -r "$thp_file" ]]; then
        current="$(sed -E 's/.*\[(.*)\].*/\1/' "$thp_file")"
        if [[ "$current" == always ]]; then
            plan "transparent hugepages: always -> madvise" \
                "$(write_cmd "$thp_file" madvise)" "$(write_cmd "$thp_file" always)"
        fi
    fi
}

advise_nics() {
    local nic rx cores mask
    cores="$(nproc)"
    mask="$(printf '%x' $(((1 << cores) - 1)))"
    for nic in $(real_nics); do
        rx="$(find "$ROOT/sys/class/net/$nic/queues" -maxdepth 1 -name 'rx-*' 2>/dev/null | wc -l)"
        if ((rx <= 1 && cores > 1)); then
            advice+=("$nic has one receive queue: spread receive work with RPS, e.g. echo $mask > /sys/class/net/$nic/queues/rx-0/rps_cpus")
        fi
        advice+=("$nic: pin each queue's IRQ (/proc/irq/N/smp_affinity_list) to the core of the shard serving it; stop irqbalance if you do")
    done
}

plan_sysctls
plan_tcp_memory
plan_limits
plan_cpu_and_memory
advise_nics

if ((${#plan_do[@]} == 0)); then
    echo "Nothing to change: every setting apply.sh manages meets its recommendation."
else
    echo "# $mode: ${#plan_do[@]} change(s)"
    for i in "${!plan_do[@]}"; do
        echo "# ${plan_what[$i]}"
        echo "${plan_do[$i]}"
    done
fi
for line in "${advice[@]}"; do
    echo "# advice (not applied): $line"
done
if [[ "$mode" == dry-run ]]; then
    ((${#plan_do[@]} == 0)) || echo "# dry run: nothing changed; run with --apply (as root) to make these changes"
    exit 0
fi
if ((${#plan_do[@]} == 0)); then
    exit 0
fi
if [[ -z "$ROOT" && "$EUID" -ne 0 ]]; then
    echo "apply.sh: --apply needs root" >&2
    exit 1
fi

# Run each change; record the undo of each one that succeeded, newest first.
undo_lines=()
failed=0
for i in "${!plan_do[@]}"; do
    if bash -c "${plan_do[$i]}"; then
        undo_lines=("${plan_undo[$i]}" "${undo_lines[@]}")
        echo "applied: ${plan_what[$i]}"
    else
        echo "FAILED: ${plan_what[$i]} (read-only in this container or namespace?)" >&2
        failed=$((failed + 1))
    fi
done
{
    echo "#!/usr/bin/env bash"
    echo "# Written by ringpin tuning/apply.sh on $(date -u +%Y-%m-%dT%H:%M:%SZ): restores the values it changed."
    echo "set -euo pipefail"
    for line in "${undo_lines[@]}"; do
        echo "$line"
    done
} >"$undo_file"
chmod +x "$undo_file"
echo "undo script: $undo_file (${#undo_lines[@]} change(s)); $failed failed"
((failed == 0))
