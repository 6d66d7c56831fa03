//! WebSocket frames (RFC 6455 §5): the client-frame decoder and the server-frame encoders.
//!
//! Owns: `FrameDecoder`, which turns the bytes a client sends into `WsEvent`s (unmasking,
//! reassembly of fragments, UTF-8 checks of text) within `FrameLimits`; `FrameError` with the
//! close code each failure earns; and the unmasked frames ringpin sends (`encode_frame`,
//! `encode_close`, `split_message`).
//! Must not: answer pings or run the close handshake (Pushpin 1.36 relays pings and closes to
//! the origin), touch sockets, or read the clock.
//! Invariants: `decode` never consumes part of a frame, so the caller's buffer always starts
//! at a frame boundary; the reassembly buffer never holds more than `message_bytes_max`
//! bytes; a text message is never yielded unless all of it is UTF-8.
//! tungstenite supplies the header parser and the opcode types; the state lives here.

use std::io::Cursor;

use bytes::Bytes;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

use super::deflate::inflate_message;
use crate::limits::{WS_FRAME_PAYLOAD_BYTES_MAX, WS_MESSAGE_BYTES_MAX};

/// Largest control frame payload (RFC 6455 §5.5).
pub const CONTROL_PAYLOAD_BYTES_MAX: usize = 125;
/// Largest close reason: a control payload minus its two-byte code.
const CLOSE_REASON_BYTES_MAX: usize = CONTROL_PAYLOAD_BYTES_MAX - 2;

/// Bounds on what one client may make ringpin buffer.
///
/// Memory cost per connection: the caller's read buffer must hold one whole frame, so up to
/// `frame_payload_bytes_max + 14` bytes (the longest header), and the decoder's reassembly
/// buffer holds up to `message_bytes_max` bytes while a fragmented message is incomplete.
/// A frame's payload is copied once, while it is unmasked: into a new buffer for a whole
/// message or control frame, straight into the reassembly buffer for a continuation, so the
/// peak is `frame_payload_bytes_max + 14 + max(frame_payload_bytes_max, message_bytes_max)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Largest message after reassembly; more gets `MessageTooLarge` (1009).
    pub message_bytes_max: usize,
    /// Largest payload of one frame; more gets `FrameTooLarge` (1009).
    pub frame_payload_bytes_max: usize,
}

impl FrameLimits {
    /// The limits for client connections (`limits.rs`): 128 KiB frames and messages.
    pub const CLIENT: FrameLimits = FrameLimits {
        message_bytes_max: WS_MESSAGE_BYTES_MAX,
        frame_payload_bytes_max: WS_FRAME_PAYLOAD_BYTES_MAX,
    };
}

/// A data message type, for encoding and for GRIP message classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

impl MessageKind {
    /// The opcode of this message's first frame.
    pub fn opcode(self) -> OpCode {
        match self {
            MessageKind::Text => OpCode::Data(Data::Text),
            MessageKind::Binary => OpCode::Data(Data::Binary),
        }
    }
}

/// A complete message or control frame received from a client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// A text message, checked to be UTF-8.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping; Pushpin 1.36 relays it to the origin instead of answering.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame; `code` is `None` for an empty payload (RFC 6455 §7.1.5: 1005).
    Close {
        /// The close code, a valid one (RFC 6455 §7.4).
        code: Option<u16>,
        /// The reason, UTF-8, empty when absent.
        reason: String,
    },
}

/// What one complete client frame amounted to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message, or a control frame.
    Event(WsEvent),
    /// A fragment of a message still being reassembled; there is nothing to act on yet.
    Fragment,
}

