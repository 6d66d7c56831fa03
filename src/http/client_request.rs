//! ClientRequest: a client's request as the flows pass it around, and `Next`, what the
//! connection does after it.
//!
//! Owns: the request head, the body read so far and the decoder for the rest, and the
//! request's cross-origin state (`CrossOrigin`, data only: `cross_origin::` acts on it).
//! Must not: read or write sockets.

use std::net::SocketAddr;

use super::{BodyDecoder, BodyKind, Headers, RequestHead};

/// A request served with Pushpin's auto cross-origin support (`aco`, PUSHPIN.md §1.9): what
/// its responses are decorated from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrossOrigin {
    /// The request fields the CORS headers answer: `Origin`,
    /// `Access-Control-Request-Method` and `Access-Control-Request-Headers`.
    pub request_fields: Headers,
    /// Set when the request was a JSONP one: responses are wrapped in its callback.
    pub jsonp: Option<Jsonp>,
}

/// How a JSONP request's responses are wrapped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jsonp {
    /// The callback, percent-decoded, never empty.
    pub callback: Vec<u8>,
    /// `jsonp_mode=extended`: the callback gets code, reason, headers and body.
    pub extended: bool,
}

/// Whether the connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next request.
    KeepAlive,
    /// Close the connection.
    Close,
}

impl ClientRequest {
    /// The body framing the client used; the head was checked when the request was read, so
    /// this does not fail (recomputed rather than stored: every held connection keeps its
    /// request, and the field cost each of them 16 bytes).
    pub fn body_kind(&self) -> BodyKind {
        self.head.body_kind().unwrap_or(BodyKind::Empty)
    }

    /// The `X-Forwarded-Proto` ringpin sets for this request: `https` for a TLS client.
    pub fn forwarded_proto(&self) -> Option<&'static str> {
        self.tls.then_some("https")
    }
}

/// A client request whose head, and up to 100,000 bytes of body, have been read.
#[derive(Debug)]
pub struct ClientRequest {
    /// The request head.
    pub head: RequestHead,
    /// The `Host` without port, lower-cased (empty if absent).
    pub host: String,
    /// The body read so far.
    pub body: Vec<u8>,
    /// False when the body is larger than the buffer and the rest is still on the socket.
    pub body_complete: bool,
    /// The decoder for the rest of the body.
    pub decoder: BodyDecoder,
    /// The client's address.
    pub peer: SocketAddr,
    /// The client connection is TLS (`X-Forwarded-Proto: https`, `ssl=yes` routes, https
    /// links).
    pub tls: bool,
    /// Whether the client wants the connection kept open.
    pub keep_alive: bool,
    /// Set when CORS and JSONP apply to this request (boxed: most requests have none, and a
    /// held connection's task keeps its request).
    pub cross_origin: Option<Box<CrossOrigin>>,
}
