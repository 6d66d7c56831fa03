#!/usr/bin/env bash
# Read-only: prints every setting that matters for 100K held connections and fast fan-out,
# its current value, the recommended one, and OK / WARN (INFO: judgement call; SKIP: absent).
# The MATTERS column says where the setting counts: "both", "NIC" (real network cards only),
# or "loopback" (also on loopback). See README.md for what each setting does and why.
#
# Usage: tuning/check.sh
# The output describes this machine: keep it out of the repository (results/ runs record it).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$here/lib.sh"

ok=0
warn=0

row() {
    local setting="$1" current="$2" recommended="$3" status="$4" matters="$5"
    # Absent from this kernel or namespace: nothing to judge.
    [[ "$current" == n/a* ]] && status=SKIP
    printf '%-30s %-34s %-34s %-6s %s\n' "$setting" "$current" "$recommended" "$status" "$matters"
    case "$status" in
        OK) ok=$((ok + 1)) ;;
        WARN) warn=$((warn + 1)) ;;
    esac
}

# A row for a value that should be at least $3.
row_at_least() {
    local setting="$1" current="$2" wanted="$3" matters="$4"
    local status=WARN
    at_least "$current" "$wanted" && status=OK
    row "$setting" "$current" ">= $wanted" "$status" "$matters"
}

check_limits() {
    row_at_least "RLIMIT_NOFILE soft" "$(ulimit -Sn)" "$REC_NOFILE" "both (ringpin raises soft to hard)"
    row_at_least "RLIMIT_NOFILE hard" "$(ulimit -Hn)" "$REC_NOFILE" "both"
    row_at_least "fs.nr_open" "$(read_sysctl fs.nr_open)" "$REC_NR_OPEN" "both"
    row_at_least "fs.file-max" "$(read_sysctl fs.file-max)" "$REC_FILE_MAX" "both"
    local memlock status=WARN
    memlock="$(ulimit -l)"
    at_least "$memlock" "$REC_MEMLOCK_MIN_KIB" && status=OK
    row "RLIMIT_MEMLOCK (KiB)" "$memlock" ">= $REC_MEMLOCK_MIN_KIB, ideally $REC_MEMLOCK_KIB" "$status" "both (io_uring)"
}

check_accept_and_ports() {
    row_at_least "net.core.somaxconn" "$(read_sysctl net.core.somaxconn)" "$REC_SOMAXCONN" "loopback"
    row_at_least "net.ipv4.tcp_max_syn_backlog" "$(read_sysctl net.ipv4.tcp_max_syn_backlog)" \
        "$REC_SYN_BACKLOG" "loopback"
    local range low high status=WARN
    range="$(read_sysctl net.ipv4.ip_local_port_range)"
    low="$(field "$range" 1)"
    high="$(field "$range" 2)"
    if is_number "$low" && is_number "$high"; then
        ((high - low + 1 >= 60000)) && status=OK
        range+=" ($((high - low + 1)) ports)"
    fi
    row "net.ipv4.ip_local_port_range" "$range" \
        "$REC_PORT_LOW $REC_PORT_HIGH" "$status" "loopback"
    local reuse
    reuse="$(read_sysctl net.ipv4.tcp_tw_reuse)"
    case "$reuse" in
        1) status=OK ;;
        2) status=OK reuse="2 (loopback only)" ;;
        *) status=WARN ;;
    esac
    row "net.ipv4.tcp_tw_reuse" "$reuse" "$REC_TW_REUSE (2 is enough on lo)" "$status" "loopback"
}

