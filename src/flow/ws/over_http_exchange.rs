//! One WebSocket-over-HTTP request: send it on a pooled origin connection, read the answer.
//!
//! Owns: `WohRequest` (the encoded request and where it goes), `exchange`, which owns
//! everything it touches so a session loop can keep it in flight across its own awaits,
//! and `WohFail`, which says whether a failed request may be retried (PUSHPIN.md §6.3: only
//! when nothing reached the origin).
//! Must not: decide what the events mean (`ws_over_http` does) or retry by itself, except
//! once on a fresh connection when a pooled one turns out to be closed.

use crate::http::{BodyDecoder, Headers};
use crate::limits::WOH_BODY_BYTES_MAX;
use crate::netio::{Conn, HeadError};
use crate::origin::endpoint::Endpoint;
use crate::origin::failover::{with_failover, Connection, FailoverError};
use crate::origin::pool::read_final_head;
use crate::shard::ShardContext;
use bytes::Bytes;
use std::rc::Rc;
use std::time::Duration;

/// An encoded request and its target.
#[derive(Debug)]
pub struct WohRequest {
    /// The target's address, and TLS for an `ssl` target.
    pub endpoint: Endpoint,
    /// Head and body, ready to write.
    pub bytes: Vec<u8>,
}

/// The origin's answer.
#[derive(Debug)]
pub struct WohReply {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Response headers.
    pub headers: Headers,
    /// The whole body, at most `WOH_BODY_BYTES_MAX` bytes.
    pub body: Bytes,
}

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum WohFail {
    /// No connection to the origin.
    #[error("connect to {target} failed: {reason}")]
    Connect {
        /// `host:port`.
        target: String,
        /// The socket error.
        reason: String,
    },
    /// The request could not be written.
    #[error("sending to {target} failed: {reason}")]
    Send {
        /// `host:port`.
        target: String,
        /// The socket error.
        reason: String,
    },
    /// The answer could not be read, was malformed, or was too large.
    #[error("bad response from {target}: {reason}")]
    Response {
        /// `host:port`.
        target: String,
        /// What went wrong.
        reason: String,
    },
}

impl WohFail {
    /// True when the origin cannot have seen the request, so sending it again is safe.
    pub fn is_retryable(&self) -> bool {
        matches!(self, WohFail::Connect { .. } | WohFail::Send { .. })
    }
}

/// Sends `request` and reads the answer; the origin connection returns to the pool when the
/// answer allows it.
/// The connection comes through `origin::failover` (one target: the connection's), which
/// retries once on a fresh connection when a reused one turns out closed before any answer.
pub async fn exchange(ctx: Rc<ShardContext>, request: WohRequest) -> Result<WohReply, WohFail> {
    let target = request.endpoint.to_string();
    let timeout = ctx.config.origin_timeout;
    let may_retry =
        |a: &Attempt| matches!(a, Attempt::Closed | Attempt::Fail(WohFail::Send { .. }));
    let exchanged = with_failover(
        &ctx.pool,
        std::slice::from_ref(&request.endpoint),
        Connection::Pooled,
        may_retry,
        async |origin, _| send_and_read(origin, &request.bytes, &target, timeout).await,
    )
    .await;
    let ((reply, keep_alive), origin, _) = exchanged.map_err(|err| match err {
        FailoverError::Exhausted { open_max } => WohFail::Connect {
            target: target.clone(),
            reason: format!("origin connection limit of {open_max} reached on this shard"),
        },
        FailoverError::ConnectFailed { tried } => WohFail::Connect {
            target: target.clone(),
            reason: format!("unable to connect; tried: {tried}"),
        },
        FailoverError::Exchange {
            error: Attempt::Closed,
            ..
        } => WohFail::Response {
            target: target.clone(),
            reason: "origin closed the connection".to_owned(),
        },
        FailoverError::Exchange {
            error: Attempt::Fail(fail),
            ..
        } => fail,
    })?;
    if keep_alive {
        ctx.pool.put(&request.endpoint, origin);
    }
    Ok(reply)
}

enum Attempt {
    /// Closed before any response byte.
    Closed,
    Fail(WohFail),
}

/// Sends `bytes` and reads the answer; each read may wait `timeout` (`--origin-timeout`).
async fn send_and_read(
    conn: &mut Conn,
    bytes: &[u8],
    target: &str,
    timeout: Duration,
) -> Result<(WohReply, bool), Attempt> {
    let fail = |make: fn(String, String) -> WohFail, reason: String| {
        Attempt::Fail(make(target.to_owned(), reason))
    };
    let send = |target, reason| WohFail::Send { target, reason };
    let response = |target, reason| WohFail::Response { target, reason };
    conn.write_all(bytes)
        .await
        .map_err(|e| fail(send, e.to_string()))?;
    let _ = conn.set_read_timeout(Some(timeout));
    let head = match read_final_head(conn, false).await {
        Ok(head) => head,
        Err(HeadError::Closed) => return Err(Attempt::Closed),
        Err(err) => return Err(fail(response, err.to_string())),
    };
    let kind = head
        .body_kind("POST")
        .map_err(|e| fail(response, e.to_string()))?;
    let mut decoder = BodyDecoder::new(kind);
    let mut body = Vec::new();
    match conn
        .read_body(&mut decoder, &mut body, WOH_BODY_BYTES_MAX + 1)
        .await
    {
        Ok(true) if body.len() <= WOH_BODY_BYTES_MAX => {}
        Ok(_) => {
            let reason = format!("event body over {WOH_BODY_BYTES_MAX} bytes");
            return Err(fail(response, reason));
        }
        Err(err) => return Err(fail(response, err.to_string())),
    }
    let keep_alive = head.is_keep_alive() && kind != crate::http::BodyKind::CloseDelimited;
    let reply = WohReply {
        status: head.status,
        reason: head.reason,
        headers: head.headers,
        body: Bytes::from(body),
    };
    Ok((reply, keep_alive))
}
