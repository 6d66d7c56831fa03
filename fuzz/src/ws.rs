//! WebSocket: the frame decoder, close payloads, GRIP control messages and the
//! WebSocket-over-HTTP event codec.

use std::time::{Duration, Instant};

use arbitrary::{Arbitrary, Unstructured};
use bytes::Bytes;
use ringpin::ws::frame::is_sendable_close_code;
use ringpin::ws::{
    encode_close, encode_events, encode_frame, encode_masked_frame, parse_control, parse_events,
    parse_events_bytes, parse_grip_extension, split_message, Frame, FrameDecoder, FrameError,
    FrameLimits, GripExtension, GripSession, MessageKind, WohEvent, WsEvent,
};
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

/// Small bounds, so the fuzzer reaches both limits with short inputs.
const SMALL: FrameLimits = FrameLimits {
    message_bytes_max: 64,
    frame_payload_bytes_max: 24,
};

/// Bounds no frame in these checks reaches.
const LARGE: FrameLimits = FrameLimits {
    message_bytes_max: 1 << 20,
    frame_payload_bytes_max: 1 << 20,
};

/// What a decoder made of a byte stream: its frames, the bytes they used, and the error
/// that stopped it.
#[derive(Debug, PartialEq)]
pub struct Decoded {
    frames: Vec<Frame>,
    consumed: usize,
    error: Option<FrameError>,
}

/// Decodes `input` fed in pieces, as a connection reads it: each read is appended to what is
/// left, and frames are taken while whole ones are buffered.
pub fn decode_stream(mut decoder: FrameDecoder, pieces: Vec<&[u8]>) -> Decoded {
    let mut decoded = Decoded {
        frames: Vec::new(),
        consumed: 0,
        error: None,
    };
    let mut pending = Vec::new();
    for piece in pieces {
        pending.extend_from_slice(piece);
        loop {
            match decoder.decode(&pending) {
                Ok(Some((frame, used))) => {
                    assert!(used > 0 && used <= pending.len());
                    pending.drain(..used);
                    decoded.consumed += used;
                    decoded.frames.push(frame);
                }
                Ok(None) => break,
                Err(error) => {
                    decoded.error = Some(error);
                    return decoded;
                }
            }
        }
    }
    decoded
}

fn decoder(origin: bool, inflate: bool, limits: FrameLimits) -> FrameDecoder {
    let mut decoder = if origin {
        FrameDecoder::for_origin(limits)
    } else {
        FrameDecoder::new(limits)
    };
    decoder.set_inflate(inflate);
    decoder
}

/// Each event keeps the decoder's promises: text is UTF-8, messages fit the limits, close
/// codes are sendable, and every error has a close code.
fn check_decoded(decoded: &Decoded, limits: FrameLimits) {
    for frame in &decoded.frames {
        match frame {
            Frame::Event(WsEvent::Text(text)) => {
                assert!(std::str::from_utf8(text).is_ok());
                assert!(text.len() <= limits.message_bytes_max);
            }
            Frame::Event(WsEvent::Binary(data)) => assert!(data.len() <= limits.message_bytes_max),
            Frame::Event(WsEvent::Ping(data) | WsEvent::Pong(data)) => assert!(data.len() <= 125),
            Frame::Event(WsEvent::Close { code, reason }) => {
                assert!(code.map_or(reason.is_empty(), is_sendable_close_code));
            }
            Frame::Fragment => {}
        }
    }
    if let Some(error) = &decoded.error {
        assert!(
            matches!(error.close_code(), 1002 | 1007 | 1009),
            "{error:?}"
        );
    }
}

/// The frame decoder yields the same frames and the same error for every split of its input.
pub fn frame_decoder(data: &[u8]) {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let (origin, inflate) = (flags & 1 != 0, flags & 2 != 0);
    let limits = if flags & 4 != 0 {
        FrameLimits::CLIENT
    } else {
        SMALL
    };
    let (sizes, input) = rest.split_at(rest.len().min(4));
    let whole = decode_stream(decoder(origin, inflate, limits), vec![input]);
    let split = decode_stream(
        decoder(origin, inflate, limits),
        super::pieces(input, sizes),
    );
    let bytewise = decode_stream(decoder(origin, inflate, limits), super::pieces(input, &[]));
    check_decoded(&whole, limits);
    assert_eq!(split, whole, "frames differ when split");
    assert_eq!(bytewise, whole, "frames differ when fed byte by byte");
}

