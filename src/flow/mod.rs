//! The client-facing flows: what a connection's task does with the requests it reads.
//!
//! `connection.rs` is the thin entry: it reads each request head and hands the request to
//! `http/` (proxy, relay, GRIP accept and holds, next links and recovery in `http/links/`) or
//! to `ws/` (WebSocket-over-HTTP, passthrough, GRIP sessions).
//! Flows call down into the shard core (`crate::shard`: holds, sends, responses), the origin
//! side (`crate::origin`) and the pure modules, and never into each other: the tidy test
//! `flows_do_not_import_each_other` checks it.

mod connection;
pub mod http;
pub mod ws;

pub use connection::serve;
