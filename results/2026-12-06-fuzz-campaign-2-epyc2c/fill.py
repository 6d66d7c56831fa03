"""Fills the '?' coverage columns of the first four targets from cov-after.txt (their logs
lost the last status line to an early version of trim.py). Reads summarize.py's table on
stdin. Usage: python3 ../2026-12-06-fuzz-campaign-epyc2c/summarize.py . | python3 fill.py"""
import re
import sys

cov = {}
for line in open('cov-after.txt'):
    m = re.match(r'(\S+) #\d+\s+DONE\s+cov: (\d+) ft: (\d+) corp: (\d+)', line)
    if m:
        cov[m.group(1)] = m.groups()[1:]
for row in sys.stdin:
    cells = row.rstrip('\n').split(' | ')
    name = cells[0].lstrip('| ')
    if name in cov and cells[4] == '?':
        cells[4:7] = [f'{cov[name][0]}¹', f'{cov[name][1]}¹', f'{cov[name][2]}¹']
    print(' | '.join(cells))
