//! ClientRequest: a client's request as the flows pass it around, and `Next`, what the
//! connection does after it.
//!
//! Owns: the request head, the body read so far and the decoder for the rest.
//! Must not: read or write sockets.

use std::net::SocketAddr;

use super::{BodyDecoder, BodyKind, RequestHead};

/// Whether the connection may carry another request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Read the next request.
    KeepAlive,
    /// Close the connection.
    Close,
}

impl ClientRequest {
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
    /// The body framing the client used.
    pub body_kind: BodyKind,
    /// The client's address.
    pub peer: SocketAddr,
    /// The client connection is TLS (`X-Forwarded-Proto: https`, `ssl=yes` routes, https
    /// links).
    pub tls: bool,
    /// Whether the client wants the connection kept open.
    pub keep_alive: bool,
}
