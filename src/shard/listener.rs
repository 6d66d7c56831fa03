//! The accept loop of one listener on one shard.
//!
//! Owns: accepting (with a backoff when `accept` fails), the per-shard connection cap, the
//! per-address limit (`PeerLimit`, process-wide), and the panic guard around each
//! connection task (a panic closes that connection, is counted, and nothing else stops).
//! Must not: do any per-request work, or know what serves a connection: the caller hands it
//! the connection handler (`flow::serve`, given by `runtime`), so the core never imports the
//! flows that run on top of it.
//! A TLS listener's connections run their handshake first, inside their own task and within
//! `TLS_HANDSHAKE_TIMEOUT`, so a client that stalls or sends garbage costs only its own task.

use super::peer_limit::PeerSlot;
use super::ShardContext;
use crate::limits::{ACCEPT_BACKOFF_MAX, ACCEPT_BACKOFF_MIN, TLS_HANDSHAKE_TIMEOUT};
use crate::netio::{Conn, Stream};
use futures_lite::future::CatchUnwind;
use futures_lite::FutureExt;
use glommio::net::{TcpListener, TcpStream};
use std::future::Future;
use std::os::unix::io::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// A TLS listener's rustls configuration (its certificates are reloaded inside it).
pub type TlsConfig = Arc<rustls::ServerConfig>;

/// What serves one accepted connection until it closes (`flow::serve`), given its connection
/// after any TLS handshake and its guard, which the returned future must own: its drop
/// counts the connection out (and a panic in, when it is dropped by one).
pub trait ConnectionHandler:
    Fn(Rc<ShardContext>, Conn, ConnectionGuard) -> Self::Served + Copy + 'static
{
    /// The connection's task.
    type Served: Future<Output = ()> + 'static;
}

impl<F, Fut> ConnectionHandler for F
where
    F: Fn(Rc<ShardContext>, Conn, ConnectionGuard) -> Fut + Copy + 'static,
    Fut: Future<Output = ()> + 'static,
{
    type Served = Fut;
}

/// Accepts connections until the shard shuts down; each one's task runs the TLS handshake
/// when `tls` is set, then `serve`.
pub async fn accept_loop(
    ctx: Rc<ShardContext>,
    listener: TcpListener,
    tls: Option<TlsConfig>,
    serve: impl ConnectionHandler,
) {
    let mut backoff = AcceptBackoff::default();
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => {
                backoff.on_success();
                stream
            }
            // Shutdown stopped the listener (`run`'s `stop_listening`): nothing to retry.
            Err(_) if ctx.control.is_shutting_down() => return,
            Err(err) => {
                // Out of descriptors (EMFILE/ENFILE) or memory: every accept would fail the
                // same way until connections close, so wait longer each time instead of
                // spinning, and say so at most once a second.
                let pause = backoff.on_failure();
                crate::log_limited!(
                    Warn,
                    "shard={} accept failed: {err}; retrying in {pause:?}",
                    ctx.id.0
                );
                glommio::timer::sleep(pause).await;
                continue;
            }
        };
        if ctx.control.is_shutting_down() {
            // Accepted in the moment before the listener stopped: closed unserved.
            continue;
        }
        ctx.counters.connections_accepted.add(1);
        if let Some(bytes) = ctx.config.socket_send_buffer {
            if let Err(err) = super::sys::set_send_buffer(stream.as_raw_fd(), bytes) {
                log::debug!("shard={} SO_SNDBUF {bytes}: {err}", ctx.id.0);
            }
        }
        if ctx.counters.connections.get() as usize >= ctx.connections_max {
            ctx.counters.connections_refused.add(1);
            crate::log_limited!(
                Warn,
                "shard={} connection limit {} reached; closing new connection",
                ctx.id.0,
                ctx.connections_max
            );
            continue;
        }
        let Ok(peer_slot) = admit_peer(&ctx, &stream) else {
            continue;
        };
        let guard = ConnectionGuard::admit(&ctx, peer_slot);
        let ctx = Rc::clone(&ctx);
        match tls.clone() {
            None => glommio::spawn_local(plain_task(ctx, stream, guard, serve)).detach(),
            Some(config) => {
                let task = tls_task(ctx, stream, config, guard, serve);
                glommio::spawn_local(task).detach()
            }
        };
    }
}

/// Counts a connection out when its task ends, and a panic when it ends by one (the panic is
/// caught around the task, so only that connection closes); releases its per-address slot.
#[derive(Debug)]
pub struct ConnectionGuard {
    counters: Arc<crate::stats::ShardCounters>,
    shard: u16,
    _peer_slot: Option<PeerSlot>,
}

impl ConnectionGuard {
    /// Counts a connection in on `ctx`'s shard, holding `peer_slot` until it ends.
    pub fn admit(ctx: &ShardContext, peer_slot: Option<PeerSlot>) -> ConnectionGuard {
        ctx.counters.connections.add(1);
        ConnectionGuard {
            counters: Arc::clone(&ctx.counters),
            shard: ctx.id.0,
            _peer_slot: peer_slot,
        }
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.counters.connections.add(-1);
        if std::thread::panicking() {
            self.counters.connection_panics.add(1);
            crate::log_limited!(
                Error,
                "shard={} a connection task panicked; that connection was closed",
                self.shard
            );
        }
    }
}