/// A message or control frame to encode.
#[derive(Arbitrary, Debug)]
enum Message {
    Text { text: String, frame_max: u8 },
    Binary { data: Vec<u8>, frame_max: u8 },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

#[derive(Arbitrary, Debug)]
struct Conversation {
    messages: Vec<Message>,
    mask: [u8; 4],
    /// A ping sent between the fragments of each fragmented message.
    ping_inside: bool,
    sizes: Vec<u8>,
}

/// The frames of one message as a client sends them (masked), plus the events they mean.
fn client_frames(
    message: &Message,
    mask: [u8; 4],
    ping_inside: bool,
    out: &mut Vec<u8>,
) -> Vec<WsEvent> {
    let (kind, payload, frame_max) = match message {
        Message::Text { text, frame_max } => (MessageKind::Text, text.as_bytes(), *frame_max),
        Message::Binary { data, frame_max } => (MessageKind::Binary, &data[..], *frame_max),
        control => {
            let (opcode, payload, event) = control_frame(control);
            out.extend(encode_masked_frame(opcode, true, &payload, mask));
            return vec![event];
        }
    };
    let step = usize::from(frame_max.max(1));
    let count = payload.len().div_ceil(step).max(1);
    let mut events = Vec::new();
    for index in 0..count {
        let piece =
            &payload[(index * step).min(payload.len())..((index + 1) * step).min(payload.len())];
        let opcode = if index == 0 {
            kind.opcode()
        } else {
            OpCode::Data(Data::Continue)
        };
        out.extend(encode_masked_frame(opcode, index + 1 == count, piece, mask));
        if ping_inside && index + 1 < count {
            out.extend(encode_masked_frame(
                OpCode::Control(Control::Ping),
                true,
                b"in",
                mask,
            ));
            events.push(WsEvent::Ping(Bytes::from_static(b"in")));
        }
    }
    events.push(match kind {
        MessageKind::Text => WsEvent::Text(Bytes::copy_from_slice(payload)),
        MessageKind::Binary => WsEvent::Binary(Bytes::copy_from_slice(payload)),
    });
    events
}

/// A control frame's opcode, its payload (cut to 125 bytes; a close as `encode_close` cuts
/// it), and the event it decodes to.
fn control_frame(message: &Message) -> (OpCode, Vec<u8>, WsEvent) {
    let cut = |data: &[u8]| data[..data.len().min(125)].to_vec();
    match message {
        Message::Ping(data) => (
            OpCode::Control(Control::Ping),
            cut(data),
            WsEvent::Ping(Bytes::from(cut(data))),
        ),
        Message::Pong(data) => (
            OpCode::Control(Control::Pong),
            cut(data),
            WsEvent::Pong(Bytes::from(cut(data))),
        ),
        Message::Close(close) => {
            let frame = match close {
                Some((code, reason)) => encode_close(Some(sendable(*code)), reason),
                None => encode_close(None, ""),
            };
            let payload = frame[2..].to_vec();
            let event = match payload.split_at_checked(2) {
                Some((code, reason)) => WsEvent::Close {
                    code: Some(u16::from_be_bytes([code[0], code[1]])),
                    reason: String::from_utf8(reason.to_vec())
                        .expect("encode_close cuts on a char boundary"),
                },
                None => WsEvent::Close {
                    code: None,
                    reason: String::new(),
                },
            };
            (OpCode::Control(Control::Close), payload, event)
        }
        Message::Text { .. } | Message::Binary { .. } => {
            unreachable!("data messages are not control frames")
        }
    }
}

fn sendable(code: u16) -> u16 {
    if is_sendable_close_code(code) {
        code
    } else {
        1000
    }
}

/// The frames an origin-bound encoder writes (unmasked, `split_message`), for `for_origin`.
fn server_frames(message: &Message, out: &mut Vec<u8>) {
    match message {
        Message::Text { text, frame_max } => {
            for frame in split_message(
                MessageKind::Text,
                text.as_bytes(),
                usize::from((*frame_max).max(1)),
            ) {
                out.extend_from_slice(&frame);
            }
        }
        Message::Binary { data, frame_max } => {
            for frame in split_message(MessageKind::Binary, data, usize::from((*frame_max).max(1)))
            {
                out.extend_from_slice(&frame);
            }
        }
        control => {
            let (opcode, payload, _) = control_frame(control);
            out.extend_from_slice(&encode_frame(opcode, &payload));
        }
    }
}

fn events(decoded: Decoded) -> Vec<WsEvent> {
    assert_eq!(decoded.error, None);
    decoded
        .frames
        .into_iter()
        .filter_map(|frame| match frame {
            Frame::Event(event) => Some(event),
            Frame::Fragment => None,
        })
        .collect()
}

/// Masked client frames and unmasked server frames decode to the messages they encode, in
/// any split.
pub fn frame_roundtrip(data: &[u8]) {
    let Ok(input) = Conversation::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (mut client, mut server, mut expected) = (Vec::new(), Vec::new(), Vec::new());
    for message in &input.messages {
        expected.extend(client_frames(
            message,
            input.mask,
            input.ping_inside,
            &mut client,
        ));
        server_frames(message, &mut server);
    }
    let decoded = decode_stream(
        FrameDecoder::new(LARGE),
        super::pieces(&client, &input.sizes),
    );
    assert_eq!(decoded.consumed, client.len());
    assert_eq!(events(decoded), expected, "client frames");
    let decoded = decode_stream(
        FrameDecoder::for_origin(LARGE),
        super::pieces(&server, &input.sizes),
    );
    assert_eq!(decoded.consumed, server.len());
    let server_expected: Vec<WsEvent> = expected_server(&input.messages);
    assert_eq!(events(decoded), server_expected, "server frames");
}

fn expected_server(messages: &[Message]) -> Vec<WsEvent> {
    messages
        .iter()
        .map(|message| match message {
            Message::Text { text, .. } => WsEvent::Text(Bytes::copy_from_slice(text.as_bytes())),
            Message::Binary { data, .. } => WsEvent::Binary(Bytes::copy_from_slice(data)),
            control => control_frame(control).2,
        })
        .collect()
}

/// A close payload is accepted exactly when RFC 6455 allows it, and a parsed close
/// re-encodes to itself.
pub fn close_payload(data: &[u8]) {
    let payload = &data[..data.len().min(125)];
    let frame = encode_masked_frame(OpCode::Control(Control::Close), true, payload, [7, 1, 2, 9]);
    let result = FrameDecoder::new(LARGE).decode(&frame);
    match result {
        Ok(Some((Frame::Event(WsEvent::Close { code, reason }), used))) => {
            assert_eq!(used, frame.len());
            match code {
                None => assert!(payload.is_empty() && reason.is_empty()),
                Some(code) => {
                    assert!(is_sendable_close_code(code));
                    assert_eq!(code.to_be_bytes(), payload[..2]);
                    assert_eq!(reason.as_bytes(), &payload[2..]);
                }
            }
            let again = encode_close(code, &reason);
            let decoded = FrameDecoder::for_origin(LARGE).decode(&again);
            let expected = WsEvent::Close { code, reason };
            assert_eq!(decoded, Ok(Some((Frame::Event(expected), again.len()))));
        }
        Err(FrameError::CloseTooShort) => assert_eq!(payload.len(), 1),
        Err(FrameError::InvalidCloseCode { code }) => assert!(!is_sendable_close_code(code)),
        Err(FrameError::InvalidUtf8) => assert!(std::str::from_utf8(&payload[2..]).is_err()),
        other => panic!("a close payload decoded to {other:?}"),
    }
}

/// GRIP control messages (`c:` JSON), the `grip` extension header, and one GRIP-mode session
/// fed a message and run past its timers.
pub fn control(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let _ = parse_control(&text);
    let prefix = parse_grip_extension(&text).map_or_else(|| "m:".to_owned(), |e| e.message_prefix);
    let extension = GripExtension {
        message_prefix: prefix,
    };
    let mut session = GripSession::new(extension, 16, 7);
    let now = Instant::now();
    for kind in [MessageKind::Text, MessageKind::Binary] {
        let _ = session.on_origin_message(kind, data, now);
    }
    let _ = session.meta();
    if let Some(deadline) = session.next_deadline(None) {
        assert!(deadline >= now);
        let _ = session.on_timeout(deadline, None);
    }
    let _ = session.on_timeout(now + Duration::from_secs(3600), Some(now));
}

/// Parsed event bodies re-encode to bodies that parse to the same events.
pub fn over_http_events(data: &[u8]) {
    let parsed = parse_events(data);
    assert_eq!(parse_events_bytes(&Bytes::copy_from_slice(data)), parsed);
    if let Ok(events) = parsed {
        let body = encode_events(&events);
        assert_eq!(parse_events(&body), Ok(events), "re-encoded events");
    }
}

/// An event as `arbitrary` builds it.
#[derive(Arbitrary, Debug)]
enum Event {
    Open(Vec<u8>),
    Text(Vec<u8>),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
    Disconnect,
}

/// Encoded events parse back to themselves.
pub fn over_http_roundtrip(data: &[u8]) {
    let Ok(events) = Vec::<Event>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let events: Vec<WohEvent> = events
        .into_iter()
        .map(|event| match event {
            Event::Open(c) => WohEvent::Open(Bytes::from(c)),
            Event::Text(c) => WohEvent::Text(Bytes::from(c)),
            Event::Binary(c) => WohEvent::Binary(Bytes::from(c)),
            Event::Ping(c) => WohEvent::Ping(Bytes::from(c)),
            Event::Pong(c) => WohEvent::Pong(Bytes::from(c)),
            Event::Close(close) => WohEvent::Close(close),
            Event::Disconnect => WohEvent::Disconnect,
        })
        .collect();
    let body = encode_events(&events);
    assert_eq!(parse_events(&body), Ok(events));
}
