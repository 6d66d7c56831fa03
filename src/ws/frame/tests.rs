use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame: `first` is FIN/RSV/opcode, then the length, mask and payload.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    match payload.len() {
        0..=125 => out.push(0x80 | payload.len() as u8),
        126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        _ => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&MASK);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i & 3]));
    out
}

fn small_limits() -> FrameLimits {
    FrameLimits {
        message_bytes_max: 10,
        frame_payload_bytes_max: 8,
    }
}

/// Decodes every frame of `input` at once; the result lists the events in order, or the error.
fn decode_all(input: &[u8], limits: FrameLimits) -> Result<Vec<WsEvent>, FrameError> {
    let mut decoder = FrameDecoder::new(limits);
    let mut events = Vec::new();
    let mut at = 0;
    while at < input.len() {
        match decoder.decode(&input[at..])? {
            Some((Frame::Event(event), used)) => {
                events.push(event);
                at += used;
            }
            Some((Frame::Fragment, used)) => at += used,
            None => break,
        }
    }
    Ok(events)
}

/// Feeds `input` one byte at a time, as a socket might, draining what each call consumed.
fn decode_trickled(input: &[u8], limits: FrameLimits) -> Result<Vec<WsEvent>, FrameError> {
    let mut decoder = FrameDecoder::new(limits);
    let mut buf = Vec::new();
    let mut events = Vec::new();
    for &byte in input {
        buf.push(byte);
        while let Some((frame, used)) = decoder.decode(&buf)? {
            buf.drain(..used);
            if let Frame::Event(event) = frame {
                events.push(event);
            }
        }
    }
    Ok(events)
}

fn check(input: &[u8], expected: Result<Vec<WsEvent>, FrameError>) {
    assert_eq!(decode_all(input, small_limits()), expected, "{input:02x?}");
    assert_eq!(
        decode_trickled(input, small_limits()),
        expected,
        "trickled {input:02x?}"
    );
}

fn text(s: &str) -> WsEvent {
    WsEvent::Text(Bytes::copy_from_slice(s.as_bytes()))
}

fn cat(parts: &[Vec<u8>]) -> Vec<u8> {
    parts.concat()
}

#[test]
fn whole_messages_and_control_frames_decode() {
    check(&masked(0x81, b"hello"), Ok(vec![text("hello")]));
    check(&masked(0x81, b""), Ok(vec![text("")]));
    check(
        &masked(0x82, &[0, 1, 2]),
        Ok(vec![WsEvent::Binary(Bytes::from_static(&[0, 1, 2]))]),
    );
    check(
        &masked(0x89, b"abc"),
        Ok(vec![WsEvent::Ping(Bytes::from_static(b"abc"))]),
    );
    check(&masked(0x8a, b""), Ok(vec![WsEvent::Pong(Bytes::new())]));
    check(
        &masked(0x88, b"\x03\xe8bye"),
        Ok(vec![WsEvent::Close {
            code: Some(1000),
            reason: "bye".into(),
        }]),
    );
    check(
        &masked(0x88, b""),
        Ok(vec![WsEvent::Close {
            code: None,
            reason: String::new(),
        }]),
    );
}

#[test]
fn fragments_reassemble_with_control_frames_between_them() {
    let input = cat(&[
        masked(0x01, b"hel"),
        masked(0x89, b"p"),
        masked(0x00, b"lo"),
        masked(0x80, b" w"),
        masked(0x82, b"x"),
    ]);
    check(
        &input,
        Ok(vec![
            WsEvent::Ping(Bytes::from_static(b"p")),
            text("hello w"),
            WsEvent::Binary(Bytes::from_static(b"x")),
        ]),
    );
}

#[test]
fn utf8_split_across_fragments_is_valid() {
    // "é" is c3 a9; the first fragment ends inside it.
    let input = cat(&[masked(0x01, b"a\xc3"), masked(0x80, b"\xa9")]);
    check(&input, Ok(vec![text("a\u{e9}")]));
}

