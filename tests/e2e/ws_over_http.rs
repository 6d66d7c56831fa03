//! WebSocket clients carried to an `over_http` origin (PUSHPIN.md §6.3, §6.4, §6.5): the OPEN
//! exchange, events both ways, GRIP mode, meta, close rules, and publishing to WebSockets.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use tungstenite::Message;

use crate::support::woh::{
    close_content, event, events_response, received_events, woh_backend, WohOptions,
};
use crate::support::{
    metric, publish_ok, verify_grip_sig, wait_subscribed, ws_connect, ws_reject, Backend, Proxy,
    DEADLINE,
};

/// ringpin with `* 127.0.0.1:PORT,over_http` and `extra` flags.
pub fn woh_proxy(backend_port: u16, extra: &[&str]) -> Proxy {
    let route = format!("* 127.0.0.1:{backend_port},over_http");
    Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), route.clone()]);
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    })
}

pub fn ws_item(channel: &str, format: serde_json::Value) -> String {
    json!({"items": [{"channel": channel, "formats": {"ws-message": format}}]}).to_string()
}

/// Polls until `check` holds for the origin's received events, or panics after `DEADLINE`.
fn wait_for_events(backend: &Backend, what: &str, check: impl Fn(&[(String, Vec<u8>)]) -> bool) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let events = received_events(backend);
        if check(&events) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "origin never got {what}: {events:?}"
        );
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn open_is_accepted_and_text_round_trips_through_the_origin() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("hello");
    ws.expect_text("hello");
    let requests = backend.requests();
    assert_eq!(requests[0].body, b"OPEN\r\n");
    assert_eq!(requests[0].method, "POST");
    assert_eq!(requests[0].path, "/chat");
    assert_eq!(requests[1].body, b"TEXT 5\r\nhello\r\n");
    let ids: Vec<_> = requests.iter().map(|r| r.header("Connection-Id")).collect();
    assert!(ids[0].is_some_and(|id| id.len() == 36), "{ids:?}");
    assert_eq!(ids[0], ids[1], "Connection-Id is stable per connection");
    for request in &requests {
        let sig = request
            .header("Grip-Sig")
            .expect("Grip-Sig on every request");
        verify_grip_sig(sig, b"changeme").expect("valid Grip-Sig");
        assert_eq!(
            request.header("Content-Type"),
            Some("application/websocket-events")
        );
        assert_eq!(
            request.header("Accept"),
            Some("application/websocket-events")
        );
        assert_eq!(request.header("Sec-WebSocket-Extensions"), Some("grip"));
        assert!(request.header("Sec-WebSocket-Key").is_some());
        assert!(request.header("Upgrade").is_none());
    }
}

#[test]
fn a_control_subscribe_in_the_open_response_makes_publishes_reach_the_client() {
    let options = WohOptions {
        open_events: vec![event(
            "TEXT",
            crate::support::woh::subscribe_message("room"),
        )],
        ..WohOptions::default()
    };
    let backend = woh_backend(options);
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &ws_item("room", json!({"content": "hi"})));
    ws.expect_text("hi");
    publish_ok(&proxy, &ws_item("room", json!({"content-bin": "AAEC"})));
    assert_eq!(ws.next(), Message::binary(vec![0, 1, 2]));
    publish_ok(&proxy, &ws_item("room", json!({"type": "ping"})));
    assert_eq!(ws.next(), Message::Ping(Vec::new()));
}

#[test]
fn a_subscribe_after_open_takes_effect_and_unsubscribed_channels_get_nothing() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:news");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &ws_item("other", json!({"content": "not for you"})));
    publish_ok(&proxy, &ws_item("news", json!({"content": "extra"})));
    ws.expect_text("extra");
}

#[test]
fn binary_messages_travel_both_ways() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_binary(&[0, 1, 2, 255]);
    assert_eq!(ws.next(), Message::binary(vec![0, 1, 2, 255]));
    assert_eq!(
        backend.requests()[1].body,
        b"BINARY 4\r\n\x00\x01\x02\xff\r\n"
    );
}

#[test]
fn client_close_reaches_the_origin_as_close_and_its_code_comes_back() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.close(4000, "bye");
    assert_eq!(ws.expect_close(), (4000, "bye".to_string()));
    let events = received_events(&backend);
    assert_eq!(
        events.last(),
        Some(&event("CLOSE", close_content(4000, "bye")))
    );
}

#[test]
fn an_origin_close_closes_the_client_with_its_code_and_reason() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("close:1000:bye");
    assert_eq!(ws.expect_close(), (1000, "bye".to_string()));
}

#[test]
fn an_origin_close_is_answered_by_the_client_and_its_reply_reaches_the_origin_as_close() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("close:4001:bye");
    assert_eq!(
        ws.answer_close_with(4002, "mine"),
        (4001, "bye".to_string())
    );
    wait_for_events(&backend, "the client's close reply as CLOSE", |events| {
        events.last() == Some(&event("CLOSE", close_content(4002, "mine")))
    });
    let closes = received_events(&backend)
        .into_iter()
        .filter(|(kind, _)| kind == "CLOSE" || kind == "DISCONNECT")
        .count();
    assert_eq!(closes, 1, "one CLOSE and no DISCONNECT after it");
}

