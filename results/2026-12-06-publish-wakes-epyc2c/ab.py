"""A/B of one many-channel publish: N stream subscribers over K channels, one item per channel
in one POST, against two ringpin binaries in interleaved rounds.

Per round it reports the POST's round trip, the time until every subscriber has its item,
and, from /proc, each ringpin thread's voluntary context switches during the publish (a
shard's count is how often it went to sleep and was woken). The counts depend little on how
busy the machine is; the times do.

Usage (repository root, after `cargo build --release`):
  python3 results/2026-12-06-publish-wakes-epyc2c/ab.py BEFORE_BIN AFTER_BIN [N K ROUNDS]
"""
import json, os, resource, selectors, socket, subprocess, sys, time

BACKEND = 27900
before, after = sys.argv[1], sys.argv[2]
N = int(sys.argv[3]) if len(sys.argv) > 3 else 15000
K = int(sys.argv[4]) if len(sys.argv) > 4 else 2500
ROUNDS = int(sys.argv[5]) if len(sys.argv) > 5 else 3
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def threads(pid):
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        base = f"/proc/{pid}/task/{tid}"
        try:
            name = open(f"{base}/comm").read().strip()
            status = dict(l.split(":\t") for l in open(f"{base}/status").read().splitlines() if ":\t" in l)
            out[f"{name}/{tid}"] = int(status["voluntary_ctxt_switches"])
        except OSError:
            pass
    return out


def delta(a, b):
    d = {}
    for k, c in b.items():
        name = k.split("/")[0]
        d[name] = d.get(name, 0) + c - a.get(k, 0)
    return d


def post(port, body):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /publish/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    s.close()
    return reply


def wait_ready(port):
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def one(binary, label, round_no, run_no):
    # Fresh ports per run: a just-stopped ringpin may still hold its listeners for a moment.
    client, pub = 28000 + 2 * run_no, 28001 + 2 * run_no
    proc = subprocess.Popen([binary, "--listen", f"127.0.0.1:{client}", "--publish-listen",
                             f"127.0.0.1:{pub}", "--shards", "2", "--route", f"* 127.0.0.1:{BACKEND}",
                             "--push-in-spec", "", "--push-in-sub-spec", "", "--command-spec", "",
                             "--log-level", "warn"], stderr=subprocess.DEVNULL)
    wait_ready(client)
    wait_ready(pub)
    sel = selectors.DefaultSelector()
    socks = []
    for i in range(N):
        s = socket.socket()
        s.bind((f"127.0.0.{2 + i % 240}", 0))
        s.connect(("127.0.0.1", client))
        s.sendall(b"GET /stream?channel=c%d HTTP/1.1\r\nHost: x\r\n\r\n" % (i % K))
        socks.append(s)
    for s in socks:  # the head and "open\n"
        got = b""
        while b"open\n" not in got:
            got += s.recv(4096)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    time.sleep(1.0)  # subscriptions reach the router
    items = [{"channel": f"c{c}", "formats": {"http-stream": {"content": "x" * 120 + "\n"}}} for c in range(K)]
    body = json.dumps({"items": items}).encode()
    t0 = time.monotonic()
    before_counts = threads(proc.pid)
    reply = post(pub, body)
    t_post = time.monotonic() - t0
    assert b" 200 " in reply.split(b"\r\n")[0], reply[:200]
    pending = set(socks)
    while pending and time.monotonic() - t0 < 30:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(65536)
            if b"xxxxxxxx" in data:
                pending.discard(key.fileobj)
    t_last = time.monotonic() - t0
    time.sleep(0.2)
    counts = delta(before_counts, threads(proc.pid))
    for s in socks:
        s.close()
    proc.terminate()
    proc.wait()
    return {"binary": label, "round": round_no, "post_ms": round(t_post * 1000, 1),
            "last_ms": round(t_last * 1000, 1), "missing": len(pending),
            "vol_ctx_switches": dict(sorted(counts.items()))}


backend = subprocess.Popen(["target/release/ringpin-loadgen", "backend",
                            "--listen", f"127.0.0.1:{BACKEND}"], stderr=subprocess.DEVNULL)
time.sleep(0.5)
try:
    run_no = 0
    for r in range(ROUNDS):
        for binary, label in ((before, "before"), (after, "after")):
            print(json.dumps(one(binary, label, r, run_no)), flush=True)
            run_no += 1
finally:
    backend.terminate()
