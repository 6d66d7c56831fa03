//! GRIP control messages on WebSockets (PUSHPIN.md §6.4) and the WebSocket-over-HTTP request
//! rules that take time or topology: route `prefix=`, `one_event`, retries after a failure.

use std::thread;
use std::time::Duration;

use serde_json::json;

use crate::support::woh::{parse_events, received_events, woh_backend, WohOptions};
use crate::support::{metric, publish_ok, wait_metric, wait_subscribed, ws_connect, Proxy};
use crate::ws_over_http::{woh_proxy, ws_item};

fn control(json: serde_json::Value) -> String {
    format!("ctl:{json}")
}

#[test]
fn send_delayed_arrives_after_its_timeout_and_flush_delayed_sends_it_now() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text(&control(
        json!({"type": "send-delayed", "content": "later", "timeout": 1}),
    ));
    ws.expect_text("later");
    ws.send_text(&control(
        json!({"type": "send-delayed", "content": "flushed", "timeout": 600}),
    ));
    ws.send_text(&control(json!({"type": "flush-delayed"})));
    ws.expect_text("flushed");
}

#[test]
fn a_keep_alive_message_is_sent_after_inactivity() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text(&control(
        json!({"type": "keep-alive", "content": "ka", "timeout": 1}),
    ));
    ws.expect_text("ka");
    ws.expect_text("ka");
}

#[test]
fn unsubscribe_removes_the_subscription() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    ws.send_text(&control(json!({"type": "unsubscribe", "channel": "room"})));
    wait_metric(&proxy, "ringpin_subscriptions", "0 subscriptions", |v| {
        v == 0.0
    });
}

#[test]
fn after_detach_client_messages_stay_with_ringpin_and_publishes_still_arrive() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    ws.send_text(&control(json!({"type": "detach"})));
    thread::sleep(Duration::from_millis(300));
    let before = backend.requests().len();
    ws.send_text("not forwarded");
    publish_ok(&proxy, &ws_item("room", json!({"content": "still here"})));
    ws.expect_text("still here");
    assert_eq!(
        backend.requests().len(),
        before,
        "{:?}",
        received_events(&backend)
    );
}

#[test]
fn the_route_prefix_applies_to_websocket_subscriptions() {
    let backend = woh_backend(WohOptions::default());
    let route = format!("*,prefix=app_ 127.0.0.1:{},over_http", backend.port());
    let proxy = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), route.clone()]);
        args
    });
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &ws_item("room", json!({"content": "unprefixed"})));
    publish_ok(&proxy, &ws_item("app_room", json!({"content": "prefixed"})));
    ws.expect_text("prefixed");
}

#[test]
fn one_event_sends_each_event_in_its_own_request() {
    let backend = woh_backend(WohOptions::default());
    let route = format!("* 127.0.0.1:{},over_http,one_event", backend.port());
    let proxy = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), route.clone()]);
        args
    });
    let mut ws = ws_connect(proxy.addr, "/chat");
    for text in ["a", "b", "c", "d"] {
        ws.send_text(text);
    }
    for text in ["a", "b", "c", "d"] {
        ws.expect_text(text);
    }
    for request in backend.requests() {
        assert!(parse_events(&request.body).len() <= 1, "{request:?}");
    }
}

#[test]
fn a_request_that_cannot_connect_is_retried_until_the_origin_is_back() {
    let mut backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("one");
    ws.expect_text("one");
    backend.stop();
    ws.send_text("two");
    thread::sleep(Duration::from_millis(300));
    backend.restart();
    ws.expect_text("two");
    assert_eq!(metric(&proxy, "ringpin_held_websockets"), Some(1.0));
}

#[test]
fn keep_alive_interval_sends_an_empty_request_after_twenty_seconds_of_silence() {
    let options = WohOptions {
        open_headers: vec![("Keep-Alive-Interval".into(), "5".into())],
        ..WohOptions::default()
    };
    let backend = woh_backend(options);
    let proxy = woh_proxy(backend.port(), &[]);
    let _ws = ws_connect(proxy.addr, "/chat");
    let opened = std::time::Instant::now();
    // 5 is raised to the 20 s minimum (PUSHPIN.md §6.3).
    let deadline = opened + Duration::from_secs(30);
    while backend.requests().len() < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no keep-alive request"
        );
        thread::sleep(Duration::from_millis(100));
    }
    let waited = opened.elapsed();
    assert!(
        waited >= Duration::from_secs(19),
        "keep-alive request after {waited:?}"
    );
    assert_eq!(backend.requests()[1].body, b"");
}
