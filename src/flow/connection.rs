//! One client connection: the keep-alive loop that waits for each request, reads its head
//! within its deadline and hands the request to the HTTP or the WebSocket flow.
//!
//! Owns: the head deadline (`--client-head-timeout`, 408), the wait for a keep-alive
//! connection's next request, the dispatch by `Upgrade`, and the phases that keep an idle or
//! held connection small: the wait for a request holds no buffer (`Conn::wait_for_bytes`),
//! each request is served in a boxed future freed when it ends, and a stream hold it hands
//! back (`http::HeldStream`) runs after that, holding little more than its socket.
//! Must not: know what either flow does with a request. This is the thin entry above both
//! flows, so neither imports the other.

use super::http::Handled;
use super::{http, ws};
use crate::http::{parse_request, HeadLimits, Next, Version};
use crate::netio::{Conn, HeadError};
use crate::reply::{capitalized, error_bytes};
use crate::shard::listener::ConnectionGuard;
use crate::shard::respond::respond_error;
use crate::shard::ShardContext;
use std::io;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Serves one client connection until it closes (a TLS one has finished its handshake),
/// holding `guard` to the end. This future is every plain connection's whole task, idle and
/// held ones included, so anything large or rare runs in a boxed future (`Box::pin`) that
/// is freed when it ends; and it is not an `async fn`, which would keep its arguments twice
/// (as captured values and as locals).
#[allow(clippy::manual_async_fn)]
pub fn serve(
    ctx: Rc<ShardContext>,
    mut conn: Conn,
    guard: ConnectionGuard,
) -> impl std::future::Future<Output = ()> {
    async move {
        let _guard = &guard;
        let _ = conn.stream.set_nodelay(true);
        let mut first = true;
        loop {
            let mut handled = {
                let first = std::mem::take(&mut first);
                let Some(deadline) = next_head_deadline(&ctx, &mut conn, first).await else {
                    break;
                };
                match Box::pin(serve_request(&ctx, &mut conn, deadline)).await {
                    Some(handled) => handled,
                    None => break,
                }
            };
            // The request's boxed future is freed by now: a held stream keeps only `handled`
            // and the borrowing future that runs it.
            let next = match &mut handled {
                Handled::Done(next) => *next,
                Handled::Stream(held) => held.run(&ctx, &mut conn).await,
            };
            ctx.busy.set(ctx.busy.get() - 1);
            if next == Next::Close || ctx.control.is_shutting_down() {
                break;
            }
            conn.shrink();
        }
        // A TLS connection sends what is still queued and its close_notify; plain TCP
        // needs nothing.
        if conn.stream.is_tls() {
            Box::pin(conn.close(crate::limits::TLS_CLOSE_TIMEOUT)).await;
        }
    }
}

/// Waits for a request's first byte and returns the deadline of its head: the first
/// request's head must be whole within the head timeout of the connection's start (after a
/// TLS handshake), else it gets 408; a keep-alive connection waits up to the idle timeout,
/// then its head must be whole within the head timeout of its first byte. `None` when the
/// connection must close: the client closed or stayed idle (closed without a response,
/// since the client may be sending a request at that very moment), or got its 408.
async fn next_head_deadline(ctx: &ShardContext, conn: &mut Conn, first: bool) -> Option<Instant> {
    let head_timeout = ctx.config.client_head_timeout;
    let started = Instant::now();
    let wait = match first {
        true => head_timeout,
        false => ctx.config.client_idle_timeout,
    };
    let arrival = wait_for_request(conn, wait).await;
    let _ = conn.set_read_timeout(Some(ctx.config.client_idle_timeout));
    match arrival {
        Arrival::Bytes if first => Some(started + head_timeout),
        Arrival::Bytes => Some(Instant::now() + head_timeout),
        Arrival::TimedOut if first => {
            Box::pin(time_out_head(ctx, conn)).await;
            None
        }
        Arrival::TimedOut | Arrival::Closed => None,
    }
}

/// How the wait for a request's first byte ended.
enum Arrival {
    /// Bytes are buffered.
    Bytes,
    /// The client closed, or its socket failed.
    Closed,
    /// Nothing came within the wait.
    TimedOut,
}

/// Waits up to `wait` for the first byte of a request, holding no read buffer; the read
/// timeout is the only timer (a separate sleep would be one more allocation per connection).
async fn wait_for_request(conn: &mut Conn, wait: Duration) -> Arrival {
    if wait.is_zero() {
        return match conn.buffered().is_empty() {
            true => Arrival::TimedOut,
            false => Arrival::Bytes,
        };
    }
    let _ = conn.set_read_timeout(Some(wait));
    match conn.wait_for_bytes().await {
        Ok(true) => Arrival::Bytes,
        Ok(false) => Arrival::Closed,
        Err(err) if err.kind() == io::ErrorKind::TimedOut => Arrival::TimedOut,
        Err(_) => Arrival::Closed,
    }
}

