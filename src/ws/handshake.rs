//! The server side of the WebSocket opening handshake (RFC 6455 §4.2).
//!
//! Owns: validating a client's upgrade request (`parse_client_handshake`), the
//! `Sec-WebSocket-Accept` value (`accept_key`), the `101 Switching Protocols` head
//! (`encode_switching_response`), and `HandshakeError` with the status each failure earns.
//! Must not: forward anything to an origin, or touch sockets; `shard/client_ws.rs` does.
//! Invariants: a `ClientHandshake` always holds a key that decodes to exactly 16 bytes; the
//! 101 head never carries a second `Upgrade`, `Connection`, `Sec-WebSocket-Accept` or any
//! `Sec-WebSocket-Extensions` (Pushpin 1.36 negotiates no extension with clients).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::http::{encode_response_head, BodyKind, Headers, RequestHead, ResponseHead, Version};

/// The only protocol version ringpin speaks (RFC 6455 §4.1), sent back with a 426.
pub const WEBSOCKET_VERSION: &str = "13";

/// Bytes a `Sec-WebSocket-Key` must decode to (RFC 6455 §4.1, item 7).
const KEY_BYTES: usize = 16;

/// A validated client upgrade request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    /// `Sec-WebSocket-Key` as sent, surrounding whitespace removed.
    pub key: String,
}

impl ClientHandshake {
    /// The `Sec-WebSocket-Accept` value answering this handshake.
    pub fn accept_key(&self) -> String {
        accept_key(&self.key)
    }
}

/// Why an upgrade request was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    /// The method is not `GET` (RFC 6455 §4.1, item 2).
    #[error("websocket upgrade with method {method}, only get is allowed")]
    MethodNotGet {
        /// The method sent.
        method: String,
    },
    /// The request is HTTP/1.0.
    #[error("websocket upgrade needs http/1.1")]
    NotHttp11,
    /// No `websocket` token in `Upgrade`.
    #[error("missing upgrade: websocket")]
    MissingUpgrade,
    /// No `upgrade` token in `Connection`.
    #[error("missing connection: upgrade")]
    MissingConnectionUpgrade,
    /// The request declares a body (Pushpin 1.36 drops such upgrades).
    #[error("websocket upgrade with a body")]
    BodyNotAllowed,
    /// No `Sec-WebSocket-Key`.
    #[error("missing sec-websocket-key")]
    MissingKey,
    /// `Sec-WebSocket-Key` is not base64 of exactly 16 bytes.
    #[error("sec-websocket-key is not base64 of 16 bytes")]
    InvalidKey,
    /// No `Sec-WebSocket-Version`.
    #[error("missing sec-websocket-version")]
    MissingVersion,
    /// `Sec-WebSocket-Version` is not 13.
    #[error("unsupported sec-websocket-version {version}, only 13 is supported")]
    UnsupportedVersion {
        /// The version sent, lossily decoded.
        version: String,
    },
}

impl HandshakeError {
    /// The status to answer with: 426 for a version ringpin does not speak (RFC 6455 §4.4),
    /// 400 for everything else.
    pub fn status(&self) -> u16 {
        match self {
            HandshakeError::UnsupportedVersion { .. } => 426,
            _ => 400,
        }
    }

    /// Header fields the error response must carry: `Sec-WebSocket-Version: 13` with a 426.
    pub fn response_headers(&self) -> Headers {
        let mut headers = Headers::new();
        if self.status() == 426 {
            headers.push("Sec-WebSocket-Version", WEBSOCKET_VERSION);
        }
        headers
    }
}

/// Checks that `head` is a WebSocket opening handshake ringpin accepts (RFC 6455 §4.2.1).
///
/// The checks run in the RFC's order, so the first problem found is the one reported.
pub fn parse_client_handshake(head: &RequestHead) -> Result<ClientHandshake, HandshakeError> {
    if head.method != "GET" {
        return Err(HandshakeError::MethodNotGet {
            method: head.method.clone(),
        });
    }
    if head.version != Version::Http11 {
        return Err(HandshakeError::NotHttp11);
    }
    if !head.headers.has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !head.headers.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    if !matches!(head.body_kind(), Ok(BodyKind::Empty)) {
        return Err(HandshakeError::BodyNotAllowed);
    }
    let key = head
        .headers
        .get_str("sec-websocket-key")
        .ok_or(HandshakeError::MissingKey)?
        .trim();
    match STANDARD.decode(key) {
        Ok(raw) if raw.len() == KEY_BYTES => {}
        _ => return Err(HandshakeError::InvalidKey),
    }
    let version = head
        .headers
        .get("sec-websocket-version")
        .ok_or(HandshakeError::MissingVersion)?;
    if version.trim_ascii() != WEBSOCKET_VERSION.as_bytes() {
        return Err(HandshakeError::UnsupportedVersion {
            version: String::from_utf8_lossy(version).into_owned(),
        });
    }
    Ok(ClientHandshake {
        key: key.to_string(),
    })
}

/// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key + the RFC 6455 GUID)) (§4.2.2, item 5.4).
pub fn accept_key(key: &str) -> String {
    tungstenite::handshake::derive_accept_key(key.as_bytes())
}

