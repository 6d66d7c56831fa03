//! The publish API, pure: `/publish/` bodies in, validated items and their wire bytes out.
//!
//! Owns: `PublishItem` and `parse_items` (`item`, `body`, over the borrowed tree of `json`), `PublishError` with Pushpin's exact
//! texts (`error`), the once-per-item encoding of every format (`format`), and the :5561
//! request logic without its socket (`endpoint`).
//! Must not: own sockets, tasks or the clock, sequence items, or know which connections
//! exist; it may import only `http::headers`, `limits` and tungstenite's frame codec
//! (STYLE.md §2).
//! Invariants: replies and error texts match Pushpin 1.36 byte for byte (PUSHPIN.md §3.1);
//! each format is encoded once, and every subscriber shares the same `Bytes`.

pub mod body;
pub mod command;
pub mod endpoint;
mod error;
pub mod format;
pub mod item;
pub mod json;
pub mod tnetstring;
pub mod zmq_item;

pub use body::parse_items;
pub use endpoint::{handle, EndpointAction, EndpointReply, PublishRequest, BODY_TOO_LARGE_TEXT};
pub use error::PublishError;
pub use format::{encode_item, EncodedItem, EncodedStream, EncodedWs};
pub use item::{
    HttpResponseFormat, HttpStreamFormat, PublishItem, ResponseBody, WsMessageFormat, WsMessageKind,
};
