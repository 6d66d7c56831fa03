import socket, subprocess, time, sys
mode=sys.argv[1]
proc = subprocess.Popen(["target/release/ringpin","--listen","127.0.0.1:27990","--publish-listen","127.0.0.1:27591","--shards","2","--push-in-spec","","--push-in-sub-spec","","--command-spec",""], stderr=subprocess.DEVNULL)
time.sleep(1.0)
def rss():
    for line in open(f"/proc/{proc.pid}/status"):
        if line.startswith("VmRSS:"): return int(line.split()[1])*1024
base = rss(); socks=[]; N=5000
for i in range(N):
    s=socket.socket(); s.bind((f"127.0.0.{2+i%200}",0)); s.connect(("127.0.0.1",27990))
    if mode=="held":
        s.sendall(b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
    socks.append(s)
if mode=="held":
    for s in socks: s.recv(4096)
time.sleep(2.0)
print(f"{mode}: {(rss()-base)/N:.0f} B per connection")
proc.terminate(); proc.wait()
