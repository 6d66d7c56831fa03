//! The one way ringpin reaches an origin through a route's targets: failover on connect,
//! and one retry of a dead pooled connection (PUSHPIN.md §1.3).
//!
//! Owns: `with_failover`, which tries the targets in order, moving to the next only when
//! connecting fails, and runs the caller's exchange on the first connection made; when that
//! exchange fails on a *reused* keep-alive connection in a way the caller says nothing was
//! received, it runs once more on a fresh connection to the same target.
//! Must not: build requests or read responses (the caller's exchange does), or try another
//! target after an exchange started: the origin may have acted on the request.
//! Used by proxying, next-link fetches, the WebSocket passthrough handshake and every
//! WebSocket-over-HTTP request; each passes its own exchange.

use super::endpoint::Endpoint;
use super::pool::{ConnectError, OriginConn, OriginPool};

/// How a connection is taken for the first attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// An idle pooled keep-alive connection when there is one, else a new one.
    Pooled,
    /// Always a new one (a WebSocket handshake keeps its connection for good).
    Fresh,
}

/// Why no exchange completed.
#[derive(Debug)]
pub enum FailoverError<E> {
    /// The shard has no origin socket to spare (`ConnectError::Exhausted`).
    Exhausted {
        /// The shard's bound on open origin sockets.
        open_max: usize,
    },
    /// No target accepted a connection; `tried` lists them as `host:port, host:port`.
    ConnectFailed {
        /// The targets tried.
        tried: String,
    },
    /// The exchange with `target` failed.
    Exchange {
        /// `host:port`.
        target: String,
        /// The exchange's own error.
        error: E,
    },
}

/// Tries `targets` (in route order) until one connects, then runs
/// `exchange(connection, index)` on it, with `index` the target's position. A failure for
/// which `may_retry` holds, on a connection that came from the pool, is retried once on a
/// fresh connection to the same target. Returns the exchange's result, the connection (for
/// the pool, if the caller finds it reusable) and the target's index.
pub async fn with_failover<T, E>(
    pool: &OriginPool,
    targets: &[Endpoint],
    connection: Connection,
    may_retry: impl Fn(&E) -> bool,
    mut exchange: impl AsyncFnMut(&mut OriginConn, usize) -> Result<T, E>,
) -> Result<(T, OriginConn, usize), FailoverError<E>> {
    let mut tried = Vec::new();
    for (index, endpoint) in targets.iter().enumerate() {
        let name = endpoint.to_string();
        let connected = match connection {
            Connection::Pooled => pool.get(endpoint).await,
            Connection::Fresh => pool.connect_fresh(endpoint).await,
        };
        let mut origin = match connected {
            Ok(origin) => origin,
            Err(ConnectError::Exhausted { open_max }) => {
                return Err(FailoverError::Exhausted { open_max })
            }
            Err(ConnectError::Io(err)) => {
                log::debug!("connect to {name} failed: {err}");
                tried.push(name);
                continue;
            }
        };
        let mut result = exchange(&mut origin, index).await;
        if let Err(err) = &result {
            if origin.reused && may_retry(err) {
                // The origin had closed an idle pooled connection and nothing was received,
                // so a fresh connection may carry the same request. The dead one goes first,
                // so it does not hold a slot the new one needs.
                drop(origin);
                origin = match pool.connect_fresh(endpoint).await {
                    Ok(origin) => origin,
                    Err(ConnectError::Exhausted { open_max }) => {
                        return Err(FailoverError::Exhausted { open_max })
                    }
                    Err(ConnectError::Io(_)) => {
                        tried.push(name);
                        continue;
                    }
                };
                result = exchange(&mut origin, index).await;
            }
        }
        return match result {
            Ok(value) => Ok((value, origin, index)),
            Err(error) => Err(FailoverError::Exchange {
                target: name,
                error,
            }),
        };
    }
    Err(FailoverError::ConnectFailed {
        tried: tried.join(", "),
    })
}

#[cfg(test)]
mod tests;
