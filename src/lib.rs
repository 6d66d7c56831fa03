//! ringpin: a thread-per-core GRIP proxy, a faster drop-in for Pushpin.
//!
//! The map of modules and data paths is in `ARCHITECTURE.md` at the repository root.

#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

pub mod config;
pub mod control;
pub mod cross_origin;
pub mod fanout;
pub mod flow;
pub mod grip;
pub mod http;
pub mod limits;
pub mod logger;
pub mod netio;
pub mod origin;
pub mod publish;
pub mod publish_cmd;
pub mod reply;
pub mod router;
pub mod runtime;
pub mod shard;
pub mod stats;
pub mod tls;
pub mod ws;
