//! The WebSocket-over-HTTP event codec (Pushpin 1.36, `application/websocket-events`).
//!
//! Owns: `WohEvent`, `encode_events` for request bodies sent to an origin, and
//! `parse_events` for the origin's response bodies.
//! Must not: build the HTTP requests around the bodies (headers, `Connection-Id`, meta) or
//! decide what an event does to the client; `shard/client_ws.rs` does.
//! Invariants: a body is the concatenation of `TYPE SP HEXLEN CRLF CONTENT CRLF` or
//! `TYPE CRLF`; a parsed body is accepted whole or refused whole, so no event of a bad body is
//! acted on; bodies over `WOH_BODY_BYTES_MAX` are refused before any parsing.

use bytes::Bytes;

use crate::limits::WOH_BODY_BYTES_MAX;

/// One event of a WebSocket-over-HTTP body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WohEvent {
    /// The connection opens (request) or is accepted (response); content is normally empty.
    Open(Bytes),
    /// A text message.
    Text(Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close, with its code and UTF-8 reason when it carries a code.
    Close(Option<(u16, String)>),
    /// The connection is gone without a close handshake.
    Disconnect,
}

/// Why an origin's event body was refused; the caller drops the client connection.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WohError {
    /// The body is over the limit.
    #[error("event body of {bytes} bytes, the limit is {bytes_max}")]
    BodyTooLarge {
        /// The body's length.
        bytes: usize,
        /// The limit.
        bytes_max: usize,
    },
    /// An event type that is not one of the seven known.
    #[error("unknown event type {name:?} at byte {at}")]
    UnknownType {
        /// The type as sent, lossily decoded.
        name: String,
        /// Offset of the event in the body.
        at: usize,
    },
    /// The content length is not hexadecimal, is empty, or overflows.
    #[error("invalid content length at byte {at}")]
    InvalidLength {
        /// Offset of the length in the body.
        at: usize,
    },
    /// The line or the content ends without CRLF.
    #[error("missing crlf at byte {at}")]
    MissingCrlf {
        /// Offset where CRLF was expected.
        at: usize,
    },
    /// The body ends inside an event.
    #[error("event body truncated at byte {at}")]
    Truncated {
        /// Offset of the incomplete event.
        at: usize,
    },
    /// A CLOSE whose content is one byte, or whose reason is not UTF-8.
    #[error("invalid close content at byte {at}")]
    InvalidClose {
        /// Offset of the event in the body.
        at: usize,
    },
}

/// Encodes `events` as one body. OPEN, PING and PONG carry content only when it is non-empty,
/// TEXT and BINARY always carry a length (so an empty message stays visible), CLOSE carries
/// its code and reason when it has a code, and DISCONNECT never has content.
pub fn encode_events(events: &[WohEvent]) -> Vec<u8> {
    let mut out = Vec::with_capacity(events.iter().map(content_len).sum::<usize>() + 16);
    for event in events {
        match event {
            WohEvent::Open(content) => push_optional(&mut out, b"OPEN", content),
            WohEvent::Text(content) => push_event(&mut out, b"TEXT", &[], content),
            WohEvent::Binary(content) => push_event(&mut out, b"BINARY", &[], content),
            WohEvent::Ping(content) => push_optional(&mut out, b"PING", content),
            WohEvent::Pong(content) => push_optional(&mut out, b"PONG", content),
            WohEvent::Close(None) => out.extend_from_slice(b"CLOSE\r\n"),
            WohEvent::Close(Some((code, reason))) => {
                push_event(&mut out, b"CLOSE", &code.to_be_bytes(), reason.as_bytes())
            }
            WohEvent::Disconnect => out.extend_from_slice(b"DISCONNECT\r\n"),
        }
    }
    out
}

fn content_len(event: &WohEvent) -> usize {
    match event {
        WohEvent::Open(c)
        | WohEvent::Text(c)
        | WohEvent::Binary(c)
        | WohEvent::Ping(c)
        | WohEvent::Pong(c) => c.len() + 16,
        WohEvent::Close(Some((_, reason))) => reason.len() + 18,
        WohEvent::Close(None) | WohEvent::Disconnect => 12,
    }
}

fn push_optional(out: &mut Vec<u8>, name: &[u8], content: &[u8]) {
    if content.is_empty() {
        out.extend_from_slice(name);
        out.extend_from_slice(b"\r\n");
    } else {
        push_event(out, name, &[], content);
    }
}

/// `NAME SP HEXLEN CRLF prefix content CRLF`, the length in lower-case hex as Pushpin writes it.
fn push_event(out: &mut Vec<u8>, name: &[u8], prefix: &[u8], content: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(format!(" {:x}\r\n", prefix.len() + content.len()).as_bytes());
    out.extend_from_slice(prefix);
    out.extend_from_slice(content);
    out.extend_from_slice(b"\r\n");
}