#[test]
fn a_published_close_closes_the_client_with_code_4001_and_its_reason() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    let close = json!({"action": "close", "code": 4001, "reason": "kicked"});
    publish_ok(&proxy, &ws_item("room", close));
    assert_eq!(ws.expect_close(), (4001, "kicked".to_string()));
    wait_for_events(&backend, "the client's CLOSE", |events| {
        events.last() == Some(&event("CLOSE", close_content(4001, "kicked")))
    });
}

#[test]
fn a_published_refresh_makes_each_subscriber_send_its_origin_an_empty_request() {
    // Pushpin 1.38: "Publish refresh action for triggering WebSocket-over-HTTP requests".
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    let mut other = ws_connect(proxy.addr, "/chat");
    other.send_text("hello");
    other.expect_text("hello");
    let before = backend.requests().len();

    publish_ok(&proxy, &ws_item("room", json!({"action": "refresh"})));
    let deadline = Instant::now() + DEADLINE;
    while backend.requests().len() == before {
        assert!(Instant::now() < deadline, "no refresh request");
        thread::sleep(Duration::from_millis(20));
    }
    let requests = backend.requests();
    assert!(
        requests[before].body.is_empty(),
        "a refresh carries no events"
    );
    let id = |r: &crate::support::BackendRequest| r.header("Connection-Id").map(str::to_owned);
    assert_eq!(
        id(&requests[before]),
        id(&requests[0]),
        "the subscriber's connection"
    );
    thread::sleep(Duration::from_millis(200));
    assert_eq!(backend.requests().len(), before + 1, "only the subscriber");
    ws.send_text("still open");
    ws.expect_text("still open");
}

#[test]
fn content_the_origin_keeps_back_is_replayed_before_the_next_message() {
    // Pushpin 1.41: "WebSocket-Over-HTTP: allow keeping back data (Content-Bytes-Accepted)";
    // the exchange of Pushpin's own websocketoverhttptest `replay`.
    let options = WohOptions::default();
    let backend = Backend::start(move |request| {
        let replayed = request.header("Content-Bytes-Replayed").map(str::to_owned);
        match (request.body.as_slice(), replayed.as_deref()) {
            (b"TEXT b\r\n[foo][hello\r\n", None) => {
                events_response(&[]).header("Content-Bytes-Accepted", "5")
            }
            (b"TEXT 6\r\n[hello\r\nTEXT 7\r\n world]\r\n", Some("6")) => {
                events_response(&[event("TEXT", "m:[ok]")])
            }
            _ => crate::support::woh::scripted_response(request, &options),
        }
    });
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("[foo][hello");
    wait_for_events(&backend, "the first message", |events| events.len() == 2);
    ws.send_text(" world]");
    ws.expect_text("[ok]");
}

#[test]
fn accepting_more_bytes_than_were_sent_drops_the_client() {
    let options = WohOptions::default();
    let backend = Backend::start(move |request| {
        let response = crate::support::woh::scripted_response(request, &options);
        if request.body.starts_with(b"TEXT") {
            response.header("Content-Bytes-Accepted", "99")
        } else {
            response
        }
    });
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("hello");
    match ws.ws.read() {
        Err(_) | Ok(Message::Close(None)) => {}
        other => panic!("expected the connection dropped, got {other:?}"),
    }
}

#[test]
fn origin_messages_without_the_prefix_are_dropped() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("raw:unprefixed");
    ws.send_text("after");
    ws.expect_text("after");
}

#[test]
fn without_the_grip_extension_control_text_reaches_the_client_untouched() {
    let options = WohOptions {
        grip: false,
        ..WohOptions::default()
    };
    let backend = woh_backend(options);
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    ws.expect_text(r#"c:{"channel":"room","type":"subscribe"}"#);
    ws.send_text("plain");
    ws.expect_text("m:plain");
    assert_eq!(metric(&proxy, "ringpin_subscriptions"), Some(0.0));
}

#[test]
fn set_meta_is_sent_back_as_meta_on_the_next_request() {
    let options = WohOptions {
        open_headers: vec![("Set-Meta-User".into(), "alice".into())],
        ..WohOptions::default()
    };
    let backend = woh_backend(options);
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("one");
    ws.expect_text("one");
    let requests = backend.requests();
    assert_eq!(requests[0].header("Meta-User"), None);
    assert_eq!(requests[1].header("Meta-User"), Some("alice"));
}

#[test]
fn a_client_lost_without_a_close_gets_a_disconnect_request() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("one");
    ws.expect_text("one");
    drop(ws);
    wait_for_events(&backend, "DISCONNECT", |events| {
        events.last() == Some(&event("DISCONNECT", ""))
    });
}

