//! End-to-end: `ringpin-loadgen run` (coordinator, worker processes, publisher, report)
//! against a tiny in-test fake proxy.
//!
//! The fake proxy is not GRIP: it answers subscribe requests itself and fans each publish
//! out to the connections it holds, which is all loadgen can observe of a proxy. It can be
//! told to skip a delivery, so the tests prove that loadgen notices a loss and fails. It can
//! also take publishes over ZeroMQ, as ringpin does: a bound SUB input that subscribes to the
//! channel once a client holds, and a PULL input. And it can speak TLS to its subscribers
//! (rustls, with a certificate from `ringpin-loadgen tls-cert`), writing every delivery as
//! several records, so `run --tls` is tested end to end.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::thread;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stream,
    Longpoll,
    Ws,
}

/// A held subscriber: how to deliver to it.
struct Hold {
    stream: Box<dyn Write + Send>,
    kind: Kind,
}

#[derive(Default)]
struct Shared {
    holds: Mutex<HashMap<u64, Hold>>,
    next_id: Mutex<u64>,
    /// Publish number whose delivery is skipped for every second subscriber.
    skip_publish: Option<u64>,
    publishes: Mutex<u64>,
}

struct FakeProxy {
    client_port: u16,
    publish_port: u16,
}

impl FakeProxy {
    fn start(skip_publish: Option<u64>) -> FakeProxy {
        FakeProxy::serve(Arc::new(Shared {
            skip_publish,
            ..Shared::default()
        }))
    }

    fn serve(shared: Arc<Shared>) -> FakeProxy {
        let clients = TcpListener::bind("127.0.0.1:0").expect("bind client port");
        let publish = TcpListener::bind("127.0.0.1:0").expect("bind publish port");
        let proxy = FakeProxy {
            client_port: clients.local_addr().expect("addr").port(),
            publish_port: publish.local_addr().expect("addr").port(),
        };
        let s = shared.clone();
        thread::spawn(move || {
            for conn in clients.incoming().flatten() {
                let s = s.clone();
                thread::spawn(move || serve_client(conn, &s));
            }
        });
        thread::spawn(move || {
            for conn in publish.incoming().flatten() {
                let s = shared.clone();
                thread::spawn(move || serve_publish(conn, &s));
            }
        });
        proxy
    }
}

/// The fake proxy's ZeroMQ inputs (`tcp://127.0.0.1:PORT`).
struct FakeZmqInputs {
    sub: String,
    pull: String,
}

/// A fake proxy that also takes publishes on a bound SUB and a PULL socket.
fn start_with_zmq() -> (FakeProxy, FakeZmqInputs) {
    let shared = Arc::new(Shared::default());
    let proxy = FakeProxy::serve(shared.clone());
    let context = zmq::Context::new();
    let bind = |kind| {
        let socket = context.socket(kind).expect("socket");
        socket.set_rcvtimeo(50).expect("rcvtimeo");
        socket.bind("tcp://127.0.0.1:*").expect("bind");
        let spec = socket
            .get_last_endpoint()
            .expect("endpoint")
            .expect("utf-8");
        (socket, spec)
    };
    let (sub, sub_spec) = bind(zmq::SUB);
    let (pull, pull_spec) = bind(zmq::PULL);
    let s = shared.clone();
    thread::spawn(move || serve_zmq(&sub, true, &s));
    thread::spawn(move || serve_zmq(&pull, false, &shared));
    let inputs = FakeZmqInputs {
        sub: sub_spec,
        pull: pull_spec,
    };
    (proxy, inputs)
}

/// Reads `[channel, item]` (SUB) or `[item]` (PULL) messages and fans each item out. Like
/// ringpin, the SUB subscribes to the channel only once a client holds.
fn serve_zmq(socket: &zmq::Socket, is_sub: bool, s: &Shared) {
    let mut subscribed = false;
    loop {
        if is_sub && !subscribed && !s.holds.lock().expect("lock").is_empty() {
            socket.set_subscribe(b"loadgen").expect("subscribe");
            subscribed = true;
        }
        let Ok(frames) = socket.recv_multipart(0) else {
            continue;
        };
        let item = match (is_sub, frames.as_slice()) {
            (true, [channel, item]) => {
                assert_eq!(channel, b"loadgen", "the first frame is the channel");
                item
            }
            (false, [item]) => item,
            _ => panic!("unexpected frames: {frames:?}"),
        };
        let (item, rest) = tnet_to_json(item);
        assert!(rest.is_empty(), "one tnetstring per item");
        assert_eq!(item["channel"], "loadgen");
        let body = serde_json::json!({ "items": [item] });
        fan_out(s, body.to_string().as_bytes());
    }
}