#[test]
fn protocol_violations_get_1002() {
    let cases: Vec<(Vec<u8>, FrameError)> = vec![
        (vec![0x81, 0x02, b'h', b'i'], FrameError::Unmasked),
        (masked(0xc1, b"x"), FrameError::ReservedBits { bits: 0b100 }),
        (masked(0x91, b"x"), FrameError::ReservedBits { bits: 0b001 }),
        (masked(0x83, b"x"), FrameError::ReservedOpcode { opcode: 3 }),
        (
            masked(0x8b, b"x"),
            FrameError::ReservedOpcode { opcode: 11 },
        ),
        (masked(0x09, b"x"), FrameError::ControlFragmented),
        (
            masked(0x89, &[0; 126]),
            FrameError::ControlTooLong { bytes: 126 },
        ),
        (masked(0x80, b"x"), FrameError::UnexpectedContinuation),
        (
            cat(&[masked(0x01, b"a"), masked(0x81, b"b")]),
            FrameError::ExpectedContinuation,
        ),
        (masked(0x88, b"\x03"), FrameError::CloseTooShort),
        (
            masked(0x88, b"\x03\xed"),
            FrameError::InvalidCloseCode { code: 1005 },
        ),
        (
            masked(0x88, b"\x00\x00"),
            FrameError::InvalidCloseCode { code: 0 },
        ),
    ];
    for (input, err) in cases {
        assert_eq!(err.close_code(), 1002, "{err}");
        check(&input, Err(err));
    }
}

#[test]
fn bad_utf8_gets_1007_as_soon_as_it_is_seen() {
    let cases: Vec<Vec<u8>> = vec![
        masked(0x81, b"\xff"),
        masked(0x81, b"a\xc3"),
        masked(0x88, b"\x03\xe8\xff"),
        // A bad byte in the first fragment fails before the message ends.
        masked(0x01, b"\xff"),
        // A sequence cut at the end of the last fragment.
        cat(&[masked(0x01, b"a"), masked(0x80, b"\xe2\x82")]),
    ];
    for input in cases {
        check(&input, Err(FrameError::InvalidUtf8));
    }
    assert_eq!(FrameError::InvalidUtf8.close_code(), 1007);
}

