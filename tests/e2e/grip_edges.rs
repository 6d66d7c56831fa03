//! GRIP instruction edges (PUSHPIN.md §1.5, §1.7, §2.1-2.4, §4, §5.1): `Grip-Status`,
//! `Grip-Expose-Headers`, invalid and unknown instructions, the 100,000-byte limits on GRIP
//! bodies and on request bodies, the 5 s minimum `Grip-Timeout`, HTTP/1.0 streams,
//! `Grip-Keep-Alive` in `interval` mode, and the `prefix=` route prop.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    assert_same_bytes, get, get_request, pattern_body, publish_ok, request, response_item,
    stream_close_item, stream_item, wait_subscribed, Backend, BackendResponse, Conn, Proxy,
    StreamClient, DEADLINE,
};

/// Pushpin buffers this much of a request or GRIP response body (PUSHPIN.md §1.5, §2.4).
const GRIP_BODY_BYTES_MAX: usize = 100_000;
/// Comfortably over `GRIP_BODY_BYTES_MAX`.
const LARGE_BODY_BYTES: usize = 150_000;
const _: () = assert!(LARGE_BODY_BYTES > GRIP_BODY_BYTES_MAX);
const GENERIC_502_BODY: &str = "Error while proxying to origin.\n";

/// An origin that gives every request the same response.
fn fixed_backend(response: BackendResponse) -> Backend {
    Backend::start(move |_| response.clone())
}

#[test]
fn grip_status_sets_the_status_line_of_a_stream_hold() {
    let backend = fixed_backend(
        BackendResponse::stream_hold("status", "start\n").header("Grip-Status", "202 Acceptedish"),
    );
    let proxy = Proxy::start(backend.port(), &[]);

    let mut client = StreamClient::open(proxy.addr, "/stream");

    let head = client.head().clone();
    assert_eq!(
        (head.version.as_str(), head.status, head.reason.as_str()),
        ("HTTP/1.1", 202, "Acceptedish")
    );
    assert_eq!(head.grip_headers(), Vec::<&str>::new());
    assert_eq!(client.read_until("start\n"), "start\n");
}

#[test]
fn grip_expose_headers_keeps_only_the_listed_origin_headers() {
    let backend = fixed_backend(
        BackendResponse::stream_hold("expose", "start\n")
            .header("X-Shown", "1")
            .header("X-Hidden", "2")
            .header("Grip-Expose-Headers", "X-Shown, Content-Type"),
    );
    let proxy = Proxy::start(backend.port(), &[]);

    let mut client = StreamClient::open(proxy.addr, "/stream");

    let head = client.head().clone();
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("X-Shown"), Some("1"));
    assert_eq!(head.header("Content-Type"), Some("text/plain"));
    assert_eq!(head.header("X-Hidden"), None, "{head:?}");
    assert_eq!(head.grip_headers(), Vec::<&str>::new());
    assert_eq!(client.read_until("start\n"), "start\n");
}

#[test]
fn invalid_grip_hold_value_gets_502_with_the_generic_text() {
    let backend = fixed_backend(
        BackendResponse::text(200, "held?\n")
            .header("Grip-Hold", "bogus")
            .header("Grip-Channel", "x"),
    );
    let proxy = Proxy::start(backend.port(), &[]);

    let response = get(proxy.addr, "/bogus");

    assert_eq!(response.status, 502, "{response:?}");
    assert_eq!(response.body_text(), GENERIC_502_BODY);
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
}

#[test]
fn response_with_only_an_unknown_grip_header_is_relayed_without_it() {
    let backend = fixed_backend(
        BackendResponse::text(200, "plain\n")
            .header("Grip-Foo", "x")
            .header("X-Other", "kept"),
    );
    let proxy = Proxy::start(backend.port(), &[]);

    let response = get(proxy.addr, "/foo");

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "plain\n");
    assert_eq!(response.header("X-Other"), Some("kept"));
    assert_eq!(response.grip_headers(), Vec::<&str>::new());
}

#[test]
fn response_hold_with_a_grip_body_over_100_000_bytes_gets_502() {
    let body = "x".repeat(LARGE_BODY_BYTES);
    let backend = fixed_backend(BackendResponse::response_hold("big", &body));
    let proxy = Proxy::start(backend.port(), &[]);

    let response = get(proxy.addr, "/poll");

    assert_eq!(response.status, 502, "{response:?}");
    assert_eq!(response.body_text(), GENERIC_502_BODY);
}

#[test]
fn stream_hold_with_a_150_kb_initial_body_delivers_it_then_appends_publishes() {
    let body = pattern_body(LARGE_BODY_BYTES);
    let origin_body = body.clone();
    let backend = Backend::start(move |_| {
        BackendResponse::bytes(200, origin_body.clone())
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "bulk")
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.head().status, 200, "{:?}", client.head());

    let initial = client.read_body_bytes(LARGE_BODY_BYTES);
    assert_same_bytes(&initial, &body, "150 KB initial stream body");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &stream_item("bulk", "after\n"));

    assert_eq!(client.read_until("after\n"), "after\n");
}

