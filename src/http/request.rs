//! RequestHead: a client (or publish, or origin-bound) request head, parsed and encoded.
//!
//! Owns: `parse_request` with its `HeadLimits`, the request-target forms (RFC 9112 §3.2),
//! the facts the proxy reads from a head (framing, persistence, `Expect`, host, path,
//! WebSocket upgrade), and `encode_request_head` for the origin side.
//! Must not: read bodies (see `body.rs`), touch sockets, or decide what an error becomes.
//! Invariants: a head is accepted only within its limits, and 414 is decided before 431;
//! an accepted target is origin-form, absolute-form with a path that is empty or starts with
//! `/`, `*` for OPTIONS, or authority-form for CONNECT, so `path()` never needs to invent one.

use std::mem::MaybeUninit;

use super::body::BodyKind;
use super::error::ParseError;
use super::head::{
    collect_headers, declared_framing, encode_fields, header_slots, is_keep_alive, malformed,
    push_field_value, Version, HEADER_SLOTS_STACK,
};
use super::headers::{is_token, Headers};
use crate::limits::REQUEST_LINE_SLACK_BYTES;
use crate::limits::{
    CLIENT_HEADERS_MAX, CLIENT_HEAD_BYTES_MAX, CLIENT_URI_BYTES_MAX, ORIGIN_HEADERS_MAX,
    ORIGIN_HEAD_BYTES_MAX, PUBLISH_HEAD_BYTES_MAX,
};

/// A request head: request line plus header fields, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestHead {
    /// Method, case-sensitive (RFC 9110 §9.1), e.g. `GET`.
    pub method: String,
    /// Request target exactly as sent; see `path()` and `host()` for its parts.
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// Header fields in wire order.
    pub headers: Headers,
}

/// Bounds on one message head; each has a matching `ParseError` variant.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    /// Longest head, start line and CRLFs included; longer gets `HeadTooLarge` (431).
    pub head_bytes_max: usize,
    /// Longest request target; longer gets `UriTooLong` (414). Unused for responses.
    pub uri_bytes_max: usize,
    /// Most header fields; more gets `TooManyHeaders` (431).
    pub headers_max: usize,
}

impl HeadLimits {
    /// Client requests, Pushpin 1.36's condure limits (8192-byte head, 4096-byte URI, 64 fields).
    pub const CLIENT: HeadLimits = HeadLimits {
        head_bytes_max: CLIENT_HEAD_BYTES_MAX,
        uri_bytes_max: CLIENT_URI_BYTES_MAX,
        headers_max: CLIENT_HEADERS_MAX,
    };

    /// Origin responses; a response has no target, so only the head bound applies to it.
    pub const ORIGIN: HeadLimits = HeadLimits {
        head_bytes_max: ORIGIN_HEAD_BYTES_MAX,
        uri_bytes_max: ORIGIN_HEAD_BYTES_MAX,
        headers_max: ORIGIN_HEADERS_MAX,
    };

    /// Requests to the publish endpoint (Pushpin: 10,000-byte head), client URI and field bounds.
    pub const PUBLISH: HeadLimits = HeadLimits {
        head_bytes_max: PUBLISH_HEAD_BYTES_MAX,
        uri_bytes_max: CLIENT_URI_BYTES_MAX,
        headers_max: CLIENT_HEADERS_MAX,
    };
}

