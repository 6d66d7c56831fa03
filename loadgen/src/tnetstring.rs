//! Tnetstring: the encoding pubcontrol sends publish items in over ZeroMQ, and what
//! Pushpin's handler (and ringpin's ZeroMQ inputs) read: `LEN:DATA` and a one-byte type tag
//! (`,` byte string, `}` dictionary).
//!
//! Owns: encoding the values loadgen sends (byte strings, dictionaries) and the one publish
//! item it sends over ZeroMQ.
//! Must not: parse tnetstrings (loadgen never reads one back) or do I/O.
//! Invariants: `LEN` is the byte length of `DATA`; byte strings are raw bytes (tnetstrings
//! need no escaping and no UTF-8), so a message is byte-for-byte what `/publish/` would get.

/// A tnetstring byte string: `LEN:BYTES,`.
pub fn encode_bytes(bytes: &[u8]) -> Vec<u8> {
    wrap(bytes, b',')
}

/// A tnetstring dictionary of already-encoded values, keys in the given order.
pub fn encode_map(pairs: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut body = Vec::new();
    for (key, value) in pairs {
        body.extend(encode_bytes(key.as_bytes()));
        body.extend_from_slice(value);
    }
    wrap(&body, b'}')
}

fn wrap(payload: &[u8], tag: u8) -> Vec<u8> {
    let mut out = format!("{}:", payload.len()).into_bytes();
    out.reserve(payload.len() + 1);
    out.extend_from_slice(payload);
    out.push(tag);
    out
}

/// One publish item, as a bare tnetstring (what pubcontrol's `zmq_push_uri` and
/// `zmq_pub_uri` send), with the same fields as [`crate::publisher::publish_body`]'s JSON
/// item: `channel` and every format, so one item serves every mode.
pub fn publish_item(channel: &str, stream_content: &[u8], line_content: &[u8]) -> Vec<u8> {
    let formats = encode_map(&[
        (
            "http-stream",
            encode_map(&[("content", encode_bytes(stream_content))]),
        ),
        (
            "http-response",
            encode_map(&[("body", encode_bytes(line_content))]),
        ),
        (
            "ws-message",
            encode_map(&[("content", encode_bytes(line_content))]),
        ),
    ]);
    encode_map(&[
        ("channel", encode_bytes(channel.as_bytes())),
        ("formats", formats),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(encoded: Vec<u8>, expected: &[u8]) {
        assert_eq!(
            encoded,
            expected,
            "{} != {}",
            String::from_utf8_lossy(&encoded),
            String::from_utf8_lossy(expected)
        );
    }

    #[test]
    fn byte_strings_carry_their_length_and_raw_bytes() {
        check(encode_bytes(b""), b"0:,");
        check(encode_bytes(b"hello"), b"5:hello,");
        check(encode_bytes(b"a:b,}"), b"5:a:b,},");
        check(encode_bytes(&[0xff, 0x00, b'\n']), b"3:\xff\x00\n,");
        check(encode_bytes(&[b'x'; 12]), b"12:xxxxxxxxxxxx,");
    }

    #[test]
    fn dictionaries_nest_and_keep_key_order() {
        check(encode_map(&[]), b"0:}");
        check(encode_map(&[("k", encode_bytes(b"v"))]), b"8:1:k,1:v,}");
        let inner = encode_map(&[("b", encode_bytes(b""))]);
        check(
            encode_map(&[("z", encode_bytes(b"1")), ("a", inner)]),
            b"22:1:z,1:1,1:a,7:1:b,0:,}}",
        );
    }

    #[test]
    fn the_publish_item_has_its_channel_and_every_format() {
        check(
            publish_item("ch", b"S\n", b"L\n"),
            b"130:7:channel,2:ch,7:formats,100:11:http-stream,15:7:content,2:S\n,}\
              13:http-response,12:4:body,2:L\n,}10:ws-message,15:7:content,2:L\n,}}}",
        );
    }
}