#[test]
fn an_origin_rejection_reaches_the_client_with_status_headers_and_body() {
    let backend = Backend::start(|_| {
        crate::support::BackendResponse::text(403, "go away\n").header("X-Why", "banned")
    });
    let proxy = woh_proxy(backend.port(), &[]);
    let (status, headers, body) = ws_reject(proxy.addr, "/chat");
    assert_eq!(status, 403);
    assert!(
        headers.iter().any(|(n, v)| n == "x-why" && v == "banned"),
        "{headers:?}"
    );
    assert_eq!(body, b"go away\n");
}

#[test]
fn a_client_ping_is_relayed_to_the_origin_as_a_ping_event() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_ping(b"abc");
    wait_for_events(&backend, "PING", |events| {
        events.last() == Some(&event("PING", "abc"))
    });
    assert!(backend
        .requests()
        .iter()
        .any(|r| r.body == b"PING 3\r\nabc\r\n"));
}

#[test]
fn an_origin_disconnect_drops_the_client_without_a_close_frame() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("disconnect");
    match ws.ws.read() {
        Err(_) | Ok(Message::Close(None)) => {}
        Ok(other) => panic!("expected the connection to drop, got {other:?}"),
    }
}

#[test]
fn an_empty_open_response_body_is_refused_without_keep_alive_interval() {
    let backend = Backend::start(|_| events_response(&[]));
    let proxy = woh_proxy(backend.port(), &[]);
    let (status, _, _) = ws_reject(proxy.addr, "/chat");
    assert_eq!(status, 502);
}

#[test]
fn an_unreachable_origin_gets_502() {
    let port = crate::support::free_port();
    let proxy = woh_proxy(port, &[]);
    let (status, _, body) = ws_reject(proxy.addr, "/chat");
    assert_eq!(status, 502);
    assert_eq!(body, b"Error while proxying to origin.\n");
}

#[test]
fn proto_ws_routes_take_websockets_and_generic_routes_keep_http() {
    let ws_origin = woh_backend(WohOptions::default());
    let http_origin = Backend::start(|_| crate::support::BackendResponse::text(200, "plain\n"));
    let routes = [
        format!("*,proto=ws 127.0.0.1:{},over_http", ws_origin.port()),
        format!("* 127.0.0.1:{}", http_origin.port()),
    ];
    let proxy = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        for route in &routes {
            args.extend(["--route".to_string(), route.clone()]);
        }
        args
    });
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("routed");
    ws.expect_text("routed");
    let response = crate::support::get(proxy.addr, "/page");
    assert_eq!(response.body_text(), "plain\n");
}

#[test]
fn sigterm_closes_websockets_with_1001_and_exits_cleanly() {
    let backend = woh_backend(WohOptions::default());
    let mut proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("sub:room");
    wait_subscribed(&proxy, 1);
    proxy.signal(libc::SIGTERM);
    let exit_deadline = Instant::now() + crate::support::EXIT_TIMEOUT;
    assert_eq!(ws.expect_close().0, 1001);
    let status = proxy.wait_exit(exit_deadline);
    assert!(status.success(), "ringpin exited with {status}");
    wait_for_events(&backend, "the client's CLOSE", |events| {
        events.last() == Some(&event("CLOSE", close_content(1001, "")))
    });
}

#[test]
fn an_origin_close_code_that_may_not_be_sent_becomes_an_empty_close() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    ws.send_text("close:1005:not on the wire");
    assert_eq!(ws.next(), Message::Close(None));
}

#[test]
fn subscribe_filters_and_set_meta_apply_to_websocket_deliveries() {
    // A chat's usual set-up: the origin tells ringpin who the client is, and subscribes it
    // with skip-self, so the client does not get its own messages back.
    let control = |json: serde_json::Value| event("TEXT", format!("c:{json}"));
    let options = WohOptions {
        open_events: vec![
            control(json!({"type": "set-meta", "name": "user", "value": "alice"})),
            control(json!({"type": "subscribe", "channel": "chat", "filters": ["skip-self"]})),
            control(json!({"type": "subscribe", "channel": "news"})),
        ],
        ..WohOptions::default()
    };
    let backend = woh_backend(options);
    let proxy = woh_proxy(backend.port(), &[]);
    let mut ws = ws_connect(proxy.addr, "/chat");
    wait_subscribed(&proxy, 2);
    let said = |sender: &str, text: &str| {
        json!({"items": [{"channel": "chat", "meta": {"sender": sender},
            "formats": {"ws-message": {"content": text}}}]})
        .to_string()
    };
    publish_ok(&proxy, &said("alice", "from alice"));
    publish_ok(&proxy, &said("bob", "from bob"));
    ws.expect_text("from bob");
    // A channel without filters is delivered whatever the item's meta says.
    let news = json!({"items": [{"channel": "news", "meta": {"sender": "alice"},
        "formats": {"ws-message": {"content": "headline"}}}]});
    publish_ok(&proxy, &news.to_string());
    ws.expect_text("headline");
}
