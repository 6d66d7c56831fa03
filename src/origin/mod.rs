//! The backend side: turning client requests into origin requests, origin responses into
//! decisions, and a per-shard pool of keep-alive origin connections.
//!
//! `request.rs`, `response.rs` and `ws_request.rs` are pure; `pool.rs` owns origin sockets.

pub mod pool;
pub mod request;
pub mod response;
pub mod ws_request;

/// Why talking to an origin failed.
#[derive(Debug, thiserror::Error)]
pub enum OriginError {
    /// No target accepted a connection.
    #[error("unable to connect to any targets; tried: {tried}")]
    ConnectFailed {
        /// The targets tried, as `host:port, host:port`.
        tried: String,
    },
    /// The origin's response could not be read or parsed.
    #[error("bad response from {target}: {reason}")]
    BadResponse {
        /// The target.
        target: String,
        /// What went wrong.
        reason: String,
    },
    /// Writing the request failed.
    #[error("error sending request to {target}: {source}")]
    Send {
        /// The target.
        target: String,
        /// The socket error.
        source: std::io::Error,
    },
}
