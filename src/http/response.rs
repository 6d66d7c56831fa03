//! ResponseHead: an origin response head parsed, and any response head encoded for a client.
//!
//! Owns: `parse_response`, response framing (RFC 9112 §6.3), `encode_response_head` and the
//! standard reason phrases.
//! Must not: decide how a response is relayed (that is `origin/response.rs`), touch sockets,
//! or skip interim responses: a `100 Continue` parses like any other head and the caller skips it.
//! Invariants: an encoded status line is always `HTTP/1.x NNN reason\r\n` with a non-empty
//! reason for known codes, and no header value can split the head.

use std::mem::MaybeUninit;

use super::body::BodyKind;
use super::error::ParseError;
use super::head::{
    collect_headers, declared_framing, encode_fields, header_slots, is_keep_alive, malformed,
    push_field_value, Version, HEADER_SLOTS_STACK,
};
use super::headers::Headers;
use super::request::HeadLimits;

/// A response head: status line plus header fields, as received or as to be sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseHead {
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// Three-digit status code, 100..=999.
    pub status: u16,
    /// Reason phrase as received; may be empty (RFC 9112 §4).
    pub reason: String,
    /// Header fields in wire order.
    pub headers: Headers,
}

/// Parses a response head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, or the head and the number of bytes it used.
/// `limits.uri_bytes_max` does not apply; the head and field-count bounds do, exactly as for
/// `parse_request`.
pub fn parse_response(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(ResponseHead, usize)>, ParseError> {
    let window = &buf[..buf.len().min(limits.head_bytes_max)];
    let mut stack = [const { MaybeUninit::uninit() }; HEADER_SLOTS_STACK];
    let mut heap = Vec::new();
    let slots = header_slots(&mut stack, &mut heap, limits.headers_max);
    let mut response = httparse::Response::new(&mut []);
    let status = httparse::ParserConfig::default().parse_response_with_uninit_headers(
        &mut response,
        window,
        slots,
    );
    match status {
        Ok(httparse::Status::Complete(used)) => Ok(Some((build_head(&response)?, used))),
        Ok(httparse::Status::Partial) if buf.len() >= limits.head_bytes_max => {
            Err(ParseError::HeadTooLarge {
                bytes_max: limits.head_bytes_max,
            })
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(ParseError::TooManyHeaders {
            max: limits.headers_max,
        }),
        Err(error) => Err(malformed(error)),
    }
}

fn build_head(response: &httparse::Response<'_, '_>) -> Result<ResponseHead, ParseError> {
    let version =
        Version::from_minor(response.version.expect("a complete response has a version"))?;
    let status = response.code.expect("a complete response has a status");
    if status < 100 {
        return Err(ParseError::Malformed {
            reason: "invalid status code",
        });
    }
    Ok(ResponseHead {
        version,
        status,
        reason: response.reason.unwrap_or_default().to_owned(),
        headers: collect_headers(response.headers),
    })
}

impl ResponseHead {
    /// How the response body is framed (RFC 9112 §6.3), given the method of the request it
    /// answers: none for HEAD, 1xx, 204 and 304; chunked for a single `chunked` coding (which
    /// wins over `Content-Length`); a valid `Content-Length` (`Empty` when 0); else the body runs
    /// to connection close.
    pub fn body_kind(&self, request_method: &str) -> Result<BodyKind, ParseError> {
        if request_method == "HEAD" || self.status < 200 || matches!(self.status, 204 | 304) {
            return Ok(BodyKind::Empty);
        }
        Ok(declared_framing(&self.headers)?.unwrap_or(BodyKind::CloseDelimited))
    }

    /// Whether the origin connection may be reused after this response: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive`, never with both
    /// `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3). A close-delimited body ends
    /// the connection whatever this says.
    pub fn is_keep_alive(&self) -> bool {
        is_keep_alive(self.version, &self.headers)
    }
}

/// Appends `HTTP/1.x NNN reason\r\n`, one line per header field, and the empty line.
///
/// An empty `reason` is replaced by `reason_phrase(status)`. Fields with invalid names are
/// skipped and CR/LF/NUL in values become spaces (see `head::encode_fields`).
pub fn encode_response_head(head: &ResponseHead, out: &mut Vec<u8>) {
    debug_assert!((100..=999).contains(&head.status), "status {}", head.status);
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.push(b' ');
    let status = head.status.min(999);
    out.extend_from_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
        b' ',
    ]);
    let reason = if head.reason.is_empty() {
        reason_phrase(head.status)
    } else {
        &head.reason
    };
    push_field_value(reason.as_bytes(), out);
    out.extend_from_slice(b"\r\n");
    encode_fields(&head.headers, out);
    out.extend_from_slice(b"\r\n");
}

