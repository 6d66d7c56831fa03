//! How a client connection gets an error response from ringpin itself, and how it ends after
//! one.
//!
//! Owns: `respond_error` and `respond_error_for` (counting and logging ringpin's own error answers) and
//! `linger_close`, the close that follows an error response that ends the connection.
//! Must not: choose the status or text (the flows do, from typed errors), encode bytes
//! (`reply::error_bytes` does), write anything after the response but the FIN, or keep a
//! connection longer than the linger's time and byte budget.
//! Invariants: closing a socket whose receive queue still holds unread bytes makes the kernel
//! send a reset instead of a FIN and drop what is still queued to send, so a client that is
//! still sending (a body after a `414`, the rest of a `431` head) could lose the response it
//! was sent. So the write side is shut down first (the response and the FIN are queued in
//! order), then the client's bytes are read and discarded until it closes, at most
//! `CLIENT_LINGER_BYTES_MAX` bytes or `CLIENT_LINGER_TIMEOUT`, and only then is the socket
//! closed.

use super::ShardContext;
use crate::cross_origin::finish_own;
use crate::http::{CrossOrigin, Next, RequestHead};
use crate::limits::CLIENT_LINGER_READ_BYTES;
use crate::limits::{CLIENT_LINGER_BYTES_MAX, CLIENT_LINGER_TIMEOUT};
use crate::netio::Conn;
use crate::reply::{encode_full_response, error_response};
use futures_lite::future::or;
use futures_lite::AsyncReadExt;

/// Writes a ringpin error response and logs it.
pub async fn respond_error(
    ctx: &ShardContext,
    conn: &mut Conn,
    head: &RequestHead,
    status: u16,
    text: &str,
    keep_alive: bool,
) -> Next {
    respond_error_for(ctx, conn, head, status, text, keep_alive, None).await
}

/// `respond_error` for a request with cross-origin support: the response gets its CORS
/// fields, or is wrapped in its JSONP callback, as Pushpin's proxy does with its own errors.
pub async fn respond_error_for(
    ctx: &ShardContext,
    conn: &mut Conn,
    head: &RequestHead,
    status: u16,
    text: &str,
    keep_alive: bool,
    cross: Option<&CrossOrigin>,
) -> Next {
    ctx.counters.requests_failed.add(1);
    log::info!(
        "shard={} {} {} -> error code={status} {}",
        ctx.id.0,
        head.method,
        head.target,
        text.trim_end()
    );
    let keep_alive = keep_alive && head.is_keep_alive();
    let mut response = error_response(status, text);
    if let Some(cross) = cross {
        response = finish_own(cross, response);
    }
    let bytes = encode_full_response(&response, head.version, keep_alive);
    match conn.write_all(&bytes).await {
        Ok(()) if keep_alive => Next::KeepAlive,
        Ok(()) => {
            linger_close(conn).await;
            Next::Close
        }
        Err(_) => Next::Close,
    }
}

/// Shuts down the write side and discards what the client still sends, within the budget;
/// the caller then drops (closes) the connection. The time bound is a timer raced against the
/// reads, not the socket's read timeout, so it holds whatever timeout the caller had set.
pub async fn linger_close(conn: &mut Conn) {
    let mut buf = vec![0u8; CLIENT_LINGER_READ_BYTES];
    let discard = async {
        // On TLS the shutdown sends close_notify first, which a client that does not read
        // could stall: it runs inside the same time bound.
        if conn.stream.shutdown_write().await.is_err() {
            return;
        }
        let mut discarded = 0;
        while discarded < CLIENT_LINGER_BYTES_MAX {
            match conn.stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    };
    or(discard, glommio::timer::sleep(CLIENT_LINGER_TIMEOUT)).await;
}
