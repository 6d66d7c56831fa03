//! Transport: how a subscriber's connection carries published items.
//!
//! Owns: the one enum that the chunk writer, recovery and the holds agree on.
//! Must not: hold any state.

/// How a subscriber's connection carries published items.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// HTTP/1.1 stream hold: each item is one chunk.
    HttpStreamChunked,
    /// HTTP/1.0 stream hold: raw bytes, body ends when the connection closes.
    HttpStreamRaw,
    /// Response hold (long-poll): the first `http-response` item completes it.
    HttpResponse,
    /// WebSocket: each item is one server frame.
    WebSocket,
}
