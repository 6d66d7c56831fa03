//! TLS client listeners (`--listen-tls`, pushpin.conf `https_ports`, PUSHPIN.md §11 "TLS
//! listeners with cert dir naming"): every kind of request works over TLS as over plain TCP,
//! published items reach TLS subscribers (their task encrypts, the delivery loop cannot), the
//! origin learns `X-Forwarded-Proto: https`, certificates are chosen by SNI from Pushpin's
//! directory layout and reloaded on SIGHUP, and a client that botches its handshake costs
//! nobody else anything.
//!
//! Every client here checks the server's chain and name against a CA made for the test
//! (`support::tls`), so a passing test went through a real handshake.

use crate::support::tls::{
    connect, presented, read_request_head, start_tls_origin, start_tls_proxy, try_connect,
    wss_connect, Identity, TestCa,
};
use crate::support::woh::{event, subscribe_message, woh_backend, WohOptions};
use crate::support::{
    get_request, metric, publish_ok, response_item, stream_item, wait_metric, wait_subscribed,
    Backend, BackendResponse, Proxy, SseClient, StreamClient, TempDir,
};
use serde_json::json;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

/// A TLS ringpin in front of `backend`, with one certificate for `localhost` and 127.0.0.1
/// given as `--tls-cert`/`--tls-key`.
fn tls_proxy(backend: &Backend, ca: &TestCa, dir: &TempDir) -> (Proxy, SocketAddr) {
    let identity = ca.issue(&["localhost", "127.0.0.1"]);
    identity.write_as(dir.path(), "server");
    let cert = dir.path().join("server.crt").display().to_string();
    let key = dir.path().join("server.key").display().to_string();
    let route = format!("* 127.0.0.1:{}", backend.port());
    start_tls_proxy(move |_| {
        vec![
            "--tls-cert".into(),
            cert.clone(),
            "--tls-key".into(),
            key.clone(),
            "--route".into(),
            route.clone(),
        ]
    })
}

/// A ringpin serving TLS as `localhost` (its certificate from `ca`, in `dir`) whose only route
/// goes over TLS to `origin` on 127.0.0.1, trusting `ca` for the origin's certificate.
fn start_tls_proxy_to_tls_origin(ca: &TestCa, dir: &TempDir, origin: u16) -> (Proxy, SocketAddr) {
    std::fs::write(dir.path().join("ca.pem"), &ca.pem).expect("write CA");
    ca.issue(&["localhost"]).write_as(dir.path(), "default");
    let flags = [
        "--origin-ca".to_string(),
        dir.path().join("ca.pem").display().to_string(),
        "--tls-dir".to_string(),
        dir.path().display().to_string(),
        "--route".to_string(),
        format!("* 127.0.0.1:{origin},ssl"),
    ];
    start_tls_proxy(move |_| flags.to_vec())
}

#[test]
fn a_plain_request_over_tls_is_proxied_and_the_origin_sees_x_forwarded_proto_https() {
    let backend = Backend::start(|req| BackendResponse::text(200, format!("path {}\n", req.path)));
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let (proxy, tls_addr) = tls_proxy(&backend, &ca, &dir);

    let mut conn = connect(&ca, tls_addr, "localhost");
    // The client's own claim is replaced, over TLS and over plain TCP alike.
    conn.send(b"GET /a HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: gopher\r\n\r\n");
    let response = conn.read_response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "path /a\n");
    assert_eq!(
        backend.last_request().headers_named("X-Forwarded-Proto"),
        ["https"]
    );

    // Keep-alive works over TLS: a second request on the same session.
    conn.send(&get_request("/b"));
    assert_eq!(conn.read_response().body_text(), "path /b\n");

    let mut plain = crate::support::Conn::connect(proxy.addr);
    plain.send(b"GET /c HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: https\r\n\r\n");
    assert_eq!(plain.read_response().body_text(), "path /c\n");
    assert!(backend
        .last_request()
        .headers_named("X-Forwarded-Proto")
        .is_empty());
}

