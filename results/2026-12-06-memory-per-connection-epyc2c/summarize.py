#!/usr/bin/env python3
"""Markdown tables from measure.py's JSON lines: per count and mode, each target's figure per
round and their median, and the ratios of the medians.

    summarize.py raw.jsonl
"""

import json
import statistics
import sys
from collections import defaultdict

TARGETS = [("ringpin-before", "default"), ("ringpin-after", "default"), ("pushpin", "default")]
NO_THP = ("ringpin-after", "0")


REFUSED_SHARE_MAX = 0.01  # a run whose proxy refused more is left out of the tables
left_out = []


def load(path):
    runs = defaultdict(list)
    for line in open(path):
        r = json.loads(line)
        if r.get("refused", 0) > REFUSED_SHARE_MAX * r["connections"]:
            left_out.append(r)
            continue
        key = (r["target"], r.get("mimalloc_allow_thp", "default"), r["mode"], r["connections"])
        runs[key].append(r)
    return runs


def cell(runs, field):
    if not runs:
        return "—", None
    values = [r[field] for r in runs]
    median = statistics.median(values)
    each = " / ".join(f"{v:,}" for v in values)
    return f"**{median:,.0f}** ({each})", median


def ratio(a, b):
    return "—" if a is None or b in (None, 0) else f"{a / b:.2f}x"


def table(runs, field, title):
    print(f"\n### {title}\n")
    print("| connections | mode | ringpin before | ringpin after | after / before "
          "| Pushpin 1.36 | Pushpin / after |")
    print("|---|---|---|---|---|---|---|")
    counts = sorted({k[3] for k in runs})
    for n in counts:
        for mode in ("idle", "held"):
            cells = [cell(runs.get((t, thp, mode, n), []), field) for t, thp in TARGETS]
            (b, bm), (a, am), (p, pm) = cells
            print(f"| {n:,} | {mode} | {b} | {a} | {ratio(am, bm)} | {p} | {ratio(pm, am)} |")


def no_thp(runs):
    print("\n### ringpin after, mimalloc's transparent huge pages off (`MIMALLOC_ALLOW_THP=0`)\n")
    print("| connections | mode | RSS per connection, B | with THP (the table above) | "
          "RSS before any client, MB (THP off / on) |")
    print("|---|---|---|---|---|")
    for (t, thp, mode, n), rs in sorted(runs.items()):
        if (t, thp) != NO_THP:
            continue
        off, off_m = cell(rs, "rss_per_conn")
        on, _ = cell(runs.get((t, "default", mode, n), []), "rss_per_conn")
        base_off = statistics.median(r["rss_before"] for r in rs) / 1e6
        on_runs = runs.get((t, "default", mode, n), [])
        base_on = statistics.median(r["rss_before"] for r in on_runs) / 1e6 if on_runs else 0
        print(f"| {n:,} | {mode} | {off} | {on} | {base_off:.1f} / {base_on:.1f} |")


def main():
    runs = load(sys.argv[1])
    table(runs, "rss_per_conn", "User-space memory: VmRSS growth per connection, bytes "
          "(median, then each round)")
    table(runs, "skmem_per_conn", "Kernel socket buffers of the proxy's sockets (`ss -tm`: "
          "r + w + f + o) per connection, bytes")
    table(runs, "slab_per_conn", "Kernel slab growth per connection, bytes (system-wide: "
          "both ends of each loopback connection, and whatever else ran)")
    no_thp(runs)
    for r in left_out:
        print(f"\nLeft out: {r['target']} {r['mode']} {r['connections']:,} at "
              f"{r.get('connect_rate', '?')} connections/s ({r['date']}): {r['refused']:,} "
              f"stream requests refused (500), {r['rss_per_conn']:,} B per held connection.")


if __name__ == "__main__":
    main()
