# shellcheck shell=bash
# shellcheck disable=SC2034 # the REC_* values are read by the scripts that source this file
# Shared by check.sh and apply.sh: the recommended values, in one place, and read-only helpers.
# Sourced, never run. Nothing here changes the machine.
#
# Target: 100,000 held connections on one box, fanned out fast (README.md says why each value).

# Every /proc and /sys path is read (and by apply.sh written) under this prefix. Empty on a
# real run; the tests point it at a copied tree so --apply can be exercised without root.
ROOT="${TUNING_ROOT:-}"

# Per-process descriptors: one process holding 100K client sockets, plus origin and publish
# sockets, needs more than 100K; fs.nr_open caps what RLIMIT_NOFILE may be raised to.
REC_NOFILE=1048576
REC_NR_OPEN=1048576
# System-wide descriptors: on loopback both ends of every connection are on this box (200K),
# plus the load generator's and everything else's.
REC_FILE_MAX=2097152
# Accept queues: a connect storm of thousands of clients per second; ringpin and the floor
# server ask for a backlog of 4096+, which the kernel silently clamps to somaxconn.
REC_SOMAXCONN=65535
REC_SYN_BACKLOG=65535
# Ephemeral ports: the widest range; clients per (source IP, destination) pair are capped by it.
REC_PORT_LOW=1024
REC_PORT_HIGH=65535
# TIME_WAIT reuse for outgoing connections (1 = all, 2 = loopback only, the kernel default).
REC_TW_REUSE=1
# tcp_mem is in pages: the third value (hard limit) should cover a fan-out burst queued on
# 100K sockets at once: 100K x ~10 queued skbs x ~2 KiB truesize = ~2 GiB.
REC_TCP_MEM_MAX_BYTES=$((2 * 1024 * 1024 * 1024))
# Per-socket buffers: small defaults (memory per idle connection), a large max so a briefly
# slow client can absorb a burst before the proxy queues for it.
REC_TCP_RMEM_DEFAULT_MAX=131072
REC_TCP_WMEM_DEFAULT_MAX=131072
REC_TCP_BUF_MAX_MIN=4194304
REC_CORE_BUF_MAX=4194304
# The per-CPU input backlog; loopback packets pass through it too (enqueue_to_backlog).
REC_NETDEV_MAX_BACKLOG=16384
# Conntrack, when loaded, tracks loopback connections too: a full table drops SYNs.
REC_CONNTRACK_MAX=262144
# io_uring rings were charged to RLIMIT_MEMLOCK before 5.12; registered buffers still are.
REC_MEMLOCK_KIB=65536
REC_MEMLOCK_MIN_KIB=8192
# Kernel: 6.1 has IORING_SETUP_SINGLE_ISSUER / DEFER_TASKRUN, multishot accept, buffer rings.
REC_KERNEL_MAJOR=6
REC_KERNEL_MINOR=1

# Prints a sysctl's value with tabs turned into single spaces, or "n/a" when this kernel (or
# this network namespace) does not have it.
read_sysctl() {
    local path="$ROOT/proc/sys/${1//.//}"
    if [[ -r "$path" ]]; then
        tr -s '\t ' ' ' <"$path"
    else
        echo "n/a"
    fi
}

# Prints the n-th (1-based) space-separated field of a value.
field() {
    local value="$1" index="$2"
    awk -v i="$index" '{ print $i }' <<<"$value"
}

# True when $1 is a non-negative integer.
is_number() {
    [[ "$1" =~ ^[0-9]+$ ]]
}

# True when $1 >= $2, treating "unlimited" as infinite; false when $1 is not a number.
at_least() {
    local value="$1" wanted="$2"
    [[ "$value" == "unlimited" ]] && return 0
    is_number "$value" && ((value >= wanted))
}

page_size() {
    getconf PAGESIZE 2>/dev/null || echo 4096
}

# Hard-limit pages for tcp_mem, from the byte target above.
rec_tcp_mem_max_pages() {
    echo $((REC_TCP_MEM_MAX_BYTES / $(page_size)))
}

# The non-loopback interfaces backed by a device (physical or virtio); virtual ones (veth,
# bridges, ifb, tunnels) have no queues or IRQs of their own worth tuning.
real_nics() {
    local dev
    for dev in "$ROOT"/sys/class/net/*; do
        [[ -e "$dev" ]] || continue
        [[ "$(basename "$dev")" == "lo" ]] && continue
        [[ -e "$dev/device" ]] || continue
        basename "$dev"
    done
}

# The IRQ numbers of a NIC: the MSI vectors of its PCI device (for virtio, of its parent).
nic_irqs() {
    local device
    device="$(readlink -f "$ROOT/sys/class/net/$1/device")"
    for dir in "$device/msi_irqs" "$device/../msi_irqs"; do
        if [[ -d "$dir" ]]; then
            ls "$dir"
            return 0
        fi
    done
}