/// Decodes the tnetstring values loadgen sends (byte strings as UTF-8, dictionaries);
/// returns the value and what follows it.
fn tnet_to_json(data: &[u8]) -> (serde_json::Value, &[u8]) {
    let colon = data.iter().position(|&b| b == b':').expect("a length");
    let len: usize = std::str::from_utf8(&data[..colon])
        .expect("ASCII length")
        .parse()
        .expect("a number");
    let (payload, tail) = data[colon + 1..].split_at(len);
    let (&tag, rest) = tail.split_first().expect("a type tag");
    let value = match tag {
        b',' => serde_json::Value::String(String::from_utf8(payload.to_vec()).expect("UTF-8")),
        b'}' => {
            let mut map = serde_json::Map::new();
            let mut p = payload;
            while !p.is_empty() {
                let (key, after_key) = tnet_to_json(p);
                let (value, after_value) = tnet_to_json(after_key);
                map.insert(key.as_str().expect("string key").to_string(), value);
                p = after_value;
            }
            serde_json::Value::Object(map)
        }
        other => panic!("unexpected tnetstring tag {other}"),
    };
    (value, rest)
}

/// A request head: its request line and headers (names lower-cased).
struct Head {
    line: String,
    headers: HashMap<String, String>,
}

impl Head {
    fn content_length(&self) -> usize {
        self.headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

/// Reads a request head, or `None` at EOF.
fn read_head(reader: &mut impl BufRead) -> Option<Head> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut headers = HashMap::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).ok()?;
        if h == "\r\n" || h.is_empty() {
            return Some(Head { line, headers });
        }
        let (name, value) = h.split_once(':')?;
        headers.insert(name.to_ascii_lowercase(), value.trim().to_string());
    }
}

/// An unmasked server frame with a short payload.
fn ws_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126, "short frames only");
    let mut f = vec![0x80 | opcode, payload.len() as u8];
    f.extend_from_slice(payload);
    f
}

/// Answers a subscribe request; returns how the connection is then held.
fn answer(head: &Head, writer: &mut dyn Write) -> Kind {
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    let (kind, bytes) = if head.line.contains("/stream") {
        (
            Kind::Stream,
            format!("{chunked}5\r\nopen\n\r\n").into_bytes(),
        )
    } else if head.line.contains("/sse") {
        (
            Kind::Stream,
            format!("{chunked}7\r\n:open\n\n\r\n").into_bytes(),
        )
    } else if head.line.contains("/ws") {
        let key = head.headers.get("sec-websocket-key").expect("ws key");
        let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
        let mut b = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {accept}\r\n\r\n"
        )
        .into_bytes();
        // A ping, which loadgen must answer without miscounting anything.
        b.extend(ws_frame(0x9, b"hi"));
        (Kind::Ws, b)
    } else {
        (Kind::Longpoll, Vec::new())
    };
    let _ = writer.write_all(&bytes);
    kind
}

fn serve_client(conn: TcpStream, s: &Shared) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut last_id = 0;
    while let Some(head) = read_head(&mut reader) {
        let mut writer = conn.try_clone().expect("clone");
        let kind = answer(&head, &mut writer);
        let id = {
            let mut next = s.next_id.lock().expect("lock");
            *next += 1;
            *next
        };
        s.holds.lock().expect("lock").insert(
            id,
            Hold {
                stream: Box::new(writer),
                kind,
            },
        );
        last_id = id;
        if kind == Kind::Ws {
            // Client frames (pongs) are read and ignored until the client closes.
            let _ = std::io::copy(&mut reader, &mut std::io::sink());
            break;
        }
    }
    // The client went away: it no longer counts as a subscription.
    s.holds.lock().expect("lock").remove(&last_id);
}

