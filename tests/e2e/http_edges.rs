//! HTTP edge cases at the client edge (issue 10, item 8): absolute-form targets and `Host`
//! (RFC 9112 §3.2, §3.2.2), `CONNECT`, `HEAD` answered by a GRIP hold, error responses
//! that close a connection with unread request bytes still arriving, and the start-up
//! warning for a publish listener reachable from other hosts.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Instant;

use crate::support::{
    get, preview, publish_ok, request, response_item, stream_item, wait_subscribed, Backend,
    BackendResponse, Conn, Proxy, DEADLINE,
};

/// An origin that answers `<name> <Host header>\n`.
fn named_backend(name: &'static str) -> Backend {
    Backend::start(move |req| {
        let host = req.header("Host").unwrap_or("-").to_string();
        BackendResponse::text(200, format!("{name} {host}\n"))
    })
}

/// ringpin with one `--route` per line.
fn start_with_routes(lines: &[String]) -> Proxy {
    Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        for line in lines {
            args.extend(["--route".to_string(), line.clone()]);
        }
        args
    })
}

#[test]
fn absolute_form_request_is_routed_and_forwarded_with_the_host_of_its_target() {
    let (good, other) = (named_backend("good"), named_backend("other"));
    let proxy = start_with_routes(&[
        format!("good.example 127.0.0.1:{}", good.port()),
        format!("* 127.0.0.1:{}", other.port()),
    ]);
    // (target, Host the origin must see)
    let cases = [
        ("http://good.example/a", "good.example"),
        ("http://Good.Example:8080/a?q", "Good.Example:8080"),
        ("http://user@good.example/a", "good.example"),
    ];

    for (target, want_host) in cases {
        let raw =
            format!("GET {target} HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n");
        let response = request(proxy.addr, raw.as_bytes());
        assert_eq!(response.status, 200, "{target}: {response:?}");
        assert_eq!(
            response.body_text(),
            format!("good {want_host}\n"),
            "{target}"
        );
    }
    let seen = good.last_request();
    assert_eq!(seen.path, "/a", "origin-form target");
    assert_eq!(seen.headers_named("Host"), ["good.example"]);
    assert!(other.requests().is_empty(), "{:?}", other.requests());
}

#[test]
fn http11_request_without_exactly_one_valid_host_gets_400_and_is_not_forwarded() {
    let backend = named_backend("origin");
    let proxy = Proxy::start(backend.port(), &[]);
    let refused: [&[u8]; 3] = [
        b"GET /no-host HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /two HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n",
        b"GET /bad HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n",
    ];

    for sent in refused {
        let mut conn = Conn::connect(proxy.addr);
        conn.send(sent);
        let response = conn.read_response();
        assert_eq!(response.status, 400, "{}: {response:?}", preview(sent));
        conn.expect_closed();
    }

    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
    // HTTP/1.0 needs no Host, and HTTP/1.1 with one is served.
    let response = request(proxy.addr, b"GET /old HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(get(proxy.addr, "/new").status, 200);
}

#[test]
fn connect_gets_501_and_is_not_forwarded() {
    let backend = named_backend("origin");
    let proxy = Proxy::start(backend.port(), &[]);
    let sent = b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n";

    let mut conn = Conn::connect(proxy.addr);
    conn.send(sent);
    let response = conn.read_response();

    assert_eq!(response.status, 501, "{response:?}");
    conn.expect_closed();
    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
}

/// An origin that answers `HEAD` with `grip` (empty body, as a HEAD answer has none) and
/// anything else with `after\n`.
fn head_grip_backend(grip: fn() -> BackendResponse) -> Backend {
    Backend::start(move |req| {
        if req.method == "HEAD" {
            grip()
        } else {
            BackendResponse::text(200, "after\n")
        }
    })
}

/// After a HEAD response's head, the next bytes on the connection must be the answer to
/// the next request: a HEAD response has no body, whatever was published.
fn assert_next_bytes_answer_the_next_request(conn: &mut Conn) {
    conn.send(b"GET /after HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    let next = conn.read_exact_raw(b"HTTP/1.1 200".len());
    assert_eq!(
        String::from_utf8_lossy(&next),
        "HTTP/1.1 200",
        "bytes after the HEAD response's head"
    );
    let rest = conn.read_to_end();
    assert!(rest.ends_with(b"\r\n\r\nafter\n"), "{}", preview(&rest));
}

#[test]
fn head_answered_with_a_stream_hold_gets_the_head_and_no_body() {
    let holds: [fn() -> BackendResponse; 2] = [
        || BackendResponse::stream_hold("head", ""),
        || BackendResponse::stream_hold("head", "").header("Grip-Link", "</next>; rel=next"),
    ];
    for hold in holds {
        let backend = head_grip_backend(hold);
        let proxy = Proxy::start(backend.port(), &[]);
        let mut conn = Conn::connect(proxy.addr);
        conn.send(b"HEAD /stream HTTP/1.1\r\nHost: example.com\r\n\r\n");

        let head = conn.read_head();
        assert_eq!(head.status, 200, "{head:?}");
        // A subscriber registers before its head is written, so this publish would reach it.
        publish_ok(&proxy, &stream_item("head", "published\n"));

        assert_next_bytes_answer_the_next_request(&mut conn);
    }
}

#[test]
fn head_answered_with_a_response_hold_gets_the_published_head_and_no_body() {
    let backend = head_grip_backend(|| BackendResponse::response_hold("head", ""));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"HEAD /poll HTTP/1.1\r\nHost: example.com\r\n\r\n");
    wait_subscribed(&proxy, 1);

    let published = serde_json::json!({ "code": 201, "body": "published\n" });
    publish_ok(&proxy, &response_item("head", published));

    let head = conn.read_head();
    assert_eq!(head.status, 201, "{head:?}");
    assert_next_bytes_answer_the_next_request(&mut conn);
}

/// Sends `head` and `junk_bytes` more in one write that the kernel takes at once (the
/// client is still uploading, as far as ringpin can tell), then reads until the connection
/// ends. Returns what was read and whether the end was orderly (FIN) rather than a reset.
fn send_and_read_everything(addr: SocketAddr, head: &str, junk_bytes: usize) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect_timeout(&addr, DEADLINE).expect("connect");
    let mut sent = head.as_bytes().to_vec();
    sent.resize(sent.len() + junk_bytes, b'j');
    let _ = stream.write_all(&sent);
    let deadline = Instant::now() + DEADLINE;
    let mut received = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    let orderly = loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no end of connection: {}",
            preview(&received)
        );
        stream.set_read_timeout(Some(left)).expect("timeout");
        match stream.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("no end of connection: {}", preview(&received))
            }
            Err(_) => break false,
        }
    };
    let _ = stream.shutdown(Shutdown::Both);
    (received, orderly)
}

