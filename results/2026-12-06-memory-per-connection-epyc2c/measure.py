#!/usr/bin/env python3
"""Memory per client connection of a proxy: user-space RSS and kernel socket memory.

One measurement per call: start the proxy (one instance per PER_INSTANCE connections, each
on its own port), hold N connections through it (idle: connected, nothing sent; held: a
`GET /stream` answered by the built-in `test` route, which ringpin and Pushpin both have),
read the proxy's memory, stop everything this script started (by pid), print one JSON line.

    measure.py TARGET MODE N [--out FILE] [--rate R]

TARGET is `ringpin:PATH` (PATH = a ringpin binary; 2 shards) or `pushpin` (Pushpin 1.36 as
installed: condure, pushpin-proxy and pushpin-handler, whose RSS is summed). MODE is `idle`
or `held`. Figures:
  rss_per_conn          (VmRSS with the clients held - VmRSS before) / N, summed over the
                        proxy's processes
  skmem_per_conn        the proxy-side sockets' buffer memory (`ss -tm`: r + w + f + o, i.e.
                        queued receive and send bytes and the forward allocation) / N
  sockstat_per_conn     growth of /proc/net/sockstat's TCP `mem` (pages, both ends of every
                        loopback connection) / N
  slab_per_conn         growth of /proc/meminfo's Slab (socket, file and inode objects of
                        both ends, and anything else the kernel allocated meanwhile) / N
Clients are `--worker` processes of this script, at most PER_INSTANCE sockets each (the
per-process descriptor limit is 20,000), spread over source addresses 127.0.0.2-201, each
connecting CONNECT_RATE sockets a second (--rate R: R a second over all of them). A stream
request answered with another status (Pushpin answers 500 when its handler falls behind)
is closed and left out: the figures are per held connection, and `refused` says how many.
"""

import json
import math
import os
import re
import resource
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

PER_INSTANCE = 16_667  # 100,000 = 6 instances; ringpin caps one at ~17,900 (fd budget)
BASE_PORT = 28_100
HELD_MARKER = b"[stream open"  # ringpin: "[stream open: ...", Pushpin: "[stream opened]"
SETTLE_S = 2.0
CONNECT_TIMEOUT_S = 600.0
CONNECT_RATE = 500  # new connections per second per worker (one per instance); --rate R
                   # sets R per second over all workers instead
refused = []  # in a worker: the sockets whose stream request got another status


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except FileNotFoundError:
        pass
    return 0


def sockstat_mem_pages():
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    return 0


def slab_bytes():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                return int(line.split()[1]) * 1024
    return 0


def skmem(ports):
    """Sum of r + w + f + o over established sockets whose local port is in `ports`, and
    how many there were."""
    out = subprocess.run(
        ["ss", "-tmnH", "state", "established"], capture_output=True, text=True, check=True
    ).stdout
    total = count = 0
    local_port = None
    for line in out.splitlines():
        if "skmem:(" in line:
            if local_port in ports:
                fields = dict(
                    (m.group(1), int(m.group(2)))
                    for m in re.finditer(r"([a-z]+)(\d+)", line.split("skmem:(")[1])
                )
                total += sum(fields.get(k, 0) for k in ("r", "w", "f", "o"))
                count += 1
            local_port = None
        else:
            cols = line.split()
            if len(cols) >= 4:
                local_port = int(cols[2].rsplit(":", 1)[1])
    return total, count


def wait_port(port, deadline):
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"port {port} never opened")


def wait_stream(port, deadline):
    """Until one `GET /stream` is answered through the proxy (Pushpin accepts before its
    proxy and handler are wired up)."""
    while time.time() < deadline:
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while HELD_MARKER not in got:
                piece = s.recv(4096)
                if not piece:
                    break
                got += piece
            s.close()
            if HELD_MARKER in got:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"no stream through port {port}")