check_tcp_memory() {
    local mem high pages status=WARN
    mem="$(read_sysctl net.ipv4.tcp_mem)"
    high="$(field "$mem" 3)"
    pages="$(rec_tcp_mem_max_pages)"
    at_least "$high" "$pages" && status=OK
    is_number "$high" && mem+=" (max $((high * $(page_size) / 1024 / 1024)) MiB)"
    row "net.ipv4.tcp_mem (pages)" "$mem" "max >= $pages" "$status" "loopback"
    local name value default max default_max
    for name in rmem wmem; do
        value="$(read_sysctl "net.ipv4.tcp_$name")"
        default="$(field "$value" 2)"
        max="$(field "$value" 3)"
        default_max="$REC_TCP_RMEM_DEFAULT_MAX"
        [[ "$name" == wmem ]] && default_max="$REC_TCP_WMEM_DEFAULT_MAX"
        status=WARN
        if is_number "$default" && ((default <= default_max)) && at_least "$max" "$REC_TCP_BUF_MAX_MIN"; then
            status=OK
        fi
        row "net.ipv4.tcp_$name" "$value" "default <= $default_max, max >= $REC_TCP_BUF_MAX_MIN" \
            "$status" "loopback"
    done
    row_at_least "net.core.rmem_max" "$(read_sysctl net.core.rmem_max)" "$REC_CORE_BUF_MAX" "both (SO_RCVBUF only)"
    row_at_least "net.core.wmem_max" "$(read_sysctl net.core.wmem_max)" "$REC_CORE_BUF_MAX" "both (SO_SNDBUF only)"
}