/// Parses a whole body; each event's content is copied out once.
pub fn parse_events(body: &[u8]) -> Result<Vec<WohEvent>, WohError> {
    check_size(body)?;
    parse_events_bytes(&Bytes::copy_from_slice(body))
}

/// Parses a whole body held as `Bytes`; each event's content shares its memory.
pub fn parse_events_bytes(body: &Bytes) -> Result<Vec<WohEvent>, WohError> {
    check_size(body)?;
    let mut events = Vec::new();
    let mut at = 0;
    while at < body.len() {
        let (event, next) = parse_event(body, at)?;
        events.push(event);
        at = next;
    }
    Ok(events)
}

fn check_size(body: &[u8]) -> Result<(), WohError> {
    if body.len() > WOH_BODY_BYTES_MAX {
        return Err(WohError::BodyTooLarge {
            bytes: body.len(),
            bytes_max: WOH_BODY_BYTES_MAX,
        });
    }
    Ok(())
}

/// Parses the event starting at `start`; returns it and the offset just after it.
fn parse_event(body: &Bytes, start: usize) -> Result<(WohEvent, usize), WohError> {
    let rest = &body[start..];
    let line_end = rest
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .ok_or(WohError::Truncated { at: start })?;
    let line = &rest[..line_end];
    let (name, length) = match line.iter().position(|&b| b == b' ') {
        Some(space) => {
            let digits_at = start + space + 1;
            let length = parse_hex(&line[space + 1..], digits_at)?;
            (&line[..space], Some(length))
        }
        None => (line, None),
    };
    let after_line = expect_crlf(body, start + line_end)?;
    let (content, next) = match length {
        Some(length) => {
            let end = after_line
                .checked_add(length)
                .filter(|&end| end <= body.len())
                .ok_or(WohError::Truncated { at: start })?;
            (body.slice(after_line..end), expect_crlf(body, end)?)
        }
        None => (Bytes::new(), after_line),
    };
    Ok((make_event(name, content, start)?, next))
}

/// Checks CRLF at `at` and returns the offset after it.
fn expect_crlf(body: &[u8], at: usize) -> Result<usize, WohError> {
    match body.get(at..at + 2) {
        Some(b"\r\n") => Ok(at + 2),
        Some(_) => Err(WohError::MissingCrlf { at }),
        None if body.get(at).is_some_and(|&b| b != b'\r') => Err(WohError::MissingCrlf { at }),
        None => Err(WohError::Truncated { at }),
    }
}

/// An upper-case or lower-case hexadecimal length; at most 8 digits, so it cannot overflow and
/// anything longer is far over the body limit anyway.
fn parse_hex(digits: &[u8], at: usize) -> Result<usize, WohError> {
    if digits.is_empty() || digits.len() > 8 {
        return Err(WohError::InvalidLength { at });
    }
    let mut value = 0usize;
    for &digit in digits {
        let nibble = (digit as char)
            .to_digit(16)
            .ok_or(WohError::InvalidLength { at })?;
        value = value * 16 + nibble as usize;
    }
    Ok(value)
}

fn make_event(name: &[u8], content: Bytes, at: usize) -> Result<WohEvent, WohError> {
    Ok(match name {
        b"OPEN" => WohEvent::Open(content),
        b"TEXT" => WohEvent::Text(content),
        b"BINARY" => WohEvent::Binary(content),
        b"PING" => WohEvent::Ping(content),
        b"PONG" => WohEvent::Pong(content),
        b"CLOSE" => WohEvent::Close(parse_close(&content, at)?),
        // Content is legal on any type; a DISCONNECT's has no meaning.
        b"DISCONNECT" => WohEvent::Disconnect,
        _ => {
            return Err(WohError::UnknownType {
                name: String::from_utf8_lossy(name).into_owned(),
                at,
            })
        }
    })
}

fn parse_close(content: &[u8], at: usize) -> Result<Option<(u16, String)>, WohError> {
    match content {
        [] => Ok(None),
        [high, low, reason @ ..] => match std::str::from_utf8(reason) {
            Ok(reason) => Ok(Some((
                u16::from_be_bytes([*high, *low]),
                reason.to_string(),
            ))),
            Err(_) => Err(WohError::InvalidClose { at }),
        },
        [_] => Err(WohError::InvalidClose { at }),
    }
}

mod session;

pub use session::{ClientStep, FailureStep, OriginCloseStep, Phase, WohSession};

#[cfg(test)]
mod tests;