class Ringpin:
    def __init__(self, binary, index, tmp):
        self.port = BASE_PORT + index
        publish = BASE_PORT + 200 + index
        log = open(os.path.join(tmp, f"ringpin-{index}.log"), "w")
        self.proc = subprocess.Popen(
            [binary, "--listen", f"127.0.0.1:{self.port}",
             "--publish-listen", f"127.0.0.1:{publish}", "--shards", "2",
             "--push-in-spec", "", "--push-in-sub-spec", "", "--command-spec", "",
             # Idle connections must outlive a 100,000-connection setup.
             "--client-head-timeout", "900"],
            stdout=subprocess.DEVNULL, stderr=log)

    def ready(self, deadline):
        wait_stream(self.port, deadline)

    def pids(self):
        return [self.proc.pid]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class Pushpin:
    """Pushpin 1.36's runner with condure, pushpin-proxy and pushpin-handler; `* test`."""

    def __init__(self, index, tmp):
        self.port = BASE_PORT + index
        d = os.path.join(tmp, f"pushpin-{index}")
        os.makedirs(os.path.join(d, "run"))
        os.makedirs(os.path.join(d, "log"))
        with open(os.path.join(d, "routes"), "w") as f:
            f.write("* test\n")
        conf = os.path.join(d, "pushpin.conf")
        with open(conf, "w") as f:
            f.write(pushpin_conf(d, self.port, BASE_PORT + 200 + index))
        self.proc = subprocess.Popen(
            ["pushpin", "--config", conf], stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(d, "runner.log"), "w"))

    def ready(self, deadline):
        wait_stream(self.port, deadline)

    def pids(self):
        return children(self.proc.pid)

    def stop(self):
        services = children(self.proc.pid)
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for pid in services:
            if os.path.exists(f"/proc/{pid}"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass


def pushpin_conf(d, port, publish):
    return f"""[global]
include={{libdir}}/internal.conf
rundir={d}/run
ipc_prefix=pushpin-
port_offset=0
stats_connection_ttl=120
[runner]
services=condure,pushpin-proxy,pushpin-handler
http_port=127.0.0.1:{port}
logdir={d}/log
log_level=2
client_buffer_size=8192
client_maxconn=200000
condure_bin=condure
[proxy]
routesfile={d}/routes
debug=false
auto_cross_origin=false
sig_iss=pushpin
sig_key=changeme
updates_check=off
[handler]
push_in_spec=ipc://{{rundir}}/{{ipc_prefix}}push-in
push_in_sub_specs=ipc://{{rundir}}/{{ipc_prefix}}push-in-sub
push_in_sub_connect=false
push_in_http_addr=127.0.0.1
push_in_http_port={publish}
push_in_http_max_headers_size=10000
push_in_http_max_body_size=1000000
stats_spec=ipc://{{rundir}}/{{ipc_prefix}}stats
command_spec=ipc://{{rundir}}/{{ipc_prefix}}handler-command
message_rate=
message_hwm=1000000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
"""


def children(parent):
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (FileNotFoundError, IndexError, ValueError):
            continue
        if ppid == parent:
            found.append(int(entry))
    return found


def worker(port, count, mode, first_addr, rate=CONNECT_RATE):
    """Holds `count` connections to `port`; prints `ready` once all are connected (idle) or
    answered (held), then reads whatever arrives (keep-alives) until SIGTERM."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sel = selectors.DefaultSelector()
    socks = []
    pending = {}
    request = b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"
    started = time.time()
    for i in range(count):
        # Paced for every target: Pushpin answers 500 to part of a burst of stream requests
        # (its handler falls behind; a few even at 1,000/s on this busy machine).
        ahead = started + i / rate - time.time()
        if ahead > 0:
            time.sleep(ahead)
        s = socket.socket()
        s.setsockopt(socket.SOL_IP, 24, 1)  # IP_BIND_ADDRESS_NO_PORT
        s.bind((f"127.0.0.{2 + (first_addr + i) % 200}", 0))
        s.settimeout(30)
        s.connect(("127.0.0.1", port))
        if mode == "held":
            s.sendall(request)
            pending[s.fileno()] = b""
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        socks.append(s)
        # Read answers as they come, so the proxy never waits on a full socket.
        if mode == "held" and i % 200 == 199:
            drain(sel, pending, 0)
    deadline = time.time() + CONNECT_TIMEOUT_S
    shown = time.time()
    while pending and time.time() < deadline:
        drain(sel, pending, 0.5)
        if time.time() - shown > 10:
            print(f"worker {port}: {len(pending)} of {count} unanswered", file=sys.stderr)
            shown = time.time()
    if pending:
        print(f"unanswered {len(pending)}", flush=True)
        return 1
    # A refused request's connection is closed, so only the held ones are counted.
    for s in refused:
        s.close()
    print(f"ready {count - len(refused)}", flush=True)
    while True:
        drain(sel, pending, 1.0)


def drain(sel, pending, timeout):
    for key, _ in sel.select(timeout):
        s = key.fileobj
        try:
            data = s.recv(65536)
        except BlockingIOError:
            continue
        except OSError:
            data = b""
        fd = s.fileno()
        if fd in pending:
            pending[fd] += data
            got = pending[fd]
            if HELD_MARKER in got:
                del pending[fd]
            elif got.startswith(b"HTTP/") and b"\r\n" in got and b" 200 " not in got[:16]:
                refused.append(s)
                del pending[fd]
                sel.unregister(s)
                continue
        if not data:
            sel.unregister(s)


def settle(pids, min_wait):
    """Waits `min_wait`, then until the summed RSS stops changing (at most 30 s)."""
    time.sleep(min_wait)
    last = sum(rss_bytes(p) for p in pids)
    for _ in range(30):
        time.sleep(1.0)
        now = sum(rss_bytes(p) for p in pids)
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return last


def measure(target, mode, n, rate=None):
    instances = math.ceil(n / PER_INSTANCE)
    tmp = tempfile.mkdtemp(prefix="memconn-")
    procs, workers = [], []
    started = time.time()
    try:
        for i in range(instances):
            if target == "pushpin":
                procs.append(Pushpin(i, tmp))
            else:
                procs.append(Ringpin(target.split(":", 1)[1], i, tmp))
        for p in procs:
            p.ready(time.time() + 60)
        pids = [pid for p in procs for pid in p.pids()]
        rss_before = settle(pids, 1.0)
        sockstat_before = sockstat_mem_pages()
        slab_before = slab_bytes()
        skmem_before, _ = skmem({p.port for p in procs})
        counts = [n // instances + (1 if i < n % instances else 0) for i in range(instances)]
        for i, (p, count) in enumerate(zip(procs, counts)):
            workers.append(subprocess.Popen(
                [sys.executable, __file__, "--worker", str(p.port), str(count), mode,
                 str(i * 37)] + ([str(rate / instances)] if rate else []),
                stdout=subprocess.PIPE, text=True))
        held = 0
        for w in workers:
            line = w.stdout.readline().strip()
            if not line.startswith("ready "):
                raise RuntimeError(f"worker: {line or 'exited'}")
            held += int(line.split()[1])
        n_asked, n = n, held
        rss_after = settle(pids, SETTLE_S)
        skmem_after, sockets = skmem({p.port for p in procs})
        sockstat_after = sockstat_mem_pages()
        slab_after = slab_bytes()
        alive = all(os.path.exists(f"/proc/{pid}") for pid in pids)
        return {
            "target": target if target == "pushpin" else os.path.basename(target.split(":", 1)[1]),
            "mode": mode, "connections": n_asked, "refused": n_asked - n, "instances": instances,
            "proxy_pids": len(pids), "proxy_alive": alive, "proxy_sockets": sockets,
            "rss_before": rss_before, "rss_after": rss_after,
            "rss_per_conn": round((rss_after - rss_before) / n),
            "skmem_per_conn": round((skmem_after - skmem_before) / n),
            "sockstat_per_conn": round((sockstat_after - sockstat_before) * 4096 / n),
            "slab_per_conn": round((slab_after - slab_before) / n),
            "mimalloc_allow_thp": os.environ.get("MIMALLOC_ALLOW_THP", "default"),
            "connect_rate": rate or CONNECT_RATE * instances,
            "seconds": round(time.time() - started, 1),
            "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            try:
                w.wait(timeout=30)
            except subprocess.TimeoutExpired:
                w.kill()
                w.wait()
        for p in procs:
            p.stop()
        subprocess.run(["rm", "-rf", tmp], check=False)


def main():
    # A SIGTERM (a `timeout` around this script) still stops what it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    if sys.argv[1] == "--worker":
        port, count, mode, first = sys.argv[2:6]
        rate = float(sys.argv[6]) if len(sys.argv) > 6 else CONNECT_RATE
        sys.exit(worker(int(port), int(count), mode, int(first), rate))
    target, mode, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rate = float(sys.argv[sys.argv.index("--rate") + 1]) if "--rate" in sys.argv else None
    result = measure(target, mode, n, rate)
    line = json.dumps(result)
    print(line, flush=True)
    if "--out" in sys.argv:
        with open(sys.argv[sys.argv.index("--out") + 1], "a") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    main()
