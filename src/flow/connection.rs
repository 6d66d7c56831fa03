//! One client connection: the keep-alive loop that reads each request head within its
//! deadline and hands the request to the HTTP or the WebSocket flow.
//!
//! Owns: the head deadline (`--client-head-timeout`, 408), the wait for a keep-alive
//! connection's next request, and the dispatch by `Upgrade`.
//! Must not: know what either flow does with a request. This is the thin entry above both
//! flows, so neither imports the other.

use super::{http, ws};
use crate::http::{parse_request, HeadLimits, Next, Version};
use crate::netio::{Conn, HeadError};
use crate::reply::{capitalized, error_bytes};
use crate::shard::respond::respond_error;
use crate::shard::ShardContext;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// Serves one client connection until it closes; a TLS one has finished its handshake.
/// Not an `async fn`: one would keep its arguments twice (as captured values and as locals),
/// and this future is most of every connection's task.
#[allow(clippy::manual_async_fn)]
pub fn serve(ctx: Rc<ShardContext>, mut conn: Conn) -> impl std::future::Future<Output = ()> {
    async move { serve_on(&ctx, &mut conn).await }
}

async fn serve_on(ctx: &Rc<ShardContext>, conn: &mut Conn) {
    let peer = match conn.stream.peer_addr() {
        Ok(peer) => peer,
        Err(_) => return,
    };
    let _ = conn.stream.set_nodelay(true);
    let _ = conn.set_read_timeout(Some(ctx.config.client_idle_timeout));
    // The first head must be whole within the head timeout of accept.
    let mut head_deadline = Instant::now() + ctx.config.client_head_timeout;
    loop {
        let head = match conn
            .read_head_by(|b| parse_request(b, &HeadLimits::CLIENT), head_deadline)
            .await
        {
            Ok(head) => head,
            Err(HeadError::TimedOut) => {
                time_out_head(ctx, conn, peer).await;
                break;
            }
            Err(HeadError::Parse(err)) => {
                crate::log_limited!(Info, "shard={} peer={peer} bad request: {err}", ctx.id.0);
                ctx.counters.requests_failed.add(1);
                let text = format!("{}\n", capitalized(&err.to_string()));
                let _ = conn
                    .write_all(&error_bytes(err.status(), &text, Version::Http11, false))
                    .await;
                crate::shard::respond::linger_close(conn).await;
                break;
            }
            Err(err) => {
                log::debug!("shard={} peer={peer} connection ended: {err}", ctx.id.0);
                break;
            }
        };
        ctx.busy.set(ctx.busy.get() + 1);
        // The dispatch by `Upgrade` is written out here rather than in a helper: an async
        // helper would keep its own copy of the head in every connection's future.
        ctx.counters.requests.add(1);
        let mut head = head;
        let next = match head.normalize_for_proxy() {
            Err(err) => {
                let text = format!("{}\n", capitalized(&err.to_string()));
                respond_error(ctx, conn, &head, err.status(), &text, false).await
            }
            Ok(()) if ws::is_upgrade(&head) => ws::serve(ctx, conn, head, peer).await,
            Ok(()) => http::handle_request(ctx, conn, head, peer).await,
        };
        ctx.busy.set(ctx.busy.get() - 1);
        if next == Next::Close || ctx.control.is_shutting_down() {
            break;
        }
        conn.shrink();
        match next_head_deadline(ctx, conn).await {
            Some(deadline) => head_deadline = deadline,
            None => break,
        }
    }
    // A TLS connection sends what is still queued and its close_notify; plain TCP needs nothing.
    conn.close(crate::limits::TLS_CLOSE_TIMEOUT).await;
}

/// Between keep-alive requests: waits (under the idle timeout, with a small read buffer) for the
/// first byte of the next request, and returns the deadline of its head, the head timeout
/// from that byte. `None` when the client closed or stayed idle: the connection then closes
/// without a response, since the client may be sending a request at that very moment.
async fn next_head_deadline(ctx: &ShardContext, conn: &mut Conn) -> Option<Instant> {
    if conn.buffered().is_empty() {
        match conn.fill().await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    Some(Instant::now() + ctx.config.client_head_timeout)
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
    use std::rc::Rc;
    use std::sync::Arc;

    /// Every client connection's task is `shard::listener::connection_task` with `flow::serve`
    /// inside, held for the connection's whole life, so its size is a floor under the memory
    /// of each of 100,000 held streams. A buffer kept across an `.await` anywhere in a
    /// request's flow becomes part of it: a 512-byte and a 1 KiB stack array once grew it
    /// by 2.6 KB (`results/2026-12-06-hostile-input-fanout-epyc2c`, run1). The budget keeps
    /// the task, with glommio's header, inside the allocator's 4 KiB size class: a task
    /// future of 4,216 bytes cost each held stream 1.3 KB more RSS than one of about 3,900
    /// (`results/2026-12-06-session4-fanout-epyc2c`, run1 against run2). Box rare or
    /// transient large flows instead (the origin exchange, linked streams), and keep large
    /// values out of async fn arguments (they are stored twice).
    #[test]
    fn a_connection_task_stays_within_its_memory_budget() {
        const TASK_FUTURE_BYTES_MAX: usize = 3840;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let size = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(512 * 1024)
            .spawn(move || async move {
                let config = Arc::new(crate::config::Config::default());
                let control = Arc::new(crate::shard::Control::new(
                    crate::config::Routes::builtin_test(),
                ));
                let (router, _interest) =
                    crate::router::inbox::router_inbox().expect("socket pair");
                let ctx = Rc::new(crate::shard::ShardContext::new(
                    crate::router::ShardId(0),
                    config,
                    control,
                    router,
                    Arc::new(crate::stats::ShardCounters::default()),
                    1,
                    1,
                ));
                let stream = glommio::net::TcpStream::connect(addr)
                    .await
                    .expect("connect");
                let guard = crate::shard::listener::ConnectionGuard::admit(&ctx, None);
                let task =
                    crate::shard::listener::connection_task(ctx, stream, None, guard, super::serve);
                let spawned =
                    futures_lite::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(task));
                std::mem::size_of_val(&spawned)
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