/// Why a client's frames were refused; the connection is closed with `close_code()`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A client frame without a mask (RFC 6455 §5.1).
    #[error("unmasked client frame")]
    Unmasked,
    /// RSV1-3 set while no extension is negotiated.
    #[error("reserved bits set in frame header: {bits:#05b}")]
    ReservedBits {
        /// RSV1 RSV2 RSV3 as the three low bits.
        bits: u8,
    },
    /// Opcode 3-7 or 11-15.
    #[error("reserved opcode {opcode}")]
    ReservedOpcode {
        /// The opcode sent.
        opcode: u8,
    },
    /// A ping, pong or close payload longer than 125 bytes.
    #[error("control frame of {bytes} bytes, the limit is 125")]
    ControlTooLong {
        /// The payload length sent.
        bytes: u64,
    },
    /// A control frame without FIN.
    #[error("fragmented control frame")]
    ControlFragmented,
    /// A continuation frame with no message to continue.
    #[error("continuation frame without a message to continue")]
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is incomplete.
    #[error("new data frame before the fragmented message ended")]
    ExpectedContinuation,
    /// A close payload of one byte.
    #[error("close frame payload of one byte")]
    CloseTooShort,
    /// A close code that may not be sent (RFC 6455 §7.4).
    #[error("invalid close code {code}")]
    InvalidCloseCode {
        /// The code sent.
        code: u16,
    },
    /// A frame payload over `frame_payload_bytes_max`.
    #[error("frame payload of {bytes} bytes, the limit is {bytes_max}")]
    FrameTooLarge {
        /// The payload length sent.
        bytes: u64,
        /// The limit.
        bytes_max: usize,
    },
    /// A message growing past `message_bytes_max`.
    #[error("message larger than {bytes_max} bytes")]
    MessageTooLarge {
        /// The limit.
        bytes_max: usize,
    },
    /// A text message or close reason that is not UTF-8.
    #[error("invalid utf-8 in text message or close reason")]
    InvalidUtf8,
    /// A compressed message (permessage-deflate) that does not inflate.
    #[error("compressed message does not inflate")]
    BadCompression,
}

impl FrameError {
    /// The close code to send before closing (RFC 6455 §7.4.1): 1007 for bad UTF-8, 1009 for
    /// a limit, 1002 for every protocol violation.
    pub fn close_code(&self) -> u16 {
        match self {
            FrameError::InvalidUtf8 | FrameError::BadCompression => 1007,
            FrameError::FrameTooLarge { .. } | FrameError::MessageTooLarge { .. } => 1009,
            _ => 1002,
        }
    }
}

/// A fragmented message being reassembled.
#[derive(Debug)]
struct Partial {
    kind: MessageKind,
    data: Vec<u8>,
    /// For text: how many leading bytes of `data` are known to be UTF-8.
    utf8_checked: usize,
    /// permessage-deflate: `data` is compressed, and is inflated (then checked) when whole.
    compressed: bool,
}

/// Incremental decoder of the frames one client sends.
///
/// States: idle (no `partial`), or assembling a fragmented message (`partial` set), in which
/// only continuation and control frames are allowed. After an error the connection must be
/// closed; the decoder's state is then unspecified.
#[derive(Debug)]
pub struct FrameDecoder {
    limits: FrameLimits,
    partial: Option<Partial>,
    /// Clients must mask (RFC 6455 §5.1); an origin's frames are unmasked.
    require_mask: bool,
    /// permessage-deflate was negotiated: RSV1 on a message's first frame marks it
    /// compressed.
    inflate: bool,
}

/// A parsed frame header, checked against the limits.
struct Header {
    is_final: bool,
    opcode: OpCode,
    mask: [u8; 4],
    header_bytes: usize,
    payload_bytes: usize,
    /// RSV1 on a first frame, with permessage-deflate negotiated.
    compressed: bool,
}

impl FrameDecoder {
    /// A decoder in the idle state.
    pub fn new(limits: FrameLimits) -> FrameDecoder {
        FrameDecoder {
            limits,
            partial: None,
            require_mask: true,
            inflate: false,
        }
    }

    /// Accepts compressed messages from now on (permessage-deflate was negotiated, with no
    /// context takeover: each message inflates on its own, `ws::deflate`).
    pub fn set_inflate(&mut self, inflate: bool) {
        self.inflate = inflate;
    }

    /// A decoder for the frames an origin sends on a WebSocket ringpin opened: the same
    /// rules, except that frames need no mask.
    pub fn for_origin(limits: FrameLimits) -> FrameDecoder {
        FrameDecoder {
            require_mask: false,
            ..FrameDecoder::new(limits)
        }
    }

    /// Decodes the first frame in `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold a whole frame (header errors are
    /// reported as soon as the header is complete, before its payload arrives), or what the
    /// frame amounted to and the number of bytes it used.
    pub fn decode(&mut self, buf: &[u8]) -> Result<Option<(Frame, usize)>, FrameError> {
        let Some(header) = self.parse_header(buf)? else {
            return Ok(None);
        };
        let end = header.header_bytes + header.payload_bytes;
        if buf.len() < end {
            return Ok(None);
        }
        let masked = &buf[header.header_bytes..end];
        let frame = match header.opcode {
            OpCode::Data(Data::Continue) => {
                self.on_continuation(header.is_final, masked, header.mask)?
            }
            opcode => {
                let payload = unmasked(masked, header.mask);
                self.on_frame(opcode, header.is_final, payload, header.compressed)?
            }
        };
        Ok(Some((frame, end)))
    }

