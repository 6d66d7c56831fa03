//! The accept loop of one listener on one shard.
//!
//! Owns: accepting, the per-shard connection cap, the per-address limit (`PeerLimit`,
//! process-wide), and the panic guard around each connection task (a panic closes that connection, is counted, and nothing else stops).
//! Must not: do any per-request work.

use super::client_http;
use super::peer_limit::PeerSlot;
use super::ShardContext;
use futures_lite::FutureExt;
use glommio::net::{TcpListener, TcpStream};
use std::os::unix::io::AsRawFd;
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

/// Accepts connections until the shard shuts down.
pub async fn accept_loop(ctx: Rc<ShardContext>, listener: TcpListener) {
    loop {
        let stream = match listener.accept().await {
            Ok(stream) => stream,
            Err(err) => {
                // Out of descriptors or memory: back off briefly rather than spin.
                log::warn!("shard={} accept failed: {err}", ctx.id.0);
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        if ctx.control.is_shutting_down() {
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
        let task_ctx = Rc::clone(&ctx);
        glommio::spawn_local(async move {
            let counters = Arc::clone(&task_ctx.counters);
            let shard = task_ctx.id.0;
            counters.connections.add(1);
            let served = AssertUnwindSafe(client_http::serve(task_ctx, stream)).catch_unwind();
            let result = served.await;
            drop(peer_slot);
            counters.connections.add(-1);
            if result.is_err() {
                counters.connection_panics.add(1);
                log::error!("shard={shard} a connection task panicked; that connection was closed");
            }
        })
        .detach();
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
