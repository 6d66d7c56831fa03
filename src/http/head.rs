//! What request and response heads share: the protocol version, the httparse glue, and the
//! framing and persistence rules read from header fields.
//!
//! Owns: `Version`; turning httparse's borrowed fields into `Headers`; reading
//! `Content-Length` / `Transfer-Encoding` (RFC 9112 §6) and `Connection` (RFC 9112 §9.3);
//! writing field lines.
//! Must not: know which side (client or origin) a head came from; callers choose the limits
//! and what an error means.
//! Invariants: a field line written by `encode_fields` never contains CR, LF or NUL, so no
//! header value can split a message, whoever filled it in.

use std::mem::MaybeUninit;

use super::body::BodyKind;
use super::error::ParseError;
use super::headers::{is_field_value, is_token, trim_ascii, Headers};
use crate::limits::{CLIENT_HEADERS_MAX, ORIGIN_HEADERS_MAX};

/// The HTTP/1.x minor version of a message; HTTP/1.0 and HTTP/1.1 are all ringpin speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    /// `HTTP/1.0`: no chunked framing, persistent only with `Connection: keep-alive`.
    Http10,
    /// `HTTP/1.1`: persistent unless `Connection: close`.
    Http11,
}

impl Version {
    /// The version as written on the wire, e.g. `HTTP/1.1`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }

    /// httparse reports the minor version and accepts only `HTTP/1.0` and `HTTP/1.1`.
    pub(crate) fn from_minor(minor: u8) -> Result<Version, ParseError> {
        match minor {
            0 => Ok(Version::Http10),
            1 => Ok(Version::Http11),
            _ => Err(ParseError::Malformed {
                reason: "unsupported http version",
            }),
        }
    }
}

/// Header slots kept on the stack for one parse; every built-in limit fits, so only a caller
/// with a larger custom `headers_max` pays for a heap allocation.
pub(crate) const HEADER_SLOTS_STACK: usize = if CLIENT_HEADERS_MAX > ORIGIN_HEADERS_MAX {
    CLIENT_HEADERS_MAX
} else {
    ORIGIN_HEADERS_MAX
};

/// One uninitialised httparse field slot.
pub(crate) type Slot<'b> = MaybeUninit<httparse::Header<'b>>;

/// Exactly `count` slots: httparse reports `TooManyHeaders` as soon as field `count + 1` is
/// complete, which is exactly "more than `count` fields".
pub(crate) fn header_slots<'s, 'b>(
    stack: &'s mut [Slot<'b>; HEADER_SLOTS_STACK],
    heap: &'s mut Vec<Slot<'b>>,
    count: usize,
) -> &'s mut [Slot<'b>] {
    if count <= HEADER_SLOTS_STACK {
        &mut stack[..count]
    } else {
        heap.resize_with(count, MaybeUninit::uninit);
        heap.as_mut_slice()
    }
}