#[test]
fn a_tls_stream_subscriber_gets_every_published_item_beside_a_plain_one() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("news", "start\n"));
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let (proxy, tls_addr) = tls_proxy(&backend, &ca, &dir);
    let mut secure = StreamClient::open_on(connect(&ca, tls_addr, "localhost"), "/s", &[]);
    let mut plain = StreamClient::open(proxy.addr, "/s");
    for client in [&mut secure, &mut plain] {
        assert_eq!(client.head().status, 200);
        assert_eq!(client.read_until("start\n"), "start\n");
    }
    wait_subscribed(&proxy, 2);

    for i in 0..20 {
        publish_ok(&proxy, &stream_item("news", &format!("item {i}\n")));
    }
    for client in [&mut secure, &mut plain] {
        for i in 0..20 {
            let want = format!("item {i}\n");
            assert_eq!(client.read_until(&want), want);
        }
    }
    // A large item spans several TLS records.
    let big = "x".repeat(100_000) + "\n";
    publish_ok(&proxy, &stream_item("news", &big));
    assert_eq!(secure.read_until("\n").len(), big.len());
}

#[test]
fn sse_over_tls_gets_keep_alives_and_events() {
    let backend = Backend::start(|_| {
        BackendResponse::new(200, "text/event-stream", ":ok\n\n")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "ev")
            .header("Grip-Keep-Alive", ":\\n\\n; format=cstring; timeout=1")
    });
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let (proxy, tls_addr) = tls_proxy(&backend, &ca, &dir);
    let mut events = SseClient::open_on(connect(&ca, tls_addr, "localhost"), "/events");
    assert_eq!(
        events.head().header("Content-Type"),
        Some("text/event-stream")
    );
    assert_eq!(events.next_event(), ":ok\n\n");
    // The keep-alive is written by the connection's own task, encrypted like everything else.
    assert_eq!(events.next_event(), ":\n\n");
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("ev", "event: tick\ndata: 1\n\n"));
    assert_eq!(
        events.next_event_skipping(":\n\n"),
        "event: tick\ndata: 1\n\n"
    );
}

#[test]
fn a_tls_long_poll_is_answered_by_a_publish() {
    let backend = Backend::start(|_| BackendResponse::response_hold("lp", "nothing yet\n"));
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let (proxy, tls_addr) = tls_proxy(&backend, &ca, &dir);
    let mut conn = connect(&ca, tls_addr, "localhost");
    conn.send(&get_request("/poll"));
    wait_subscribed(&proxy, 1);

    publish_ok(
        &proxy,
        &response_item("lp", json!({ "body": "published\n" })),
    );
    let response = conn.read_response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "published\n");
}

#[test]
fn a_client_that_sends_garbage_or_stalls_its_handshake_is_closed_and_others_are_served() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("c", "start\n"));
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let (proxy, tls_addr) = tls_proxy(&backend, &ca, &dir);
    let mut subscriber = StreamClient::open_on(connect(&ca, tls_addr, "localhost"), "/s", &[]);
    assert_eq!(subscriber.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);

    // Plain HTTP on the TLS port is not a handshake: closed at once.
    let mut garbage = crate::support::Conn::connect(tls_addr);
    garbage.send_lossy(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    let _ = garbage.read_to_end();
    // A client that connects and says nothing is closed by the handshake timeout (10 s).
    let mut stalled = std::net::TcpStream::connect(tls_addr).expect("connect");
    stalled
        .write_all(&[0x16, 0x03, 0x01])
        .expect("a partial record header");

    publish_ok(&proxy, &stream_item("c", "still here\n"));
    assert_eq!(subscriber.read_until("still here\n"), "still here\n");
    // Closed by ringpin (end of file or a reset) well before this read's own 30 s run out.
    stalled
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("read timeout");
    let mut byte = [0u8; 1];
    match std::io::Read::read(&mut stalled, &mut byte) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("a stalled handshake was not closed: {other:?}"),
    }
    wait_metric(&proxy, "ringpin_tls_handshakes_failed_total", ">= 2", |v| {
        v >= 2.0
    });
    assert_eq!(
        metric(&proxy, "ringpin_tls_handshakes_failed_total").map(|v| v >= 2.0),
        Some(true)
    );
    // A new TLS client is still served.
    let mut conn = StreamClient::open_on(connect(&ca, tls_addr, "localhost"), "/s", &[]);
    assert_eq!(conn.read_until("start\n"), "start\n");
}