    /// A control frame or the first frame of a message.
    fn on_frame(
        &mut self,
        opcode: OpCode,
        is_final: bool,
        payload: Vec<u8>,
        compressed: bool,
    ) -> Result<Frame, FrameError> {
        let kind = match opcode {
            OpCode::Control(control) => return Ok(Frame::Event(control_event(control, payload)?)),
            OpCode::Data(Data::Continue) => return Err(FrameError::UnexpectedContinuation),
            OpCode::Data(Data::Text) => MessageKind::Text,
            OpCode::Data(_) => MessageKind::Binary,
        };
        if compressed {
            return self.on_first_compressed(kind, is_final, payload);
        }
        self.on_first(kind, is_final, payload)
    }

    /// The first frame of a compressed message: no UTF-8 check until it is inflated whole.
    fn on_first_compressed(
        &mut self,
        kind: MessageKind,
        is_final: bool,
        payload: Vec<u8>,
    ) -> Result<Frame, FrameError> {
        if is_final {
            return Ok(Frame::Event(self.inflated(kind, &payload)?));
        }
        self.partial = Some(Partial {
            kind,
            data: payload,
            utf8_checked: 0,
            compressed: true,
        });
        Ok(Frame::Fragment)
    }

    /// A whole compressed message, inflated within the message bound and checked.
    fn inflated(&self, kind: MessageKind, compressed: &[u8]) -> Result<WsEvent, FrameError> {
        let data = inflate_message(compressed, self.limits.message_bytes_max)?;
        if kind == MessageKind::Text {
            check_utf8(&data, 0, true)?;
        }
        Ok(message_event(kind, data))
    }

    /// True while a fragmented message is incomplete.
    pub fn is_assembling(&self) -> bool {
        self.partial.is_some()
    }

    fn parse_header(&self, buf: &[u8]) -> Result<Option<Header>, FrameError> {
        let mut cursor = Cursor::new(buf);
        let (header, length) = match FrameHeader::parse(&mut cursor) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return Ok(None),
            // A cursor over a slice cannot fail to read; the one parse error is the opcode.
            Err(_) => {
                let opcode = buf.first().map_or(0, |b| b & 0x0f);
                return Err(FrameError::ReservedOpcode { opcode });
            }
        };
        let first_data = matches!(header.opcode, OpCode::Data(Data::Text | Data::Binary));
        let compressed = header.rsv1 && self.inflate && first_data;
        if (header.rsv1 && !compressed) || header.rsv2 || header.rsv3 {
            let bits = buf[0] >> 4 & 0b111;
            return Err(FrameError::ReservedBits { bits });
        }
        let mask = match header.mask {
            Some(mask) => mask,
            None if !self.require_mask => [0; 4],
            None => return Err(FrameError::Unmasked),
        };
        self.check_length(&header, length)?;
        Ok(Some(Header {
            is_final: header.is_final,
            opcode: header.opcode,
            mask,
            header_bytes: cursor.position() as usize,
            // check_length bounded it by a usize limit.
            payload_bytes: length as usize,
            compressed,
        }))
    }

    fn check_length(&self, header: &FrameHeader, length: u64) -> Result<(), FrameError> {
        let limits = self.limits;
        match header.opcode {
            OpCode::Control(_) if !header.is_final => return Err(FrameError::ControlFragmented),
            OpCode::Control(_) if length > CONTROL_PAYLOAD_BYTES_MAX as u64 => {
                return Err(FrameError::ControlTooLong { bytes: length })
            }
            OpCode::Control(_) => return Ok(()),
            OpCode::Data(Data::Continue) if self.partial.is_none() => {
                return Err(FrameError::UnexpectedContinuation)
            }
            OpCode::Data(Data::Continue) => {}
            OpCode::Data(_) if self.partial.is_some() => {
                return Err(FrameError::ExpectedContinuation)
            }
            OpCode::Data(_) => {}
        }
        if length > limits.frame_payload_bytes_max as u64 {
            return Err(FrameError::FrameTooLarge {
                bytes: length,
                bytes_max: limits.frame_payload_bytes_max,
            });
        }
        let held = self.partial.as_ref().map_or(0, |p| p.data.len());
        if held as u64 + length > limits.message_bytes_max as u64 {
            return Err(FrameError::MessageTooLarge {
                bytes_max: limits.message_bytes_max,
            });
        }
        Ok(())
    }

    fn on_first(
        &mut self,
        kind: MessageKind,
        is_final: bool,
        payload: Vec<u8>,
    ) -> Result<Frame, FrameError> {
        let utf8_checked = match kind {
            MessageKind::Text => check_utf8(&payload, 0, is_final)?,
            MessageKind::Binary => 0,
        };
        if is_final {
            return Ok(Frame::Event(message_event(kind, payload)));
        }
        self.partial = Some(Partial {
            kind,
            data: payload,
            utf8_checked,
            compressed: false,
        });
        Ok(Frame::Fragment)
    }

    /// Unmasks a continuation straight into the reassembly buffer: one copy per byte.
    fn on_continuation(
        &mut self,
        is_final: bool,
        masked: &[u8],
        mask: [u8; 4],
    ) -> Result<Frame, FrameError> {
        let Some(partial) = self.partial.as_mut() else {
            return Err(FrameError::UnexpectedContinuation);
        };
        let from = partial.data.len();
        partial.data.extend_from_slice(masked);
        unmask(&mut partial.data[from..], mask);
        if partial.kind == MessageKind::Text && !partial.compressed {
            partial.utf8_checked = check_utf8(&partial.data, partial.utf8_checked, is_final)?;
        }
        if !is_final {
            return Ok(Frame::Fragment);
        }
        match self.partial.take() {
            Some(done) if done.compressed => {
                Ok(Frame::Event(self.inflated(done.kind, &done.data)?))
            }
            Some(done) => Ok(Frame::Event(message_event(done.kind, done.data))),
            None => Err(FrameError::UnexpectedContinuation),
        }
    }
}