/// The standard reason phrase for `status` (RFC 9110 §15, RFC 6585), or "" when unknown.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        207 => "Multi-Status",
        208 => "Already Reported",
        226 => "IM Used",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        305 => "Use Proxy",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        _ => error_reason_phrase(status),
    }
}

/// The phrases of the 4xx and 5xx codes (split out to keep each table readable).
fn error_reason_phrase(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        423 => "Locked",
        424 => "Failed Dependency",
        425 => "Too Early",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        451 => "Unavailable For Legal Reasons",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        506 => "Variant Also Negotiates",
        507 => "Insufficient Storage",
        508 => "Loop Detected",
        510 => "Not Extended",
        511 => "Network Authentication Required",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: HeadLimits = HeadLimits {
        head_bytes_max: 64,
        uri_bytes_max: 0,
        headers_max: 2,
    };

    type Parsed = Result<Option<(u16, &'static str, usize)>, ParseError>;

    fn check(input: &[u8], limits: &HeadLimits, expected: Parsed) {
        let got = parse_response(input, limits);
        let got = got
            .as_ref()
            .map(|r| {
                r.as_ref()
                    .map(|(h, used)| (h.status, h.reason.as_str(), *used))
            })
            .map_err(Clone::clone);
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
    }

    fn bad(reason: &'static str) -> Parsed {
        Err(ParseError::Malformed { reason })
    }

    fn head(input: &[u8]) -> ResponseHead {
        match parse_response(input, &HeadLimits::ORIGIN) {
            Ok(Some((head, used))) if used == input.len() => head,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    /// `HTTP/1.1 200 OK` plus `pad` bytes in one field and `fields` more; 24 bytes unpadded.
    fn response(pad: usize, fields: usize) -> Vec<u8> {
        let mut wire = b"HTTP/1.1 200 OK\r\nX: ".to_vec();
        wire.resize(wire.len() + pad, b'x');
        wire.extend_from_slice(b"\r\n");
        for i in 0..fields {
            wire.extend_from_slice(format!("F{i}: v\r\n").as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        wire
    }

    #[test]
    fn status_lines_parse_or_get_refused() {
        let o = &HeadLimits::ORIGIN;
        check(b"HTTP/1.1 200 OK\r\n\r\n", o, Ok(Some((200, "OK", 19))));
        check(
            b"HTTP/1.0 404 Not Found\r\nA: b\r\n\r\nbody",
            o,
            Ok(Some((404, "Not Found", 32))),
        );
        check(b"HTTP/1.1 204\r\n\r\n", o, Ok(Some((204, "", 16))));
        check(b"HTTP/1.1 299 \r\n\r\n", o, Ok(Some((299, "", 17))));
        check(
            b"\r\nHTTP/1.1 200 Fine Thanks\n\n",
            o,
            Ok(Some((200, "Fine Thanks", 28))),
        );
        check(b"HTTP/1.1 200 OK\r\nX: y", o, Ok(None));
        check(b"HTTP/1.1 20 OK\r\n\r\n", o, bad("invalid status line"));
        check(b"HTTP/1.1 2000 OK\r\n\r\n", o, bad("invalid status line"));
        check(b"HTTP/1.1 099 Low\r\n\r\n", o, bad("invalid status code"));
        check(b"HTTP/2 200 OK\r\n\r\n", o, bad("invalid http version"));
        check(
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            o,
            bad("invalid header name"),
        );
        check(
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            o,
            bad("invalid header value"),
        );
        check(
            b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
            o,
            bad("invalid header name"),
        );
    }

    #[test]
    fn interim_responses_parse_like_any_other() {
        let buf = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        let (interim, used) = parse_response(buf, &HeadLimits::ORIGIN)
            .expect("valid")
            .expect("complete");
        assert_eq!((interim.status, used), (100, 25));
        assert_eq!(interim.body_kind("POST"), Ok(BodyKind::Empty));
        let (last, rest) = parse_response(&buf[used..], &HeadLimits::ORIGIN)
            .expect("valid")
            .expect("complete");
        assert_eq!((last.status, used + rest), (200, buf.len()));
    }

    #[test]
    fn a_partial_head_needs_more_bytes_at_every_split_point() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi";
        let head_len = input.len() - 2;
        for at in 0..head_len {
            check(&input[..at], &HeadLimits::ORIGIN, Ok(None));
        }
        for at in head_len..=input.len() {
            check(
                &input[..at],
                &HeadLimits::ORIGIN,
                Ok(Some((200, "OK", head_len))),
            );
        }
    }

    #[test]
    fn head_and_field_limits_are_inclusive() {
        let too_large = Err(ParseError::HeadTooLarge { bytes_max: 64 });
        check(&response(40, 0), &SMALL, Ok(Some((200, "OK", 64))));
        check(&response(41, 0), &SMALL, too_large.clone());
        check(&response(41, 0)[..63], &SMALL, Ok(None));
        check(&response(41, 0)[..64], &SMALL, too_large);
        let too_many = Err(ParseError::TooManyHeaders { max: 2 });
        check(
            &response(0, 1),
            &SMALL,
            Ok(Some((200, "OK", response(0, 1).len()))),
        );
        check(&response(0, 2), &SMALL, too_many);
        let max = crate::limits::ORIGIN_HEAD_BYTES_MAX;
        let at_limit = response(max - 24, 0);
        check(&at_limit, &HeadLimits::ORIGIN, Ok(Some((200, "OK", max))));
        let over = Err(ParseError::HeadTooLarge { bytes_max: max });
        check(&response(max - 23, 0), &HeadLimits::ORIGIN, over);
        let fields = crate::limits::ORIGIN_HEADERS_MAX;
        let at_limit = response(0, fields - 1);
        check(
            &at_limit,
            &HeadLimits::ORIGIN,
            Ok(Some((200, "OK", at_limit.len()))),
        );
        let over = Err(ParseError::TooManyHeaders { max: fields });
        check(&response(0, fields), &HeadLimits::ORIGIN, over);
    }

    #[test]
    fn body_kind_depends_on_status_method_and_framing() {
        use BodyKind::*;
        let cases: &[(&[u8], &str, Result<BodyKind, ParseError>)] = &[
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                "GET",
                Ok(Length(5)),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                "HEAD",
                Ok(Empty),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
                "GET",
                Ok(Empty),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                "GET",
                Ok(Chunked),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n",
                "GET",
                Ok(Chunked),
            ),
            (b"HTTP/1.1 200 OK\r\n\r\n", "GET", Ok(CloseDelimited)),
            (b"HTTP/1.0 200 OK\r\n\r\n", "POST", Ok(CloseDelimited)),
            (
                b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
                "GET",
                Ok(Empty),
            ),
            (
                b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
                "GET",
                Ok(Empty),
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
                "GET",
                Ok(Empty),
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
                "GET",
                Err(ParseError::InvalidContentLength),
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                "GET",
                Err(ParseError::UnsupportedTransferEncoding),
            ),
        ];
        for (input, method, expected) in cases {
            assert_eq!(
                head(input).body_kind(method),
                *expected,
                "{input:?} {method}"
            );
        }
        assert!(head(b"HTTP/1.1 200 OK\r\n\r\n").is_keep_alive());
        assert!(!head(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").is_keep_alive());
        assert!(!head(b"HTTP/1.0 200 OK\r\n\r\n").is_keep_alive());
        assert!(head(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n").is_keep_alive());
    }

    #[test]
    fn encoded_heads_carry_version_status_reason_and_fields() {
        let encode = |version, status, reason: &str, fields: &[(&str, &[u8])]| {
            let head = ResponseHead {
                version,
                status,
                reason: reason.to_owned(),
                headers: fields
                    .iter()
                    .map(|(n, v)| (n.to_string(), v.to_vec()))
                    .collect(),
            };
            let mut out = Vec::new();
            encode_response_head(&head, &mut out);
            out
        };
        let cases: &[(Vec<u8>, &[u8])] = &[
            (
                encode(Version::Http11, 200, "OK", &[]),
                b"HTTP/1.1 200 OK\r\n\r\n",
            ),
            (
                encode(Version::Http10, 404, "Nope", &[("A", b"1"), ("b", b"")]),
                b"HTTP/1.0 404 Nope\r\nA: 1\r\nb: \r\n\r\n",
            ),
            (
                encode(Version::Http11, 431, "", &[]),
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n",
            ),
            (
                encode(Version::Http11, 599, "", &[]),
                b"HTTP/1.1 599 \r\n\r\n",
            ),
            (
                encode(Version::Http11, 100, "", &[]),
                b"HTTP/1.1 100 Continue\r\n\r\n",
            ),
            (
                encode(Version::Http11, 200, "A\r\nB", &[]),
                b"HTTP/1.1 200 A  B\r\n\r\n",
            ),
        ];
        for (got, expected) in cases {
            assert_eq!(
                String::from_utf8_lossy(got),
                String::from_utf8_lossy(expected)
            );
        }
        let wire = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Bin: \xff\r\n\r\n";
        let mut out = Vec::new();
        encode_response_head(&head(wire), &mut out);
        assert_eq!(out, wire);
    }

    #[test]
    fn reason_phrases_are_the_standard_texts() {
        let cases = [
            (200, "OK"),
            (400, "Bad Request"),
            (413, "Content Too Large"),
            (414, "URI Too Long"),
            (431, "Request Header Fields Too Large"),
            (501, "Not Implemented"),
            (502, "Bad Gateway"),
            (999, ""),
            (0, ""),
        ];
        for (status, reason) in cases {
            assert_eq!(reason_phrase(status), reason, "{status}");
        }
    }
}
