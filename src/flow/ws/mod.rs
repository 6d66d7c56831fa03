//! The WebSocket flow: a client upgrade carried to a WebSocket-over-HTTP origin or relayed to
//! a WebSocket origin, with GRIP control messages either way.
//!
//! `client.rs` answers the upgrade and owns `WsClient`; `over_http*.rs` are the
//! WebSocket-over-HTTP session, its loop and its exchanges; `passthrough.rs` the relay;
//! `grip.rs` and `filters.rs` the origin's control messages.

pub mod client;
pub mod filters;
pub mod grip;
pub mod over_http;
pub mod over_http_exchange;
pub mod over_http_flow;
pub mod passthrough;

pub use client::{is_upgrade, serve};