/// XORs `data` with the client's masking key (RFC 6455 §5.3).
fn unmask(data: &mut [u8], mask: [u8; 4]) {
    for (i, byte) in data.iter_mut().enumerate() {
        *byte ^= mask[i & 3];
    }
}

fn unmasked(masked: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut data = masked.to_vec();
    unmask(&mut data, mask);
    data
}

/// Checks `data[from..]` is UTF-8 and returns how far it is known to be valid; a sequence cut
/// at the end is allowed until the message's last fragment (incremental validation, so a bad
/// byte fails at once rather than after the whole message arrived).
fn check_utf8(data: &[u8], from: usize, is_final: bool) -> Result<usize, FrameError> {
    match std::str::from_utf8(&data[from..]) {
        Ok(_) => Ok(data.len()),
        Err(err) if err.error_len().is_none() && !is_final => Ok(from + err.valid_up_to()),
        Err(_) => Err(FrameError::InvalidUtf8),
    }
}

fn message_event(kind: MessageKind, data: Vec<u8>) -> WsEvent {
    match kind {
        MessageKind::Text => WsEvent::Text(Bytes::from(data)),
        MessageKind::Binary => WsEvent::Binary(Bytes::from(data)),
    }
}

fn control_event(control: Control, payload: Vec<u8>) -> Result<WsEvent, FrameError> {
    match control {
        Control::Ping => Ok(WsEvent::Ping(Bytes::from(payload))),
        Control::Pong => Ok(WsEvent::Pong(Bytes::from(payload))),
        Control::Close => parse_close_payload(&payload),
        Control::Reserved(opcode) => Err(FrameError::ReservedOpcode { opcode }),
    }
}

/// A close payload: empty, or a two-byte code plus a UTF-8 reason (RFC 6455 §5.5.1).
fn parse_close_payload(payload: &[u8]) -> Result<WsEvent, FrameError> {
    let (code, reason) = match payload {
        [] => {
            return Ok(WsEvent::Close {
                code: None,
                reason: String::new(),
            })
        }
        [_] => return Err(FrameError::CloseTooShort),
        [high, low, reason @ ..] => (u16::from_be_bytes([*high, *low]), reason),
    };
    if !is_sendable_close_code(code) {
        return Err(FrameError::InvalidCloseCode { code });
    }
    let reason = std::str::from_utf8(reason).map_err(|_| FrameError::InvalidUtf8)?;
    Ok(WsEvent::Close {
        code: Some(code),
        reason: reason.to_string(),
    })
}

