use super::*;

fn session(prefix: &str) -> GripSession {
    GripSession::new(
        GripExtension {
            message_prefix: prefix.into(),
        },
        16_384,
        0,
    )
}

fn text_frame(s: &str) -> Bytes {
    encode_frame(MessageKind::Text.opcode(), s.as_bytes())
}

#[test]
fn prefixed_data_is_stripped_and_unprefixed_data_is_dropped() {
    let now = Instant::now();
    let mut s = session("m:");
    assert_eq!(
        s.on_origin_message(MessageKind::Text, b"m:hello", now),
        vec![GripAction::Send(vec![text_frame("hello")])]
    );
    assert_eq!(
        s.on_origin_message(MessageKind::Text, b"hello", now),
        vec![GripAction::Dropped]
    );
    assert_eq!(
        s.on_origin_message(MessageKind::Binary, b"m:\x00\x01", now),
        vec![GripAction::Send(vec![encode_frame(
            MessageKind::Binary.opcode(),
            b"\x00\x01"
        )])]
    );
    let mut open = session("");
    assert_eq!(
        open.on_origin_message(MessageKind::Text, b"hello", now),
        vec![GripAction::Send(vec![text_frame("hello")])]
    );
}

#[test]
fn control_messages_become_actions_and_never_reach_the_client() {
    let now = Instant::now();
    let mut s = session("m:");
    let cases: Vec<(&[u8], Vec<GripAction>)> = vec![
        (
            br#"c:{"type":"subscribe","channel":"room"}"#,
            vec![GripAction::Subscribe {
                channel: "room".into(),
                filters: vec![],
            }],
        ),
        (
            br#"c:{"type":"subscribe","channel":"chat","filters":["skip-self"]}"#,
            vec![GripAction::Subscribe {
                channel: "chat".into(),
                filters: vec!["skip-self".into()],
            }],
        ),
        (
            br#"c:{"type":"unsubscribe","channel":"room"}"#,
            vec![GripAction::Unsubscribe("room".into())],
        ),
        (br#"c:{"type":"detach"}"#, vec![GripAction::Detach]),
        (br#"c:{"type":"session","id":"x"}"#, vec![]),
        (
            br#"c:{"type":"set-meta","name":"user","value":"alice"}"#,
            vec![GripAction::MetaChanged],
        ),
    ];
    for (message, actions) in cases {
        assert_eq!(
            s.on_origin_message(MessageKind::Text, message, now),
            actions
        );
    }
    assert_eq!(s.meta(), &[("user".to_string(), "alice".to_string())]);
    s.on_origin_message(
        MessageKind::Text,
        br#"c:{"type":"set-meta","name":"user"}"#,
        now,
    );
    assert!(s.meta().is_empty());
}

#[test]
fn meta_fields_are_bounded_in_count_and_size() {
    let mut meta = Vec::new();
    for i in 0..WS_META_FIELDS_MAX {
        assert!(set_meta_field(
            &mut meta,
            &format!("f{i}"),
            Some("v".into())
        ));
    }
    assert!(!set_meta_field(&mut meta, "one-more", Some("v".into())));
    assert!(set_meta_field(&mut meta, "F0", Some("replaced".into())));
    assert_eq!(meta.len(), WS_META_FIELDS_MAX);
    assert!(set_meta_field(&mut meta, "f1", None));
    let long = "x".repeat(WS_META_FIELD_BYTES_MAX);
    assert!(!set_meta_field(&mut meta, "big", Some(long)));
    assert_eq!(meta.len(), WS_META_FIELDS_MAX - 1);
}

#[test]
fn malformed_control_messages_are_reported_and_ignored() {
    let now = Instant::now();
    let mut s = session("m:");
    for bad in [
        &b"c:not json"[..],
        br#"c:{"type":"subscribe"}"#,
        br#"c:{"type":"subscribe","channel":""}"#,
        br#"c:{"type":"warp"}"#,
        br#"c:[1,2]"#,
        br#"c:{"type":"keep-alive","content":"x","timeout":-1}"#,
    ] {
        let actions = s.on_origin_message(MessageKind::Text, bad, now);
        assert!(
            matches!(actions.as_slice(), [GripAction::BadControl(_)]),
            "{}: {actions:?}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(s.next_deadline(None), None);
    // A binary message starting `c:` is data, not control.
    assert_eq!(
        s.on_origin_message(MessageKind::Binary, br#"c:{"type":"detach"}"#, now),
        vec![GripAction::Dropped]
    );
}

#[test]
fn a_newer_send_delayed_releases_the_older_and_flush_sends_it_now() {
    let t0 = Instant::now();
    let mut s = session("m:");
    let first = br#"c:{"type":"send-delayed","content":"one","timeout":5}"#;
    assert_eq!(s.on_origin_message(MessageKind::Text, first, t0), vec![]);
    assert_eq!(s.next_deadline(None), Some(t0 + Duration::from_secs(5)));
    let second = br#"c:{"type":"send-delayed","content":"two"}"#;
    assert_eq!(
        s.on_origin_message(MessageKind::Text, second, t0),
        vec![GripAction::Send(vec![text_frame("one")])]
    );
    assert_eq!(s.next_deadline(None), Some(t0 + Duration::from_secs(1)));
    assert!(s.on_timeout(t0, None).is_empty());
    assert_eq!(
        s.on_timeout(t0 + Duration::from_secs(1), None),
        vec![text_frame("two")]
    );
    s.on_origin_message(MessageKind::Text, first, t0);
    assert_eq!(
        s.on_origin_message(MessageKind::Text, br#"c:{"type":"flush-delayed"}"#, t0),
        vec![GripAction::Send(vec![text_frame("one")])]
    );
    assert_eq!(s.next_deadline(None), None);
}

#[test]
fn idle_keep_alive_restarts_after_each_send_and_interval_does_not() {
    let t0 = Instant::now();
    let secs = Duration::from_secs;
    let mut s = session("m:");
    let idle = br#"c:{"type":"keep-alive","content":"ka","timeout":10}"#;
    s.on_origin_message(MessageKind::Text, idle, t0);
    assert_eq!(s.next_deadline(None), Some(t0 + secs(10)));
    assert_eq!(s.next_deadline(Some(t0 + secs(4))), Some(t0 + secs(14)));
    assert!(s.on_timeout(t0 + secs(10), Some(t0 + secs(4))).is_empty());
    assert_eq!(
        s.on_timeout(t0 + secs(14), Some(t0 + secs(4))),
        vec![text_frame("ka")]
    );
    assert_eq!(s.next_deadline(Some(t0 + secs(4))), Some(t0 + secs(24)));

    let interval =
        br#"c:{"type":"keep-alive","content-bin":"AAE=","message-type":"ping","timeout":10,"mode":"interval"}"#;
    s.on_origin_message(MessageKind::Text, interval, t0);
    assert_eq!(s.next_deadline(Some(t0 + secs(9))), Some(t0 + secs(10)));
    assert_eq!(
        s.on_timeout(t0 + secs(10), Some(t0 + secs(9))),
        vec![encode_frame(OpCode::Control(Control::Ping), &[0, 1])]
    );
    let off = br#"c:{"type":"keep-alive"}"#;
    s.on_origin_message(MessageKind::Text, off, t0);
    assert_eq!(s.next_deadline(None), None);
}

#[test]
fn keep_alive_periods_are_shortened_by_under_a_second_of_jitter() {
    let t0 = Instant::now();
    let mut s = GripSession::new(
        GripExtension {
            message_prefix: "m:".into(),
        },
        16_384,
        0x9E37_79B9_7F4A_7C15,
    );
    let ka = br#"c:{"type":"keep-alive","content":"ka","timeout":10,"mode":"interval"}"#;
    s.on_origin_message(MessageKind::Text, ka, t0);
    let mut from = t0;
    for _ in 0..20 {
        let due = s.next_deadline(None).expect("keep-alive set");
        let period = due - from;
        assert!(
            period <= Duration::from_secs(10) && period > Duration::from_secs(9),
            "{period:?}"
        );
        assert_eq!(s.on_timeout(due, None), vec![text_frame("ka")]);
        from = due;
    }
}

#[test]
fn a_zero_keep_alive_timeout_is_raised_to_the_minimum_and_cannot_loop() {
    let t0 = Instant::now();
    let mut s = session("m:");
    let zero = br#"c:{"type":"keep-alive","content":"ka","timeout":0,"mode":"interval"}"#;
    s.on_origin_message(MessageKind::Text, zero, t0);
    let due = s.next_deadline(None).expect("keep-alive set");
    assert!(due - t0 >= Duration::from_millis(500), "{:?}", due - t0);
    assert_eq!(s.on_timeout(due, None).len(), 1);
    assert!(s.on_timeout(due, None).is_empty(), "fires once per period");
}
