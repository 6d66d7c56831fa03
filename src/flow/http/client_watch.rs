//! Watching a client while its request waits on the origin.
//!
//! Owns: `while_client_stays`, which runs origin work (sending, reading a head or a body)
//! and, beside it, reads the client's socket. End-of-file or a socket error means the client
//! left (Pushpin treats a client's EOF as an abort, half-close included), and the origin work
//! is dropped, so both descriptors close at once instead of after the origin's timeout.
//! Must not: consume or lose client bytes. Bytes the client pipelines meanwhile are appended
//! to its `Conn` buffer, up to `HELD_READ_BYTES_MAX`; past that the client is not read any
//! more (TCP flow control pushes back) rather than letting the buffer grow.
//! Invariants: the client's read timeout is off while it is watched (glommio keeps a dropped
//! read's timer armed, see `hold::StreamHold::start`) and set back to `--client-idle-timeout`
//! afterwards; a dropped glommio read loses no bytes, since it only waits for readiness.

use crate::limits::HELD_READ_BYTES_MAX;
use crate::netio::Conn;
use futures_lite::future::{or, pending};
use futures_lite::AsyncReadExt;
use std::future::Future;
use std::time::Duration;

/// The client closed its connection, or its socket failed, while the origin was asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct ClientGone;

/// Runs `work` unless the client leaves first. `idle_timeout` is the client's read timeout
/// to restore (`--client-idle-timeout`).
pub(super) async fn while_client_stays<T>(
    client: &mut Conn,
    idle_timeout: Duration,
    work: impl Future<Output = T>,
) -> Result<T, ClientGone> {
    let _ = client.set_read_timeout(None);
    let result = or(async { Ok(work.await) }, async {
        watch(client).await;
        Err(ClientGone)
    })
    .await;
    let _ = client.set_read_timeout(Some(idle_timeout));
    result
}

/// Returns when the client's socket ends or fails; buffers what it sends until then.
async fn watch(client: &mut Conn) {
    // On the heap: a stack array would be part of every connection task's future.
    let mut read_buf = vec![0u8; 1024];
    loop {
        if client.buffered().len() >= HELD_READ_BYTES_MAX {
            pending::<()>().await;
        }
        match client.stream.read(&mut read_buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => client.extend_buffered(&read_buf[..n]),
        }
    }
}
