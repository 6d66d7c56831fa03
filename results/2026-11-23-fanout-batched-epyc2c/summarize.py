"""Writes this folder's README.md from its JSON reports and compare summaries.
Run from the repository root:
python3 results/2026-11-23-fanout-batched-epyc2c/summarize.py > results/2026-11-23-fanout-batched-epyc2c/README.md
"""
import glob
import json
import os
import statistics

D = 'results/2026-11-23-fanout-batched-epyc2c'


def load(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(f'{D}/{pattern}'))]


def med(reports, key):
    return statistics.median(key(r) for r in reports)


ttl = lambda r: r['time_to_last_delivery_ms_max']
cpu = lambda r: r['proxy']['cpu_us_per_delivery']
p99 = lambda r: r['latency_us']['p99'] / 1000
rss = lambda r: r['proxy']['rss_bytes_per_connection']

s_rp, s_pp = load('stream-15000/stream-15000-ringpin-r*.json'), load('stream-15000/stream-15000-pushpin-r*.json')
s_fs, s_fu = load('stream-15000/stream-15000-floor-send-r*.json'), load('stream-15000/stream-15000-floor-uring-r*.json')
e_rp, e_pp = load('sse-1000/sse-1000-ringpin-r*.json'), load('sse-1000/sse-1000-pushpin-r*.json')
sus = load('sustained/stream-15000-ringpin-r*.json')
d_rp = load('demo/demo-100000-ringpin.json')[0]
d_fs = load('demo/demo-100000-floor-send.json')[0]
m = s_rp[0]['machine']
commit = open(f'{D}/commit.txt').read().strip()


def verdict(ok):
    return '**met**' if ok else '**missed**'


rows = []
r = med(s_pp, ttl) / med(s_rp, ttl)
rows.append(('15K stream: Pushpin/ringpin time to last ≥ 4x', f'{r:.2f}x ({med(s_pp, ttl):.0f} / {med(s_rp, ttl):.0f} ms)', verdict(r >= 4)))
r = med(s_pp, cpu) / med(s_rp, cpu)
rows.append(('15K stream: Pushpin/ringpin CPU per delivery ≥ 4x', f'{r:.2f}x ({med(s_pp, cpu):.1f} / {med(s_rp, cpu):.2f} µs)', verdict(r >= 4)))
r = med(e_pp, ttl) / med(e_rp, ttl)
rows.append(('1K sse: Pushpin/ringpin time to last ≥ 4x', f'{r:.2f}x ({med(e_pp, ttl):.1f} / {med(e_rp, ttl):.1f} ms)', verdict(r >= 4)))
r = med(e_pp, cpu) / med(e_rp, cpu)
rows.append(('1K sse: Pushpin/ringpin CPU per delivery ≥ 4x', f'{r:.2f}x ({med(e_pp, cpu):.1f} / {med(e_rp, cpu):.2f} µs)', verdict(r >= 4)))
rows.append(('1K ws', 'ringpin has no WebSockets yet', '**not measured**'))
r = med(s_rp, cpu) / med(s_fs, cpu)
rows.append(('15K stream: ringpin/floor-send CPU per delivery ≤ 1.3x', f'{r:.2f}x ({med(s_rp, cpu):.2f} / {med(s_fs, cpu):.2f} µs; floor-uring {med(s_fu, cpu):.2f} µs) — see the note', verdict(r <= 1.3)))
ok = d_rp['deliveries']['received'] == d_rp['deliveries']['expected'] and d_rp['deliveries']['lost'] == 0 and d_rp['deliveries']['duplicated'] == 0
r = ttl(d_rp) / ttl(d_fs)
rows.append(('100K stream: all delivered; ≤ 1.0 s or ≤ 1.25x floor', f"{d_rp['deliveries']['received']}/{d_rp['deliveries']['expected']}, lost {d_rp['deliveries']['lost']}, duplicated {d_rp['deliveries']['duplicated']}; {ttl(d_rp):.0f} ms vs floor-send {ttl(d_fs):.0f} ms ({r:.2f}x)", verdict(ok and (ttl(d_rp) <= 1000 or r <= 1.25))))
rows.append(('15K stream sustained, 20 msgs 100 ms apart: p99 < 100 ms', f'{med(sus, p99):.0f} ms (rounds: {", ".join(f"{p99(x):.0f}" for x in sus)})', verdict(med(sus, p99) < 100)))
rows.append(('15K held stream connections: ≤ 8 KB RSS each', f'{med(s_rp, rss):.0f} B', verdict(med(s_rp, rss) <= 8192)))

print('# Fan-out after batched delivery, 2026-11-23\n')
print(f"ringpin at commit `{commit}` (batched inbox delivery), 2 shards; loadgen from the same commit.")
print(f"Machine: {m['cpu']}, {m['cores']} cores shared by proxy, Pushpin, floor servers and load generator; Linux {m['kernel']}; {m['mem_gib']} GiB; loopback; RLIMIT_NOFILE 20000 per process.")
print(f"Load at start: `{open(f'{D}/uptime-start.txt').read().strip()}`.\n")
print('Commands (from the repository root, release build):\n')
for log in ['compare-stream-15000.log', 'compare-sse-1000.log', 'compare-sustained.log', 'demo-100000.log']:
    for line in open(f'{D}/{log}'):
        if line.startswith('Command: '):
            print('- ' + line[len('Command: '):].strip())
print('\nPlots: `plots/latency_cdf.svg` from round 2 of the 15K stream compare (`ringpin-loadgen plot --out plots stream-15000/stream-15000-*-r2.json`).')
print('\n## Targets (issue: the 100K fan-out benchmark)\n')
print('| target | measured (medians of the interleaved rounds) | verdict |')
print('|---|---|---|')
for row in rows:
    print('| ' + ' | '.join(row) + ' |')
print('\nNote on the floor: the floor server writes each published message to every socket as it arrives; since this commit ringpin coalesces messages that wait in a shard inbox into one `sendmsg` per subscriber, so for back-to-back messages ringpin can use less CPU per delivery than this floor. The floor remains the like-for-like figure for a single message (100K demo).\n')
for summary in ['stream-15000/summary-stream-15000.md', 'sse-1000/summary-sse-1000.md', 'sustained/summary-stream-15000.md', 'demo/demo-summary-100000.md']:
    print(open(f'{D}/{summary}').read().replace('\n# ', '\n### ').replace('# ', '### ', 1))
