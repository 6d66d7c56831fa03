//! permessage-deflate (RFC 7692) toward clients: the offer a client makes, and the
//! compression of whole messages, with no state kept between messages.
//!
//! Owns: `accepts_deflate_offer` (is any `permessage-deflate` offer in the client's
//! `Sec-WebSocket-Extensions` one ringpin can take), `DEFLATE_RESPONSE` (what the 101 says),
//! `inflate_message` and `encode_deflated_frame`.
//! Must not: keep a compression context per connection, or touch sockets.
//! Invariants: the response always carries `server_no_context_takeover` and
//! `client_no_context_takeover` (RFC 7692 §7.1.1 lets a server add both to any offer), so every
//! message is compressed on its own: a published message is compressed once and its frame is
//! shared by every subscriber, as uncompressed frames are, and a connection holds no 32 KiB
//! window for either direction. An offer asking for a server window under 15 bits is declined
//! (as Pushpin declines it), since the compressor always uses 32 KiB. Inflating stops at the
//! caller's message bound, so a small compressed message cannot expand past it.

use std::cell::RefCell;

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use tungstenite::protocol::frame::coding::OpCode;

use super::frame::FrameError;
use crate::http::Headers;
use crate::limits::WS_DEFLATE_PAYLOAD_BYTES_MIN;

/// The `Sec-WebSocket-Extensions` value of a 101 that accepted permessage-deflate.
pub const DEFLATE_RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// The four bytes a sync flush ends with, which senders strip and receivers put back
/// (RFC 7692 §7.2.1, §7.2.2).
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// True when one of the `permessage-deflate` offers in the client's
/// `Sec-WebSocket-Extensions` fields can be accepted with `DEFLATE_RESPONSE`. An offer with
/// an unknown or repeated parameter, or a bad window size, is declined, not an error: the
/// connection then goes uncompressed.
pub fn accepts_deflate_offer(headers: &Headers) -> bool {
    headers
        .get_all("sec-websocket-extensions")
        .filter_map(|value| std::str::from_utf8(value).ok())
        .flat_map(|value| value.split(','))
        .any(is_acceptable_offer)
}

/// One extension offer, `name; param[=value]; ...`.
fn is_acceptable_offer(offer: &str) -> bool {
    let mut parts = offer.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|name| name.eq_ignore_ascii_case("permessage-deflate"))
    {
        return false;
    }
    let mut seen: Vec<String> = Vec::new();
    for param in parts {
        let (name, value) = match param.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim().trim_matches('"'))),
            None => (param, None),
        };
        let name = name.to_ascii_lowercase();
        if seen.contains(&name) {
            return false;
        }
        let fits = match (name.as_str(), value) {
            ("server_no_context_takeover" | "client_no_context_takeover", None) => true,
            ("client_max_window_bits", None) => true,
            ("client_max_window_bits", Some(bits)) => window_bits(bits).is_some(),
            // 15 bits, the 32 KiB window: the only one the compressor uses.
            ("server_max_window_bits", Some(bits)) => window_bits(bits) == Some(15),
            _ => false,
        };
        if !fits {
            return false;
        }
        seen.push(name);
    }
    true
}

/// A window size of 8 to 15 bits, written as 1*DIGIT without a leading zero.
fn window_bits(value: &str) -> Option<u8> {
    if value.starts_with('0') || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    value.parse().ok().filter(|bits| (8..=15).contains(bits))
}

/// The payload of one compressed message (RSV1 set on its first frame), inflated with a
/// fresh window; more than `bytes_max` bytes out is `MessageTooLarge`.
pub fn inflate_message(compressed: &[u8], bytes_max: usize) -> Result<Vec<u8>, FrameError> {
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity(compressed.len().saturating_mul(2).clamp(64, bytes_max + 1));
    for input in [compressed, &SYNC_TAIL[..]] {
        let mut used = 0;
        loop {
            if out.len() == out.capacity() {
                let room = out
                    .len()
                    .max(64)
                    .min(bytes_max + 1 - out.len().min(bytes_max));
                out.reserve(room.max(1));
            }
            let (in_before, out_before) = (inflater.total_in(), out.len());
            let status = inflater
                .decompress_vec(&input[used..], &mut out, FlushDecompress::Sync)
                .map_err(|_| FrameError::BadCompression)?;
            used += (inflater.total_in() - in_before) as usize;
            if out.len() > bytes_max {
                return Err(FrameError::MessageTooLarge { bytes_max });
            }
            let stalled = inflater.total_in() == in_before && out.len() == out_before;
            let room_left = out.len() < out.capacity();
            if status == Status::StreamEnd || (used == input.len() && room_left) {
                break;
            }
            if stalled && room_left {
                return Err(FrameError::BadCompression);
            }
        }
    }
    Ok(out)
}

thread_local! {
    /// One compressor per thread, reset for every message: its tables (hundreds of KiB)
    /// are allocated once, not per message.
    static DEFLATER: RefCell<Compress> = RefCell::new(Compress::new(Compression::default(), false));
}

/// `payload` compressed on its own, the trailing `00 00 ff ff` removed.
fn deflate_message(payload: &[u8]) -> Vec<u8> {
    DEFLATER.with(|deflater| {
        let mut deflater = deflater.borrow_mut();
        deflater.reset();
        let mut out = Vec::with_capacity(payload.len() / 2 + 64);
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.len().max(64));
            }
            let used = deflater.total_in() as usize;
            // Compressing into a Vec cannot fail: the only error is a bad flush order.
            let _ = deflater.compress_vec(&payload[used..], &mut out, FlushCompress::Sync);
            let done = deflater.total_in() as usize == payload.len();
            if done && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&SYNC_TAIL) {
            out.truncate(out.len() - SYNC_TAIL.len());
        }
        out
    })
}

/// One final server frame of a compressed data message (RSV1 set), or `None` when the
/// payload is shorter than `WS_DEFLATE_PAYLOAD_BYTES_MIN` or does not shrink: the message
/// then goes uncompressed, which RFC 7692 allows message by message.
pub fn encode_deflated_frame(opcode: OpCode, payload: &[u8]) -> Option<Bytes> {
    if payload.len() < WS_DEFLATE_PAYLOAD_BYTES_MIN || matches!(opcode, OpCode::Control(_)) {
        return None;
    }
    let compressed = deflate_message(payload);
    if compressed.len() >= payload.len() {
        return None;
    }
    let mut frame = super::frame::encode_frame(opcode, &compressed).to_vec();
    frame[0] |= 0x40;
    Some(Bytes::from(frame))
}

#[cfg(test)]
mod tests;
