"""Prints the markdown tables of one run.sh output folder: medians per case and transport,
then the TLS/plain ratios (of the medians, and per round, since both transports ran in every
round against the same build).

Usage: python3 results/2026-12-06-tls-fanout-epyc2c/summarize.py OUT_DIR
Reads OUT_DIR/MODE-CLIENTS-TRANSPORT-rROUND.json (ringpin-loadgen run reports) and meta.txt.
"""
import glob
import json
import os
import re
import statistics
import sys

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'run1')
NAME = re.compile(r'^(?P<mode>[a-z]+)-(?P<clients>\d+)-(?P<transport>plain|tls)-r(?P<round>\d+)\.json$')

runs = {}  # (mode, clients) -> transport -> round -> report
for path in sorted(glob.glob(os.path.join(D, '*.json'))):
    m = NAME.match(os.path.basename(path))
    if not m:
        continue
    with open(path) as f:
        report = json.load(f)
    case = (m['mode'], int(m['clients']))
    runs.setdefault(case, {}).setdefault(m['transport'], {})[int(m['round'])] = report


def get(report, *keys):
    for key in keys:
        if report is None:
            return None
        report = report.get(key)
    return report


FIGURES = {
    'ttl': lambda r: get(r, 'time_to_last_delivery_ms_max'),
    'p50': lambda r: get(r, 'latency_us', 'p50') / 1000,
    'p99': lambda r: get(r, 'latency_us', 'p99') / 1000,
    'cpu': lambda r: get(r, 'proxy', 'cpu_us_per_delivery'),
    'rss': lambda r: get(r, 'proxy', 'rss_bytes_per_connection'),
    'lg_cpu': lambda r: get(r, 'loadgen', 'cpu_us_per_delivery'),
}


def values(reports, figure):
    return [v for v in (FIGURES[figure](r) for r in reports) if v is not None]


def med(reports, figure):
    v = values(reports, figure)
    return statistics.median(v) if v else None


def fmt(v, prec):
    return '-' if v is None else f'{v:.{prec}f}'


def ratio(a, b):
    return None if a is None or not b else a / b


def label(mode, clients, by_transport):
    """`stream × 15000, 5 msgs`: the case as its reports describe it."""
    first = next(r for rounds in by_transport.values() for r in rounds.values())
    return f"{mode} × {clients}, {first.get('messages')} msgs"


out = []
if os.path.exists(os.path.join(D, 'meta.txt')):
    with open(os.path.join(D, 'meta.txt')) as f:
        meta = f.read().strip().splitlines()
    out += ['```'] + meta + ['```', '']

out += [
    '| case | transport | runs | delivered/expected | handshake failures | time to last ms | p50 ms | p99 ms '
    '| ringpin CPU µs/delivery (per round) | ringpin B/connection | loadgen CPU µs/delivery |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
]
for (mode, clients), by_transport in sorted(runs.items()):
    for transport in ('plain', 'tls'):
        rounds = by_transport.get(transport, {})
        reports = [rounds[k] for k in sorted(rounds)]
        if not reports:
            continue
        got = sum(get(r, 'deliveries', 'received') or 0 for r in reports)
        want = sum(get(r, 'deliveries', 'expected') or 0 for r in reports)
        failures = sum(get(r, 'tls', 'handshake_failures') or 0 for r in reports)
        per_round = ' / '.join(fmt(FIGURES['cpu'](r), 2) for r in reports)
        out.append(
            f"| {label(mode, clients, by_transport)} | {transport} | {len(reports)} | {got}/{want} "
            f"| {failures if transport == 'tls' else '-'} | {fmt(med(reports, 'ttl'), 1)} "
            f"| {fmt(med(reports, 'p50'), 1)} | {fmt(med(reports, 'p99'), 1)} "
            f"| {fmt(med(reports, 'cpu'), 2)} ({per_round}) | {fmt(med(reports, 'rss'), 0)} "
            f"| {fmt(med(reports, 'lg_cpu'), 2)} |")

out += [
    '',
    '| case | TLS/plain time to last | TLS/plain p50 | TLS/plain p99 | TLS/plain CPU per delivery '
    '| TLS extra CPU µs/delivery | TLS/plain CPU per delivery, per round | TLS/plain B/connection | TLS extra B/connection |',
    '|---|---|---|---|---|---|---|---|---|',
]
for (mode, clients), by_transport in sorted(runs.items()):
    plain = by_transport.get('plain', {})
    tls = by_transport.get('tls', {})
    if not plain or not tls:
        continue
    p, t = list(plain.values()), list(tls.values())
    rounds = sorted(set(plain) & set(tls))
    # '-' for a round whose plain run measured no CPU tick (too few deliveries).
    paired = [ratio(FIGURES['cpu'](tls[k]), FIGURES['cpu'](plain[k])) for k in rounds]
    known = [v for v in paired if v is not None]
    paired_text = ' / '.join(fmt(v, 2) for v in paired)
    if known:
        paired_text = f'{fmt(statistics.median(known), 2)} ({paired_text})'
    extra = lambda f: None if med(t, f) is None or med(p, f) is None else med(t, f) - med(p, f)
    out.append(
        f"| {label(mode, clients, by_transport)} | {fmt(ratio(med(t, 'ttl'), med(p, 'ttl')), 2)} "
        f"| {fmt(ratio(med(t, 'p50'), med(p, 'p50')), 2)} | {fmt(ratio(med(t, 'p99'), med(p, 'p99')), 2)} "
        f"| {fmt(ratio(med(t, 'cpu'), med(p, 'cpu')), 2)} | {fmt(extra('cpu'), 2)} | {paired_text or '-'} "
        f"| {fmt(ratio(med(t, 'rss'), med(p, 'rss')), 2)} | {fmt(extra('rss'), 0)} |")

print('\n'.join(out))
