//! The client side of WebSockets (PUSHPIN.md §6.1): the handshake, masking, UTF-8, limits,
//! fragments, close codes, re-framing at 16 KiB, and fan-out to many WebSocket subscribers.
//! Raw frames are written by hand here, so broken input is exactly what the test says.

use serde_json::json;
use tungstenite::Message;

use crate::support::woh::{event, subscribe_message, woh_backend, WohOptions};
use crate::support::{publish_ok, wait_subscribed, ws_connect, Conn, Response};
use crate::ws_over_http::{woh_proxy, ws_item};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const MASK: [u8; 4] = [1, 2, 3, 4];

pub fn upgrade_request(version: &str) -> Vec<u8> {
    format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: {version}\r\n\r\n"
    )
    .into_bytes()
}

/// A raw client after a successful upgrade, and the 101 head.
fn raw_upgrade(addr: std::net::SocketAddr) -> (Conn, Response) {
    let mut conn = Conn::connect(addr);
    conn.send(&upgrade_request("13"));
    let head = conn.read_head();
    assert_eq!(head.status, 101, "{head:?}");
    (conn, head)
}

/// One frame with `first` as FIN/RSV/opcode; masked with `MASK` unless `mask` is false.
pub fn frame(first: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let bit = if mask { 0x80 } else { 0 };
    let mut out = vec![first];
    match payload.len() {
        0..=125 => out.push(bit | payload.len() as u8),
        126..=0xffff => {
            out.push(bit | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        _ => {
            out.push(bit | 127);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    if !mask {
        out.extend_from_slice(payload);
        return out;
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    out
}

/// Reads one unmasked server frame: (first byte, payload).
pub fn read_frame(conn: &mut Conn) -> (u8, Vec<u8>) {
    let head = conn.read_exact_raw(2);
    assert_eq!(head[1] & 0x80, 0, "server frames are unmasked");
    let len = match head[1] & 0x7f {
        126 => u16::from_be_bytes(conn.read_exact_raw(2).try_into().expect("2")) as usize,
        127 => u64::from_be_bytes(conn.read_exact_raw(8).try_into().expect("8")) as usize,
        n => n as usize,
    };
    (head[0], conn.read_exact_raw(len))
}

/// Reads frames until a close frame and returns its code.
fn read_close_code(conn: &mut Conn) -> u16 {
    loop {
        let (first, payload) = read_frame(conn);
        if first == 0x88 {
            return u16::from_be_bytes([payload[0], payload[1]]);
        }
    }
}

fn echo_proxy(extra: &[&str]) -> (crate::support::Backend, crate::support::Proxy) {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), extra);
    (backend, proxy)
}

#[test]
fn the_101_carries_the_accept_computed_by_ringpin_and_no_extension() {
    let (_backend, proxy) = echo_proxy(&[]);
    let (_conn, head) = raw_upgrade(proxy.addr);
    assert_eq!(
        head.header("Sec-WebSocket-Accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(head.header("Sec-WebSocket-Extensions"), None);
    assert!(head
        .header("Upgrade")
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket")));
}

#[test]
fn an_unsupported_version_gets_426_with_the_supported_one() {
    let (_backend, proxy) = echo_proxy(&[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&upgrade_request("8"));
    let head = conn.read_head();
    assert_eq!(head.status, 426);
    assert_eq!(head.header("Sec-WebSocket-Version"), Some("13"));
}

#[test]
fn invalid_client_frames_get_their_close_codes_and_other_connections_carry_on() {
    let (_backend, proxy) = echo_proxy(&["--ws-message-bytes-max", "1024"]);
    let mut bystander = ws_connect(proxy.addr, "/chat");
    let cases: [(&str, Vec<u8>, u16); 5] = [
        ("an unmasked frame", frame(0x81, b"hi", false), 1002),
        ("invalid utf-8", frame(0x81, b"\xff\xfe", true), 1007),
        ("a reserved opcode", frame(0x83, b"", true), 1002),
        (
            "a message over the limit",
            frame(0x82, &[7; 2000], true),
            1009,
        ),
        (
            "fragments over the limit",
            [frame(0x02, &[7; 800], true), frame(0x80, &[7; 800], true)].concat(),
            1009,
        ),
    ];
    for (what, bytes, code) in cases {
        let (mut conn, _) = raw_upgrade(proxy.addr);
        conn.send_lossy(&bytes);
        assert_eq!(read_close_code(&mut conn), code, "{what}");
        bystander.send_text(what);
        bystander.expect_text(what);
    }
}

#[test]
fn fragmented_messages_are_reassembled_before_they_reach_the_origin() {
    let (backend, proxy) = echo_proxy(&[]);
    let (mut conn, _) = raw_upgrade(proxy.addr);
    conn.send(&frame(0x01, b"hel", true));
    conn.send(&frame(0x89, b"p", true)); // a ping between fragments
    conn.send(&frame(0x80, b"lo", true));
    let (first, payload) = read_frame(&mut conn);
    assert_eq!((first, payload.as_slice()), (0x81, &b"hello"[..]));
    let bodies: Vec<Vec<u8>> = backend.requests().iter().map(|r| r.body.clone()).collect();
    assert!(
        bodies.contains(&b"TEXT 5\r\nhello\r\n".to_vec()),
        "{bodies:?}"
    );
}

#[test]
fn large_origin_messages_are_re_framed_at_16_kib() {
    let big = "x".repeat(40_000);
    let options = WohOptions {
        open_events: vec![event("TEXT", format!("m:{big}"))],
        ..WohOptions::default()
    };
    let backend = woh_backend(options);
    let proxy = woh_proxy(backend.port(), &[]);
    let (mut conn, _) = raw_upgrade(proxy.addr);
    let frames: Vec<(u8, usize)> = (0..3)
        .map(|_| {
            let (first, payload) = read_frame(&mut conn);
            (first, payload.len())
        })
        .collect();
    assert_eq!(frames, vec![(0x01, 16_384), (0x00, 16_384), (0x80, 7_232)]);
}

#[test]
fn two_hundred_websocket_subscribers_get_fifty_messages_each_in_order() {
    let options = WohOptions {
        open_events: vec![event("TEXT", subscribe_message("fan"))],
        ..WohOptions::default()
    };
    let backend = woh_backend(options);
    let proxy = woh_proxy(backend.port(), &[]);
    let mut clients: Vec<_> = (0..200).map(|_| ws_connect(proxy.addr, "/chat")).collect();
    wait_subscribed(&proxy, 200);
    for n in 0..50 {
        publish_ok(
            &proxy,
            &ws_item("fan", json!({"content": format!("msg {n}")})),
        );
    }
    for (i, client) in clients.iter_mut().enumerate() {
        for n in 0..50 {
            match client.next() {
                Message::Text(text) => assert_eq!(text.as_str(), format!("msg {n}"), "client {i}"),
                other => panic!("client {i} message {n}: {other:?}"),
            }
        }
    }
}
