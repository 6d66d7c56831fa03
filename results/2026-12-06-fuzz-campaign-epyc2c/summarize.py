"""The campaign's table from its logs: executions, time, speed, coverage, crashes.
Run from the repository root: python3 results/2026-12-06-fuzz-campaign-epyc2c/summarize.py [DIR]
(DIR: a later pass's folder of logs; this folder by default)."""
import glob
import os
import re
import sys

here = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
exits = {}
if os.path.exists(f'{here}/exits.txt'):
    for line in open(f'{here}/exits.txt'):
        name, code = line.split()
        exits[name] = code.split('=')[1]
print('| target | executions | seconds | exec/s | cov | ft | corpus | crashes | exit |')
print('|---|---|---|---|---|---|---|---|---|')
for log in sorted(glob.glob(f'{here}/*.log')):
    name = os.path.basename(log)[:-4]
    text = open(log, errors='replace').read()
    stat = lambda key: (re.findall(rf'stat::{key}:\s+(\d+)', text) or ['?'])[-1]
    last = (re.findall(r'#\d+\s+(?:pulse|NEW|REDUCE|DONE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)', text) or [('?', '?', '?')])[-1]
    crashes = len(re.findall(r'(?:deadly signal|ERROR: libFuzzer|panicked at)', text))
    seconds = (re.findall(r'Done \d+ runs in (\d+) second', text) or ['?'])[-1]
    print(f'| {name} | {stat("number_of_executed_units")} | {seconds} '
          f'| {stat("average_exec_per_sec")} | {last[0]} | {last[1]} | {last[2]} | {crashes} | {exits.get(name, "?")} |')
