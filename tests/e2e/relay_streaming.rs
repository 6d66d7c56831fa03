//! Ordinary (non-GRIP) responses relayed as they are produced (issue 13, item 1; PUSHPIN.md
//! §1.6): the client gets the response head and each body piece while the origin is still
//! writing, in the framing its HTTP version allows, with backpressure and bounded memory; a
//! client that leaves closes the origin connection, and an origin that dies mid-body leaves the
//! client a visibly truncated response.
//!
//! The origin is scripted from the test thread on a raw `TcpListener`, step by step: it sends
//! the next piece only after the client has shown it has the previous one, so every check is
//! an ordering, never a duration.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{find, pattern_body, preview, wait_metric, Conn, Proxy, Response, DEADLINE};

/// How often a pending `accept` is retried.
const ACCEPT_POLL: Duration = Duration::from_millis(5);

/// An origin listener whose connections the test drives by hand.
struct ScriptedOrigin {
    listener: TcpListener,
}

impl ScriptedOrigin {
    fn start() -> ScriptedOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind an origin port");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        ScriptedOrigin { listener }
    }

    fn port(&self) -> u16 {
        self.listener.local_addr().expect("local_addr").port()
    }

    /// The next connection ringpin opens, with its request head read.
    fn accept(&self) -> OriginSide {
        let deadline = Instant::now() + DEADLINE;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == ErrorKind::WouldBlock && Instant::now() < deadline => {
                    thread::sleep(ACCEPT_POLL);
                }
                Err(e) => panic!("no origin connection from ringpin within {DEADLINE:?}: {e}"),
            }
        };
        stream
            .set_nonblocking(false)
            .expect("blocking origin socket");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        stream
            .set_read_timeout(Some(DEADLINE))
            .expect("read timeout");
        stream
            .set_write_timeout(Some(DEADLINE))
            .expect("write timeout");
        let mut side = OriginSide {
            stream,
            buf: Vec::new(),
        };
        side.read_request();
        side
    }
}

/// One origin connection, from the origin's side.
struct OriginSide {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl OriginSide {
    /// Reads one request head (the tests send no request bodies); returns its request line.
    fn read_request(&mut self) -> String {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                let text = String::from_utf8_lossy(&head).into_owned();
                return text.lines().next().unwrap_or_default().to_owned();
            }
            let mut tmp = [0u8; 4096];
            match self.stream.read(&mut tmp) {
                Ok(0) => panic!("ringpin closed the origin connection before a request head"),
                Ok(n) => self.buf.extend_from_slice(&tmp[..n]),
                Err(e) => panic!("reading a request head at the origin: {e}"),
            }
        }
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("origin send {}: {e}", preview(bytes)));
    }

    /// Asserts that ringpin closes this connection (end-of-file or reset) without sending
    /// anything more.
    fn expect_closed_by_ringpin(&mut self) {
        let mut tmp = [0u8; 4096];
        match self.stream.read(&mut tmp) {
            Ok(0) => {}
            Ok(n) => panic!("origin received {} instead of EOF", preview(&tmp[..n])),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset) => {}
            Err(e) => panic!("ringpin did not close the origin connection: {e}"),
        }
    }
}

/// How the origin frames its body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum OriginBody {
    Chunked,
    CloseDelimited,
    Length,
}

impl OriginBody {
    /// The head and `part-1\n`, as one write; the body is not complete.
    fn start(self, extra_headers: &str) -> Vec<u8> {
        let (framing, first) = match self {
            OriginBody::Chunked => ("Transfer-Encoding: chunked\r\n", "7\r\npart-1\n\r\n"),
            OriginBody::CloseDelimited => ("", "part-1\n"),
            OriginBody::Length => ("Content-Length: 14\r\n", "part-1\n"),
        };
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n{framing}{extra_headers}\r\n{first}"
        )
        .into_bytes()
    }

    /// `part-2\n` and the end of the body (the close-delimited body ends when the origin
    /// closes).
    fn finish(self) -> &'static [u8] {
        match self {
            OriginBody::Chunked => b"7\r\npart-2\n\r\n0\r\n\r\n",
            OriginBody::CloseDelimited | OriginBody::Length => b"part-2\n",
        }
    }
}

/// How the client sees the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClientFraming {
    Chunked,
    Length,
    CloseDelimited,
}

fn client_framing(head: &Response) -> ClientFraming {
    match (head.is_chunked(), head.header("Content-Length")) {
        (true, None) => ClientFraming::Chunked,
        (false, Some(_)) => ClientFraming::Length,
        (false, None) => ClientFraming::CloseDelimited,
        (true, Some(_)) => panic!("two framings for one body: {head:?}"),
    }
}

