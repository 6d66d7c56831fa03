use super::*;

use tungstenite::protocol::frame::coding::Data;

/// The payload of an unmasked frame with a 7- or 16-bit length.
fn payload_of(frame: &[u8]) -> &[u8] {
    let (len, at) = match frame[1] {
        126 => (usize::from(u16::from_be_bytes([frame[2], frame[3]])), 4),
        n => (usize::from(n), 2),
    };
    assert_eq!(frame.len(), at + len);
    &frame[at..]
}

fn offer(value: &str) -> bool {
    let mut headers = Headers::new();
    headers.push("Sec-WebSocket-Extensions", value);
    accepts_deflate_offer(&headers)
}

#[test]
fn offers_are_taken_when_every_parameter_fits() {
    let cases = [
        ("permessage-deflate", true),
        ("Permessage-Deflate", true),
        ("permessage-deflate; client_max_window_bits", true),
        ("permessage-deflate; client_max_window_bits=10", true),
        ("permessage-deflate; client_max_window_bits=\"15\"", true),
        ("permessage-deflate; server_max_window_bits=15", true),
        (
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            true,
        ),
        ("permessage-deflate; server_max_window_bits=10", false),
        ("permessage-deflate; server_max_window_bits", false),
        ("permessage-deflate; client_max_window_bits=16", false),
        ("permessage-deflate; client_max_window_bits=08", false),
        ("permessage-deflate; server_no_context_takeover=1", false),
        ("permessage-deflate; mystery", false),
        (
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            false,
        ),
        ("x-webkit-deflate-frame", false),
        ("grip", false),
        (
            "permessage-deflate; server_max_window_bits=10, permessage-deflate",
            true,
        ),
        ("", false),
    ];
    for (value, want) in cases {
        assert_eq!(offer(value), want, "{value}");
    }
    assert!(!accepts_deflate_offer(&Headers::new()));
}

#[test]
fn rfc_7692_examples_inflate_to_hello() {
    // §7.2.3.1 (compressed block) and §7.2.3.3 (a stored block).
    let compressed: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    assert_eq!(inflate_message(compressed, 100), Ok(b"Hello".to_vec()));
    let stored: &[u8] = &[
        0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00,
    ];
    assert_eq!(inflate_message(stored, 100), Ok(b"Hello".to_vec()));
    assert_eq!(inflate_message(&[0x00], 100), Ok(Vec::new()));
}

#[test]
fn a_compressed_frame_inflates_back_and_small_or_random_payloads_stay_plain() {
    let text = "the same words again and again, ".repeat(40);
    let frame = encode_deflated_frame(
        OpCode::Data(tungstenite::protocol::frame::coding::Data::Text),
        text.as_bytes(),
    )
    .expect("compressible");
    assert_eq!(frame[0], 0xc1, "FIN, RSV1, text");
    let (len, at) = match frame[1] {
        126 => (usize::from(u16::from_be_bytes([frame[2], frame[3]])), 4),
        n => (usize::from(n), 2),
    };
    assert_eq!(frame.len(), at + len);
    assert!(len < text.len() / 4, "{len}");
    let inflated = inflate_message(&frame[at..], text.len()).expect("inflates");
    assert_eq!(inflated, text.as_bytes());
    // A second message compresses the same way: no context is carried over.
    let again = encode_deflated_frame(
        OpCode::Data(tungstenite::protocol::frame::coding::Data::Text),
        text.as_bytes(),
    );
    assert_eq!(again.as_ref(), Some(&frame));

    let binary = OpCode::Data(Data::Binary);
    assert_eq!(encode_deflated_frame(binary, b"short"), None);
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    assert_eq!(encode_deflated_frame(binary, &noise), None);
}

#[test]
fn inflating_stops_at_the_message_bound_and_refuses_garbage() {
    let zeros = vec![0u8; 1_000_000];
    let binary = OpCode::Data(Data::Binary);
    let frame = encode_deflated_frame(binary, &zeros).expect("compressible");
    let payload = payload_of(&frame);
    assert!(payload.len() < 2000, "{}", payload.len());
    assert_eq!(
        inflate_message(payload, 1000),
        Err(FrameError::MessageTooLarge { bytes_max: 1000 })
    );
    assert_eq!(
        inflate_message(payload, 1_000_000).map(|v| v.len()),
        Ok(1_000_000)
    );
    assert_eq!(
        inflate_message(&[0xff, 0xff, 0xff, 0xff], 100),
        Err(FrameError::BadCompression)
    );
}