check_backlog_and_polling() {
    row_at_least "net.core.netdev_max_backlog" "$(read_sysctl net.core.netdev_max_backlog)" \
        "$REC_NETDEV_MAX_BACKLOG" "both (lo uses the backlog)"
    # Column 2 of softnet_stat is packets dropped because that backlog was full (hex, per CPU).
    if [[ -r "$ROOT/proc/net/softnet_stat" ]]; then
        local drops=0 hex
        while read -r _ hex _; do
            drops=$((drops + 16#$hex))
        done <"$ROOT/proc/net/softnet_stat"
        local status=OK
        ((drops > 0)) && status=WARN
        row "softnet backlog drops" "$drops" "0" "$status" "both"
    fi
    local knob value status
    for knob in net.core.busy_poll net.core.busy_read; do
        value="$(read_sysctl "$knob")"
        status=OK
        [[ "$value" != 0 ]] && status=INFO
        row "$knob" "$value" "0 on lo; ~50 on a NIC for latency" "$status" "NIC"
    done
    local conntrack_max
    conntrack_max="$(read_sysctl net.netfilter.nf_conntrack_max)"
    if [[ "$conntrack_max" == "n/a" ]]; then
        row "net.netfilter.nf_conntrack_max" "not loaded" ">= $REC_CONNTRACK_MAX if loaded" SKIP "both"
    else
        local count status=WARN
        count="$(read_sysctl net.netfilter.nf_conntrack_count)"
        at_least "$conntrack_max" "$REC_CONNTRACK_MAX" && status=OK
        row "net.netfilter.nf_conntrack_max" "$conntrack_max (in use $count)" ">= $REC_CONNTRACK_MAX" "$status" "both"
    fi
}

check_cpu_and_memory() {
    local governors
    governors="$(cat "$ROOT"/sys/devices/system/cpu/cpu*/cpufreq/scaling_governor 2>/dev/null | sort -u | tr '\n' ' ' || true)"
    if [[ -z "$governors" ]]; then
        row "CPU governor" "no cpufreq (VM?)" "performance" SKIP "both"
    elif [[ "$governors" == "performance " ]]; then
        row "CPU governor" "performance" "performance" OK "both"
    else
        row "CPU governor" "$governors" "performance" WARN "both"
    fi
    local running="not running"
    pgrep -x irqbalance >/dev/null 2>&1 && running="running"
    row "irqbalance" "$running" "stopped if IRQs pinned by hand" INFO "NIC"
    local thp="n/a" status=SKIP
    if [[ -r "$ROOT/sys/kernel/mm/transparent_hugepage/enabled" ]]; then
        thp="$(sed -E 's/.*\[(.*)\].*/\1/' "$ROOT/sys/kernel/mm/transparent_hugepage/enabled")"
        status=WARN
        [[ "$thp" == madvise || "$thp" == never ]] && status=OK
    fi
    row "transparent hugepages" "$thp" "madvise" "$status" "both"
    local autogroup
    autogroup="$(read_sysctl kernel.sched_autogroup_enabled)"
    status=OK
    [[ "$autogroup" == 1 ]] && status=WARN
    row "kernel.sched_autogroup_enabled" "$autogroup" "0 when sharing cores (benchmarks)" "$status" "both"
}

check_nics() {
    local nics nic
    nics="$(real_nics)"
    if [[ -z "$nics" ]]; then
        row "NICs (IRQ/RPS/XPS)" "none but lo" "-" SKIP "NIC"
        return 0
    fi
    local cores
    cores="$(nproc)"
    for nic in $nics; do
        local rx tx rps="" xps="" irqs="" irq
        rx="$(find "$ROOT/sys/class/net/$nic/queues" -maxdepth 1 -name 'rx-*' 2>/dev/null | wc -l)"
        tx="$(find "$ROOT/sys/class/net/$nic/queues" -maxdepth 1 -name 'tx-*' 2>/dev/null | wc -l)"
        rps="$(cat "$ROOT/sys/class/net/$nic"/queues/rx-*/rps_cpus 2>/dev/null | sort -u | tr '\n' ' ' || true)"
        xps="$(cat "$ROOT/sys/class/net/$nic"/queues/tx-*/xps_cpus 2>/dev/null | sort -u | tr '\n' ' ' || true)"
        for irq in $(nic_irqs "$nic"); do
            irqs+="$irq:$(cat "$ROOT/proc/irq/$irq/smp_affinity_list" 2>/dev/null || echo '?') "
        done
        local status=OK
        # One receive queue and no RPS: all receive processing lands on one CPU.
        if ((rx <= 1 && cores > 1)) && [[ -z "$(tr -d '0, ' <<<"$rps")" ]]; then
            status=WARN
        fi
        row "$nic queues rx/tx" "$rx/$tx" "one per core, or RPS" "$status" "NIC"
        row "$nic rps_cpus / xps_cpus" "${rps:-n/a}/ ${xps:-n/a}" "spread over shard cores" INFO "NIC"
        row "$nic IRQ:affinity" "${irqs:-none found}" "one IRQ per core" INFO "NIC"
        if command -v ethtool >/dev/null 2>&1; then
            local gro
            gro="$(ethtool -k "$nic" 2>/dev/null | awk -F': ' '/generic-receive-offload/ { print $2 }')"
            row "$nic GRO" "${gro:-n/a}" "on" INFO "NIC"
        fi
    done
}

check_kernel() {
    local release major minor status=WARN
    release="$(uname -r)"
    major="${release%%.*}"
    minor="${release#*.}"
    minor="${minor%%[!0-9]*}"
    if ((major > REC_KERNEL_MAJOR || (major == REC_KERNEL_MAJOR && minor >= REC_KERNEL_MINOR))); then
        status=OK
    fi
    row "kernel" "$release" ">= $REC_KERNEL_MAJOR.$REC_KERNEL_MINOR" "$status" "both"
    local disabled
    disabled="$(read_sysctl kernel.io_uring_disabled)"
    case "$disabled" in
        0) row "kernel.io_uring_disabled" "0" "0" OK "both" ;;
        1) row "kernel.io_uring_disabled" "1 (io_uring_group only)" "0" WARN "both" ;;
        2) row "kernel.io_uring_disabled" "2 (disabled)" "0" WARN "both" ;;
        *)
            # No sysctl before 6.6; the syscall's symbol says whether io_uring is built in.
            if grep -qw io_uring_setup "$ROOT/proc/kallsyms" 2>/dev/null; then
                row "io_uring" "built in (no sysctl, < 6.6)" "available" OK "both"
            else
                row "io_uring" "unknown" "available" WARN "both"
            fi
            ;;
    esac
}

mem_gib="$(awk '/^MemTotal/ { printf "%.0f", $2 / 1024 / 1024 }' /proc/meminfo)"
echo "ringpin tuning check: $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, ${mem_gib} GiB"
echo "(read-only; machine-specific output: do not commit it)"
echo
printf '%-30s %-34s %-34s %-6s %s\n' SETTING CURRENT RECOMMENDED STATUS MATTERS
check_limits
check_accept_and_ports
check_tcp_memory
check_backlog_and_polling
check_cpu_and_memory
check_nics
check_kernel
echo
echo "$ok OK, $warn WARN. tuning/apply.sh prints the commands that fix the WARN rows it can fix."