#[test]
fn request_body_over_100_000_bytes_answered_with_a_grip_hold_gets_400() {
    let backend = fixed_backend(BackendResponse::response_hold("upload", "timeout\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let body = pattern_body(LARGE_BODY_BYTES);
    let mut raw = format!(
        "POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Type: application/octet-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(&body);

    let response = request(proxy.addr, &raw);

    assert_eq!(response.status, 400, "{response:?}");
    assert_eq!(
        response.body_text(),
        "Request too large to accept GRIP instruct.\n"
    );
    let seen = backend.last_request();
    assert_eq!(seen.method, "POST");
    assert_same_bytes(&seen.body, &body, "request body at the origin");
}

#[test]
fn grip_timeout_below_five_seconds_is_raised_to_the_five_second_minimum() {
    const NOT_BEFORE: Duration = Duration::from_secs(3);
    let backend = fixed_backend(
        BackendResponse::response_hold("short", "timed out\n").header("Grip-Timeout", "1"),
    );
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll"));
    wait_subscribed(&proxy, 1);

    // A minimum is the one timing this suite asserts: 1 s would have answered by now.
    conn.expect_nothing_for(NOT_BEFORE);

    let response = conn.read_response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "timed out\n");
}

#[test]
fn http_1_0_stream_is_close_delimited_with_raw_publishes_and_closes_on_close_action() {
    let backend = fixed_backend(BackendResponse::stream_hold("old", "start\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"GET /stream HTTP/1.0\r\nHost: example.com\r\n\r\n");

    let head = conn.read_head();
    assert_eq!(head.status, 200, "{head:?}");
    assert!(
        !head.is_chunked(),
        "chunked to an HTTP/1.0 client: {head:?}"
    );
    assert_eq!(head.header("Content-Length"), None, "{head:?}");
    assert_eq!(conn.read_exact_raw(6), b"start\n");
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("old", "hello\n"));
    assert_eq!(conn.read_exact_raw(6), b"hello\n");
    publish_ok(&proxy, &stream_item("old", "second\n"));
    assert_eq!(conn.read_exact_raw(7), b"second\n");
    publish_ok(&proxy, &stream_close_item("old"));

    conn.expect_closed();
}

const KEEP_ALIVE: &str = "ka\n";
/// Far shorter than the shortest keep-alive period (timeout minus up to 1 s of jitter), so the
/// stream is never silent long enough for an `idle` keep-alive.
const PUBLISH_EVERY: Duration = Duration::from_millis(50);

/// Opens a stream held with `Grip-Keep-Alive: <keep_alive_params>` on channel `busy`.
fn open_keep_alive_stream(keep_alive_params: &str) -> (Backend, Proxy, StreamClient) {
    let backend = fixed_backend(BackendResponse::stream_hold("busy", "start\n").header(
        "Grip-Keep-Alive",
        &format!("ka\\n; format=cstring; {keep_alive_params}"),
    ));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    (backend, proxy, client)
}

/// Publishes item `seq`, reads up to it, and returns how many keep-alives came before it.
fn publish_and_count_keep_alives(proxy: &Proxy, client: &mut StreamClient, seq: usize) -> usize {
    let item = format!("item {seq}\n");
    publish_ok(proxy, &stream_item("busy", &item));
    let mut keep_alives = 0;
    loop {
        let line = client.read_until("\n");
        match line.as_str() {
            KEEP_ALIVE => keep_alives += 1,
            _ if line == item => return keep_alives,
            _ => panic!("unexpected line {line:?} while waiting for {item:?}"),
        }
    }
}

#[test]
fn interval_keep_alive_is_sent_even_while_publishes_keep_the_stream_busy() {
    const KEEP_ALIVES_WANTED: usize = 2;
    let (_backend, proxy, mut client) = open_keep_alive_stream("timeout=2; mode=interval");

    let deadline = Instant::now() + DEADLINE;
    let mut keep_alives = 0;
    for seq in 0.. {
        keep_alives += publish_and_count_keep_alives(&proxy, &mut client, seq);
        if keep_alives >= KEEP_ALIVES_WANTED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{keep_alives} keep-alives in {DEADLINE:?} of publishes every {PUBLISH_EVERY:?}"
        );
        thread::sleep(PUBLISH_EVERY);
    }
}

#[test]
fn idle_keep_alive_waits_for_silence_and_is_not_sent_while_publishes_flow() {
    /// Longer than the 3 s timeout, so an idle timer that writes did not reset would fire.
    const BUSY: Duration = Duration::from_secs(5);
    let (_backend, proxy, mut client) = open_keep_alive_stream("timeout=3; mode=idle");

    let busy_until = Instant::now() + BUSY;
    for seq in 0.. {
        let keep_alives = publish_and_count_keep_alives(&proxy, &mut client, seq);
        assert_eq!(
            keep_alives, 0,
            "idle keep-alive sent while an item was written every {PUBLISH_EVERY:?} (item {seq})"
        );
        if Instant::now() >= busy_until {
            break;
        }
        thread::sleep(PUBLISH_EVERY);
    }

    // Silence now: the keep-alive comes (only its arrival before the deadline is asserted).
    assert_eq!(client.read_until("\n"), KEEP_ALIVE);
}

#[test]
fn prefix_route_prop_is_prepended_to_the_channels_an_origin_subscribes() {
    let backend = fixed_backend(BackendResponse::stream_hold("c", "start\n"));
    let route = format!("*,prefix=p- 127.0.0.1:{}", backend.port());
    let proxy = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), route.clone()]);
        args
    });
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("c", "unprefixed\n"));
    publish_ok(&proxy, &stream_item("p-c", "prefixed\n"));

    // Had the unprefixed publish been delivered, it would come first.
    assert_eq!(client.read_until("prefixed\n"), "prefixed\n");
}

#[test]
fn prefix_route_prop_applies_to_long_polls_too() {
    let backend = fixed_backend(BackendResponse::response_hold("c", "timeout\n"));
    let route = format!("*,prefix=p- 127.0.0.1:{}", backend.port());
    let proxy = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), route.clone()]);
        args
    });
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll"));
    wait_subscribed(&proxy, 1);

    publish_ok(
        &proxy,
        &response_item("c", json!({ "body": "unprefixed\n" })),
    );
    publish_ok(
        &proxy,
        &response_item("p-c", json!({ "body": "prefixed\n" })),
    );

    assert_eq!(conn.read_response().body_text(), "prefixed\n");
}
