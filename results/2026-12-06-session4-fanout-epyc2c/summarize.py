"""Prints the table of this folder's interleaved runs (medians per variant).
Run from the repository root: python3 results/2026-12-06-session4-fanout-epyc2c/summarize.py run1
"""
import glob
import json
import statistics

import sys
D = 'results/2026-12-06-session4-fanout-epyc2c/' + (sys.argv[1] if len(sys.argv) > 1 else 'run1')
VARIANTS = [
    ('ringpin 5bc3dd2 (session start)', 'base-r*/*ringpin*.json'),
    ('ringpin after this session', 'new-r*/*ringpin*.json'),
    ('floor-uring (2 processes)', 'floor/*floor-uring*.json'),
]

print('| variant | runs | delivered/expected | time to last ms | p50 ms | p99 ms | proxy CPU µs/delivery (per round) | B/connection held |')
print('|---|---|---|---|---|---|---|---|')
for name, pattern in VARIANTS:
    runs = [json.load(open(f)) for f in sorted(glob.glob(f'{D}/{pattern}'))]
    if not runs:
        continue
    med = lambda key: statistics.median(key(r) for r in runs)
    got = sum(r['deliveries']['received'] for r in runs)
    want = sum(r['deliveries']['expected'] for r in runs)
    cpus = ' / '.join(f"{r['proxy']['cpu_us_per_delivery']:.2f}" for r in runs)
    print(f"| {name} | {len(runs)} | {got}/{want} | {med(lambda r: r['time_to_last_delivery_ms_max']):.1f} "
          f"| {med(lambda r: r['latency_us']['p50']) / 1000:.1f} | {med(lambda r: r['latency_us']['p99']) / 1000:.1f} "
          f"| {med(lambda r: r['proxy']['cpu_us_per_delivery']):.2f} ({cpus}) "
          f"| {med(lambda r: r['proxy']['rss_bytes_per_connection']):.0f} |")
