"""CPU of named processes and of the whole machine over an interval, from /proc.
Usage: python3 cpu_by_process.py SECONDS NAME=PID [NAME=PID ...]
Prints the machine's busy share of its cores and softirq share, then each named process's
CPU (all its threads, as a share of one core), and everything else."""
import os, sys, time


def process_ticks(pid):
    total = 0
    for tid in os.listdir(f'/proc/{pid}/task'):
        try:
            stat = open(f'/proc/{pid}/task/{tid}/stat').read()
        except OSError:
            continue
        fields = stat[stat.rindex(')') + 2:].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total


def machine():
    return [int(v) for v in open('/proc/stat').readline().split()[1:]]


seconds = float(sys.argv[1])
named = [arg.split('=', 1) for arg in sys.argv[2:]]
before = {name: process_ticks(pid) for name, pid in named}
m0 = machine()
time.sleep(seconds)
after = {name: process_ticks(pid) for name, pid in named}
m1 = machine()
cores = os.cpu_count()
total = sum(m1) - sum(m0)
idle = (m1[3] - m0[3]) + (m1[4] - m0[4])
busy = total - idle
hz = os.sysconf('SC_CLK_TCK')
print(f"machine busy {100 * cores * busy / total:.0f}% of {100 * cores}%, "
      f"softirq {100 * cores * (m1[6] - m0[6]) / total:.0f}%")
elapsed_ticks = total / cores
named_ticks = 0
for name, _ in named:
    ticks = after[name] - before[name]
    named_ticks += ticks
    print(f"  {name:24s} {100 * ticks / elapsed_ticks:.0f}%")
print(f"  {'everything else':24s} {100 * (busy - named_ticks) / elapsed_ticks:.0f}%")