/// The status and the complete `Content-Length` body in `received`, or a panic that shows it.
fn whole_response(received: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(received);
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete head in {}", preview(received)));
    let status = head[9..12].parse().expect("status code");
    let length: usize = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length:")
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Content-Length in {head:?}"));
    assert!(
        body.len() >= length,
        "body cut short: {} of {length} bytes in {}",
        body.len(),
        preview(received)
    );
    (status, body[..length].to_string())
}

#[test]
fn error_response_that_closes_is_followed_by_an_orderly_end_not_a_reset() {
    let backend = named_backend("origin");
    let proxy = Proxy::start(backend.port(), &[]);
    let long_uri = format!(
        "GET /{} HTTP/1.1\r\nHost: example.com\r\nContent-Length: 4000000\r\n\r\n",
        "u".repeat(4999)
    );
    let big_head = format!(
        "GET / HTTP/1.1\r\nHost: example.com\r\nX-Filler: {}\r\n\r\n",
        "f".repeat(9000)
    );
    let no_host = "POST / HTTP/1.1\r\nContent-Length: 4000000\r\n\r\n".to_string();
    let cases = [(long_uri, 414), (big_head, 431), (no_host, 400)];

    for (head, want) in &cases {
        // Unread bytes still in ringpin's receive queue when it closes would make the kernel
        // answer with a reset, which can destroy the response before the client reads it.
        let (received, orderly) = send_and_read_everything(proxy.addr, head, 64 * 1024);
        let (status, body) = whole_response(&received);
        assert_eq!(status, *want, "{body:?}");
        assert!(body.ends_with('\n'), "{body:?}");
        assert!(
            orderly,
            "{want}: the connection was reset after the response"
        );
    }
    assert_eq!(get(proxy.addr, "/after").status, 200);
}

#[test]
fn publish_listener_on_a_non_loopback_address_logs_a_warning_at_start() {
    let backend = named_backend("origin");
    let route = format!("* 127.0.0.1:{}", backend.port());
    let exposed = Proxy::start_with(|ports| {
        vec![
            "--listen".to_string(),
            ports.addr.to_string(),
            "--publish-listen".to_string(),
            format!("0.0.0.0:{}", ports.publish_addr.port()),
            "--route".to_string(),
            route.clone(),
        ]
    });
    let loopback = Proxy::start(backend.port(), &[]);
    let warning = "WARN";
    let mentions = |log: &str| {
        log.lines()
            .any(|l| l.contains(warning) && l.contains("publish") && l.contains("authentication"))
    };

    assert!(mentions(&exposed.log()), "{}", exposed.log_tail());
    assert!(!mentions(&loopback.log()), "{}", loopback.log_tail());
}