#[test]
fn certificates_are_chosen_by_sni_from_the_directory_with_default_as_fallback() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let a = ca.issue(&["a.test"]);
    let b = ca.issue(&["b.test"]);
    let wildcard = ca.issue(&["x.wild.test"]);
    let fallback = ca.issue(&["other.test", "localhost"]);
    a.write_as(dir.path(), "a.test");
    b.write_as(dir.path(), "b.test");
    wildcard.write_as(dir.path(), "_.wild.test");
    fallback.write_as(dir.path(), "default");
    let certs = dir.path().display().to_string();
    let route = format!("* 127.0.0.1:{}", backend.port());
    let (_proxy, tls_addr) = start_tls_proxy(move |_| {
        vec![
            "--tls-dir".into(),
            certs.clone(),
            "--route".into(),
            route.clone(),
        ]
    });

    for (name, identity) in [
        ("a.test", &a),
        ("b.test", &b),
        ("x.wild.test", &wildcard),
        ("other.test", &fallback),
    ] {
        let wire = try_connect(&ca, tls_addr, name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            presented(&wire) == identity.leaf,
            "{name} got another certificate"
        );
        let mut conn = crate::support::Conn::over(wire);
        conn.send(&get_request("/"));
        assert_eq!(conn.read_response().body_text(), "ok\n");
    }
}

#[test]
fn sighup_reloads_the_certificates_for_new_handshakes() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let old = ca.issue(&["localhost"]);
    old.write_as(dir.path(), "default");
    let certs = dir.path().display().to_string();
    let route = format!("* 127.0.0.1:{}", backend.port());
    let (mut proxy, tls_addr) = start_tls_proxy(move |_| {
        vec![
            "--tls-dir".into(),
            certs.clone(),
            "--route".into(),
            route.clone(),
        ]
    });
    let mut before = connect(&ca, tls_addr, "localhost");
    before.send(&get_request("/"));
    assert_eq!(before.read_response().body_text(), "ok\n");

    let new = ca.issue(&["localhost"]);
    new.write_as(dir.path(), "default");
    proxy.signal(libc::SIGHUP);
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    loop {
        let wire = try_connect(&ca, tls_addr, "localhost").expect("handshake after reload");
        if presented(&wire) == new.leaf {
            break;
        }
        assert!(
            presented(&wire) == old.leaf,
            "neither certificate presented"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the new certificate never came"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    // The session opened before the reload goes on.
    before.send(&get_request("/"));
    assert_eq!(before.read_response().body_text(), "ok\n");
}

#[test]
fn a_wss_client_is_relayed_and_gets_published_messages() {
    let options = WohOptions {
        open_events: vec![event("TEXT", subscribe_message("room"))],
        ..WohOptions::default()
    };
    let woh = woh_backend(options);
    let (ca, dir) = (TestCa::new(), TempDir::new("tls"));
    let identity = ca.issue(&["localhost"]);
    identity.write_as(dir.path(), "default");
    let certs = dir.path().display().to_string();
    let route = format!("* 127.0.0.1:{},over_http", woh.port());
    let (proxy, tls_addr) = start_tls_proxy(move |_| {
        vec![
            "--tls-dir".into(),
            certs.clone(),
            "--route".into(),
            route.clone(),
        ]
    });
    let mut ws = wss_connect(&ca, tls_addr, "/ws");
    wait_subscribed(&proxy, 1);
    let item = json!({ "items": [ { "channel": "room", "formats": {
        "ws-message": { "content": "hello over tls" } } } ] });
    publish_ok(&proxy, &item.to_string());
    let text = |message| match message {
        tungstenite::Message::Text(text) => text.as_str().to_owned(),
        other => panic!("expected text, got {other:?}"),
    };
    assert_eq!(
        text(ws.read().expect("a published message")),
        "hello over tls"
    );
    // Client messages go to the origin and its answers come back, both encrypted here.
    ws.send(tungstenite::Message::text("echo me"))
        .expect("send");
    assert_eq!(text(ws.read().expect("the echo")), "echo me");
    let open = &woh.requests()[0];
    assert_eq!(open.headers_named("X-Forwarded-Proto"), ["wss"]);
}

/// An https origin answering every request on a kept-alive connection with `response(head)`.
fn https_origin(identity: &Identity, response: fn(&str) -> String) -> u16 {
    start_tls_origin(identity, move |mut stream| {
        while let Some(head) = read_request_head(&mut stream) {
            let bytes = response(&head);
            if stream.write_all(bytes.as_bytes()).is_err() || stream.flush().is_err() {
                return;
            }
        }
    })
}

fn echo_head(head: &str) -> String {
    let body = head.to_owned();
    format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn an_ssl_target_is_reached_over_tls_checked_against_origin_ca_unless_insecure() {
    let ca = TestCa::new();
    let dir = TempDir::new("tls");
    let origin = https_origin(&ca.issue(&["127.0.0.1"]), echo_head);
    std::fs::write(dir.path().join("ca.pem"), &ca.pem).expect("write CA");
    let ca_file = dir.path().join("ca.pem").display().to_string();
    let trusted = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--origin-ca".into(), ca_file.clone(), "--route".into()]);
        args.push(format!("* 127.0.0.1:{origin},ssl,trust_connect_host"));
        args
    });
    for _ in 0..3 {
        let response = crate::support::get(trusted.addr, "/over-tls");
        assert_eq!(response.status, 200, "{response:?}");
        assert!(response
            .body_text()
            .starts_with("GET /over-tls HTTP/1.1\r\n"));
    }

    // Without the test CA the origin's chain is not trusted: a connect failure, 502.
    let route = format!("* 127.0.0.1:{origin},ssl,trust_connect_host");
    let untrusted_ssl = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".into(), route.clone()]);
        args
    });
    assert_eq!(crate::support::get(untrusted_ssl.addr, "/").status, 502);
    // `insecure` skips the check.
    let insecure = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".into()]);
        args.push(format!("* 127.0.0.1:{origin},ssl,insecure"));
        args
    });
    let response = crate::support::get(insecure.addr, "/i");
    assert_eq!(response.status, 200, "{response:?}");
}

