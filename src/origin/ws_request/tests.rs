use super::*;
use crate::config::routes::parse_route_line;
use crate::config::Target;
use crate::http::Version;

fn client() -> RequestHead {
    let lines = [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
        ("Sec-WebSocket-Protocol", "chat"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
        ("Accept", "*/*"),
        ("Connection-Id", "forged"),
        ("Meta-User", "forged"),
        ("Cookie", "a=b"),
    ];
    RequestHead {
        method: "GET".into(),
        target: "/ws?x=1".into(),
        version: Version::Http11,
        headers: lines
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
    }
}

fn with_forward<T>(f: impl FnOnce(&ForwardContext<'_>) -> T) -> T {
    let route = parse_route_line("* 127.0.0.1:80,over_http", 1)
        .expect("parses")
        .expect("present");
    let Target::Http(target) = &route.targets[0] else {
        panic!("http target expected");
    };
    f(&ForwardContext {
        route: &route,
        target,
        peer_ip: "10.0.0.9".parse().expect("ip"),
        grip_sig: Some("tok"),
        xff: &[],
        body: BodyFraming::None,
        forwarded_proto: None,
    })
}

#[test]
fn woh_request_replays_the_handshake_without_the_fields_ringpin_owns() {
    let base = woh_base_head(&client());
    let meta = vec![("User".to_string(), "alice".to_string())];
    let head = with_forward(|f| build_woh_request(&base, f, "cid-1", &meta, 8, 0));
    let h = &head.headers;
    assert_eq!(head.method, "POST");
    assert_eq!(head.target, "/ws?x=1");
    assert_eq!(
        h.get_str("sec-websocket-key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    assert_eq!(h.get_str("sec-websocket-protocol"), Some("chat"));
    assert_eq!(h.get_str("cookie"), Some("a=b"));
    assert_eq!(h.get_str("sec-websocket-extensions"), Some("grip"));
    assert_eq!(h.get_all("sec-websocket-extensions").count(), 1);
    assert_eq!(h.get_str("accept"), Some(WOH_CONTENT_TYPE));
    assert_eq!(h.get_str("content-type"), Some(WOH_CONTENT_TYPE));
    assert_eq!(h.get_str("connection-id"), Some("cid-1"));
    assert_eq!(h.get_all("connection-id").count(), 1);
    assert_eq!(h.get_str("meta-user"), Some("alice"));
    assert_eq!(h.get_all("meta-user").count(), 1);
    assert_eq!(h.get_str("content-length"), Some("8"));
    assert_eq!(h.get_str("grip-sig"), Some("tok"));
    assert!(!h.contains("upgrade") && !h.contains("connection"));
    assert!(!h.contains("content-bytes-replayed"));
    let replaying = with_forward(|f| build_woh_request(&base, f, "cid-1", &meta, 8, 6));
    let replayed = replaying.headers.get_str("content-bytes-replayed");
    assert_eq!(replayed, Some("6"));
}

#[test]
fn content_bytes_accepted_reads_as_pushpin_reads_it() {
    for (value, want) in [("5", Some(5)), (" 0 ", Some(0)), ("-1", None), ("x", None)] {
        let mut headers = Headers::new();
        headers.push("Content-Bytes-Accepted", value);
        assert_eq!(content_bytes_accepted(&headers), want, "{value}");
    }
    assert_eq!(content_bytes_accepted(&Headers::new()), None);
}

#[test]
fn ws_handshake_asks_for_grip_and_drops_client_extensions() {
    let head = with_forward(|f| build_ws_handshake(&client(), f));
    let h = &head.headers;
    assert_eq!(head.method, "GET");
    assert_eq!(h.get_str("upgrade"), Some("websocket"));
    assert_eq!(h.get_str("connection"), Some("Upgrade"));
    assert_eq!(h.get_str("sec-websocket-extensions"), Some("grip"));
    assert_eq!(h.get_all("sec-websocket-extensions").count(), 1);
    assert_eq!(
        h.get_str("sec-websocket-key"),
        Some("dGhlIHNhbXBsZSBub25jZQ==")
    );
    assert!(!h.contains("content-length"));
}

#[test]
fn response_fields_set_meta_keep_alive_and_grip_mode() {
    let mut headers = Headers::new();
    headers.push("Content-Type", WOH_CONTENT_TYPE);
    headers.push("Set-Meta-User", "alice");
    headers.push("Set-Meta-Room", "");
    headers.push("Set-Meta-", "ignored");
    headers.push("Keep-Alive-Interval", "5");
    headers.push("Sec-WebSocket-Extensions", "grip; message-prefix=\"\"");
    headers.push("X-Kept", "1");
    assert!(is_woh_events_response(200, &headers));
    assert!(!is_woh_events_response(201, &headers));
    let changes = set_meta_fields(&headers);
    assert_eq!(
        changes,
        vec![("User".into(), Some("alice".into())), ("Room".into(), None)]
    );
    let mut meta = vec![("room".to_string(), "1".to_string())];
    apply_set_meta(&mut meta, changes);
    assert_eq!(meta, vec![("User".to_string(), "alice".to_string())]);
    assert_eq!(
        keep_alive_interval(&headers),
        Some(Some(Duration::from_secs(20)))
    );
    assert_eq!(
        grip_extension(&headers),
        Some(GripExtension {
            message_prefix: String::new()
        })
    );
    let kept = switching_headers(&headers);
    assert_eq!(kept.get_str("x-kept"), Some("1"));
    assert!(!kept.contains("content-type") && !kept.contains("set-meta-user"));
    assert!(!kept.contains("keep-alive-interval"));
}

#[test]
fn content_type_with_parameters_and_bad_intervals_are_refused() {
    let mut headers = Headers::new();
    headers.push(
        "Content-Type",
        "application/websocket-events; charset=utf-8",
    );
    assert!(!is_woh_events_response(200, &headers));
    assert_eq!(keep_alive_interval(&headers), None);
    for (value, want) in [("0", None), ("-3", None), ("x", None), ("45", Some(45))] {
        let mut headers = Headers::new();
        headers.push("Keep-Alive-Interval", value);
        assert_eq!(
            keep_alive_interval(&headers),
            Some(want.map(Duration::from_secs)),
            "{value}"
        );
    }
    assert_eq!(grip_extension(&Headers::new()), None);
}
