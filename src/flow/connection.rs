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
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Serves one client connection until it closes (a TLS one has finished its handshake),
/// holding `guard` to the end. Not an `async fn`: one would keep its arguments twice (as
/// captured values and as locals), and this future is every plain connection's whole task.
#[allow(clippy::manual_async_fn)]
pub fn serve(
    ctx: Rc<ShardContext>,
    mut conn: Conn,
    guard: ConnectionGuard,
) -> impl std::future::Future<Output = ()> {
    async move {
        let _guard = &guard;
        serve_on(&ctx, &mut conn).await
    }
}

/// The connection's loop. Its own state is what every idle and held connection keeps, so
/// anything large or rare runs in a boxed future (`Box::pin`) that is freed when it ends.
async fn serve_on(ctx: &Rc<ShardContext>, conn: &mut Conn) {
    let peer = match conn.stream.peer_addr() {
        Ok(peer) => peer,
        Err(_) => return,
    };
    let _ = conn.stream.set_nodelay(true);
    // The first head must be whole within the head timeout of accept; a keep-alive
    // connection's next one within the head timeout of its first byte.
    let mut head_deadline = Instant::now() + ctx.config.client_head_timeout;
    let mut first = true;
    loop {
        let wait = match first {
            true => head_deadline.saturating_duration_since(Instant::now()),
            false => ctx.config.client_idle_timeout,
        };
        match wait_for_request(conn, wait).await {
            Arrival::Bytes => {}
            Arrival::TimedOut if first => {
                Box::pin(time_out_head(ctx, conn, peer)).await;
                break;
            }
            // Idle between requests: closed without a response, since the client may be
            // sending a request at that very moment.
            Arrival::TimedOut | Arrival::Closed => break,
        }
        if !std::mem::take(&mut first) {
            head_deadline = Instant::now() + ctx.config.client_head_timeout;
        }
        let _ = conn.set_read_timeout(Some(ctx.config.client_idle_timeout));
        let next = match Box::pin(serve_request(ctx, conn, peer, head_deadline)).await {
            Some(Handled::Done(next)) => next,
            // The request's boxed future is freed by now: a held stream keeps only this.
            Some(Handled::Stream(held)) => held.run(ctx, conn).await,
            None => break,
        };
        ctx.busy.set(ctx.busy.get() - 1);
        if next == Next::Close || ctx.control.is_shutting_down() {
            break;
        }
        conn.shrink();
    }
    // A TLS connection sends what is still queued and its close_notify; plain TCP needs nothing.
    if conn.stream.is_tls() {
        Box::pin(conn.close(crate::limits::TLS_CLOSE_TIMEOUT)).await;
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
    peer: SocketAddr,
    head_deadline: Instant,
) -> Option<Handled> {
    let head = match conn
        .read_head_by(|b| parse_request(b, &HeadLimits::CLIENT), head_deadline)
        .await
    {
        Ok(head) => head,
        Err(HeadError::TimedOut) => {
            time_out_head(ctx, conn, peer).await;
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
async fn time_out_head(ctx: &ShardContext, conn: &mut Conn, peer: SocketAddr) {
    ctx.counters.requests_failed.add(1);
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
    /// Every plain client connection's task is `shard::listener::plain_task`, `flow::serve`
    /// inside the panic catch, held for the connection's whole life, so its size is a floor
    /// under the memory of each of 100,000 idle or held connections. A buffer kept across an
    /// `.await` anywhere in the task becomes part of it (a 512-byte and a 1 KiB stack array
    /// once grew it by 2.6 KB, `results/2026-12-06-hostile-input-fanout-epyc2c`), and so
    /// does every state of a request's flow that is not boxed: it was 3,784 bytes when the
    /// whole request ran inline. The budget keeps the task, with glommio's 56-byte header,
    /// inside the allocator's 1 KiB size class (`results/2026-12-06-memory-per-connection-epyc2c`).
    /// Serve requests in the boxed request phase (`serve_request`), keep the held phase
    /// (`http::HeldStream`) small, and keep values out of async fn arguments (they are
    /// stored twice).
    #[test]
    fn a_connection_task_stays_within_its_memory_budget() {
        const TASK_FUTURE_BYTES_MAX: usize = 3840;
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
        eprintln!("connection task future: {size} bytes");
        assert!(
            size <= TASK_FUTURE_BYTES_MAX,
            "a connection task's future is {size} bytes, over {TASK_FUTURE_BYTES_MAX}"
        );
    }
}
