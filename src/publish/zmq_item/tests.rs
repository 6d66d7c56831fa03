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

/// A seeded xorshift step.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// Keys an item, a format or a command may carry, so random maps reach deep into the
/// validation instead of stopping at the first unknown key.
const KEYS: &[&str] = &[
    "channel",
    "id",
    "prev-id",
    "formats",
    "http-stream",
    "http-response",
    "ws-message",
    "content",
    "content-bin",
    "body",
    "body-bin",
    "code",
    "reason",
    "headers",
    "action",
    "type",
    "meta",
    "close",
    "items",
    "method",
    "args",
    "cid",
    "ids",
    "x",
];

/// A random value shaped like an item: maps with item keys, values of every type.
fn random_item_like(rng: &mut u64, depth: usize) -> Tnet {
    let pick = xorshift(rng) % if depth >= 4 { 6 } else { 9 };
    match pick {
        0 | 1 => {
            let len = xorshift(rng) % 12;
            Tnet::Bytes(
                (0..len)
                    .map(|_| b"ab\n\xff0{}"[xorshift(rng) as usize % 7])
                    .collect(),
            )
        }
        2 => Tnet::Int(xorshift(rng) as i64 % 1000 - 100),
        3 => Tnet::Float((xorshift(rng) % 100_000) as f64 / 8.0),
        4 => Tnet::Bool(xorshift(rng) % 2 == 0),
        5 => Tnet::Null,
        6 => Tnet::List(
            (0..xorshift(rng) % 4)
                .map(|_| random_item_like(rng, depth + 1))
                .collect(),
        ),
        _ => Tnet::Map(
            (0..xorshift(rng) % 5)
                .map(|_| {
                    let key = KEYS[xorshift(rng) as usize % KEYS.len()];
                    (key.as_bytes().to_vec(), random_item_like(rng, depth + 1))
                })
                .collect(),
        ),
    }
}

#[test]
fn random_and_damaged_messages_never_panic_and_a_sub_frame_s_channel_wins() {
    let mut accepted = 0;
    for seed in 1..20_000u64 {
        let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut value = random_item_like(&mut rng, 0);
        if seed % 3 == 0 {
            // Start from a valid item so some survive and the deep paths run.
            value = stream_item(b"x");
            if let Tnet::Map(pairs) = &mut value {
                let extra = random_item_like(&mut rng, 1);
                let key = KEYS[xorshift(&mut rng) as usize % KEYS.len()];
                pairs.push((key.as_bytes().to_vec(), extra));
            }
        }
        let mut message = match seed % 4 {
            0 => b"T".to_vec(),
            _ => Vec::new(),
        };
        message.extend(wire(&value));
        if seed % 5 == 0 {
            let at = xorshift(&mut rng) as usize % message.len();
            message[at] = xorshift(&mut rng) as u8;
        }
        let channel = (seed % 2 == 0).then_some(&b"ch"[..]);
        if let Ok(item) = parse_zmq_item(&message, channel) {
            if channel.is_some() {
                assert_eq!(item.channel, "ch", "seed {seed}");
            }
            accepted += 1;
        }
        let _ = crate::publish::command::parse_command(&message);
        let json = serde_json::to_vec(&tnet_to_json(&value, "").unwrap_or_default());
        let mut j = b"J".to_vec();
        j.extend(json.unwrap_or_default());
        let _ = parse_zmq_item(&j, channel);
    }
    assert!(accepted > 1000, "only {accepted} random items were valid");
}
