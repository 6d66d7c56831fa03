//! The backend side: turning client requests into origin requests, origin responses into
//! decisions, and a per-shard pool of keep-alive origin connections.
//!
//! `request.rs`, `response.rs`, `ws_request.rs` and `endpoint.rs` are pure; `pool.rs` owns origin
//! sockets (plain or TLS, `endpoint::Endpoint`), and `failover.rs` is the one path through a
//! route's targets.

pub mod endpoint;
pub mod failover;
pub mod link;
pub mod pool;
pub mod request;
pub mod response;
mod sys;
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
    /// The origin did not answer within `--origin-timeout`.
    #[error("no response from {target} within {after:?}")]
    Timeout {
        /// The target.
        target: String,
        /// The timeout that expired.
        after: std::time::Duration,
    },
    /// This shard already has as many origin sockets open as its share of descriptors allows
    /// (`pool::ConnectError::Exhausted`); no target was tried.
    #[error("origin connection limit of {open_max} reached on this shard")]
    Exhausted {
        /// The shard's bound on open origin sockets.
        open_max: usize,
    },
}

impl OriginError {
    /// The status the client gets: `504` for a timeout, `503` when the shard has no origin
    /// socket to spare, `502` for everything else (PUSHPIN.md §1.5).
    pub fn status(&self) -> u16 {
        match self {
            OriginError::Timeout { .. } => 504,
            OriginError::Exhausted { .. } => 503,
            OriginError::ConnectFailed { .. }
            | OriginError::BadResponse { .. }
            | OriginError::Send { .. } => 502,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::OriginError;
    use std::time::Duration;

    #[test]
    fn a_timeout_is_504_a_full_shard_503_and_any_other_failure_502() {
        let timeout = OriginError::Timeout {
            target: "a:1".into(),
            after: Duration::from_secs(60),
        };
        let exhausted = OriginError::Exhausted { open_max: 10 };
        let connect = OriginError::ConnectFailed {
            tried: "a:1".into(),
        };
        let bad = OriginError::BadResponse {
            target: "a:1".into(),
            reason: "closed".into(),
        };
        assert_eq!(
            [&timeout, &exhausted, &connect, &bad].map(OriginError::status),
            [504, 503, 502, 502]
        );
    }
}
