use super::*;

fn check(json: &str, expected: Result<ControlMessage, ControlError>) {
    assert_eq!(parse_control(json), expected, "{json}");
}

fn text(s: &'static str) -> Option<DelayedContent> {
    Some(DelayedContent {
        kind: ContentKind::Text,
        content: Bytes::from_static(s.as_bytes()),
    })
}

#[test]
fn control_messages_parse_with_pushpin_defaults() {
    use ControlMessage as M;
    let cases: Vec<(&str, ControlMessage)> = vec![
        (
            r#"{"type":"subscribe","channel":"room"}"#,
            M::Subscribe {
                channel: "room".into(),
                filters: vec![],
            },
        ),
        (
            r#"{"type":"subscribe","channel":"room","filters":["skip-self"]}"#,
            M::Subscribe {
                channel: "room".into(),
                filters: vec!["skip-self".into()],
            },
        ),
        (
            r#"{"type":"unsubscribe","channel":"room"}"#,
            M::Unsubscribe {
                channel: "room".into(),
            },
        ),
        (r#"{"type":"detach"}"#, M::Detach),
        (
            r#"{"type":"set-meta","name":"user","value":"alice"}"#,
            M::SetMeta {
                name: "user".into(),
                value: Some("alice".into()),
            },
        ),
        (
            r#"{"type":"set-meta","name":"user"}"#,
            M::SetMeta {
                name: "user".into(),
                value: None,
            },
        ),
    ];
    for (json, message) in cases {
        check(json, Ok(message));
    }
}

#[test]
fn delayed_messages_parse_with_pushpin_defaults() {
    use ControlMessage as M;
    let secs = Duration::from_secs;
    let cases: Vec<(&str, ControlMessage)> = vec![
        (
            r#"{"type":"keep-alive","content":"{}"}"#,
            M::KeepAlive {
                content: text("{}"),
                timeout: secs(55),
                mode: KeepAliveMode::Idle,
            },
        ),
        (
            r#"{"type":"keep-alive","content-bin":"AAEC","message-type":"binary","timeout":20,"mode":"interval"}"#,
            M::KeepAlive {
                content: Some(DelayedContent {
                    kind: ContentKind::Binary,
                    content: Bytes::from_static(&[0, 1, 2]),
                }),
                timeout: secs(20),
                mode: KeepAliveMode::Interval,
            },
        ),
        (
            r#"{"type":"keep-alive"}"#,
            M::KeepAlive {
                content: None,
                timeout: secs(55),
                mode: KeepAliveMode::Idle,
            },
        ),
        (
            r#"{"type":"send-delayed","content":"x","message-type":"ping"}"#,
            M::SendDelayed {
                content: Some(DelayedContent {
                    kind: ContentKind::Ping,
                    content: Bytes::from_static(b"x"),
                }),
                timeout: secs(1),
            },
        ),
        (
            r#"{"type":"send-delayed","content":"x","timeout":0}"#,
            M::SendDelayed {
                content: text("x"),
                timeout: secs(0),
            },
        ),
        (r#"{"type":"flush-delayed"}"#, M::FlushDelayed),
        (
            r#"{"type":"session","id":"abc"}"#,
            M::Session { id: "abc".into() },
        ),
    ];
    for (json, message) in cases {
        check(json, Ok(message));
    }
}

#[test]
fn malformed_control_messages_are_refused() {
    use ControlError as E;
    let invalid = |field| E::InvalidField { field };
    let cases: Vec<(&str, ControlError)> = vec![
        ("", E::NotAnObject),
        ("not json", E::NotAnObject),
        ("[1]", E::NotAnObject),
        (r#"{"type":"subscribe","channel":"a""#, E::NotAnObject),
        ("{}", E::MissingField { field: "type" }),
        (r#"{"type":7}"#, invalid("type")),
        (
            r#"{"type":"auto-respond"}"#,
            E::UnknownType {
                name: "auto-respond".into(),
            },
        ),
        (
            r#"{"type":"subscribe"}"#,
            E::MissingField { field: "channel" },
        ),
        (r#"{"type":"subscribe","channel":""}"#, invalid("channel")),
        (r#"{"type":"unsubscribe","channel":5}"#, invalid("channel")),
        (
            r#"{"type":"subscribe","channel":"a","filters":"x"}"#,
            invalid("filters"),
        ),
        (
            r#"{"type":"subscribe","channel":"a","filters":[1]}"#,
            invalid("filters"),
        ),
        (
            r#"{"type":"set-meta","value":"v"}"#,
            E::MissingField { field: "name" },
        ),
        (
            r#"{"type":"keep-alive","content":"x","timeout":-1}"#,
            invalid("timeout"),
        ),
        (
            r#"{"type":"keep-alive","content":"x","timeout":"5"}"#,
            invalid("timeout"),
        ),
        (
            r#"{"type":"keep-alive","content":"x","mode":"often"}"#,
            invalid("mode"),
        ),
        (
            r#"{"type":"keep-alive","content":"x","message-type":"close"}"#,
            invalid("message-type"),
        ),
        (
            r#"{"type":"keep-alive","content-bin":"!!"}"#,
            invalid("content-bin"),
        ),
        (r#"{"type":"send-delayed","content":5}"#, invalid("content")),
        (r#"{"type":"session"}"#, E::MissingField { field: "id" }),
    ];
    for (json, err) in cases {
        check(json, Err(err));
    }
    assert_eq!(
        ControlError::UnknownType { name: "x".into() }.to_string(),
        "unknown control message type \"x\""
    );
}

#[test]
fn backend_messages_are_sorted_by_prefix() {
    use BackendMessage as B;
    let cases: Vec<(MessageKind, &[u8], &str, BackendMessage)> = vec![
        (
            MessageKind::Text,
            b"c:{\"type\":\"detach\"}",
            "m:",
            B::Control("{\"type\":\"detach\"}"),
        ),
        (MessageKind::Text, b"m:hello", "m:", B::Data(b"hello")),
        (MessageKind::Text, b"m:", "m:", B::Data(b"")),
        (MessageKind::Text, b"hello", "m:", B::Dropped),
        (
            MessageKind::Binary,
            b"m:\x00\x01",
            "m:",
            B::Data(b"\x00\x01"),
        ),
        (MessageKind::Binary, b"c:{}", "m:", B::Dropped),
        (MessageKind::Binary, b"c:{}", "", B::Data(b"c:{}")),
        (MessageKind::Text, b"hello", "", B::Data(b"hello")),
        (MessageKind::Text, b"c:{}", "", B::Control("{}")),
        (MessageKind::Text, b"c:\xff", "m:", B::Dropped),
        (MessageKind::Text, b">>hi", ">>", B::Data(b"hi")),
    ];
    for (kind, payload, prefix, expected) in cases {
        assert_eq!(
            classify_backend_message(kind, payload, prefix),
            expected,
            "{payload:?}"
        );
    }
}

#[test]
fn grip_extension_is_found_with_its_message_prefix() {
    let prefix = |p: &str| {
        Some(GripExtension {
            message_prefix: p.into(),
        })
    };
    let cases: Vec<(&str, Option<GripExtension>)> = vec![
        ("grip", prefix("m:")),
        ("GRIP", prefix("m:")),
        ("grip; message-prefix=\"\"", prefix("")),
        ("grip; message-prefix=\"x:\"", prefix("x:")),
        ("grip;message-prefix=abc", prefix("abc")),
        (
            "permessage-deflate, grip; message-prefix=\"a,b;c\"",
            prefix("a,b;c"),
        ),
        ("grip; message-prefix=\"q\\\"\"", prefix("q\"")),
        ("grip; other=1", prefix("m:")),
        ("permessage-deflate", None),
        ("gripx", None),
        ("", None),
    ];
    for (header, expected) in cases {
        assert_eq!(parse_grip_extension(header), expected, "{header}");
    }
}
