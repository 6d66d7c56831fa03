"""Case 1's table (2,500 channels): per variant and round, time to last delivery (the slowest of the 3 messages), the POST
round trip, CPU per delivery, delivered and lost; then the medians.
Run from the repository root: python3 results/2026-12-07-publish-batching-epyc2c/summarize.py [RUN_DIR]"""
import glob, json, os, statistics, sys

here = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), 'run1')
rows = {}
for f in sorted(glob.glob(f'{here}/channels/*/*.json')):
    variant = os.path.basename(os.path.dirname(f)).rsplit('-r', 1)[0]
    d = json.load(open(f))
    rt = d['publish']['post_round_trip_us']
    rows.setdefault(variant, []).append((
        d['time_to_last_delivery_ms_max'], rt['p50'] / 1e3,
        d['proxy']['cpu_us_per_delivery'], d['deliveries']['received'], d['deliveries']['lost']))
print('| variant | time to last ms (rounds) | median | POST round trip ms (rounds) | median | CPU µs/delivery (median) | delivered, lost |')
print('|---|---|---|---|---|---|---|')
for variant in ('before', 'after', 'pushpin'):
    r = rows.get(variant, [])
    if not r:
        continue
    ttl = [x[0] for x in r]; post = [x[1] for x in r]; cpu = [x[2] for x in r]
    print(f"| {variant} | {', '.join(f'{t:.0f}' for t in ttl)} | {statistics.median(ttl):.0f} "
          f"| {', '.join(f'{p:.1f}' for p in post)} | {statistics.median(post):.1f} "
          f"| {statistics.median(cpu):.1f} | {sum(x[3] for x in r)}, {sum(x[4] for x in r)} |")