fn serve_publish(conn: TcpStream, s: &Shared) {
    let mut reader = BufReader::new(conn.try_clone().expect("clone"));
    let mut writer = conn;
    while let Some(head) = read_head(&mut reader) {
        let mut body = vec![0; head.content_length()];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let reply = if head.line.starts_with("GET /metrics") {
            format!(
                "ringpin_subscriptions {}\n",
                s.holds.lock().expect("lock").len()
            )
        } else {
            fan_out(s, &body);
            "Published\n".to_string()
        };
        let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", reply.len());
        if writer.write_all((head + &reply).as_bytes()).is_err() {
            return;
        }
    }
}

fn fan_out(s: &Shared, body: &[u8]) {
    let v: serde_json::Value = serde_json::from_slice(body).expect("publish JSON");
    let formats = &v["items"][0]["formats"];
    let stream = formats["http-stream"]["content"]
        .as_str()
        .expect("http-stream content");
    let response = formats["http-response"]["body"]
        .as_str()
        .expect("http-response body");
    let ws = formats["ws-message"]["content"]
        .as_str()
        .expect("ws-message content");
    let publish = {
        let mut n = s.publishes.lock().expect("lock");
        *n += 1;
        *n
    };
    let mut holds = s.holds.lock().expect("lock");
    let mut ids: Vec<u64> = holds.keys().copied().collect();
    ids.sort_unstable();
    for (i, id) in ids.into_iter().enumerate() {
        if s.skip_publish == Some(publish) && i % 2 == 0 {
            continue;
        }
        let hold = holds.get_mut(&id).expect("listed");
        let bytes = match hold.kind {
            Kind::Longpoll => format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{response}",
                response.len()
            )
            .into_bytes(),
            Kind::Stream => format!("{:x}\r\n{stream}\r\n", stream.len()).into_bytes(),
            Kind::Ws => ws_frame(0x1, ws.as_bytes()),
        };
        let _ = hold.stream.write_all(&bytes);
        if hold.kind == Kind::Longpoll {
            holds.remove(&id);
        }
    }
}

/// A fake proxy whose subscribers speak TLS, with the certificate in `certs` (from
/// `tls-cert`); publishing stays plain HTTP.
fn start_tls(certs: &std::path::Path) -> FakeProxy {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain = CertificateDer::pem_file_iter(certs.join("server.pem"))
        .expect("server.pem")
        .collect::<Result<Vec<_>, _>>()
        .expect("chain");
    let key = PrivateKeyDer::from_pem_file(certs.join("server.key")).expect("server.key");
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("certificate");
    let config = Arc::new(config);
    let shared = Arc::new(Shared::default());
    let clients = TcpListener::bind("127.0.0.1:0").expect("bind client port");
    let publish = TcpListener::bind("127.0.0.1:0").expect("bind publish port");
    let proxy = FakeProxy {
        client_port: clients.local_addr().expect("addr").port(),
        publish_port: publish.local_addr().expect("addr").port(),
    };
    let s = shared.clone();
    thread::spawn(move || {
        for conn in clients.incoming().flatten() {
            let (s, config) = (s.clone(), config.clone());
            thread::spawn(move || serve_tls_client(conn, config, &s));
        }
    });
    thread::spawn(move || {
        for conn in publish.incoming().flatten() {
            let s = shared.clone();
            thread::spawn(move || serve_publish(conn, &s));
        }
    });
    proxy
}

type TlsStream = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

/// Writes at most half of what it is given per record (write_all comes back for the rest),
/// so every delivery reaches the subscriber cut over several TLS records.
struct HalfRecords(TlsStream);

