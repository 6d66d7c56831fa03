"""Prints the markdown tables of one run.sh output folder: medians per case, target and
transport; then, per target, the TLS/plain ratios (of the medians, and per round, since both
transports ran in every round against the same build); then Pushpin/ringpin over TLS.

Usage: python3 results/2026-12-06-tls-fanout-epyc2c/summarize.py OUT_DIR
Reads OUT_DIR/MODE-CLIENTS-TARGET-TRANSPORT-rROUND.json (ringpin-loadgen run reports) and
OUT_DIR/meta.txt.
"""
import glob
import json
import os
import re
import statistics
import sys

D = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), 'run1')
NAME = re.compile(r'^(?P<mode>[a-z]+)-(?P<clients>\d+)-(?P<target>ringpin|pushpin)'
                  r'-(?P<transport>plain|tls)-r(?P<round>\d+)\.json$')
TARGETS = ('ringpin', 'pushpin')
TRANSPORTS = ('plain', 'tls')

runs = {}  # (mode, clients) -> (target, transport) -> round -> report
for path in sorted(glob.glob(os.path.join(D, '*.json'))):
    m = NAME.match(os.path.basename(path))
    if not m:
        continue
    with open(path) as f:
        report = json.load(f)
    case = (m['mode'], int(m['clients']))
    runs.setdefault(case, {}).setdefault((m['target'], m['transport']), {})[int(m['round'])] = report


def get(report, *keys):
    for key in keys:
        if report is None:
            return None
        report = report.get(key)
    return report


def ms(value):
    return None if value is None else value / 1000


FIGURES = {
    'ttl': lambda r: get(r, 'time_to_last_delivery_ms_max'),
    'p50': lambda r: ms(get(r, 'latency_us', 'p50')),
    'p99': lambda r: ms(get(r, 'latency_us', 'p99')),
    'cpu': lambda r: get(r, 'proxy', 'cpu_us_per_delivery'),
    'rss': lambda r: get(r, 'proxy', 'rss_bytes_per_connection'),
    'lg_cpu': lambda r: get(r, 'loadgen', 'cpu_us_per_delivery'),
}


def med(reports, figure):
    v = [x for x in (FIGURES[figure](r) for r in reports) if x is not None]
    return statistics.median(v) if v else None


def fmt(v, prec):
    return '-' if v is None else f'{v:.{prec}f}'


def ratio(a, b):
    return None if a is None or not b else a / b


def label(mode, clients, by_column):
    """`stream × 15000, 5 msgs`: the case as its reports describe it."""
    first = next(r for rounds in by_column.values() for r in rounds.values())
    return f"{mode} × {clients}, {first.get('messages')} msgs"


def reports_of(by_column, target, transport):
    rounds = by_column.get((target, transport), {})
    return [rounds[k] for k in sorted(rounds)]


def medians_table():
    out = [
        '| case | target | transport | runs | delivered/expected | handshake failures | time to last ms '
        '| p50 ms | p99 ms | proxy CPU µs/delivery (per round) | proxy B/connection | loadgen CPU µs/delivery |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
    ]
    for (mode, clients), by_column in sorted(runs.items()):
        for target in TARGETS:
            for transport in TRANSPORTS:
                reports = reports_of(by_column, target, transport)
                if not reports:
                    continue
                got = sum(get(r, 'deliveries', 'received') or 0 for r in reports)
                want = sum(get(r, 'deliveries', 'expected') or 0 for r in reports)
                failures = sum(get(r, 'tls', 'handshake_failures') or 0 for r in reports)
                per_round = ' / '.join(fmt(FIGURES['cpu'](r), 2) for r in reports)
                out.append(
                    f"| {label(mode, clients, by_column)} | {target} | {transport} | {len(reports)} "
                    f"| {got}/{want} | {failures if transport == 'tls' else '-'} "
                    f"| {fmt(med(reports, 'ttl'), 1)} | {fmt(med(reports, 'p50'), 1)} "
                    f"| {fmt(med(reports, 'p99'), 1)} | {fmt(med(reports, 'cpu'), 2)} ({per_round}) "
                    f"| {fmt(med(reports, 'rss'), 0)} | {fmt(med(reports, 'lg_cpu'), 2)} |")
    return out


def tls_ratio_table():
    out = [
        '| case | target | TLS/plain time to last | TLS/plain p50 | TLS/plain p99 | TLS/plain CPU per delivery '
        '| TLS extra CPU µs/delivery | TLS/plain CPU per delivery, per round | TLS/plain B/connection '
        '| TLS extra B/connection |',
        '|---|---|---|---|---|---|---|---|---|---|',
    ]
    for (mode, clients), by_column in sorted(runs.items()):
        for target in TARGETS:
            plain = by_column.get((target, 'plain'), {})
            tls = by_column.get((target, 'tls'), {})
            if not plain or not tls:
                continue
            p, t = list(plain.values()), list(tls.values())
            # '-' for a round whose plain run measured no CPU tick (too few deliveries).
            paired = [ratio(FIGURES['cpu'](tls[k]), FIGURES['cpu'](plain[k]))
                      for k in sorted(set(plain) & set(tls))]
            known = [v for v in paired if v is not None]
            paired_text = ' / '.join(fmt(v, 2) for v in paired)
            if known:
                paired_text = f'{fmt(statistics.median(known), 2)} ({paired_text})'

            def r(f):
                return fmt(ratio(med(t, f), med(p, f)), 2)

            def extra(f, prec):
                a, b = med(t, f), med(p, f)
                return fmt(None if a is None or b is None else a - b, prec)

            out.append(
                f"| {label(mode, clients, by_column)} | {target} | {r('ttl')} | {r('p50')} | {r('p99')} "
                f"| {r('cpu')} | {extra('cpu', 2)} | {paired_text or '-'} | {r('rss')} | {extra('rss', 0)} |")
    return out


def pushpin_table():
    out = [
        '| case | transport | Pushpin/ringpin time to last | Pushpin/ringpin CPU per delivery '
        '| Pushpin/ringpin B/connection |',
        '|---|---|---|---|---|',
    ]
    rows = 0
    for (mode, clients), by_column in sorted(runs.items()):
        for transport in TRANSPORTS:
            pp = reports_of(by_column, 'pushpin', transport)
            rp = reports_of(by_column, 'ringpin', transport)
            if not pp or not rp:
                continue
            rows += 1
            out.append(
                f"| {label(mode, clients, by_column)} | {transport} "
                f"| {fmt(ratio(med(pp, 'ttl'), med(rp, 'ttl')), 2)} "
                f"| {fmt(ratio(med(pp, 'cpu'), med(rp, 'cpu')), 2)} "
                f"| {fmt(ratio(med(pp, 'rss'), med(rp, 'rss')), 2)} |")
    return out if rows else []


def negotiated():
    seen = {}
    for by_column in runs.values():
        for (target, transport), rounds in by_column.items():
            for report in rounds.values():
                n = get(report, 'tls', 'negotiated')
                if n:
                    seen.setdefault(target, set()).add(n)
    return [f"- {target} negotiated {', '.join(sorted(v))}" for target, v in sorted(seen.items())]


out = []
if os.path.exists(os.path.join(D, 'meta.txt')):
    with open(os.path.join(D, 'meta.txt')) as f:
        out += ['```'] + f.read().strip().splitlines() + ['```', '']
out += medians_table() + [''] + tls_ratio_table()
pushpin = pushpin_table()
if pushpin:
    out += [''] + pushpin
out += [''] + negotiated()
print('\n'.join(out))
