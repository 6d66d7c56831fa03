//! WebSocket codecs, pure: no sockets, no executor, no clock.
//!
//! Owns: the opening handshake (`handshake`), client-frame decoding and server-frame encoding
//! (`frame`), permessage-deflate (`deflate`), the WebSocket-over-HTTP event codec (`over_http`), and the GRIP control
//! messages and message prefix of a GRIP-mode origin (`control`), and the GRIP-mode state of
//! one connection with its timed sends (`session`).
//! Must not: import glommio, `std::net` or anything from the crate but `limits` and `http`;
//! read the clock; log. `shard/client_ws.rs` and its siblings drive these codecs.
//! Invariants: every parser takes bytes and returns a value or an error that carries its edge
//! decision (`HandshakeError::status`, `FrameError::close_code`); the caller decides what to
//! log. Each file has its own error enum.

pub mod control;
pub mod deflate;
pub mod frame;
pub mod handshake;
pub mod over_http;
pub mod session;

pub use control::{
    classify_backend_message, parse_control, parse_grip_extension, BackendMessage, ContentKind,
    ControlError, ControlMessage, DelayedContent, GripExtension, KeepAliveMode,
};
pub use frame::{
    encode_close, encode_frame, encode_masked_frame, split_message, Frame, FrameDecoder,
    FrameError, FrameLimits, MessageKind, WsEvent,
};
pub use handshake::{
    accept_key, encode_switching_response, parse_client_handshake, ClientHandshake, HandshakeError,
};
pub use over_http::{encode_events, parse_events, parse_events_bytes, WohError, WohEvent};
pub use session::{GripAction, GripSession};

#[cfg(test)]
mod tests;
