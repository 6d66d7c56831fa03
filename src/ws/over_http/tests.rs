use super::*;

fn b<T: AsRef<[u8]> + ?Sized>(s: &'static T) -> Bytes {
    Bytes::from_static(s.as_ref())
}

fn check(body: &[u8], expected: Result<Vec<WohEvent>, WohError>) {
    assert_eq!(
        parse_events(body),
        expected,
        "{}",
        String::from_utf8_lossy(body)
    );
    let shared = Bytes::copy_from_slice(body);
    assert_eq!(parse_events_bytes(&shared), expected);
}

#[test]
fn events_encode_in_pushpin_wire_form() {
    let cases: Vec<(Vec<WohEvent>, &[u8])> = vec![
        (vec![WohEvent::Open(Bytes::new())], b"OPEN\r\n"),
        (vec![WohEvent::Text(b("hello"))], b"TEXT 5\r\nhello\r\n"),
        (vec![WohEvent::Text(Bytes::new())], b"TEXT 0\r\n\r\n"),
        (
            vec![WohEvent::Binary(b(&[0; 26]))],
            b"BINARY 1a\r\n\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\r\n",
        ),
        (vec![WohEvent::Ping(b("abc"))], b"PING 3\r\nabc\r\n"),
        (vec![WohEvent::Ping(Bytes::new())], b"PING\r\n"),
        (vec![WohEvent::Pong(Bytes::new())], b"PONG\r\n"),
        (
            vec![WohEvent::Close(Some((1000, "bye".into())))],
            b"CLOSE 5\r\n\x03\xe8bye\r\n",
        ),
        (vec![WohEvent::Close(None)], b"CLOSE\r\n"),
        (vec![WohEvent::Disconnect], b"DISCONNECT\r\n"),
        (
            vec![WohEvent::Open(Bytes::new()), WohEvent::Text(b("hi"))],
            b"OPEN\r\nTEXT 2\r\nhi\r\n",
        ),
        (vec![], b""),
    ];
    for (events, wire) in cases {
        assert_eq!(encode_events(&events), wire, "{events:?}");
        check(wire, Ok(events));
    }
}

#[test]
fn content_is_accepted_on_any_type() {
    check(b"OPEN 0\r\n\r\n", Ok(vec![WohEvent::Open(Bytes::new())]));
    check(b"TEXT\r\n", Ok(vec![WohEvent::Text(Bytes::new())]));
    check(b"DISCONNECT 2\r\nxx\r\n", Ok(vec![WohEvent::Disconnect]));
    check(b"CLOSE 0\r\n\r\n", Ok(vec![WohEvent::Close(None)]));
    check(
        b"TEXT A\r\n0123456789\r\n",
        Ok(vec![WohEvent::Text(b("0123456789"))]),
    );
    check(b"TEXT 2\r\n\r\n\r\n", Ok(vec![WohEvent::Text(b("\r\n"))]));
}

#[test]
fn malformed_bodies_are_refused_whole() {
    let cases: Vec<(&[u8], WohError)> = vec![
        (
            b"HELLO\r\n",
            WohError::UnknownType {
                name: "HELLO".into(),
                at: 0,
            },
        ),
        (
            b"OPEN\r\ntext 2\r\nhi\r\n",
            WohError::UnknownType {
                name: "text".into(),
                at: 6,
            },
        ),
        (b"TEXT zz\r\nhi\r\n", WohError::InvalidLength { at: 5 }),
        (b"TEXT \r\nhi\r\n", WohError::InvalidLength { at: 5 }),
        (b"TEXT 2 \r\nhi\r\n", WohError::InvalidLength { at: 5 }),
        (b"TEXT 123456789\r\n", WohError::InvalidLength { at: 5 }),
        (b"TEXT 5\r\nhi\r\n", WohError::Truncated { at: 0 }),
        (b"TEXT 2\r\nhiX\r\n", WohError::MissingCrlf { at: 10 }),
        (b"TEXT 2\nhi\r\n", WohError::MissingCrlf { at: 6 }),
        (b"OPEN\nTEXT\r\n", WohError::MissingCrlf { at: 4 }),
        (b"OPEN", WohError::Truncated { at: 0 }),
        (b"CLOSE 1\r\nx\r\n", WohError::InvalidClose { at: 0 }),
        (
            b"CLOSE 3\r\n\x03\xe8\xff\r\n",
            WohError::InvalidClose { at: 0 },
        ),
    ];
    for (body, err) in cases {
        check(body, Err(err));
    }
}

#[test]
fn bodies_over_the_limit_are_refused_and_the_limit_itself_passes() {
    let content = vec![b'x'; WOH_BODY_BYTES_MAX - 14];
    let exact = encode_events(&[WohEvent::Text(Bytes::from(content))]);
    assert_eq!(exact.len(), WOH_BODY_BYTES_MAX);
    assert!(parse_events(&exact).is_ok());
    let mut over = exact;
    over.extend_from_slice(b"\r\n");
    assert_eq!(
        parse_events(&over),
        Err(WohError::BodyTooLarge {
            bytes: WOH_BODY_BYTES_MAX + 2,
            bytes_max: WOH_BODY_BYTES_MAX,
        })
    );
}

#[test]
fn every_split_point_parses_a_prefix_of_events_or_fails() {
    let events = vec![
        WohEvent::Open(Bytes::new()),
        WohEvent::Text(b("hello")),
        WohEvent::Close(Some((4001, "kicked".into()))),
        WohEvent::Ping(b("p")),
        WohEvent::Disconnect,
    ];
    let wire = encode_events(&events);
    let boundaries: Vec<usize> = (0..=events.len())
        .map(|n| encode_events(&events[..n]).len())
        .collect();
    for cut in 0..=wire.len() {
        let got = parse_events(&wire[..cut]);
        match boundaries.iter().position(|&b| b == cut) {
            Some(n) => assert_eq!(got, Ok(events[..n].to_vec()), "cut at {cut}"),
            None => assert!(got.is_err(), "cut at {cut} gave {got:?}"),
        }
    }
}

#[test]
fn shared_parsing_does_not_copy_content() {
    let body = Bytes::from_static(b"TEXT 5\r\nhello\r\n");
    let events = parse_events_bytes(&body).expect("valid");
    let WohEvent::Text(content) = &events[0] else {
        panic!("not text: {events:?}");
    };
    assert_eq!(content.as_ptr(), body[8..].as_ptr());
}

#[test]
fn errors_read_as_lower_case_sentences() {
    assert_eq!(
        WohError::BodyTooLarge {
            bytes: 5,
            bytes_max: 4
        }
        .to_string(),
        "event body of 5 bytes, the limit is 4"
    );
    assert_eq!(
        WohError::UnknownType {
            name: "X".into(),
            at: 3
        }
        .to_string(),
        "unknown event type \"X\" at byte 3"
    );
}