/// Exactly `n` body bytes, through the client's framing.
fn read_body_bytes(conn: &mut Conn, framing: ClientFraming, n: usize) -> Vec<u8> {
    if framing != ClientFraming::Chunked {
        return conn.read_exact_raw(n);
    }
    let mut body = Vec::new();
    while body.len() < n {
        match conn.read_chunk() {
            Some(data) => body.extend_from_slice(&data),
            None => panic!("the body ended after {}", preview(&body)),
        }
    }
    assert_eq!(body.len(), n, "more than asked for: {}", preview(&body));
    body
}

fn client_request(version: &str) -> Vec<u8> {
    format!("GET /stream HTTP/{version}\r\nHost: example.com\r\n\r\n").into_bytes()
}

#[test]
fn each_body_piece_reaches_the_client_before_the_origin_sends_the_next() {
    use ClientFraming as C;
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &[]);
    let cases = [
        (OriginBody::Chunked, "1.1", C::Chunked),
        (OriginBody::CloseDelimited, "1.1", C::Chunked),
        (OriginBody::Length, "1.1", C::Length),
        (OriginBody::Chunked, "1.0", C::CloseDelimited),
        (OriginBody::CloseDelimited, "1.0", C::CloseDelimited),
        (OriginBody::Length, "1.0", C::Length),
    ];
    for (body, version, want) in cases {
        let case = format!("{body:?} origin body, HTTP/{version} client");
        let mut client = Conn::connect(proxy.addr);
        client.send(&client_request(version));
        let mut side = origin.accept();
        side.send(&body.start("Connection: close\r\n"));

        let head = client.read_head();
        assert_eq!(head.status, 200, "{case}: {head:?}");
        assert_eq!(client_framing(&head), want, "{case}: {head:?}");
        if want == C::Length {
            assert_eq!(head.header("Content-Length"), Some("14"), "{case}");
        }
        let first = read_body_bytes(&mut client, want, 7);
        assert_eq!(first, b"part-1\n", "{case}");

        side.send(body.finish());
        drop(side);
        let rest = match want {
            C::Chunked => {
                let rest = read_body_bytes(&mut client, want, 7);
                assert_eq!(client.read_chunk(), None, "{case}: the last chunk");
                rest
            }
            C::Length => read_body_bytes(&mut client, want, 7),
            C::CloseDelimited => client.read_to_end(),
        };
        assert_eq!(preview(&rest), preview(b"part-2\n"), "{case}");
        if version == "1.0" {
            client.expect_closed();
        }
    }
}

#[test]
fn an_origin_event_stream_gets_its_head_at_once_and_each_event_as_it_is_sent() {
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &[]);
    let mut client = Conn::connect(proxy.addr);
    client.send(&client_request("1.1"));
    let mut side = origin.accept();

    side.send(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
          Transfer-Encoding: chunked\r\n\r\n",
    );
    let head = client.read_head();
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    assert!(head.is_chunked(), "{head:?}");
    for n in 1..=3 {
        let event = format!("data: event {n}\n\n");
        side.send(format!("{:x}\r\n{event}\r\n", event.len()).as_bytes());
        let got = read_body_bytes(&mut client, ClientFraming::Chunked, event.len());
        assert_eq!(preview(&got), preview(event.as_bytes()), "event {n}");
    }
    side.send(b"0\r\n\r\n");
    assert_eq!(client.read_chunk(), None, "the last chunk");
}

#[test]
fn a_streamed_body_that_ends_cleanly_returns_its_origin_connection_to_the_pool() {
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &[]);
    let mut client = Conn::connect(proxy.addr);
    client.send(&client_request("1.1"));
    let mut side = origin.accept();
    side.send(&OriginBody::Chunked.start(""));
    let head = client.read_head();
    assert_eq!(
        read_body_bytes(&mut client, ClientFraming::Chunked, 7),
        b"part-1\n"
    );
    side.send(OriginBody::Chunked.finish());
    assert_eq!(
        read_body_bytes(&mut client, ClientFraming::Chunked, 7),
        b"part-2\n"
    );
    assert_eq!(client.read_chunk(), None, "the last chunk; {head:?}");

    // The same client connection, so the same shard and its pool: the next request must come
    // on the origin connection the first one used.
    client.send(b"GET /again HTTP/1.1\r\nHost: example.com\r\n\r\n");
    assert_eq!(side.read_request(), "GET /again HTTP/1.1");
    side.send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nagain\n");
    assert_eq!(client.read_response().body_text(), "again\n");
}

