//! HTTP/1.1 wire format, pure: no sockets, no executor, no clock.

pub mod headers;

pub use headers::{HeaderField, Headers};
