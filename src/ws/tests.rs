//! Robustness: every parser in `ws/` takes arbitrary bytes without panicking, and the frame
//! decoder always makes progress or stops. Deterministic pseudo-random inputs (xorshift), so a
//! failure reproduces; the fuzz targets, when they exist, explore further.

use super::*;
use std::time::Instant;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Text made of the pieces a parser looks for, so inputs get past the first check.
    fn pieces(&mut self, pieces: &[&str], count: usize) -> String {
        (0..count)
            .map(|_| pieces[self.below(pieces.len())])
            .collect()
    }
}

fn small_limits() -> FrameLimits {
    FrameLimits {
        message_bytes_max: 64,
        frame_payload_bytes_max: 32,
    }
}

/// Decodes `input` to the end; every step consumes bytes or stops.
fn decode_all(mut decoder: FrameDecoder, input: &[u8]) {
    let mut at = 0;
    while at < input.len() {
        match decoder.decode(&input[at..]) {
            Ok(Some((_, used))) => {
                assert!(used > 0 && at + used <= input.len());
                at += used;
            }
            Ok(None) | Err(_) => return,
        }
    }
}

#[test]
fn random_bytes_never_panic_the_frame_decoders() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for _ in 0..20_000 {
        let len = rng.below(200);
        let input = rng.bytes(len);
        decode_all(FrameDecoder::new(small_limits()), &input);
        decode_all(FrameDecoder::for_origin(small_limits()), &input);
    }
}

#[test]
fn mutated_valid_frames_never_panic_the_frame_decoder() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut valid = Vec::new();
    for (first, payload) in [
        (0x01u8, &b"hel"[..]),
        (0x89, b"p"),
        (0x80, b"lo"),
        (0x88, b"\x03\xe8ok"),
    ] {
        valid.extend(encode_masked_frame(
            tungstenite::protocol::frame::coding::OpCode::from(first & 0x0f),
            first & 0x80 != 0,
            payload,
            [1, 2, 3, 4],
        ));
    }
    for _ in 0..20_000 {
        let mut input = valid.clone();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(input.len());
            input[at] = rng.next() as u8;
        }
        decode_all(FrameDecoder::new(small_limits()), &input);
    }
}

#[test]
fn random_event_bodies_never_panic_the_event_parser() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let pieces = [
        "TEXT",
        "BINARY",
        "OPEN",
        "CLOSE",
        "PING",
        "PONG",
        "DISCONNECT",
        " ",
        "\r\n",
        "\r",
        "\n",
        "0",
        "2",
        "a",
        "F",
        "ffffffff",
        "x",
        "\u{e9}",
    ];
    for _ in 0..20_000 {
        let count = rng.below(12);
        let body = rng.pieces(&pieces, count);
        let _ = parse_events(body.as_bytes());
    }
}

#[test]
fn random_control_messages_and_extensions_never_panic() {
    let mut rng = Rng(0x5851_F42D_4C95_7F2D);
    let json = [
        "{",
        "}",
        "\"type\"",
        ":",
        ",",
        "\"subscribe\"",
        "\"keep-alive\"",
        "\"send-delayed\"",
        "\"set-meta\"",
        "\"channel\"",
        "\"timeout\"",
        "1e400",
        "-1",
        "0.5",
        "null",
        "[",
        "]",
        "\"content-bin\"",
        "\"AAE=\"",
        "\"message-type\"",
        "\"ping\"",
        "\"mode\"",
        "\"x\"",
    ];
    let extension = [
        "grip",
        ";",
        ",",
        "=",
        "\"",
        "\\",
        "message-prefix",
        " ",
        "m:",
        "\u{e9}",
    ];
    let mut session = GripSession::new(
        GripExtension {
            message_prefix: "m:".into(),
        },
        16,
        7,
    );
    let now = Instant::now();
    for _ in 0..20_000 {
        let count = rng.below(16);
        let text = rng.pieces(&json, count);
        let _ = parse_control(&text);
        let message = format!("c:{text}");
        let _ = session.on_origin_message(MessageKind::Text, message.as_bytes(), now);
        let count = rng.below(10);
        let _ = parse_grip_extension(&rng.pieces(&extension, count));
    }
    let _ = session.on_timeout(now + std::time::Duration::from_secs(3600), None);
}