/// A plain TCP connection's task: `serve` inside the panic catch, and nothing else. It is
/// held for the connection's whole life, idle and held ones included, so nothing wraps it:
/// a wrapping async block keeps its own copy of every value it moves into the inner future
/// (an upvar is never freed), and a nested block once cost every held stream 1.3 KB of RSS
/// (`results/2026-12-06-session4-fanout-epyc2c`).
pub fn plain_task<H: ConnectionHandler>(
    ctx: Rc<ShardContext>,
    tcp: TcpStream,
    guard: ConnectionGuard,
    serve: H,
) -> CatchUnwind<AssertUnwindSafe<H::Served>> {
    AssertUnwindSafe(serve(ctx, Conn::new(tcp), guard)).catch_unwind()
}

/// A TLS connection's task: the handshake (boxed, and freed when it ends), then `serve`.
/// A TLS connection's buffers are far larger than the copies this wrapper keeps.
fn tls_task(
    ctx: Rc<ShardContext>,
    tcp: TcpStream,
    config: TlsConfig,
    guard: ConnectionGuard,
    serve: impl ConnectionHandler,
) -> impl Future<Output = std::thread::Result<()>> {
    let task = async move {
        let Some(stream) = Box::pin(handshake(&ctx, tcp, config)).await else {
            return;
        };
        serve(ctx, Conn::new(stream), guard).await;
    };
    AssertUnwindSafe(task).catch_unwind()
}

/// A TLS connection's stream after its handshake. A handshake that fails or takes longer
/// than `TLS_HANDSHAKE_TIMEOUT` closes the connection (counted, logged at debug: any client
/// can cause it).
async fn handshake(ctx: &ShardContext, tcp: TcpStream, config: TlsConfig) -> Option<Stream> {
    match crate::tls::stream::accept(tcp, config, TLS_HANDSHAKE_TIMEOUT).await {
        Ok(stream) => Some(stream),
        Err(err) => {
            ctx.counters.tls_handshakes_failed.add(1);
            log::debug!("shard={} TLS handshake failed: {err}", ctx.id.0);
            None
        }
    }
}

/// Counts a new connection against its source address (`--connections-per-ip-max`): `Ok` with
/// the slot to keep while it is open (`None` without a limit), `Err` when it must be closed.
fn admit_peer(ctx: &ShardContext, stream: &TcpStream) -> Result<Option<PeerSlot>, ()> {
    let Some(limit) = &ctx.control.peer_limit else {
        return Ok(None);
    };
    // A peer that is already gone has no address, and nothing to serve.
    let ip = stream.peer_addr().map_err(|_| ())?.ip();
    match limit.try_acquire(ip) {
        Some(slot) => Ok(Some(slot)),
        None => {
            ctx.counters.connections_refused_per_ip.add(1);
            crate::log_limited!(
                Warn,
                "shard={} {ip} already holds {} connections (--connections-per-ip-max); \
                 closing new connection",
                ctx.id.0,
                limit.max()
            );
            Err(())
        }
    }
}

/// The pause after a failed `accept`: `ACCEPT_BACKOFF_MIN`, doubled by each failure in a row
/// up to `ACCEPT_BACKOFF_MAX`, back to the minimum after a success. Pure; the publish
/// listener's loop uses it too.
#[derive(Debug, Default)]
pub struct AcceptBackoff {
    next: Option<Duration>,
}

impl AcceptBackoff {
    /// Records a failure and returns how long to wait before the next `accept`.
    pub fn on_failure(&mut self) -> Duration {
        let pause = self.next.unwrap_or(ACCEPT_BACKOFF_MIN);
        self.next = Some((pause * 2).min(ACCEPT_BACKOFF_MAX));
        pause
    }

    /// Records a success: the next failure waits the minimum again.
    pub fn on_success(&mut self) {
        self.next = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Shaped like `flow::serve`: the guard is a captured value of the handler's future,
    /// which is suspended once before it panics.
    #[allow(clippy::manual_async_fn)]
    fn panicking_handler(
        _ctx: Rc<ShardContext>,
        conn: Conn,
        guard: ConnectionGuard,
    ) -> impl Future<Output = ()> {
        async move {
            let _guard = &guard;
            let _conn = &conn;
            glommio::timer::sleep(Duration::from_millis(1)).await;
            panic!("a bug in a connection's flow");
        }
    }

    #[test]
    fn a_panicking_connection_task_is_counted_and_counted_out() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (panics, connections) = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .io_memory(512 * 1024)
            .spawn(move || async move {
                let ctx = crate::shard::test_context();
                let tcp = TcpStream::connect(addr).await.expect("connect");
                let guard = ConnectionGuard::admit(&ctx, None);
                assert_eq!(ctx.counters.connections.get(), 1);
                let task = plain_task(Rc::clone(&ctx), tcp, guard, panicking_handler);
                let outcome = glommio::spawn_local(task).await;
                assert!(outcome.is_err(), "the panic is caught in the task");
                let counters = &ctx.counters;
                (counters.connection_panics.get(), counters.connections.get())
            })
            .expect("executor")
            .join()
            .expect("ran");
        assert_eq!((panics, connections), (1, 0));
    }

    #[test]
    fn accept_failures_in_a_row_back_off_doubling_to_the_maximum_and_a_success_resets() {
        let mut backoff = AcceptBackoff::default();
        let pauses: Vec<u128> = (0..10).map(|_| backoff.on_failure().as_millis()).collect();
        assert_eq!(pauses, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        backoff.on_success();
        assert_eq!(backoff.on_failure(), ACCEPT_BACKOFF_MIN);
    }
}
