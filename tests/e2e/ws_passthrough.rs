//! WebSocket clients relayed to a plain WebSocket origin (PUSHPIN.md §6.2): the `grip`
//! extension turns on GRIP mode, without it the relay is pure; closes, pings and rejections
//! pass through.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use tungstenite::Message;

use crate::support::ws_backend::WsBackend;
use crate::support::{
    metric, publish_ok, wait_subscribed, ws_connect, ws_reject, Backend, BackendResponse, Proxy,
    DEADLINE,
};
use crate::ws_over_http::ws_item;

fn passthrough_proxy(backend: &WsBackend) -> Proxy {
    Proxy::start(backend.port(), &[])
}

#[test]
fn the_origin_is_asked_for_grip_and_prefixed_text_round_trips() {
    let backend = WsBackend::start(true);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("hello");
    ws.expect_text("hello");
    let handshake = &backend.handshakes()[0];
    let header = |name: &str| {
        handshake
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    assert_eq!(header("sec-websocket-extensions").as_deref(), Some("grip"));
    assert!(header("grip-sig").is_some());
}

#[test]
fn a_control_subscribe_makes_publishes_reach_the_client_and_unprefixed_text_is_dropped() {
    let backend = WsBackend::start(true);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &ws_item("room", json!({"content": "published"})));
    ws.expect_text("published");
    ws.send_text("raw:dropped");
    ws.send_text("kept");
    ws.expect_text("kept");
}

#[test]
fn without_the_extension_the_relay_is_pure() {
    let backend = WsBackend::start(false);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    ws.expect_text(r#"c:{"channel":"room","type":"subscribe"}"#);
    ws.send_text("raw:as is");
    ws.expect_text("as is");
    assert_eq!(metric(&proxy, "ringpin_subscriptions"), Some(0.0));
}

#[test]
fn binary_and_pings_pass_both_ways() {
    let backend = WsBackend::start(true);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_binary(&[0, 1, 2]);
    assert_eq!(ws.next(), Message::binary(vec![0, 1, 2]));
    // ringpin answers no ping itself: this pong comes from the origin.
    ws.send_ping(b"abc");
    assert_eq!(ws.next(), Message::Pong(b"abc".to_vec()));
}

#[test]
fn client_and_origin_closes_carry_their_codes() {
    let backend = WsBackend::start(true);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.close(4000, "bye");
    assert_eq!(ws.expect_close(), (4000, "bye".to_string()));
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("close:4002:done");
    assert_eq!(ws.expect_close(), (4002, "done".to_string()));
}

#[test]
fn an_origin_close_is_answered_and_the_client_reply_reaches_the_origin_with_its_code() {
    let backend = WsBackend::start(true);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("close:4001:bye");
    assert_eq!(
        ws.answer_close_with(4002, "mine"),
        (4001, "bye".to_string())
    );
    let deadline = Instant::now() + DEADLINE;
    while backend.closes().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(backend.closes(), vec![(4002, "mine".to_string())]);
}

#[test]
fn a_refused_handshake_reaches_the_client_with_status_headers_and_body() {
    let backend =
        Backend::start(|_| BackendResponse::text(403, "no websockets\n").header("X-Why", "nope"));
    let proxy = Proxy::start(backend.port(), &[]);
    let (status, headers, body) = ws_reject(proxy.addr, "/chat");
    assert_eq!(status, 403);
    assert!(
        headers.iter().any(|(n, v)| n == "x-why" && v == "nope"),
        "{headers:?}"
    );
    assert_eq!(body, b"no websockets\n");
}

#[test]
fn a_published_close_reaches_the_client_with_its_code_and_reason() {
    let backend = WsBackend::start(true);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    let close = json!({"action": "close", "code": 4001, "reason": "kicked"});
    publish_ok(&proxy, &ws_item("room", close));
    assert_eq!(ws.expect_close(), (4001, "kicked".to_string()));
}

#[test]
fn after_detach_the_client_stays_subscribed() {
    let backend = WsBackend::start(true);
    let proxy = passthrough_proxy(&backend);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    ws.send_text(&format!("ctl:{}", json!({"type": "detach"})));
    ws.send_text("to nobody");
    publish_ok(
        &proxy,
        &ws_item("room", json!({"content": "still subscribed"})),
    );
    ws.expect_text("still subscribed");
}