#[test]
fn a_client_that_leaves_mid_body_makes_ringpin_close_the_origin_connection() {
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &[]);
    for body in [OriginBody::Chunked, OriginBody::Length] {
        let mut client = Conn::connect(proxy.addr);
        client.send(&client_request("1.1"));
        let mut side = origin.accept();
        side.send(&body.start(""));
        let head = client.read_head();
        let framing = client_framing(&head);
        assert_eq!(read_body_bytes(&mut client, framing, 7), b"part-1\n");
        assert_eq!(
            sockets_to_port(&proxy, origin.port()),
            1,
            "{body:?}: while relaying"
        );

        drop(client);
        side.expect_closed_by_ringpin();
        let deadline = Instant::now() + DEADLINE;
        while sockets_to_port(&proxy, origin.port()) > 0 {
            assert!(
                Instant::now() < deadline,
                "{body:?}: ringpin still holds a descriptor for the origin connection"
            );
            thread::sleep(ACCEPT_POLL);
        }
    }
    wait_metric(&proxy, "ringpin_connections", "== 0", |v| v == 0.0);
}

/// How many of ringpin's descriptors are TCP sockets connected to `port` on 127.0.0.1: the
/// socket inodes in `/proc/PID/fd` that `/proc/PID/net/tcp` lists with that remote port.
fn sockets_to_port(proxy: &Proxy, port: u16) -> usize {
    let pid = proxy.pid();
    let fd_dir = format!("/proc/{pid}/fd");
    let inodes: Vec<String> = std::fs::read_dir(&fd_dir)
        .unwrap_or_else(|e| panic!("read {fd_dir}: {e}"))
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(link.strip_prefix("socket:[")?.strip_suffix(']')?.to_owned())
        })
        .collect();
    let table_path = format!("/proc/{pid}/net/tcp");
    let table =
        std::fs::read_to_string(&table_path).unwrap_or_else(|e| panic!("read {table_path}: {e}"));
    let remote = format!("0100007F:{port:04X}");
    table
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.get(2) == Some(&remote.as_str()))
        .filter(|fields| {
            fields
                .get(9)
                .is_some_and(|inode| inodes.iter().any(|i| i == inode))
        })
        .count()
}

#[test]
fn an_origin_that_dies_mid_body_leaves_the_client_a_truncated_response() {
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &[]);
    for body in [OriginBody::Chunked, OriginBody::Length] {
        let mut client = Conn::connect(proxy.addr);
        client.send(&client_request("1.1"));
        let mut side = origin.accept();
        side.send(&body.start(""));
        let head = client.read_head();
        let framing = client_framing(&head);
        assert_eq!(read_body_bytes(&mut client, framing, 7), b"part-1\n");

        let _ = side.stream.shutdown(Shutdown::Both);
        drop(side);
        let rest = client.read_to_end();
        assert!(
            rest.is_empty(),
            "{body:?}: after the origin died the client got {} (no last chunk, no more body)",
            preview(&rest)
        );
    }
}

