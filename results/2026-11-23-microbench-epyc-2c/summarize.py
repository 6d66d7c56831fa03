#!/usr/bin/env python3
"""Prints the summary table of a criterion run as Markdown, from target/criterion/*/new/.

Usage: python3 summarize.py $CARGO_TARGET_DIR/criterion
Time is criterion's slope estimate (its median when there is no slope, as with flat
sampling); per-op ns divides it by the elements the bench declared (subscribers for
fanout/deliver, entries for bulk subscription ops, lookups for lookup loops).
"""
import json
import pathlib
import re
import sys


def fmt_time(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def natural(text):
    """Sort key that puts subs=1000 before subs=10000."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", text)]


def main(root):
    rows = []
    for bench in sorted(pathlib.Path(root).glob("**/new/benchmark.json")):
        meta = json.loads(bench.read_text())
        est = json.loads((bench.parent / "estimates.json").read_text())
        point = (est.get("slope") or est["median"])["point_estimate"]
        low = (est.get("slope") or est["median"])["confidence_interval"]["lower_bound"]
        high = (est.get("slope") or est["median"])["confidence_interval"]["upper_bound"]
        throughput = meta.get("throughput") or {}
        per_op = ""
        if "Elements" in throughput and throughput["Elements"] > 1:
            per_op = f"{point / throughput['Elements']:.1f} ns"
        elif "Bytes" in throughput:
            per_op = f"{throughput['Bytes'] / point:.2f} GB/s"
        rows.append((meta["full_id"], fmt_time(point), f"{fmt_time(low)} – {fmt_time(high)}", per_op))
    print("| bench id | time | 95% interval | per element (ns) or bytes/s |")
    print("|---|---|---|---|")
    for row in sorted(rows, key=lambda r: natural(r[0])):
        print("| `" + row[0] + "` | " + " | ".join(row[1:]) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")
