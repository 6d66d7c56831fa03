//! Chunk encoding for HTTP/1.1 streaming responses (RFC 9112 §7.1).
//!
//! Owns: the wire form of one chunk, `"{len:x}\r\n" + data + "\r\n"`, and the last chunk.
//! Must not: allocate per subscriber. A published item's chunk is built once (by its first
//! chunked subscriber, `publish::format::StreamContent`), and the same `Bytes` is shared by
//! every subscriber's outbound queue; only reference counts change per delivery.
//! Invariants: an empty input never yields a zero-size chunk, which would end the body.

use bytes::Bytes;

/// The last chunk with no trailers: ends a chunked body.
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// One chunk carrying `data`, ready to share between subscribers; empty `data` gives empty
/// `Bytes` (nothing to send), never a zero-size chunk.
pub fn encode_chunk(data: &[u8]) -> Bytes {
    // Exactly the length: `Bytes::from` a full vector takes its buffer as is, while one with
    // spare capacity costs another allocation (a shared header), once per published item.
    let mut out = Vec::with_capacity(chunk_len(data.len()));
    encode_chunk_into(data, &mut out);
    debug_assert_eq!(out.len(), out.capacity());
    Bytes::from(out)
}

/// Appends one chunk carrying `data` to `out`; appends nothing for empty `data`.
pub fn encode_chunk_into(data: &[u8], out: &mut Vec<u8>) {
    if data.is_empty() {
        return;
    }
    out.reserve(chunk_len(data.len()));
    push_hex(data.len() as u64, out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Bytes of the chunk carrying `len` bytes of data: size line, data and CRLF (0 for none).
fn chunk_len(len: usize) -> usize {
    match len {
        0 => 0,
        _ => hex_digits(len as u64) + 2 + len + 2,
    }
}

/// Digits of `n` in hex without leading zeros (1 for zero).
fn hex_digits(n: u64) -> usize {
    (64 - (n | 1).leading_zeros()).div_ceil(4) as usize
}

/// Appends `n` in lower-case hex without leading zeros.
fn push_hex(n: u64, out: &mut Vec<u8>) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for shift in (0..hex_digits(n) as u32).rev() {
        out.push(DIGITS[((n >> (shift * 4)) & 0xf) as usize]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::body::{BodyDecoder, BodyKind};

    fn check(data: &[u8], expected: &[u8]) {
        assert_eq!(&encode_chunk(data)[..], expected, "{data:?}");
        let mut out = b"prefix".to_vec();
        encode_chunk_into(data, &mut out);
        assert_eq!(&out[6..], expected, "{data:?}");
    }

    #[test]
    fn chunks_carry_hex_length_and_crlfs() {
        check(b"", b"");
        check(b"a", b"1\r\na\r\n");
        check(b"hello\n", b"6\r\nhello\n\r\n");
        check(
            &[b'x'; 15],
            &[b"f\r\n".as_slice(), &[b'x'; 15], b"\r\n"].concat(),
        );
        check(
            &[b'x'; 16],
            &[b"10\r\n".as_slice(), &[b'x'; 16], b"\r\n"].concat(),
        );
        check(
            &[0u8; 0x1000],
            &[b"1000\r\n".as_slice(), &[0u8; 0x1000], b"\r\n"].concat(),
        );
    }

    #[test]
    fn hex_has_no_leading_zeros() {
        let cases: &[(u64, &[u8])] = &[
            (0, b"0"),
            (1, b"1"),
            (0xf, b"f"),
            (0x10, b"10"),
            (0xabc, b"abc"),
            (u64::MAX, b"ffffffffffffffff"),
        ];
        for (n, expected) in cases {
            let mut out = Vec::new();
            push_hex(*n, &mut out);
            assert_eq!(out, *expected, "{n:#x}");
        }
    }

    #[test]
    fn encoded_chunks_decode_back_to_the_items() {
        let mut wire = Vec::new();
        for item in [&b"one\n"[..], b"", b"two\nthree\n"] {
            encode_chunk_into(item, &mut wire);
        }
        wire.extend_from_slice(LAST_CHUNK);
        let mut decoder = BodyDecoder::new(BodyKind::Chunked);
        let mut body = Vec::new();
        let progress = decoder.decode(&wire, &mut body).expect("valid chunks");
        assert_eq!((progress.consumed, progress.done), (wire.len(), true));
        assert_eq!(body, b"one\ntwo\nthree\n");
    }
}