/// Copies httparse's borrowed fields into an owned `Headers`.
pub(crate) fn collect_headers(fields: &[httparse::Header<'_>]) -> Headers {
    fields
        .iter()
        .map(|f| (f.name.to_owned(), f.value.to_vec()))
        .collect()
}

/// Maps an httparse error; the caller has already dealt with `TooManyHeaders`.
pub(crate) fn malformed(error: httparse::Error) -> ParseError {
    let reason = match error {
        httparse::Error::HeaderName => "invalid header name",
        httparse::Error::HeaderValue => "invalid header value",
        httparse::Error::NewLine => "invalid line ending",
        httparse::Error::Status => "invalid status line",
        httparse::Error::Token => "invalid request line",
        httparse::Error::TooManyHeaders => "too many header fields",
        httparse::Error::Version => "invalid http version",
    };
    ParseError::Malformed { reason }
}

/// The framing the header fields declare, or `None` when they declare none.
///
/// RFC 9112 §6.3: `Transfer-Encoding` overrides `Content-Length`, which is then ignored (the
/// caller rewrites framing before forwarding, so a stale `Content-Length` never travels on).
/// Only a single `chunked` coding is accepted: any other coding would have to be decoded for
/// the message to be relayed, which ringpin does not do.
pub(crate) fn declared_framing(headers: &Headers) -> Result<Option<BodyKind>, ParseError> {
    if headers.contains("transfer-encoding") {
        return transfer_coding_is_chunked(headers).map(|()| Some(BodyKind::Chunked));
    }
    match content_length(headers)? {
        Some(0) => Ok(Some(BodyKind::Empty)),
        Some(n) => Ok(Some(BodyKind::Length(n))),
        None => Ok(None),
    }
}

fn transfer_coding_is_chunked(headers: &Headers) -> Result<(), ParseError> {
    // Empty list elements are ignored (RFC 9110 §5.6.1.2); `chunked` may appear only once.
    let mut codings = headers
        .get_all("transfer-encoding")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(trim_ascii)
        .filter(|c| !c.is_empty());
    match (codings.next(), codings.next()) {
        (Some(only), None) if only.eq_ignore_ascii_case(b"chunked") => Ok(()),
        _ => Err(ParseError::UnsupportedTransferEncoding),
    }
}

/// The `Content-Length`, if any. Duplicates, as fields or as a list (`1, 1`), must agree
/// (RFC 9110 §8.6); anything but ASCII digits is refused so that no two parsers can disagree.
fn content_length(headers: &Headers) -> Result<Option<u64>, ParseError> {
    let mut length = None;
    for value in headers.get_all("content-length") {
        for element in value.split(|&b| b == b',') {
            let n = parse_decimal(trim_ascii(element)).ok_or(ParseError::InvalidContentLength)?;
            match length {
                Some(seen) if seen != n => return Err(ParseError::InvalidContentLength),
                _ => length = Some(n),
            }
        }
    }
    Ok(length)
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// Whether the connection stays open after this message, from the version and `Connection`
/// (RFC 9112 §9.3): HTTP/1.1 unless `close`; HTTP/1.0 only with `keep-alive`.
///
/// A message with both `Transfer-Encoding` and `Content-Length` never keeps the connection
/// (RFC 9112 §6.3): someone upstream may have framed it the other way, so whatever follows it
/// on this connection cannot be trusted to be a new message.
pub(crate) fn is_keep_alive(version: Version, headers: &Headers) -> bool {
    if headers.has_token("connection", "close")
        || (headers.contains("transfer-encoding") && headers.contains("content-length"))
    {
        return false;
    }
    match version {
        Version::Http11 => true,
        Version::Http10 => headers.has_token("connection", "keep-alive"),
    }
}

/// Appends `Name: value\r\n` for each field. A field whose name is not a token is skipped and
/// CR, LF or NUL in a value become spaces: header values can come from publishers and origins,
/// and must not be able to inject lines.
pub(crate) fn encode_fields(headers: &Headers, out: &mut Vec<u8>) {
    for field in headers.iter() {
        if !is_token(field.name.as_bytes()) {
            continue;
        }
        out.extend_from_slice(field.name.as_bytes());
        out.extend_from_slice(b": ");
        push_field_value(&field.value, out);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `value`, with CR, LF and NUL replaced by spaces.
pub(crate) fn push_field_value(value: &[u8], out: &mut Vec<u8>) {
    if is_field_value(value) {
        out.extend_from_slice(value);
    } else {
        out.extend(value.iter().map(|&b| {
            if matches!(b, b'\r' | b'\n' | 0) {
                b' '
            } else {
                b
            }
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &[u8])]) -> Headers {
        fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect()
    }

    fn check(fields: &[(&str, &[u8])], expected: Result<Option<BodyKind>, ParseError>) {
        assert_eq!(declared_framing(&headers(fields)), expected, "{fields:?}");
    }

    #[test]
    fn content_length_must_be_digits_and_duplicates_must_agree() {
        use BodyKind::*;
        let invalid_cl = Err(ParseError::InvalidContentLength);
        check(&[], Ok(None));
        check(&[("Content-Length", b"10")], Ok(Some(Length(10))));
        check(&[("content-length", b"0")], Ok(Some(Empty)));
        check(&[("Content-Length", b"007")], Ok(Some(Length(7))));
        check(&[("Content-Length", b"1, 1")], Ok(Some(Length(1))));
        check(
            &[("Content-Length", b"5"), ("Content-Length", b"5")],
            Ok(Some(Length(5))),
        );
        check(
            &[("Content-Length", b"5"), ("Content-Length", b"6")],
            invalid_cl.clone(),
        );
        check(&[("Content-Length", b"1, 2")], invalid_cl.clone());
        check(&[("Content-Length", b"")], invalid_cl.clone());
        check(&[("Content-Length", b"1,")], invalid_cl.clone());
        check(&[("Content-Length", b"+1")], invalid_cl.clone());
        check(&[("Content-Length", b"-1")], invalid_cl.clone());
        check(&[("Content-Length", b"0x10")], invalid_cl.clone());
        check(&[("Content-Length", b"1 2")], invalid_cl.clone());
        check(
            &[("Content-Length", b"18446744073709551615")],
            Ok(Some(Length(u64::MAX))),
        );
        check(&[("Content-Length", b"18446744073709551616")], invalid_cl);
    }

    #[test]
    fn transfer_encoding_must_be_exactly_chunked_and_wins_over_length() {
        use BodyKind::*;
        let unsupported_te = Err(ParseError::UnsupportedTransferEncoding);
        check(&[("Transfer-Encoding", b"chunked")], Ok(Some(Chunked)));
        check(&[("Transfer-Encoding", b"Chunked")], Ok(Some(Chunked)));
        check(&[("Transfer-Encoding", b", chunked,")], Ok(Some(Chunked)));
        check(
            &[("Transfer-Encoding", b"chunked"), ("Content-Length", b"5")],
            Ok(Some(Chunked)),
        );
        check(
            &[
                ("Content-Length", b"nonsense"),
                ("Transfer-Encoding", b"chunked"),
            ],
            Ok(Some(Chunked)),
        );
        check(
            &[("Transfer-Encoding", b"gzip, chunked")],
            unsupported_te.clone(),
        );
        check(
            &[("Transfer-Encoding", b"chunked, gzip")],
            unsupported_te.clone(),
        );
        check(
            &[("Transfer-Encoding", b"chunked, chunked")],
            unsupported_te.clone(),
        );
        check(
            &[
                ("Transfer-Encoding", b"chunked"),
                ("Transfer-Encoding", b"chunked"),
            ],
            unsupported_te.clone(),
        );
        check(
            &[("Transfer-Encoding", b"identity")],
            unsupported_te.clone(),
        );
        check(
            &[("Transfer-Encoding", b"xchunked")],
            unsupported_te.clone(),
        );
        check(&[("Transfer-Encoding", b"")], unsupported_te);
    }

    #[test]
    fn keep_alive_depends_on_version_and_connection_tokens() {
        let cases: &[(Version, &[u8], bool)] = &[
            (Version::Http11, b"", true),
            (Version::Http11, b"close", false),
            (Version::Http11, b"Keep-Alive, Close", false),
            (Version::Http11, b"upgrade", true),
            (Version::Http10, b"", false),
            (Version::Http10, b"keep-alive", true),
            (Version::Http10, b"Keep-Alive", true),
            (Version::Http10, b"keep-alive, close", false),
        ];
        for (version, connection, expected) in cases {
            let h = if connection.is_empty() {
                Headers::new()
            } else {
                headers(&[("Connection", connection)])
            };
            assert_eq!(
                is_keep_alive(*version, &h),
                *expected,
                "{version:?} {connection:?}"
            );
        }
        let both = headers(&[("Transfer-Encoding", b"chunked"), ("Content-Length", b"3")]);
        assert!(!is_keep_alive(Version::Http11, &both));
        let te_only = headers(&[("Transfer-Encoding", b"chunked")]);
        assert!(is_keep_alive(Version::Http11, &te_only));
    }

    #[test]
    fn encoded_fields_cannot_inject_lines() {
        let h = headers(&[
            ("X-Ok", b"a b"),
            ("Bad Name", b"dropped"),
            ("X-Evil", b"1\r\nSet-Cookie: x\0"),
            ("X-Empty", b""),
        ]);
        let mut out = Vec::new();
        encode_fields(&h, &mut out);
        assert_eq!(
            out,
            b"X-Ok: a b\r\nX-Evil: 1  Set-Cookie: x \r\nX-Empty: \r\n"
        );
    }
}