/// True for a code an endpoint may put in a close frame (RFC 6455 §7.4.1 and the IANA
/// registry): 1000-1003, 1007-1014, and the 3000-4999 application range.
pub fn is_sendable_close_code(code: u16) -> bool {
    matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999)
}

/// Bytes of an unmasked frame header for `length` payload bytes (what `push_header` writes).
fn header_len(length: usize) -> usize {
    match length {
        0..=125 => 2,
        126..=0xffff => 4,
        _ => 10,
    }
}

/// Appends a final or non-final unmasked frame header for `length` payload bytes.
fn push_header(out: &mut Vec<u8>, is_final: bool, opcode: OpCode, length: usize) {
    let fin = if is_final { 0x80 } else { 0 };
    out.push(fin | u8::from(opcode));
    match length {
        0..=125 => out.push(length as u8),
        126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(length as u16).to_be_bytes());
        }
        _ => {
            out.push(127);
            out.extend_from_slice(&(length as u64).to_be_bytes());
        }
    }
}

/// One final, unmasked server frame (RFC 6455 §5.2: servers never mask).
pub fn encode_frame(opcode: OpCode, payload: &[u8]) -> Bytes {
    debug_assert!(
        !matches!(opcode, OpCode::Control(_)) || payload.len() <= CONTROL_PAYLOAD_BYTES_MAX,
        "control payload of {} bytes",
        payload.len()
    );
    // Exactly the length: `Bytes::from` a full vector takes its buffer as is, while one with
    // spare capacity costs another allocation, once per published item.
    let mut out = Vec::with_capacity(header_len(payload.len()) + payload.len());
    push_header(&mut out, true, opcode, payload.len());
    out.extend_from_slice(payload);
    debug_assert_eq!(out.len(), out.capacity());
    Bytes::from(out)
}

/// One masked frame, as a client (ringpin, towards a WebSocket origin) must send it
/// (RFC 6455 §5.3); `mask` should be unpredictable.
pub fn encode_masked_frame(
    opcode: OpCode,
    is_final: bool,
    payload: &[u8],
    mask: [u8; 4],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_len(payload.len()) + 4 + payload.len());
    push_header(&mut out, is_final, opcode, payload.len());
    out[1] |= 0x80;
    out.extend_from_slice(&mask);
    let from = out.len();
    out.extend_from_slice(payload);
    unmask(&mut out[from..], mask);
    out
}

/// A close frame: empty without a code, else the code and `reason` cut to 123 bytes on a
/// character boundary, so the frame is always a valid control frame.
pub fn encode_close(code: Option<u16>, reason: &str) -> Bytes {
    let close = OpCode::Control(Control::Close);
    let Some(code) = code else {
        // RFC 6455 §5.5.1: a reason may only follow a code.
        return encode_frame(close, &[]);
    };
    let mut cut = reason.len().min(CLOSE_REASON_BYTES_MAX);
    while !reason.is_char_boundary(cut) {
        cut -= 1;
    }
    let mut payload = Vec::with_capacity(2 + cut);
    payload.extend_from_slice(&code.to_be_bytes());
    payload.extend_from_slice(&reason.as_bytes()[..cut]);
    encode_frame(close, &payload)
}

/// `payload` as one message of frames of at most `frame_payload_bytes_max` bytes each: the
/// first carries `kind`'s opcode, the rest are continuations, the last has FIN (Pushpin 1.36
/// re-frames WebSocket-over-HTTP messages at 16 KiB). An empty payload is one empty frame.
pub fn split_message(
    kind: MessageKind,
    payload: &[u8],
    frame_payload_bytes_max: usize,
) -> Vec<Bytes> {
    debug_assert!(frame_payload_bytes_max > 0);
    let step = frame_payload_bytes_max.max(1);
    if payload.len() <= step {
        return vec![encode_frame(kind.opcode(), payload)];
    }
    let count = payload.len().div_ceil(step);
    let mut frames = Vec::with_capacity(count);
    for (index, piece) in payload.chunks(step).enumerate() {
        let opcode = if index == 0 {
            kind.opcode()
        } else {
            OpCode::Data(Data::Continue)
        };
        let mut out = Vec::with_capacity(10 + piece.len());
        push_header(&mut out, index + 1 == count, opcode, piece.len());
        out.extend_from_slice(piece);
        frames.push(Bytes::from(out));
    }
    frames
}

#[cfg(test)]
mod tests;
