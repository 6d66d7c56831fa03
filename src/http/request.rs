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
mod tests;