#[test]
fn limits_get_1009_at_the_header_and_exact_limits_pass() {
    let too_big_frame = FrameError::FrameTooLarge {
        bytes: 9,
        bytes_max: 8,
    };
    let too_big_message = FrameError::MessageTooLarge { bytes_max: 10 };
    assert_eq!(too_big_frame.close_code(), 1009);
    assert_eq!(too_big_message.close_code(), 1009);
    check(
        &masked(0x82, &[7; 8]),
        Ok(vec![WsEvent::Binary(Bytes::from(vec![7; 8]))]),
    );
    check(&masked(0x82, &[7; 9]), Err(too_big_frame.clone()));
    // Reported from the header alone, before any payload byte.
    let header_only = &masked(0x82, &[7; 9])[..6];
    let mut decoder = FrameDecoder::new(small_limits());
    assert_eq!(decoder.decode(header_only), Err(too_big_frame));
    let exact = cat(&[masked(0x02, &[1; 8]), masked(0x80, &[2; 2])]);
    let mut joined = vec![1; 8];
    joined.extend_from_slice(&[2, 2]);
    check(&exact, Ok(vec![WsEvent::Binary(Bytes::from(joined))]));
    let over = cat(&[masked(0x02, &[1; 8]), masked(0x80, &[2; 3])]);
    check(&over, Err(too_big_message));
    // A 64-bit length far over any limit.
    let huge = [0x82, 0xff, 0x7f, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    assert!(matches!(
        FrameDecoder::new(FrameLimits::CLIENT).decode(&huge),
        Err(FrameError::FrameTooLarge { .. })
    ));
}

#[test]
fn every_split_point_waits_for_the_whole_frame() {
    let frames = [
        masked(0x81, b"hello"),
        masked(0x82, &[9; 200]),
        masked(0x82, &[9; 70_000]),
        masked(0x88, b"\x03\xe8bye"),
    ];
    for frame in frames {
        let mut decoder = FrameDecoder::new(FrameLimits::CLIENT);
        for cut in 0..frame.len() {
            assert_eq!(decoder.decode(&frame[..cut]), Ok(None), "cut at {cut}");
        }
        let (_, used) = decoder.decode(&frame).expect("valid").expect("complete");
        assert_eq!(used, frame.len());
    }
}

#[test]
fn decoding_never_reads_past_its_frame() {
    let input = cat(&[masked(0x81, b"one"), masked(0x81, b"two")]);
    let mut decoder = FrameDecoder::new(FrameLimits::CLIENT);
    let (frame, used) = decoder.decode(&input).expect("valid").expect("complete");
    assert_eq!(frame, Frame::Event(text("one")));
    assert_eq!(used, 9);
}

#[test]
fn server_frames_are_unmasked_and_length_encoded() {
    let cases: Vec<(Bytes, Vec<u8>)> = vec![
        (
            encode_frame(MessageKind::Text.opcode(), b"hi"),
            b"\x81\x02hi".to_vec(),
        ),
        (
            encode_frame(OpCode::Control(Control::Ping), b""),
            b"\x89\x00".to_vec(),
        ),
        (encode_close(None, "ignored"), b"\x88\x00".to_vec()),
        (
            encode_close(Some(4001), "kicked"),
            b"\x88\x08\x0f\xa1kicked".to_vec(),
        ),
    ];
    for (got, expected) in cases {
        assert_eq!(got.as_ref(), expected.as_slice());
    }
    let long = encode_frame(MessageKind::Binary.opcode(), &[0; 300]);
    assert_eq!(&long[..4], b"\x82\x7e\x01\x2c");
    let huge = encode_frame(MessageKind::Binary.opcode(), &[0; 70_000]);
    assert_eq!(&huge[..10], b"\x82\x7f\x00\x00\x00\x00\x00\x01\x11\x70");
}

#[test]
fn close_reasons_are_cut_on_a_character_boundary() {
    let reason = "\u{e9}".repeat(100);
    let frame = encode_close(Some(1000), &reason);
    assert_eq!(frame[1] as usize, 2 + 122);
    assert!(std::str::from_utf8(&frame[4..]).is_ok());
}

#[test]
fn split_message_re_frames_at_the_limit() {
    let frames = split_message(MessageKind::Text, b"abcdefg", 3);
    let raw: Vec<&[u8]> = frames.iter().map(|f| f.as_ref()).collect();
    assert_eq!(raw, [&b"\x01\x03abc"[..], b"\x00\x03def", b"\x80\x01g"]);
    let exact = split_message(MessageKind::Binary, b"abc", 3);
    assert_eq!(exact, [Bytes::from_static(b"\x82\x03abc")]);
    let empty = split_message(MessageKind::Binary, b"", 16_384);
    assert_eq!(empty, [Bytes::from_static(b"\x82\x00")]);
    let big = split_message(MessageKind::Binary, &[1; 40_000], 16_384);
    let sizes: Vec<usize> = big.iter().map(|f| f.len()).collect();
    assert_eq!(sizes, [16_384 + 4, 16_384 + 4, 7_232 + 4]);
}

#[test]
fn only_sendable_close_codes_are_accepted() {
    for code in [1000, 1003, 1007, 1011, 1014, 3000, 4999] {
        assert!(is_sendable_close_code(code), "{code}");
    }
    for code in [0, 999, 1004, 1005, 1006, 1015, 2999, 5000] {
        assert!(!is_sendable_close_code(code), "{code}");
    }
}

#[test]
fn origin_decoder_accepts_unmasked_frames_and_masked_encoding_round_trips() {
    let mut origin = FrameDecoder::for_origin(FrameLimits::CLIENT);
    let (frame, used) = origin
        .decode(&[0x81, 0x02, b'h', b'i'])
        .expect("valid")
        .expect("complete");
    assert_eq!(
        frame,
        Frame::Event(WsEvent::Text(Bytes::from_static(b"hi")))
    );
    assert_eq!(used, 4);
    let masked = encode_masked_frame(
        MessageKind::Binary.opcode(),
        true,
        b"\x00\x01\x02",
        [9, 8, 7, 6],
    );
    assert_eq!(&masked[..6], &[0x82, 0x83, 9, 8, 7, 6]);
    let mut client = FrameDecoder::new(FrameLimits::CLIENT);
    let (frame, used) = client.decode(&masked).expect("valid").expect("complete");
    assert_eq!(
        frame,
        Frame::Event(WsEvent::Binary(Bytes::from_static(b"\x00\x01\x02")))
    );
    assert_eq!(used, masked.len());
}

/// Decodes every frame of `input` with permessage-deflate negotiated.
fn decode_inflating(input: &[u8], limits: FrameLimits) -> Result<Vec<WsEvent>, FrameError> {
    let mut decoder = FrameDecoder::new(limits);
    decoder.set_inflate(true);
    let mut events = Vec::new();
    let mut at = 0;
    while let Some((frame, used)) = decoder.decode(&input[at..])? {
        if let Frame::Event(event) = frame {
            events.push(event);
        }
        at += used;
    }
    Ok(events)
}

#[test]
fn compressed_messages_inflate_once_whole_and_rsv1_is_refused_elsewhere() {
    // RFC 7692 §7.2.3.1: "Hello" compressed, whole and split over two frames.
    let hello: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let text = |s: &str| WsEvent::Text(Bytes::copy_from_slice(s.as_bytes()));
    let limits = FrameLimits::CLIENT;
    assert_eq!(
        decode_inflating(&masked(0xc1, hello), limits),
        Ok(vec![text("Hello")])
    );
    let mut split = masked(0x41, &hello[..3]);
    split.extend(masked(0x80, &hello[3..]));
    assert_eq!(decode_inflating(&split, limits), Ok(vec![text("Hello")]));
    let plain = masked(0x81, b"plain");
    assert_eq!(decode_inflating(&plain, limits), Ok(vec![text("plain")]));

    let refused = [
        (masked(0xc1, hello), false),
        (masked(0xc9, b""), true),
        ([masked(0x01, b"a"), masked(0xc0, b"b")].concat(), true),
        (masked(0xa1, b"a"), true),
    ];
    for (input, inflating) in refused {
        let got = if inflating {
            decode_inflating(&input, limits)
        } else {
            decode_all(&input, limits)
        };
        assert!(
            matches!(got, Err(FrameError::ReservedBits { .. })),
            "{input:02x?}: {got:?}"
        );
    }
}

#[test]
fn an_inflated_message_is_bounded_and_checked_as_utf8() {
    let hello: &[u8] = &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];
    let tight = FrameLimits {
        message_bytes_max: 4,
        frame_payload_bytes_max: 100,
    };
    assert_eq!(
        decode_inflating(&masked(0xc1, hello), tight),
        Err(FrameError::MessageTooLarge { bytes_max: 4 })
    );
    // A stored block holding 0xff, which is not UTF-8.
    let bad_utf8: &[u8] = &[0x00, 0x01, 0x00, 0xfe, 0xff, 0xff, 0x00];
    let limits = FrameLimits::CLIENT;
    assert_eq!(
        decode_inflating(&masked(0xc1, bad_utf8), limits),
        Err(FrameError::InvalidUtf8)
    );
    assert_eq!(
        decode_inflating(&masked(0xc2, bad_utf8), limits),
        Ok(vec![WsEvent::Binary(Bytes::from_static(&[0xff]))])
    );
    assert_eq!(
        decode_inflating(&masked(0xc2, &[0xff, 0xff]), limits),
        Err(FrameError::BadCompression)
    );
}