/// A 10 MB chunked body to a client that reads slowly: it arrives intact, and ringpin's
/// resident set grows by far less than the body (the relay keeps one origin read at a time
/// and reads the origin only as fast as the client takes bytes).
#[test]
fn a_ten_megabyte_body_reaches_a_slow_client_intact_while_memory_stays_bounded() {
    const BODY_BYTES: usize = 10_000_000;
    const ORIGIN_CHUNK_BYTES: usize = 64 * 1024;
    /// The client pauses after each this many bytes.
    const CLIENT_PAUSE_EVERY_BYTES: usize = 256 * 1024;
    /// A whole-body buffer would exceed it. Not tighter: mimalloc backs its heap with
    /// transparent huge pages, so RSS moves in 2 MiB steps, and a relay that held under 30 KB
    /// (measured with `MIMALLOC_ALLOW_THP=0`) was seen to add three steps (6.4 MB).
    const RSS_GROWTH_BYTES_MAX: u64 = (BODY_BYTES * 8 / 10) as u64;
    let body = pattern_body(BODY_BYTES);
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &[]);
    let mut client = Conn::connect(proxy.addr);
    client.send(&client_request("1.1"));
    let mut side = origin.accept();
    let first = &body[..ORIGIN_CHUNK_BYTES];
    let mut start = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\
                      Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    start.extend_from_slice(format!("{:x}\r\n", first.len()).as_bytes());
    start.extend_from_slice(first);
    start.extend_from_slice(b"\r\n");
    side.send(&start);
    let head = client.read_head();
    assert!(head.is_chunked(), "{head:?}");
    let got = read_body_bytes(&mut client, ClientFraming::Chunked, ORIGIN_CHUNK_BYTES);
    assert!(got == first, "the first chunk differs");
    let baseline = proxy.proc_status_bytes("VmRSS");

    let rest = body[ORIGIN_CHUNK_BYTES..].to_vec();
    let writer = thread::spawn(move || {
        for chunk in rest.chunks(ORIGIN_CHUNK_BYTES) {
            side.send(format!("{:x}\r\n", chunk.len()).as_bytes());
            side.send(chunk);
            side.send(b"\r\n");
        }
        side.send(b"0\r\n\r\n");
    });
    let mut at = ORIGIN_CHUNK_BYTES;
    let mut peak = baseline;
    let mut next_pause = at + CLIENT_PAUSE_EVERY_BYTES;
    while let Some(chunk) = client.read_chunk() {
        assert!(
            body.get(at..at + chunk.len()) == Some(&chunk[..]),
            "body differs in the {} bytes at {at}",
            chunk.len()
        );
        at += chunk.len();
        if at >= next_pause {
            next_pause += CLIENT_PAUSE_EVERY_BYTES;
            peak = peak.max(proxy.proc_status_bytes("VmRSS"));
            thread::sleep(Duration::from_millis(2));
        }
    }
    writer.join().expect("origin writer");
    assert_eq!(at, BODY_BYTES, "body length");
    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < RSS_GROWTH_BYTES_MAX,
        "VmRSS grew by {growth} bytes (from {baseline} to a peak of {peak}) while relaying \
         {BODY_BYTES} bytes; limit {RSS_GROWTH_BYTES_MAX}"
    );
    eprintln!("VmRSS baseline {baseline}, peak {peak}, growth {growth}");
}

/// HEAD and bodiless statuses keep no body even when the origin's head announces one, so the
/// next response on the connection starts right after their heads.
#[test]
fn head_204_and_304_answers_are_relayed_without_a_body() {
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &[]);
    let mut client = Conn::connect(proxy.addr);
    let cases: [(&str, &[u8], u16); 3] = [
        (
            "HEAD",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
            200,
        ),
        (
            "GET",
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
            204,
        ),
        (
            "GET",
            b"HTTP/1.1 304 Not Modified\r\nConnection: close\r\n\r\n",
            304,
        ),
    ];
    for (method, answer, status) in cases {
        client.send(format!("{method} /x HTTP/1.1\r\nHost: example.com\r\n\r\n").as_bytes());
        let mut side = origin.accept();
        side.send(answer);
        let head = client.read_head();
        assert_eq!(head.status, status, "{head:?}");
        assert!(!head.is_chunked(), "{method} {status}: {head:?}");
    }
    client.send(b"GET /last HTTP/1.1\r\nHost: example.com\r\n\r\n");
    let mut side = origin.accept();
    side.send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nlast\n");
    assert_eq!(client.read_response().body_text(), "last\n");
}

#[test]
fn a_client_that_stops_reading_mid_body_ends_the_relay_after_the_idle_timeout() {
    let origin = ScriptedOrigin::start();
    let proxy = Proxy::start(origin.port(), &["--client-idle-timeout", "1"]);
    let mut client = Conn::connect(proxy.addr);
    client.send(&client_request("1.1"));
    let mut side = origin.accept();
    side.send(&OriginBody::Chunked.start(""));
    let head = client.read_head();
    let framing = client_framing(&head);
    assert_eq!(read_body_bytes(&mut client, framing, 7), b"part-1\n");
    // The client reads no more; the origin writes until the buffers between them are full
    // and ringpin, unable to write to the client for a second, gives the relay up.
    let chunk = format!("{:x}\r\n{}\r\n", 65_536, "x".repeat(65_536));
    let deadline = Instant::now() + DEADLINE;
    let ended = loop {
        match side.stream.write_all(chunk.as_bytes()) {
            Ok(()) => assert!(
                Instant::now() < deadline,
                "the origin's connection was still open after {DEADLINE:?}: the relay never ended"
            ),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(ended.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
        "the origin's write failed because ringpin closed the connection, not by timing out: {ended}"
    );
    drop(client);
    wait_metric(&proxy, "ringpin_connections", "== 0", |v| v == 0.0);
}
