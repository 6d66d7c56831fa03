"""CPU of every thread on the machine over an interval (default 2 s), from /proc: the
machine's busy share of its two cores, then the busiest threads (loadgen processes summed).
Usage: python3 cpu_split.py [SECONDS]"""
import os, sys, time
def snap():
    d = {}
    for p in os.listdir('/proc'):
        if not p.isdigit(): continue
        try: tasks = os.listdir(f'/proc/{p}/task')
        except OSError: continue
        for t in tasks:
            try: l = open(f'/proc/{p}/task/{t}/stat').read()
            except OSError: continue
            c = l[l.index('(')+1:l.rindex(')')]; f = l[l.rindex(')')+2:].split()
            d[(p, t, c)] = int(f[11]) + int(f[12])
    cpu = [int(v) for v in open('/proc/stat').readline().split()[1:]]
    return d, cpu
a, ca = snap(); time.sleep(float(sys.argv[1]) if len(sys.argv) > 1 else 2); b, cb = snap()
tot = sum(cb) - sum(ca); idle = (cb[3]-ca[3]) + (cb[4]-ca[4])
hz = os.sysconf('SC_CLK_TCK'); secs = tot / hz / os.cpu_count()
print(f"machine busy {200*(tot-idle)/tot:.0f}% of 200%, softirq {200*(cb[6]-ca[6])/tot:.0f}%")
agg = {}
for k, v in b.items():
    dv = v - a.get(k, v)
    name = k[2]
    if name.startswith('ringpin-loadgen') or name.startswith('loadgen'): name = 'loadgen:' + k[0]
    agg[name] = agg.get(name, 0) + dv
for k, v in sorted(agg.items(), key=lambda kv: -kv[1])[:14]:
    if v > 0: print(f"  {k:28s} {100*v/hz/secs:.0f}%")
