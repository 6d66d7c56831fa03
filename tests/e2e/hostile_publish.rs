//! What a publisher or an origin may not put on a client's wire (issue 10, items 6-7).
//! ringpin frames every response itself, so framing and hop-by-hop fields from a publish or
//! a relayed origin response are dropped; a published `http-response` code that is not a
//! final status, or a `ws-message` close code RFC 6455 forbids, is refused with `400`.
//! Pushpin 1.36 passes all of these through (DESIGN.md §4 lists the difference).

use serde_json::json;

use crate::support::woh::{woh_backend, WohOptions};
use crate::support::ws_connect;
use crate::support::{
    find, preview, publish, publish_ok, response_item, wait_subscribed, Backend, BackendResponse,
    Conn, Proxy,
};
use crate::ws_over_http::{woh_proxy, ws_item};

/// The header lines of a raw response, and its body.
fn split_response(raw: &[u8]) -> (Vec<String>, Vec<u8>) {
    let end = find(raw, b"\r\n\r\n").unwrap_or_else(|| panic!("no head: {}", preview(raw)));
    let head = String::from_utf8_lossy(&raw[..end]);
    let lines = head.split("\r\n").skip(1).map(str::to_owned).collect();
    (lines, raw[end + 4..].to_vec())
}

fn named<'a>(lines: &'a [String], name: &str) -> Vec<&'a str> {
    lines
        .iter()
        .filter_map(|l| l.split_once(':'))
        .filter(|(n, _)| n.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim())
        .collect()
}

#[test]
fn published_framing_headers_never_split_a_long_poll_response() {
    let backend = Backend::start(|_| BackendResponse::response_hold("lp", "nothing yet\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"GET /poll HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    wait_subscribed(&proxy, 1);

    let smuggled = "0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil";
    let format = json!({
        "headers": [
            ["Transfer-Encoding", "chunked"], ["Content-Length", "0"],
            ["Connection", "keep-alive, X-Hop"], ["X-Hop", "1"], ["Keep-Alive", "timeout=99"],
            ["Upgrade", "h2c"], ["TE", "trailers"], ["Trailer", "X-T"],
            ["Proxy-Authenticate", "Basic"], ["X-Kept", "yes"]
        ],
        "body": smuggled
    });
    publish_ok(&proxy, &response_item("lp", format));
    let raw = conn.read_to_end();

    let (lines, body) = split_response(&raw);
    assert_eq!(body, smuggled.as_bytes(), "{}", preview(&raw));
    let length = smuggled.len().to_string();
    assert_eq!(
        named(&lines, "Content-Length"),
        [length.as_str()],
        "{lines:?}"
    );
    for gone in [
        "Transfer-Encoding",
        "X-Hop",
        "Keep-Alive",
        "Upgrade",
        "TE",
        "Trailer",
    ] {
        assert!(named(&lines, gone).is_empty(), "{gone} passed: {lines:?}");
    }
    assert!(named(&lines, "Proxy-Authenticate").is_empty(), "{lines:?}");
    assert_eq!(named(&lines, "Connection"), ["close"], "{lines:?}");
    assert_eq!(named(&lines, "X-Kept"), ["yes"]);
}

#[test]
fn a_published_http_response_code_outside_200_to_599_gets_400_and_the_poll_stays_held() {
    let backend = Backend::start(|_| BackendResponse::response_hold("lp", "nothing yet\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"GET /poll HTTP/1.1\r\nHost: example.com\r\n\r\n");
    wait_subscribed(&proxy, 1);

    for code in [0, 100, 101, 199, 600, 999] {
        let item = response_item("lp", json!({"code": code, "body": "x"}));
        let (status, text) = publish(&proxy, &item);
        assert_eq!(status, 400, "code {code}: {text}");
        assert!(text.contains(&format!("'code' {code}")), "{text}");
    }
    publish_ok(
        &proxy,
        &response_item("lp", json!({"code": 299, "body": "ok\n"})),
    );
    let response = conn.read_response();
    assert_eq!(response.status, 299);
    assert_eq!(response.body_text(), "ok\n");
}

#[test]
fn relayed_origin_responses_lose_connection_named_proxy_and_framing_fields() {
    let backend = Backend::start(|_| {
        BackendResponse::text(200, "relayed\n")
            .header("Connection", "X-Secret")
            .header("X-Secret", "origin-internal")
            .header("Proxy-Authenticate", "Basic")
            .header("TE", "trailers")
            .header("Upgrade", "h2c")
            .header("X-Kept", "yes")
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    let raw = conn.read_to_end();

    let (lines, body) = split_response(&raw);
    assert_eq!(body, b"relayed\n");
    for gone in ["X-Secret", "Proxy-Authenticate", "TE", "Upgrade"] {
        assert!(named(&lines, gone).is_empty(), "{gone} passed: {lines:?}");
    }
    assert_eq!(named(&lines, "Connection"), ["close"], "{lines:?}");
    assert_eq!(named(&lines, "X-Kept"), ["yes"]);
}

#[test]
fn a_published_close_code_that_may_not_be_sent_gets_400_and_the_client_stays_open() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);

    for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        let item = ws_item("room", json!({"action": "close", "code": code}));
        let (status, text) = publish(&proxy, &item);
        assert_eq!(status, 400, "code {code}: {text}");
        assert!(text.contains("may not be sent"), "{text}");
    }
    publish_ok(&proxy, &ws_item("room", json!({"content": "still here"})));
    ws.expect_text("still here");
    publish_ok(
        &proxy,
        &ws_item("room", json!({"action": "close", "code": 1000})),
    );
    assert_eq!(ws.expect_close().0, 1000);
}