/// Fields of an origin's 101 that ringpin does not relay: the ones it writes itself, the
/// hop-by-hop framing, and extensions, which are never negotiated with clients (Pushpin 1.36).
const NOT_RELAYED: &[&str] = &[
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

/// The `HTTP/1.1 101 Switching Protocols` head for a client, with `Upgrade`, `Connection`
/// and `Sec-WebSocket-Accept: accept` first, then `extra_headers` (an origin's 101 or OPEN
/// response headers) minus the fields in `NOT_RELAYED`, and `Sec-WebSocket-Extensions:
/// extensions` when ringpin accepted one with the client (`ws::deflate::DEFLATE_RESPONSE`).
pub fn encode_switching_response(
    accept: &str,
    extra_headers: &Headers,
    extensions: Option<&str>,
) -> Vec<u8> {
    let mut headers = Headers::new();
    headers.push("Upgrade", "websocket");
    headers.push("Connection", "Upgrade");
    headers.push("Sec-WebSocket-Accept", accept);
    if let Some(extensions) = extensions {
        headers.push("Sec-WebSocket-Extensions", extensions);
    }
    for field in extra_headers.iter() {
        if !NOT_RELAYED
            .iter()
            .any(|n| n.eq_ignore_ascii_case(&field.name))
        {
            headers.push(field.name.clone(), field.value.clone());
        }
    }
    let head = ResponseHead {
        version: Version::Http11,
        status: 101,
        reason: String::new(),
        headers,
    };
    let mut out = Vec::with_capacity(256);
    encode_response_head(&head, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{parse_request, HeadLimits};

    const GOOD: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\r\n";

    fn check(raw: &[u8], expected: Result<&str, HandshakeError>) {
        let (head, _) = parse_request(raw, &HeadLimits::CLIENT)
            .expect("parses")
            .expect("complete");
        let got = parse_client_handshake(&head);
        match expected {
            Ok(key) => assert_eq!(got.expect("accepted").key, key),
            Err(err) => assert_eq!(got, Err(err), "{}", String::from_utf8_lossy(raw)),
        }
    }

    fn replace(from: &str, to: &str) -> Vec<u8> {
        String::from_utf8_lossy(GOOD).replace(from, to).into_bytes()
    }

    #[test]
    fn rfc_6455_example_key_gets_its_accept_value() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn upgrade_requests_are_validated_in_rfc_order() {
        use HandshakeError as E;
        check(GOOD, Ok("dGhlIHNhbXBsZSBub25jZQ=="));
        check(
            &replace("websocket", "WebSocket"),
            Ok("dGhlIHNhbXBsZSBub25jZQ=="),
        );
        let post = E::MethodNotGet {
            method: "POST".into(),
        };
        let cases: Vec<(Vec<u8>, HandshakeError)> = vec![
            (replace("GET", "POST"), post),
            (replace("HTTP/1.1", "HTTP/1.0"), E::NotHttp11),
            (
                replace("Upgrade: websocket", "Upgrade: h2c"),
                E::MissingUpgrade,
            ),
            (
                replace("keep-alive, Upgrade", "keep-alive"),
                E::MissingConnectionUpgrade,
            ),
            (
                replace("Host:", "Content-Length: 3\r\nHost:"),
                E::BodyNotAllowed,
            ),
            (replace("Sec-WebSocket-Key", "X-Key"), E::MissingKey),
            (
                replace("dGhlIHNhbXBsZSBub25jZQ==", "dGhlIHNhbXBsZQ=="),
                E::InvalidKey,
            ),
            (
                replace("dGhlIHNhbXBsZSBub25jZQ==", "!!!notbase64!!!!!!!!!!!"),
                E::InvalidKey,
            ),
            (
                replace("Sec-WebSocket-Version", "X-Version"),
                E::MissingVersion,
            ),
            (
                replace("Version: 13", "Version: 8"),
                E::UnsupportedVersion {
                    version: "8".into(),
                },
            ),
        ];
        for (raw, err) in cases {
            check(&raw, Err(err));
        }
    }

    #[test]
    fn only_a_wrong_version_gets_426_with_the_supported_version() {
        let wrong = HandshakeError::UnsupportedVersion {
            version: "8".into(),
        };
        assert_eq!(wrong.status(), 426);
        assert_eq!(
            wrong.response_headers().get_str("sec-websocket-version"),
            Some("13")
        );
        assert_eq!(HandshakeError::MissingKey.status(), 400);
        assert!(HandshakeError::MissingKey.response_headers().is_empty());
        assert_eq!(
            wrong.to_string(),
            "unsupported sec-websocket-version 8, only 13 is supported"
        );
    }

    #[test]
    fn switching_response_writes_accept_and_drops_fields_ringpin_owns() {
        let mut extra = Headers::new();
        extra.push("Sec-WebSocket-Protocol", "chat");
        extra.push("Sec-WebSocket-Extensions", "grip");
        extra.push("Content-Length", "0");
        extra.push("Upgrade", "websocket");
        let out = encode_switching_response("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", &extra, None);
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
              Sec-WebSocket-Protocol: chat\r\n\r\n"
        );
        let out = encode_switching_response("a=", &extra, Some("permessage-deflate"));
        let text = String::from_utf8(out).expect("ascii");
        assert!(text.contains(
            "Sec-WebSocket-Accept: a=\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
        ));
        assert_eq!(text.matches("Sec-WebSocket-Extensions").count(), 1);
    }
}