/// Parses a request head from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, or the head and the number of bytes it used;
/// bytes after the head (a body, a pipelined request) are left for the caller. Leading empty
/// lines are skipped (RFC 9112 §2.2) and bare LF line endings are accepted, as httparse does.
pub fn parse_request(
    buf: &[u8],
    limits: &HeadLimits,
) -> Result<Option<(RequestHead, usize)>, ParseError> {
    // Never look past the head limit: a complete head must fit in the window, and an
    // incomplete one filling it is already too large.
    let window = &buf[..buf.len().min(limits.head_bytes_max)];
    let mut stack = [const { MaybeUninit::uninit() }; HEADER_SLOTS_STACK];
    let mut heap = Vec::new();
    let slots = header_slots(&mut stack, &mut heap, limits.headers_max);
    let mut request = httparse::Request::new(&mut []);
    let status = request.parse_with_uninit_headers(window, slots);
    // httparse sets `path` as soon as the space after the target arrives, before the rest of
    // the head, so an overlong target is refused early and before any 431.
    if request.path.is_some_and(|p| p.len() > limits.uri_bytes_max) {
        return Err(ParseError::UriTooLong {
            bytes_max: limits.uri_bytes_max,
        });
    }
    match status {
        Ok(httparse::Status::Complete(used)) => Ok(Some((build_head(&request)?, used))),
        Ok(httparse::Status::Partial) => {
            check_partial(window, request.path.is_some(), buf.len(), limits)?;
            Ok(None)
        }
        Err(httparse::Error::TooManyHeaders) => Err(ParseError::TooManyHeaders {
            max: limits.headers_max,
        }),
        Err(error) => Err(malformed(error)),
    }
}

/// An incomplete head is refused once it can no longer fit its limits.
fn check_partial(
    window: &[u8],
    target_seen: bool,
    buffered: usize,
    limits: &HeadLimits,
) -> Result<(), ParseError> {
    if !target_seen {
        let empty_lines = window
            .iter()
            .take_while(|&&b| b == b'\r' || b == b'\n')
            .count();
        if window.len() - empty_lines > limits.uri_bytes_max + REQUEST_LINE_SLACK_BYTES {
            return Err(ParseError::UriTooLong {
                bytes_max: limits.uri_bytes_max,
            });
        }
    }
    if buffered >= limits.head_bytes_max {
        return Err(ParseError::HeadTooLarge {
            bytes_max: limits.head_bytes_max,
        });
    }
    Ok(())
}

fn build_head(request: &httparse::Request<'_, '_>) -> Result<RequestHead, ParseError> {
    let method = request.method.expect("a complete request has a method");
    let target = request.path.expect("a complete request has a target");
    let version = Version::from_minor(request.version.expect("a complete request has a version"))?;
    if !is_valid_target(method, target) {
        return Err(ParseError::Malformed {
            reason: "invalid request target",
        });
    }
    // RFC 9112 §3.2: more than one Host field is refused, lest two hops route differently.
    let hosts = request
        .headers
        .iter()
        .filter(|f| f.name.eq_ignore_ascii_case("host"))
        .count();
    if hosts > 1 {
        return Err(ParseError::Malformed {
            reason: "more than one host field",
        });
    }
    Ok(RequestHead {
        method: method.to_owned(),
        target: target.to_owned(),
        version,
        headers: collect_headers(request.headers),
    })
}

/// The four request-target forms of RFC 9112 §3.2; httparse has already checked the bytes.
fn is_valid_target(method: &str, target: &str) -> bool {
    if target.starts_with('/') {
        true
    } else if target == "*" {
        method == "OPTIONS"
    } else if method == "CONNECT" {
        !target.contains('/')
    } else {
        split_absolute(target).is_some()
    }
}

/// Splits an absolute-form target `scheme://authority/path?query` into authority and
/// path+query. A target whose authority is followed directly by `?` or `#` is not accepted,
/// so that `path()` can always return a borrowed path.
fn split_absolute(target: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = target.split_once("://")?;
    let mut scheme = scheme.bytes();
    let first = scheme.next()?;
    let scheme_ok = first.is_ascii_alphabetic()
        && scheme.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if !scheme_ok || authority.is_empty() || !(path.is_empty() || path.starts_with('/')) {
        return None;
    }
    Some((authority, path))
}

