//! respond_error: how a client gets an error response from ringpin itself, and how the
//! connection ends after it.
//!
//! Owns: counting and logging ringpin's own error answers, and the lingering close that
//! follows one that closes the connection.
//! Must not: choose the status or text (the flows do, from typed errors) or encode bytes
//! (`reply::error_bytes` does).

use super::ShardContext;
use crate::http::{Next, RequestHead};
use crate::netio::Conn;
use crate::reply::error_bytes;

/// Writes a ringpin error response and logs it.
pub async fn respond_error(
    ctx: &ShardContext,
    conn: &mut Conn,
    head: &RequestHead,
    status: u16,
    text: &str,
    keep_alive: bool,
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
    match conn
        .write_all(&error_bytes(status, text, head.version, keep_alive))
        .await
    {
        Ok(()) if keep_alive => Next::KeepAlive,
        Ok(()) => {
            super::linger::linger_close(conn).await;
            Next::Close
        }
        Err(_) => Next::Close,
    }
}