#[test]
fn a_stream_hold_from_an_https_origin_reaches_a_tls_client_with_publishes() {
    let ca = TestCa::new();
    let dir = TempDir::new("tls");
    let origin = https_origin(&ca.issue(&["example.com"]), |_| {
        let body = "start\n";
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nGrip-Hold: stream\r\n\
             Grip-Channel: secure\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    });
    // The origin's certificate names the Host the request carries (example.com), as
    // Pushpin checks it without trust_connect_host.
    let (proxy, tls_addr) = start_tls_proxy_to_tls_origin(&ca, &dir, origin);
    let mut client = StreamClient::open_on(connect(&ca, tls_addr, "localhost"), "/s", &[]);
    assert_eq!(client.head().status, 200, "{:?}", client.head());
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &stream_item("secure", "end to end\n"));
    assert_eq!(client.read_until("end to end\n"), "end to end\n");
}

#[test]
fn a_wss_client_reaches_a_wss_origin_through_the_passthrough() {
    let ca = TestCa::new();
    let dir = TempDir::new("tls");
    let origin = start_tls_origin(&ca.issue(&["localhost"]), |stream| {
        let Ok(mut ws) = tungstenite::accept(stream) else {
            return;
        };
        while let Ok(message) = ws.read() {
            if message.is_text() && ws.send(message).is_err() {
                return;
            }
        }
    });
    let (_proxy, tls_addr) = start_tls_proxy_to_tls_origin(&ca, &dir, origin);
    // wss_connect names localhost, which is also the Host the origin's certificate is checked
    // against.
    let mut ws = wss_connect(&ca, tls_addr, "/echo");
    ws.send(tungstenite::Message::text("round trip"))
        .expect("send");
    match ws.read().expect("the echo") {
        tungstenite::Message::Text(text) => assert_eq!(text.as_str(), "round trip"),
        other => panic!("expected text, got {other:?}"),
    }
}

#[test]
fn an_absolute_https_next_link_is_fetched_over_tls_and_appended() {
    let ca = TestCa::new();
    let dir = TempDir::new("tls");
    // The plain origin answers with a link to an https origin on another host:port.
    let secure = https_origin(&ca.issue(&["127.0.0.1"]), |head| {
        let body = if head.starts_with("GET /second ") {
            "two\n"
        } else {
            "unexpected\n"
        };
        format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    });
    let link = format!("<https://127.0.0.1:{secure}/second>; rel=next");
    let backend =
        Backend::start(move |_| BackendResponse::text(200, "one\n").header("Grip-Link", &link));
    std::fs::write(dir.path().join("ca.pem"), &ca.pem).expect("write CA");
    let ca_file = dir.path().join("ca.pem").display().to_string();
    let proxy = Proxy::start(backend.port(), &["--origin-ca", &ca_file]);
    let mut client = StreamClient::open(proxy.addr, "/first");
    assert_eq!(client.head().status, 200, "{:?}", client.head());
    assert_eq!(client.read_until("two\n"), "one\ntwo\n");
    client.expect_end();
}