/// Reads a request's head (its first bytes are buffered) within `head_deadline` and
/// serves the request: `None` when the connection must close without counting a request
/// (no head, or a bad one, answered here), else what the request led to, counted busy
/// until the caller has run any hold it returns.
async fn serve_request(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    head_deadline: Instant,
) -> Option<Handled> {
    // Asked here rather than kept: the address would be part of every connection's task.
    let peer = conn.stream.peer_addr().ok()?;
    let head = match conn
        .read_head_by(|b| parse_request(b, &HeadLimits::CLIENT), head_deadline)
        .await
    {
        Ok(head) => head,
        Err(HeadError::TimedOut) => {
            time_out_head(ctx, conn).await;
            return None;
        }
        Err(HeadError::Parse(err)) => {
            crate::log_limited!(Info, "shard={} peer={peer} bad request: {err}", ctx.id.0);
            ctx.counters.requests_failed.add(1);
            let text = format!("{}\n", capitalized(&err.to_string()));
            let _ = conn
                .write_all(&error_bytes(err.status(), &text, Version::Http11, false))
                .await;
            crate::shard::respond::linger_close(conn).await;
            return None;
        }
        Err(err) => {
            log::debug!("shard={} peer={peer} connection ended: {err}", ctx.id.0);
            return None;
        }
    };
    ctx.busy.set(ctx.busy.get() + 1);
    ctx.counters.requests.add(1);
    let mut head = head;
    Some(match head.normalize_for_proxy() {
        Err(err) => {
            let text = format!("{}\n", capitalized(&err.to_string()));
            Handled::Done(respond_error(ctx, conn, &head, err.status(), &text, false).await)
        }
        Ok(()) if ws::is_upgrade(&head) => Handled::Done(ws::serve(ctx, conn, head, peer).await),
        Ok(()) => http::handle_request(ctx, conn, head, peer).await,
    })
}

/// A head that did not arrive in time: `408`, then the write side is shut and what the client
/// still sends is read and dropped for a moment (a close with unread bytes would send a reset
/// that can destroy the 408 before the client reads it); the caller closes.
async fn time_out_head(ctx: &ShardContext, conn: &mut Conn) {
    ctx.counters.requests_failed.add(1);
    let peer = conn
        .stream
        .peer_addr()
        .map_or("?".to_owned(), |p| p.to_string());
    crate::log_limited!(
        Info,
        "shard={} peer={peer} request head not received within {:?}; 408",
        ctx.id.0,
        ctx.config.client_head_timeout
    );
    let bytes = error_bytes(408, "Request timeout.\n", Version::Http11, false);
    if conn.write_all(&bytes).await.is_ok() {
        crate::shard::respond::linger_close(conn).await;
    }
}

#[cfg(test)]
mod tests {
    /// Every plain client connection's task is `shard::listener::plain_task`, `serve` inside
    /// the panic catch, held for the connection's whole life, so its size is a floor under
    /// the memory of each of 100,000 idle or held connections. A buffer kept across an
    /// `.await` anywhere in it becomes part of it (a 512-byte and a 1 KiB stack array once
    /// grew it by 2.6 KB, `results/2026-12-06-hostile-input-fanout-epyc2c`), and so does
    /// every state of a request's flow that is not boxed: it was 3,784 bytes while whole
    /// requests ran inline, 656 since they run boxed and a stream hold runs after them. The
    /// bound keeps the task, with glommio's 48 bytes of task header and schedule, inside
    /// mimalloc's 768-byte size class (`results/2026-12-06-memory-per-connection-epyc2c`).
    /// Serve requests in the boxed request phase (`serve_request`), keep the held phase
    /// (`http::HeldStream`) small and borrowed, and keep values out of async fn arguments
    /// (they are stored twice).
    #[test]
    fn a_connection_task_stays_within_its_memory_budget() {
        const TASK_FUTURE_BYTES_MAX: usize = 768 - 48;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let size = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(512 * 1024)
            .spawn(move || async move {
                let ctx = crate::shard::test_context();
                let stream = glommio::net::TcpStream::connect(addr)
                    .await
                    .expect("connect");
                let guard = crate::shard::listener::ConnectionGuard::admit(&ctx, None);
                let task = crate::shard::listener::plain_task(ctx, stream, guard, super::serve);
                std::mem::size_of_val(&task)
            })
            .expect("executor")
            .join()
            .expect("ran");
        assert!(
            size <= TASK_FUTURE_BYTES_MAX,
            "a connection task's future is {size} bytes, over {TASK_FUTURE_BYTES_MAX}"
        );
    }
}