/// Host part of an authority, lower-cased, without userinfo or port; IPv6 keeps its brackets.
/// `None` when there is no host or it holds bytes no host may hold.
fn normalize_host(authority: &str) -> Option<String> {
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if host_port.starts_with('[') {
        let end = host_port.find(']')? + 1;
        let (host, rest) = host_port.split_at(end);
        match rest.strip_prefix(':') {
            Some(port) => (host, port),
            None if rest.is_empty() => (host, ""),
            None => return None,
        }
    } else {
        host_port.split_once(':').unwrap_or((host_port, ""))
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%[]".contains(&b) || b == b':');
    // A colon outside brackets other than the port separator lands in `port` and fails here.
    if !host_ok || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if !host.starts_with('[') && host.contains(['[', ']', ':']) {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

impl RequestHead {
    /// How the request body is framed (RFC 9112 §6.3): a single `chunked` transfer coding wins
    /// over any `Content-Length`; else a valid `Content-Length`; else no body.
    ///
    /// `Transfer-Encoding` in an HTTP/1.0 request is refused as faulty framing (RFC 9112 §6.1).
    pub fn body_kind(&self) -> Result<BodyKind, ParseError> {
        if self.version == Version::Http10 && self.headers.contains("transfer-encoding") {
            return Err(ParseError::Malformed {
                reason: "transfer-encoding in an http/1.0 request",
            });
        }
        Ok(declared_framing(&self.headers)?.unwrap_or(BodyKind::Empty))
    }

    /// Whether the connection may stay open after this exchange: HTTP/1.1 unless
    /// `Connection: close`, HTTP/1.0 only with `Connection: keep-alive` (Pushpin 1.36 likewise),
    /// and never after a request carrying both `Transfer-Encoding` and `Content-Length`
    /// (RFC 9112 §6.3: the server must close after answering it).
    pub fn is_keep_alive(&self) -> bool {
        is_keep_alive(self.version, &self.headers)
    }

    /// True for an HTTP/1.1 request with `Expect: 100-continue` (any case); the server answers
    /// `100 Continue` itself and does not forward the expectation (Pushpin 1.36).
    pub fn expects_continue(&self) -> bool {
        self.version == Version::Http11 && self.headers.has_token("expect", "100-continue")
    }

    /// The host the request is for, used for route selection: the authority of an
    /// absolute-form (or CONNECT) target if there is one, else the `Host` field (RFC 9112
    /// §3.2.2). Lower-cased, without userinfo or port; IPv6 literals keep their brackets.
    pub fn host(&self) -> Option<String> {
        let authority = match split_absolute(&self.target) {
            Some((authority, _)) => authority,
            None if self.method == "CONNECT" => &self.target,
            None => self.headers.get_str("host")?,
        };
        normalize_host(authority)
    }

    /// Checks what a reverse proxy needs of a client request, and makes `Host` agree with the
    /// target so that routing and the origin see the same host (RFC 9112 §3.2, §3.2.2).
    ///
    /// - `CONNECT` is refused (501): ringpin tunnels nothing.
    /// - An absolute-form target's authority, without userinfo, replaces any `Host` field,
    ///   as written (case and port kept).
    /// - Otherwise an HTTP/1.1 request must carry a `Host` (400); more than one is already
    ///   refused by `parse_request`.
    /// - A `Host` that holds no valid host is refused (400); HTTP/1.0 may leave it out or empty.
    pub fn normalize_for_proxy(&mut self) -> Result<(), ParseError> {
        if self.method == "CONNECT" {
            return Err(ParseError::ConnectNotSupported);
        }
        if let Some((authority, _)) = split_absolute(&self.target) {
            let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            if normalize_host(host_port).is_none() {
                return Err(ParseError::Malformed {
                    reason: "invalid host in request target",
                });
            }
            let host_port = host_port.to_owned();
            self.headers.set("Host", host_port);
            return Ok(());
        }
        match self.headers.get("host") {
            None | Some(b"") if self.version == Version::Http11 => Err(ParseError::Malformed {
                reason: "missing host field",
            }),
            None | Some(b"") => Ok(()),
            Some(_) if self.host().is_none() => Err(ParseError::Malformed {
                reason: "invalid host field",
            }),
            Some(_) => Ok(()),
        }
    }

    /// Path and query of the target: `/p?q` for both `/p?q` and `http://h/p?q`, `/` for
    /// `http://h`, `*` for `*`, and the authority for CONNECT.
    pub fn path(&self) -> &str {
        match split_absolute(&self.target) {
            Some((_, "")) => "/",
            Some((_, path)) => path,
            None if self.target.is_empty() => "/",
            None => &self.target,
        }
    }

    /// True for a WebSocket opening handshake (RFC 6455 §4.1): an HTTP/1.1 GET with an
    /// `Upgrade: websocket` token and a `Connection: upgrade` token, in any case.
    pub fn is_websocket_upgrade(&self) -> bool {
        self.method == "GET"
            && self.version == Version::Http11
            && self.headers.has_token("upgrade", "websocket")
            && self.headers.has_token("connection", "upgrade")
    }
}

/// Appends `METHOD TARGET HTTP/1.x\r\n`, one line per header field, and the empty line.
///
/// Fields with invalid names are skipped and CR/LF/NUL in values become spaces (see
/// `head::encode_fields`), so the output is always one well-formed head.
pub fn encode_request_head(head: &RequestHead, out: &mut Vec<u8>) {
    debug_assert!(is_token(head.method.as_bytes()), "method {:?}", head.method);
    debug_assert!(
        !head.target.is_empty() && !head.target.contains([' ', '\r', '\n']),
        "target {:?}",
        head.target
    );
    out.extend_from_slice(head.method.as_bytes());
    out.push(b' ');
    push_field_value(head.target.as_bytes(), out);
    out.push(b' ');
    out.extend_from_slice(head.version.as_str().as_bytes());
    out.extend_from_slice(b"\r\n");
    encode_fields(&head.headers, out);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Small limits so that boundary inputs stay readable.
    const SMALL: HeadLimits = HeadLimits {
        head_bytes_max: 64,
        uri_bytes_max: 16,
        headers_max: 2,
    };

    type Parsed = Result<Option<usize>, ParseError>;

    fn check(input: &[u8], limits: &HeadLimits, expected: Parsed) {
        let got = parse_request(input, limits).map(|r| r.map(|(_, used)| used));
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
    }

    fn bad(reason: &'static str) -> Parsed {
        Err(ParseError::Malformed { reason })
    }

    fn head(input: &[u8]) -> RequestHead {
        match parse_request(input, &HeadLimits::CLIENT) {
            Ok(Some((head, used))) if used == input.len() => head,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
        }
    }

    /// `GET /<target_pad> HTTP/1.1` plus `header_pad` bytes in one field and `fields` more.
    fn request(target_pad: usize, header_pad: usize, fields: usize) -> Vec<u8> {
        let mut wire = b"GET /".to_vec();
        wire.resize(wire.len() + target_pad, b'a');
        wire.extend_from_slice(b" HTTP/1.1\r\nX: ");
        wire.resize(wire.len() + header_pad, b'x');
        wire.extend_from_slice(b"\r\n");
        for i in 0..fields {
            wire.extend_from_slice(format!("F{i}: v\r\n").as_bytes());
        }
        wire.extend_from_slice(b"\r\n");
        wire
    }

    #[test]
    fn well_formed_requests_parse_with_their_length() {
        // (input, request line as parsed, bytes left after the head)
        let cases: &[(&[u8], &str, usize)] = &[
            (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1", 0),
            (b"POST /p?q=1 HTTP/1.0\r\n\r\n", "POST /p?q=1 HTTP/1.0", 0),
            (b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1", 0),
            (b"\nGET /x HTTP/1.1\nA: 1\nB:2\n\n", "GET /x HTTP/1.1", 0),
            (
                b"GET / HTTP/1.1\r\nA:  sp  \r\n\r\nbody",
                "GET / HTTP/1.1",
                4,
            ),
            (b"OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS * HTTP/1.1", 0),
            (
                b"CONNECT h:443 HTTP/1.1\r\n\r\n",
                "CONNECT h:443 HTTP/1.1",
                0,
            ),
            (
                b"GET http://H/p HTTP/1.1\r\n\r\n",
                "GET http://H/p HTTP/1.1",
                0,
            ),
            (b"GET http://h HTTP/1.1\r\n\r\n", "GET http://h HTTP/1.1", 0),
            (
                b"PURGE /x HTTP/1.1\r\nX: \xff\r\n\r\n",
                "PURGE /x HTTP/1.1",
                0,
            ),
        ];
        for &(input, line, trailing) in cases {
            let parsed = parse_request(input, &HeadLimits::CLIENT);
            let Ok(Some((h, used))) = parsed else {
                panic!("{:?}: {parsed:?}", String::from_utf8_lossy(input));
            };
            let got = format!("{} {} {}", h.method, h.target, h.version.as_str());
            assert_eq!(
                (got.as_str(), used),
                (line, input.len() - trailing),
                "{input:?}"
            );
        }
    }

    #[test]
    fn fields_keep_their_order_case_and_raw_value() {
        let h = head(b"GET / HTTP/1.1\r\nHost: a\r\nX-Two: b c \r\nx-two:\td\r\nE:\r\n\r\n");
        let fields: Vec<_> = h
            .headers
            .iter()
            .map(|f| (&f.name[..], &f.value[..]))
            .collect();
        let expected: &[(&str, &[u8])] = &[
            ("Host", b"a"),
            ("X-Two", b"b c"),
            ("x-two", b"d"),
            ("E", b""),
        ];
        assert_eq!(fields, expected);
    }

    #[test]
    fn malformed_request_lines_get_400() {
        let line = "invalid request line";
        let version = "invalid http version";
        let target = "invalid request target";
        let cases: &[(&[u8], Parsed)] = &[
            (b"GET /\r\n\r\n", bad(line)),
            (b"GET  / HTTP/1.1\r\n\r\n", bad(line)),
            (b"G@T / HTTP/1.1\r\n\r\n", bad(line)),
            (b" GET / HTTP/1.1\r\n\r\n", bad(line)),
            (b"GET /a\x01 HTTP/1.1\r\n\r\n", bad(line)),
            (b"GET /a b HTTP/1.1\r\n\r\n", bad(version)),
            (b"GET / HTTP/2.0\r\n\r\n", bad(version)),
            (b"GET / HTTP/1.2\r\n\r\n", bad(version)),
            (b"GET / http/1.1\r\n\r\n", bad(version)),
            (b"GET / HTTP/1.1 \r\n\r\n", bad("invalid line ending")),
            (b"GET / HTTP/1.1\rX: 1\r\n\r\n", bad("invalid line ending")),
            (b"\r\rGET / HTTP/1.1\r\n\r\n", bad("invalid line ending")),
            (b"GET foo HTTP/1.1\r\n\r\n", bad(target)),
            (b"GET * HTTP/1.1\r\n\r\n", bad(target)),
            (b"GET http://h?q HTTP/1.1\r\n\r\n", bad(target)),
            (b"GET http:///p HTTP/1.1\r\n\r\n", bad(target)),
            (b"GET 1ttp://h/ HTTP/1.1\r\n\r\n", bad(target)),
            (b"CONNECT h/p HTTP/1.1\r\n\r\n", bad(target)),
        ];
        for (input, expected) in cases {
            check(input, &HeadLimits::CLIENT, expected.clone());
        }
    }

    #[test]
    fn malformed_header_lines_get_400() {
        let name = "invalid header name";
        let value = "invalid header value";
        let cases: &[(&[u8], Parsed)] = &[
            (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", bad(name)),
            (b"GET / HTTP/1.1\r\nX : y\r\n\r\n", bad(name)),
            (b"GET / HTTP/1.1\r\n: y\r\n\r\n", bad(name)),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", bad(name)),
            (b"GET / HTTP/1.1\r\nX: y\r\n folded\r\n\r\n", bad(name)),
            (b"GET / HTTP/1.1\r\n\xc3\xa9: y\r\n\r\n", bad(name)),
            (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", bad(value)),
            (b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", bad(value)),
            (b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", bad(value)),
            (b"GET / HTTP/1.1\r\nX: y\r\n\rZ", bad("invalid line ending")),
            (
                b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
                bad("more than one host field"),
            ),
        ];
        for (input, expected) in cases {
            check(input, &HeadLimits::CLIENT, expected.clone());
        }
    }

    #[test]
    fn normalize_for_proxy_refuses_connect_and_a_missing_host_and_takes_the_target_host() {
        // (request, Ok(Host after) or the status of the refusal)
        type Expected = Result<Option<&'static str>, u16>;
        let cases: &[(&[u8], Expected)] = &[
            (
                b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
                Ok(Some("a.example")),
            ),
            (b"GET / HTTP/1.1\r\n\r\n", Err(400)),
            (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Err(400)),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Err(400)),
            (b"GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", Err(400)),
            (b"GET / HTTP/1.0\r\n\r\n", Ok(None)),
            (b"GET / HTTP/1.0\r\nHost:\r\n\r\n", Ok(Some(""))),
            (b"GET / HTTP/1.0\r\nHost: a b\r\n\r\n", Err(400)),
            (
                b"GET http://Good.Example:81/a HTTP/1.1\r\nHost: evil\r\n\r\n",
                Ok(Some("Good.Example:81")),
            ),
            (b"GET http://u:p@good/a HTTP/1.1\r\n\r\n", Ok(Some("good"))),
            (b"GET http://good HTTP/1.0\r\n\r\n", Ok(Some("good"))),
            (b"GET http://a b/ HTTP/1.1\r\n\r\n", Err(400)),
            (b"GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n", Err(400)),
            (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", Err(501)),
            (b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", Ok(Some("a"))),
        ];
        for &(input, expected) in cases {
            let Ok(Some((mut h, _))) = parse_request(input, &HeadLimits::CLIENT) else {
                // `http://a b/` does not even parse as a request line.
                assert_eq!(expected, Err(400), "{:?}", String::from_utf8_lossy(input));
                continue;
            };
            let got = h
                .normalize_for_proxy()
                .map(|()| h.headers.get_str("host").map(str::to_owned))
                .map_err(|e| e.status());
            let expected = expected.map(|host| host.map(str::to_owned));
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
            if got.is_ok() {
                assert!(h.headers.get_all("host").count() <= 1);
                assert_eq!(
                    h.host(),
                    h.headers.get_str("host").and_then(normalize_host),
                    "routing and forwarding see one host"
                );
            }
        }
    }

    #[test]
    fn a_partial_head_needs_more_bytes_at_every_split_point() {
        let input = b"\r\nPOST /path?q HTTP/1.1\r\nHost: example.com\nX-A: 1\r\n\r\nbody";
        let head_len = input.len() - 4;
        for at in 0..head_len {
            check(&input[..at], &HeadLimits::CLIENT, Ok(None));
        }
        for at in head_len..=input.len() {
            check(&input[..at], &HeadLimits::CLIENT, Ok(Some(head_len)));
        }
    }

    #[test]
    fn pipelined_requests_parse_one_after_another() {
        let first = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
        let second = b"POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
        let third = b"GET /c HTTP/1.0\r\n\r\n";
        let buf = [&first[..], second, third].concat();
        let mut at = 0;
        let mut targets = Vec::new();
        while at < buf.len() {
            let (head, used) = parse_request(&buf[at..], &HeadLimits::CLIENT)
                .expect("valid")
                .expect("complete");
            at += used;
            if let BodyKind::Length(n) = head.body_kind().expect("valid framing") {
                at += n as usize;
            }
            targets.push(head.target);
        }
        assert_eq!(targets, ["/a", "/b", "/c"]);
        assert_eq!(at, buf.len());
    }

    #[test]
    fn head_size_limit_is_inclusive() {
        // request(0, pad, 0) is 23 bytes plus the pad.
        let max = CLIENT_HEAD_BYTES_MAX;
        let at_limit = request(0, max - 23, 0);
        assert_eq!(at_limit.len(), max);
        check(&at_limit, &HeadLimits::CLIENT, Ok(Some(max)));
        let with_body = [&at_limit[..], b"body bytes after the head"].concat();
        check(&with_body, &HeadLimits::CLIENT, Ok(Some(max)));
        let over = request(0, max - 22, 0);
        let too_large = Err(ParseError::HeadTooLarge { bytes_max: max });
        check(&over, &HeadLimits::CLIENT, too_large.clone());
        check(&over[..max - 1], &HeadLimits::CLIENT, Ok(None));
        check(&over[..max], &HeadLimits::CLIENT, too_large.clone());
        let empty_lines = b"\r\n".repeat(max);
        check(&empty_lines[..max - 1], &HeadLimits::CLIENT, Ok(None));
        check(&empty_lines[..max], &HeadLimits::CLIENT, too_large);
        let small = request(0, 64 - 23, 0);
        check(&small, &SMALL, Ok(Some(64)));
        check(
            &request(0, 64 - 22, 0),
            &SMALL,
            Err(ParseError::HeadTooLarge { bytes_max: 64 }),
        );
    }

    #[test]
    fn target_limit_is_inclusive_and_checked_before_the_head_limit() {
        let too_long = Err(ParseError::UriTooLong { bytes_max: 16 });
        // The target is "/" plus the pad.
        check(
            &request(15, 0, 0),
            &SMALL,
            Ok(Some(request(15, 0, 0).len())),
        );
        check(&request(16, 0, 0), &SMALL, too_long.clone());
        let client_max = CLIENT_URI_BYTES_MAX;
        let client = request(client_max - 1, 0, 0);
        check(&client, &HeadLimits::CLIENT, Ok(Some(client.len())));
        let client_over = Err(ParseError::UriTooLong {
            bytes_max: client_max,
        });
        check(&request(client_max, 0, 0), &HeadLimits::CLIENT, client_over);
        // Decided once the target is complete, before the rest of the head arrives.
        check(b"GET /aaaaaaaaaaaaaaaa ", &SMALL, too_long.clone());
        check(b"GET /aaaaaaaaaaaaaaa ", &SMALL, Ok(None));
        check(
            b"GET /aaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x",
            &SMALL,
            too_long.clone(),
        );
        // Without a line end, more than uri_bytes_max + 32 buffered bytes is already too long.
        let unfinished = [&b"GET /"[..], &[b'a'; 43]].concat();
        assert_eq!(unfinished.len(), 16 + REQUEST_LINE_SLACK_BYTES);
        check(&unfinished, &SMALL, Ok(None));
        check(&[&unfinished[..], b"a"].concat(), &SMALL, too_long.clone());
        check(&[&b"\r\n\r\n"[..], &unfinished].concat(), &SMALL, Ok(None));
        // Both limits exceeded: 414 wins, complete or not.
        check(&request(60, 0, 0), &SMALL, too_long.clone());
        check(&[&b"GET /"[..], &[b'a'; 100]].concat(), &SMALL, too_long);
    }

    #[test]
    fn header_count_limit_is_inclusive() {
        let too_many = Err(ParseError::TooManyHeaders { max: 2 });
        // request(0, 0, n) carries the X field plus n more.
        check(&request(0, 0, 1), &SMALL, Ok(Some(request(0, 0, 1).len())));
        check(&request(0, 0, 2), &SMALL, too_many.clone());
        let unfinished = request(0, 0, 2);
        check(&unfinished[..unfinished.len() - 2], &SMALL, too_many);
        check(&unfinished[..unfinished.len() - 3], &SMALL, Ok(None));
        let max = CLIENT_HEADERS_MAX;
        let at_limit = request(0, 0, max - 1);
        check(&at_limit, &HeadLimits::CLIENT, Ok(Some(at_limit.len())));
        let over = Err(ParseError::TooManyHeaders { max });
        check(&request(0, 0, max), &HeadLimits::CLIENT, over);
        let wide = HeadLimits {
            headers_max: HEADER_SLOTS_STACK + 10,
            head_bytes_max: 1 << 16,
            ..HeadLimits::CLIENT
        };
        let heap_limit = request(0, 0, HEADER_SLOTS_STACK + 9);
        check(&heap_limit, &wide, Ok(Some(heap_limit.len())));
        let heap_over = Err(ParseError::TooManyHeaders {
            max: wide.headers_max,
        });
        check(&request(0, 0, HEADER_SLOTS_STACK + 10), &wide, heap_over);
    }

    #[test]
    fn body_kind_follows_rfc_9112_section_6() {
        use BodyKind::*;
        let cases: &[(&[u8], Result<BodyKind, ParseError>)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", Ok(Empty)),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n",
                Ok(Length(12)),
            ),
            (b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", Ok(Empty)),
            (
                b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
                Ok(Length(3)),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
                Ok(Length(1)),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                Ok(Chunked),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
                Ok(Chunked),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                Err(ParseError::InvalidContentLength),
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                Err(ParseError::InvalidContentLength),
            ),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
                Err(ParseError::UnsupportedTransferEncoding),
            ),
            (
                b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
                bad("transfer-encoding in an http/1.0 request").map(|_| Empty),
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(head(input).body_kind(), *expected, "{input:?}");
        }
    }

    #[test]
    fn persistence_continue_and_upgrade_flags() {
        // (request, is_keep_alive, expects_continue, is_websocket_upgrade)
        let cases: &[(&[u8], bool, bool, bool)] = &[
            (b"GET / HTTP/1.1\r\n\r\n", true, false, false),
            (b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", false, false, false),
            (b"GET / HTTP/1.0\r\n\r\n", false, false, false),
            (b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", true, false, false),
            (b"PUT / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n", true, true, false),
            (b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", false, false, false),
            (b"PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n", true, false, false),
            (
                b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
                false,
                false,
                false,
            ),
            (
                b"GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
                true,
                false,
                true,
            ),
            (
                b"GET /ws HTTP/1.1\r\nUpgrade: h2c, websocket\r\nConnection: upgrade\r\n\r\n",
                true,
                false,
                true,
            ),
            (b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n", true, false, false),
            (
                b"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
                true,
                false,
                false,
            ),
            (
                b"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
                false,
                false,
                false,
            ),
        ];
        for &(input, keep_alive, expects_continue, websocket) in cases {
            let h = head(input);
            assert_eq!(h.is_keep_alive(), keep_alive, "{input:?}");
            assert_eq!(h.expects_continue(), expects_continue, "{input:?}");
            assert_eq!(h.is_websocket_upgrade(), websocket, "{input:?}");
        }
    }

    #[test]
    fn host_and_path_come_from_the_target_or_the_host_field() {
        let cases: &[(&[u8], Option<&str>, &str)] = &[
            (
                b"GET /a?b HTTP/1.1\r\nHost: Example.COM\r\n\r\n",
                Some("example.com"),
                "/a?b",
            ),
            (
                b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
                Some("example.com"),
                "/",
            ),
            (
                b"GET / HTTP/1.1\r\nHost: [::1]:7999\r\n\r\n",
                Some("[::1]"),
                "/",
            ),
            (b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", Some("[::1]"), "/"),
            (
                b"GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
                Some("127.0.0.1"),
                "/",
            ),
            (b"GET / HTTP/1.1\r\nHost: h:\r\n\r\n", Some("h"), "/"),
            (b"GET / HTTP/1.1\r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: \r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: h:port\r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", None, "/"),
            (b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n", None, "/"),
            (
                b"GET http://User:pw@Origin.Example:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
                Some("origin.example"),
                "/p?q",
            ),
            (b"GET https://h HTTP/1.1\r\n\r\n", Some("h"), "/"),
            (b"GET http://h/ HTTP/1.1\r\n\r\n", Some("h"), "/"),
            (
                b"GET http://[::1]:80/x HTTP/1.1\r\n\r\n",
                Some("[::1]"),
                "/x",
            ),
            (b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", Some("h"), "*"),
            (
                b"CONNECT Proxy.Example:443 HTTP/1.1\r\n\r\n",
                Some("proxy.example"),
                "Proxy.Example:443",
            ),
        ];
        for &(input, host, path) in cases {
            let h = head(input);
            assert_eq!(h.host().as_deref(), host, "{input:?}");
            assert_eq!(h.path(), path, "{input:?}");
        }
    }

    #[test]
    fn encoded_heads_parse_back_to_themselves() {
        let inputs: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST /p?q=1 HTTP/1.0\r\nContent-Length: 2\r\nX-Bin: \xff\x80\r\n\r\n",
            b"OPTIONS * HTTP/1.1\r\n\r\n",
        ];
        for input in inputs {
            let mut out = Vec::new();
            encode_request_head(&head(input), &mut out);
            assert_eq!(out, *input);
        }
        let mut h = head(b"GET /x HTTP/1.1\r\n\r\n");
        h.headers.push("X-Injected", b"a\r\nEvil: 1".to_vec());
        h.headers.push("Bad Name", b"v".to_vec());
        let mut out = Vec::new();
        encode_request_head(&h, &mut out);
        assert_eq!(out, b"GET /x HTTP/1.1\r\nX-Injected: a  Evil: 1\r\n\r\n");
    }
}
