"""Trims libFuzzer logs in place to what the table needs: the INFO lines, INITED, the last
three pulses, the last status line (NEW/REDUCE/pulse/DONE, which carries the final coverage)
and the final stats; the NEW/REDUCE lines and the recommended dictionary are most of a raw
log. Usage: python3 trim.py LOG..."""
import re
import sys

for path in sys.argv[1:]:
    lines = open(path, errors='replace').read().splitlines()
    status = [l for l in lines if re.match(r'#\d+\s', l)]
    pulses = [l for l in status if ' pulse ' in l][-3:]
    last = status[-1:]
    keep = [l for l in lines
            if (not re.match(r'#\d+\s', l) and not l.startswith('"'))
            or ' INITED ' in l or l in pulses or l in last]
    open(path, 'w').write('\n'.join(keep) + '\n')
