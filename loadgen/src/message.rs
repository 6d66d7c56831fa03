//! Message: the payload loadgen publishes and the subscribers time.
//!
//! Owns: the byte layout of one published message and its parse.
//! Must not: know about sockets, HTTP or the clock (times are passed in).
//! Invariants: an encoded message is exactly `size` bytes; its value is ASCII
//! `SEQ SEND_NS ` then `x` padding, so it never needs JSON escaping beyond `\n`.
//!
//! Layouts, for `size` S:
//! * line (stream, long-poll, ws): `SEQ SEND_NS xxx…x\n`, S bytes in all;
//! * SSE event: `data: SEQ SEND_NS xxx…x\n\n`, S bytes in all.

/// How a message is framed on the subscriber's wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One line ending in `\n` (HTTP streaming, long-poll bodies, WebSocket text).
    Line,
    /// One Server-Sent Events event: `data: …\n\n`.
    SseEvent,
}

/// The stamp a subscriber extracts from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// Publish sequence number, 1-based.
    pub seq: u64,
    /// `CLOCK_MONOTONIC` ns at which the publisher started sending this message.
    pub send_ns: u64,
}

const SSE_PREFIX: &[u8] = b"data: ";

impl Framing {
    /// Bytes around the value: prefix plus terminator.
    fn overhead_bytes(self) -> usize {
        match self {
            Framing::Line => 1,
            Framing::SseEvent => SSE_PREFIX.len() + 2,
        }
    }
}

/// The value length (without prefix and terminator) of a message of `size` bytes.
pub fn value_len(size: usize, framing: Framing) -> usize {
    size.saturating_sub(framing.overhead_bytes())
}

/// The smallest `size` that can carry any sequence number up to `seq_max` and any `u64`
/// send time, so a run can be refused before it starts rather than mid-publish.
pub fn min_size(seq_max: u64, framing: Framing) -> usize {
    format!("{seq_max} {} ", u64::MAX).len() + framing.overhead_bytes()
}

/// Encodes message `seq` stamped `send_ns` as a line of exactly `size` bytes.
pub fn encode(seq: u64, send_ns: u64, size: usize) -> Vec<u8> {
    encode_framed(seq, send_ns, size, Framing::Line)
}

/// Encodes message `seq` stamped `send_ns` as exactly `size` bytes in `framing`.
///
/// Panics if `size` is below [`min_size`]; callers check that once per run.
pub fn encode_framed(seq: u64, send_ns: u64, size: usize, framing: Framing) -> Vec<u8> {
    let mut out = Vec::with_capacity(size);
    if framing == Framing::SseEvent {
        out.extend_from_slice(SSE_PREFIX);
    }
    out.extend_from_slice(format!("{seq} {send_ns} ").as_bytes());
    let prefix_len = if framing == Framing::SseEvent {
        SSE_PREFIX.len()
    } else {
        0
    };
    let end = prefix_len + value_len(size, framing);
    assert!(out.len() <= end, "message size {size} below min_size");
    out.resize(end, b'x');
    match framing {
        Framing::Line => out.push(b'\n'),
        Framing::SseEvent => out.extend_from_slice(b"\n\n"),
    }
    debug_assert_eq!(out.len(), size);
    out
}

/// Parses a message value (`SEQ SEND_NS xxx…`, without prefix or terminator).
///
/// Returns `None` unless both numbers are present and the rest is `x` padding.
pub fn parse(value: &[u8]) -> Option<Stamp> {
    let (seq, rest) = parse_number(value)?;
    let (send_ns, padding) = parse_number(rest)?;
    if !padding.iter().all(|&b| b == b'x') {
        return None;
    }
    Some(Stamp { seq, send_ns })
}

/// Parses ASCII digits followed by one space; returns the number and what follows.
fn parse_number(bytes: &[u8]) -> Option<(u64, &[u8])> {
    let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || bytes.get(digits) != Some(&b' ') {
        return None;
    }
    let mut n: u64 = 0;
    for &d in &bytes[..digits] {
        n = n.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some((n, &bytes[digits + 1..]))
}

/// Strips the `data: ` prefix of an SSE data line (the space is optional, per the
/// WHATWG event-stream grammar).
pub fn sse_data_value(line: &[u8]) -> Option<&[u8]> {
    let rest = line.strip_prefix(b"data:")?;
    Some(rest.strip_prefix(b" ").unwrap_or(rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_message_is_exactly_size_bytes_and_parses_back() {
        for size in [min_size(5, Framing::Line), 64, 128, 4096] {
            let msg = encode(5, 123_456_789, size);
            assert_eq!(msg.len(), size);
            assert_eq!(msg.last(), Some(&b'\n'));
            let value = &msg[..msg.len() - 1];
            assert_eq!(value.len(), value_len(size, Framing::Line));
            let stamp = parse(value).expect("parses");
            assert_eq!(
                stamp,
                Stamp {
                    seq: 5,
                    send_ns: 123_456_789
                }
            );
        }
    }

    #[test]
    fn sse_message_is_one_event_of_exactly_size_bytes() {
        let size = 100;
        let msg = encode_framed(7, u64::MAX, size, Framing::SseEvent);
        assert_eq!(msg.len(), size);
        assert!(msg.starts_with(b"data: 7 "));
        assert!(msg.ends_with(b"x\n\n"));
        let value = sse_data_value(&msg[..size - 2]).expect("data line");
        assert_eq!(value.len(), value_len(size, Framing::SseEvent));
        assert_eq!(parse(value).map(|s| s.seq), Some(7));
    }

    #[test]
    fn smallest_size_holds_the_widest_numbers() {
        let size = min_size(1000, Framing::SseEvent);
        let msg = encode_framed(1000, u64::MAX, size, Framing::SseEvent);
        assert_eq!(msg.len(), size);
    }

    #[test]
    #[should_panic(expected = "below min_size")]
    fn too_small_a_size_is_refused() {
        encode(1, u64::MAX, 10);
    }

    #[test]
    fn malformed_values_are_rejected() {
        for bad in [
            &b""[..],
            b"open",
            b"1",
            b"1 2",
            b"1 2 xxy",
            b"a 2 xx",
            b"1  2 xx",
            b"99999999999999999999999 2 x",
        ] {
            assert_eq!(parse(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse(b"1 2 "), Some(Stamp { seq: 1, send_ns: 2 }));
    }

    #[test]
    fn sse_data_space_is_optional() {
        assert_eq!(sse_data_value(b"data:1 2 x"), Some(&b"1 2 x"[..]));
        assert_eq!(sse_data_value(b"data: 1 2 x"), Some(&b"1 2 x"[..]));
        assert_eq!(sse_data_value(b":open"), None);
    }
}