impl Write for HalfRecords {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(&buf[..buf.len().div_ceil(2)])
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Handshakes, answers one stream subscribe and holds it until the client goes away; a
/// failed handshake just closes.
fn serve_tls_client(conn: TcpStream, config: Arc<rustls::ServerConfig>, s: &Shared) {
    let raw = conn.try_clone().expect("clone");
    let session = rustls::ServerConnection::new(config).expect("session");
    let mut tls = rustls::StreamOwned::new(session, conn);
    while tls.conn.is_handshaking() {
        if tls.conn.complete_io(&mut tls.sock).is_err() {
            return;
        }
    }
    let mut reader = BufReader::new(tls);
    let Some(head) = read_head(&mut reader) else {
        return;
    };
    let mut writer = HalfRecords(reader.into_inner());
    assert_eq!(
        answer(&head, &mut writer),
        Kind::Stream,
        "TLS: streams only"
    );
    let id = {
        let mut next = s.next_id.lock().expect("lock");
        *next += 1;
        *next
    };
    let hold = Hold {
        stream: Box::new(writer),
        kind: Kind::Stream,
    };
    s.holds.lock().expect("lock").insert(id, hold);
    // The session belongs to the hold now; the raw socket tells when the client closes.
    let _ = std::io::copy(&mut &raw, &mut std::io::sink());
    s.holds.lock().expect("lock").remove(&id);
}

/// `ringpin-loadgen tls-cert --out DIR`: a new CA and a server certificate for localhost
/// and 127.0.0.1, in a fresh directory.
fn tls_cert(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("loadgen-e2e-{}-{tag}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_ringpin-loadgen"))
        .args(["tls-cert", "--out"])
        .arg(&dir)
        .output()
        .expect("tls-cert runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

/// Runs loadgen against the fake proxy; returns the exit code and the JSON report.
fn run_loadgen(
    proxy: &FakeProxy,
    mode: &str,
    clients: u32,
    messages: u32,
) -> (i32, serde_json::Value) {
    run_loadgen_with(proxy, mode, clients, messages, &[])
}

/// [`run_loadgen`] with extra `run` flags.
fn run_loadgen_with(
    proxy: &FakeProxy,
    mode: &str,
    clients: u32,
    messages: u32,
    extra: &[&str],
) -> (i32, serde_json::Value) {
    let json = std::env::temp_dir().join(format!(
        "loadgen-e2e-{}-{mode}-{clients}.json",
        std::process::id()
    ));
    let out = Command::new(env!("CARGO_BIN_EXE_ringpin-loadgen"))
        .args([
            "run",
            "--proxy",
            &format!("127.0.0.1:{}", proxy.client_port),
        ])
        .args([
            "--publish",
            &format!("http://127.0.0.1:{}", proxy.publish_port),
        ])
        .args([
            "--mode",
            mode,
            "--clients",
            &clients.to_string(),
            "--messages",
            &messages.to_string(),
        ])
        .args([
            "--size",
            "96",
            "--workers",
            "2",
            "--timeout-s",
            "60",
            "--target-name",
            "fake",
        ])
        .args(extra)
        .arg("--json")
        .arg(&json)
        .output()
        .expect("loadgen runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text =
        std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no JSON report ({e}):\n{log}"));
    let _ = std::fs::remove_file(&json);
    (
        out.status.code().unwrap_or(-1),
        serde_json::from_str(&text).expect("valid JSON"),
    )
}

#[test]
fn stream_run_delivers_every_message_to_every_client() {
    let proxy = FakeProxy::start(None);
    let (code, r) = run_loadgen(&proxy, "stream", 60, 4);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["tool"], "ringpin-loadgen");
    assert_eq!(r["target"], "fake");
    assert_eq!(r["connect"]["held"], 60);
    assert_eq!(r["deliveries"]["expected"], 240);
    assert_eq!(r["deliveries"]["received"], 240);
    assert_eq!(r["deliveries"]["lost"], 0);
    assert_eq!(
        r["time_to_last_delivery_ms"].as_array().map(Vec::len),
        Some(4)
    );
    assert!(r["latency_us"]["p50"].as_u64().expect("p50") >= 1);
    assert!(r["proxy"].is_null(), "no pids given");
    assert!(r["tls"].is_null(), "plain TCP");
    assert_eq!(r["loadgen"]["workers"], 2);
}

#[test]
fn sse_longpoll_and_ws_runs_deliver_every_message() {
    for mode in ["sse", "longpoll", "ws"] {
        let proxy = FakeProxy::start(None);
        let (code, r) = run_loadgen(&proxy, mode, 20, 3);
        assert_eq!(code, 0, "{mode}: {r:#}");
        assert_eq!(r["deliveries"]["received"], 60, "{mode}");
        assert_eq!(r["deliveries"]["malformed"], 0, "{mode}");
    }
}

#[test]
fn a_tls_stream_run_delivers_every_message_cut_over_records() {
    let certs = tls_cert("tls-ok");
    let proxy = start_tls(&certs);
    let ca = certs.join("ca.pem").display().to_string();
    for name in ["localhost", "127.0.0.1"] {
        let flags = ["--tls", "--tls-ca", &ca, "--tls-server-name", name];
        let (code, r) = run_loadgen_with(&proxy, "stream", 24, 4, &flags);
        assert_eq!(code, 0, "{name}: {r:#}");
        assert_eq!(r["deliveries"]["received"], 96, "{name}");
        assert_eq!(r["deliveries"]["malformed"], 0, "{name}");
        assert_eq!(r["tls"]["server_name"], name);
        assert_eq!(r["tls"]["handshake_failures"], 0, "{name}");
        let negotiated = r["tls"]["negotiated"].as_str().expect("negotiated");
        assert!(negotiated.starts_with("TLSv1_3/"), "{negotiated}");
    }
    let _ = std::fs::remove_dir_all(certs);
}

#[test]
fn a_tls_run_against_a_certificate_from_another_ca_fails_every_handshake() {
    let served = tls_cert("tls-served");
    let other = tls_cert("tls-other");
    let proxy = start_tls(&served);
    let ca = other.join("ca.pem").display().to_string();
    let (code, r) = run_loadgen_with(&proxy, "stream", 12, 2, &["--tls", "--tls-ca", &ca]);
    assert_eq!(code, 1, "an untrusted proxy must fail the run: {r:#}");
    assert_eq!(r["tls"]["handshake_failures"], 12);
    assert!(r["tls"]["negotiated"].is_null());
    assert_eq!(r["connect"]["failures"], 12);
    assert_eq!(r["connect"]["held"], 0);
    assert_eq!(r["deliveries"]["received"], 0);
    for dir in [served, other] {
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn a_skipped_delivery_is_counted_lost_and_fails_the_run() {
    let proxy = FakeProxy::start(Some(2));
    let (code, r) = run_loadgen(&proxy, "stream", 10, 3);
    assert_eq!(code, 1, "a lost message must fail the run");
    assert_eq!(r["deliveries"]["lost"], 5);
    assert_eq!(r["deliveries"]["received"], 25);
    assert_eq!(r["deliveries"]["reordered"], 0);
}

#[test]
fn a_zmq_sub_run_waits_for_the_subscription_and_publishes_each_message_once() {
    let (proxy, inputs) = start_with_zmq();
    let flags = ["--publish-via", "zmq-sub", "--zmq-specs", &inputs.sub];
    let (code, r) = run_loadgen_with(&proxy, "stream", 30, 3, &flags);
    assert_eq!(code, 0, "{r:#}");
    assert_eq!(r["deliveries"]["received"], 90);
    assert_eq!(r["deliveries"]["duplicated"], 0);
    assert_eq!(r["publish"]["via"], "zmq-sub");
    assert_eq!(r["publish"]["items"], 3, "one XPUB send per message");
    assert_eq!(r["publish"]["subscribed_instances"], 1);
    assert_eq!(r["publish"]["expected_instances"], 1);
    assert!(r["publish"]["subscribe_wait_ms"].as_f64().is_some());
}

#[test]
fn a_zmq_push_run_sends_every_item_to_the_pull_input() {
    for mode in ["stream", "sse", "ws"] {
        let (proxy, inputs) = start_with_zmq();
        let flags = ["--publish-via", "zmq-push", "--zmq-specs", &inputs.pull];
        let (code, r) = run_loadgen_with(&proxy, mode, 20, 4, &flags);
        assert_eq!(code, 0, "{mode}: {r:#}");
        assert_eq!(r["deliveries"]["received"], 80, "{mode}");
        assert_eq!(r["deliveries"]["malformed"], 0, "{mode}");
        assert_eq!(r["publish"]["via"], "zmq-push", "{mode}");
        assert_eq!(r["publish"]["items"], 4, "{mode}");
        assert!(r["publish"]["subscribe_wait_ms"].is_null(), "{mode}");
    }
}

/// A `ringpin-loadgen floor-server` process, stopped (SIGTERM, then kill) when dropped.
struct FloorServer {
    child: std::process::Child,
    ports: FakeProxy,
}

impl FloorServer {
    fn start(mode: &str) -> FloorServer {
        let free_port = || {
            let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
            listener.local_addr().expect("local addr").port()
        };
        let ports = FakeProxy {
            client_port: free_port(),
            publish_port: free_port(),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_ringpin-loadgen"))
            .args(["floor-server", "--mode", mode, "--batch", "16"])
            .args(["--listen", &format!("127.0.0.1:{}", ports.client_port)])
            .args([
                "--publish-listen",
                &format!("127.0.0.1:{}", ports.publish_port),
            ])
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("floor-server starts");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", ports.publish_port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "floor-server never listened"
            );
            thread::sleep(std::time::Duration::from_millis(20));
        }
        FloorServer { child, ports }
    }

    /// The value of a counter or gauge from its `/metrics`.
    fn metric(&self, name: &str) -> u64 {
        let mut conn =
            TcpStream::connect(("127.0.0.1", self.ports.publish_port)).expect("metrics connect");
        conn.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .expect("metrics request");
        let mut text = String::new();
        conn.read_to_string(&mut text).expect("metrics response");
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    }
}

impl Drop for FloorServer {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn floor_server_delivers_a_burst_whole_and_in_order_in_both_modes() {
    // Back-to-back publishes: later ones arrive while a pass runs and are coalesced into the
    // next pass's buffer. Whatever the grouping, every subscriber must see every message
    // once, in order, and the floor must count one delivery per item and subscriber.
    for mode in ["send", "uring"] {
        let floor = FloorServer::start(mode);
        let (code, r) = run_loadgen(&floor.ports, "stream", 200, 30);
        assert_eq!(code, 0, "{mode}: {r:#}");
        assert_eq!(r["deliveries"]["received"], 6000, "{mode}");
        assert_eq!(r["deliveries"]["duplicated"], 0, "{mode}");
        assert_eq!(r["deliveries"]["reordered"], 0, "{mode}");
        assert_eq!(r["deliveries"]["malformed"], 0, "{mode}");
        assert_eq!(floor.metric("ringpin_deliveries_total"), 6000, "{mode}");
    }
}

#[test]
fn floor_server_delivers_each_item_only_to_its_channels_subscribers() {
    // 70 subscribers over 7 channels. A burst publishes one item per channel per message, in
    // 3-item POSTs; a sustained run sends one item per POST from two publishers. Each
    // subscriber must get its own channel's items once and in order, and nothing else: a
    // floor that wrote every item to every socket would count 7 times the deliveries.
    let burst = ["--channels", "7", "--items-per-post", "3"];
    let sustained = ["--channels", "7", "--rate", "500", "--publishers", "2"];
    for (mode, flags) in [
        ("send", &burst[..]),
        ("uring", &burst),
        ("uring", &sustained),
    ] {
        let floor = FloorServer::start(mode);
        let (code, r) = run_loadgen_with(&floor.ports, "stream", 70, 12, flags);
        assert_eq!(code, 0, "{mode} {flags:?}: {r:#}");
        let d = &r["deliveries"];
        assert_eq!(d["expected"], 840, "{mode} {flags:?}");
        assert_eq!(d["received"], 840, "{mode} {flags:?}");
        assert_eq!(d["duplicated"], 0, "{mode} {flags:?}");
        assert_eq!(d["reordered"], 0, "{mode} {flags:?}");
        assert_eq!(d["malformed"], 0, "{mode} {flags:?}");
        assert_eq!(
            floor.metric("ringpin_deliveries_total"),
            840,
            "{mode} {flags:?}"
        );
        assert_eq!(floor.metric("ringpin_items_total"), 84, "{mode} {flags:?}");
    }
}
