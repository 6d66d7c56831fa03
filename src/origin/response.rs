//! What ringpin does with an origin's response head.
//!
//! Owns: the GRIP-or-relay decision and the header clean-up for relayed responses
//! (PUSHPIN.md §1.6, §2.1).
//! Must not: do I/O.

use crate::config::Route;
use crate::http::headers::remove_hop_by_hop;
use bytes::Bytes;

use crate::http::{BodyKind, Headers, ResponseHead, Version};

/// What to do with an origin response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginReply {
    /// An ordinary response: relay it.
    Relay,
    /// It carries GRIP instructions: act on them.
    Grip,
}

/// Decides between relaying and GRIP processing.
pub fn classify(head: &ResponseHead, route: &Route) -> OriginReply {
    if !route.no_grip && crate::grip::is_grip_response(&head.headers) {
        OriginReply::Grip
    } else {
        OriginReply::Relay
    }
}

/// The headers a relayed response keeps: not `Connection` or what it names, no other
/// hop-by-hop or `Proxy-*` field, and no framing, which ringpin re-does for the client.
pub fn relay_headers(headers: &Headers) -> Headers {
    let mut out = headers.clone();
    remove_hop_by_hop(&mut out);
    out
}
/// A GRIP response from an origin (or the built-in test target), body read.
#[derive(Debug)]
pub struct GripAnswer {
    /// Who answered, for logs (`host:port` or `test`).
    pub target: String,
    /// The status code.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The response headers.
    pub headers: Headers,
    /// The whole body.
    pub body: Bytes,
}

/// How a relayed body reaches the client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RelayFraming {
    /// As it is: the head says its length (or there is no body).
    Raw,
    /// Re-chunked, for an HTTP/1.1 client, as the origin's bytes arrive.
    Chunked,
    /// Until the connection closes, for an HTTP/1.0 client.
    CloseDelimited,
}

/// The headers and framing of a relayed response. `kind` is the origin body's framing;
/// `buffered` is, for a chunked or close-delimited origin body, whether the first read held
/// all of it and how long it was (then it goes out with a `Content-Length`).
pub fn relay_framing(
    response: &ResponseHead,
    kind: BodyKind,
    is_head: bool,
    version: Version,
    buffered: Option<(bool, usize)>,
) -> (Headers, RelayFraming) {
    let mut headers = relay_headers(&response.headers);
    let framing = match (kind, buffered) {
        (BodyKind::Length(n), _) => {
            headers.push("Content-Length", n.to_string());
            RelayFraming::Raw
        }
        (BodyKind::Empty, _) => {
            let bodiless =
                response.status < 200 || response.status == 204 || response.status == 304;
            if is_head {
                if let Some(length) = response.headers.get("content-length") {
                    headers.push("Content-Length", length.to_vec());
                }
            } else if !bodiless {
                headers.push("Content-Length", &b"0"[..]);
            }
            RelayFraming::Raw
        }
        (_, Some((true, length))) => {
            headers.push("Content-Length", length.to_string());
            RelayFraming::Raw
        }
        _ if version == Version::Http11 => {
            headers.push("Transfer-Encoding", &b"chunked"[..]);
            headers.push("Connection", &b"Transfer-Encoding"[..]);
            RelayFraming::Chunked
        }
        _ => RelayFraming::CloseDelimited,
    };
    (headers, framing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, fields: &[(&str, &str)]) -> ResponseHead {
        let mut headers = Headers::new();
        for (name, value) in fields {
            headers.push(*name, value.as_bytes());
        }
        ResponseHead {
            version: Version::Http11,
            status,
            reason: String::new(),
            headers,
        }
    }

    /// Relays `head` (body `kind`, first read `buffered`) to an HTTP/1.1 GET (or HEAD) and
    /// checks the framing and the header fields that result.
    fn check(
        head: ResponseHead,
        kind: BodyKind,
        is_head: bool,
        buffered: Option<(bool, usize)>,
        want: (RelayFraming, &[&str]),
    ) {
        let (headers, framing) = relay_framing(&head, kind, is_head, Version::Http11, buffered);
        let fields: Vec<String> = headers
            .iter()
            .map(|f| format!("{}: {}", f.name, String::from_utf8_lossy(&f.value)))
            .collect();
        assert_eq!(
            (framing, fields.as_slice()),
            (
                want.0,
                want.1
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .as_slice()
            ),
            "{kind:?} {buffered:?}"
        );
    }

    #[test]
    fn relayed_bodies_get_one_framing_chosen_by_ringpin() {
        let raw = RelayFraming::Raw;
        let chunked = response(200, &[("Transfer-Encoding", "chunked")]);
        let length5 = response(200, &[("Content-Length", "5")]);
        check(
            length5,
            BodyKind::Length(5),
            false,
            None,
            (raw, &["Content-Length: 5"]),
        );
        check(response(204, &[]), BodyKind::Empty, false, None, (raw, &[]));
        check(
            response(200, &[]),
            BodyKind::Empty,
            false,
            None,
            (raw, &["Content-Length: 0"]),
        );
        let head9 = response(200, &[("Content-Length", "9")]);
        check(
            head9,
            BodyKind::Empty,
            true,
            None,
            (raw, &["Content-Length: 9"]),
        );
        let whole = Some((true, 12));
        check(
            chunked.clone(),
            BodyKind::Chunked,
            false,
            whole,
            (raw, &["Content-Length: 12"]),
        );
        let partial = Some((false, 100_000));
        let rechunked = [
            "Transfer-Encoding: chunked",
            "Connection: Transfer-Encoding",
        ];
        check(
            chunked,
            BodyKind::Chunked,
            false,
            partial,
            (RelayFraming::Chunked, &rechunked),
        );
        let smuggling = response(
            200,
            &[
                ("Connection", "X-A"),
                ("X-A", "1"),
                ("Content-Length", "3"),
                ("Transfer-Encoding", "chunked"),
            ],
        );
        check(
            smuggling,
            BodyKind::Chunked,
            false,
            Some((true, 3)),
            (raw, &["Content-Length: 3"]),
        );
    }

    #[test]
    fn an_http_1_0_client_gets_an_unfinished_body_close_delimited() {
        let (headers, framing) = relay_framing(
            &response(200, &[]),
            BodyKind::CloseDelimited,
            false,
            Version::Http10,
            Some((false, 100_000)),
        );
        assert_eq!(framing, RelayFraming::CloseDelimited);
        assert!(headers.is_empty());
    }
}
