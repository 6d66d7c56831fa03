//! HTTP/1.1 wire format, pure: no sockets, no executor, no clock.
//!
//! Owns: parsing request and response heads within `HeadLimits`, body framing
//! (`BodyDecoder`), chunk encoding for streams, head encoding, and `ParseError` with the status
//! each failure earns.
//! Must not: import glommio, `std::net` or anything else from the crate but `limits`; read the
//! clock; log. Callers in `shard/` and `origin/` own the bytes, the sockets and the decisions.
//! Invariants: every parser takes `&[u8]` and returns `Ok(None)` (or consumes less) when it
//! needs more bytes, never reading past the message it parses, so pipelined data stays with
//! the caller; every limit is a `ParseError` carrying the bound it hit.

pub mod body;
pub mod chunk;
pub mod client_request;
pub mod error;
pub mod head;
pub mod headers;
pub mod request;
pub mod response;

pub use body::{BodyDecoder, BodyKind, DecodeProgress};
pub use chunk::{encode_chunk, encode_chunk_into, LAST_CHUNK};
pub use client_request::{ClientRequest, CrossOrigin, Jsonp, Next};
pub use error::ParseError;
pub use head::Version;
pub use headers::{HeaderField, Headers};
pub use request::{encode_request_head, parse_request, HeadLimits, RequestHead};
pub use response::{encode_response_head, parse_response, reason_phrase, ResponseHead};
