use super::*;
use crate::publish::item::{HttpStreamFormat, WsMessageFormat};
use crate::publish::tnetstring::encode_tnetstring;

fn bytes(s: &[u8]) -> Tnet {
    Tnet::Bytes(s.to_vec())
}

fn map(pairs: &[(&str, Tnet)]) -> Tnet {
    Tnet::Map(
        pairs
            .iter()
            .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
            .collect(),
    )
}

fn wire(value: &Tnet) -> Vec<u8> {
    let mut out = Vec::new();
    encode_tnetstring(value, &mut out);
    out
}

fn stream_item(content: &[u8]) -> Tnet {
    map(&[
        ("channel", bytes(b"news")),
        ("id", bytes(b"7")),
        (
            "formats",
            map(&[("http-stream", map(&[("content", bytes(content))]))]),
        ),
    ])
}

fn stream_content(item: &PublishItem) -> Vec<u8> {
    match &item.http_stream {
        Some(HttpStreamFormat::Send { content, .. }) => content.to_vec(),
        other => panic!("not a stream send: {other:?}"),
    }
}

#[test]
fn a_bare_tnetstring_item_as_pubcontrol_sends_it() {
    let item = parse_zmq_item(&wire(&stream_item(b"hello\n")), None).expect("valid");
    assert_eq!(item.channel, "news");
    assert_eq!(item.id.as_deref(), Some("7"));
    assert_eq!(stream_content(&item), b"hello\n");
}

#[test]
fn t_and_j_prefixes_select_the_encoding() {
    let mut t = b"T".to_vec();
    t.extend(wire(&stream_item(b"via T")));
    assert_eq!(
        stream_content(&parse_zmq_item(&t, None).expect("T")),
        b"via T"
    );
    let j = br#"J{"channel":"news","formats":{"http-stream":{"content":"via J"}}}"#;
    assert_eq!(
        stream_content(&parse_zmq_item(j, None).expect("J")),
        b"via J"
    );
}

#[test]
fn binary_content_survives_without_base64() {
    let binary = [0xff, 0x00, 0xfe, b'\n'];
    let item = parse_zmq_item(&wire(&stream_item(&binary)), None).expect("valid");
    assert_eq!(stream_content(&item), binary);
    let ws = map(&[
        ("channel", bytes(b"c")),
        ("ws-message", map(&[("content-bin", bytes(&[1, 2, 3]))])),
    ]);
    let item = parse_zmq_item(&wire(&ws), None).expect("valid");
    assert!(matches!(
        item.ws_message,
        Some(WsMessageFormat::Send { ref content, .. }) if content.as_ref() == [1, 2, 3]
    ));
}

#[test]
fn a_sub_message_takes_its_channel_from_the_first_frame() {
    let item_without_channel = map(&[(
        "formats",
        map(&[("http-stream", map(&[("content", bytes(b"x"))]))]),
    )]);
    let item = parse_zmq_item(&wire(&item_without_channel), Some(b"room")).expect("valid");
    assert_eq!(item.channel, "room");
    let other = parse_zmq_item(&wire(&stream_item(b"x")), Some(b"room"));
    assert!(matches!(other, Err(ZmqItemError::BadChannel)), "{other:?}");
    let same = parse_zmq_item(&wire(&stream_item(b"x")), Some(b"news"));
    assert!(same.is_ok());
}

#[test]
fn bad_messages_are_refused_with_a_reason() {
    assert!(matches!(
        parse_zmq_item(b"", None),
        Err(ZmqItemError::Empty)
    ));
    assert!(matches!(
        parse_zmq_item(b"J{", None),
        Err(ZmqItemError::NotJson)
    ));
    assert!(matches!(
        parse_zmq_item(b"T5:ab,", None),
        Err(ZmqItemError::Tnet(_))
    ));
    let no_formats = map(&[("channel", bytes(b"c"))]);
    let err = parse_zmq_item(&wire(&no_formats), None).expect_err("no formats");
    assert_eq!(err.to_string(), "Invalid format: no formats specified");
    let binary_channel = map(&[
        ("channel", bytes(&[0xff])),
        ("http-stream", map(&[("content", bytes(b"x"))])),
    ]);
    let err = parse_zmq_item(&wire(&binary_channel), None).expect_err("binary channel");
    assert!(
        matches!(err, ZmqItemError::NotText(ref k) if k == "channel"),
        "{err:?}"
    );
    let bad_code = map(&[
        ("channel", bytes(b"c")),
        (
            "http-response",
            map(&[("code", Tnet::Int(101)), ("body", bytes(b""))]),
        ),
    ]);
    assert!(matches!(
        parse_zmq_item(&wire(&bad_code), None),
        Err(ZmqItemError::Item(PublishError::StatusNotFinal {
            code: 101
        }))
    ));
}
