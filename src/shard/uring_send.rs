//! Batched io_uring sends from the delivery loop: one `io_uring_enter` for many subscribers.
//!
//! Owns: a small private io_uring per shard, used only here and always drained before
//! `flush_ready` returns, and the `msghdr`/`iovec` arena its submissions point into.
//! Must not: wait on a socket, or leave a submission in flight when it returns.
//!
//! Why: a delivery pass writes to thousands of sockets, and `direct_send` pays one
//! `sendmsg(2)` entry per socket. Here each ready connection gets one `IORING_OP_SENDMSG`
//! with `MSG_DONTWAIT`, so the kernel runs the sends inline during one submission and a full
//! socket completes with `EAGAIN` instead of being parked; the queue rules are exactly those
//! of `direct_send` (the loop writes only a queue that was empty before this pass; a socket
//! that is full or failed is handed to its task). The kernel floor measured the same switch
//! as cheaper per delivery (`results/`); `--send-mode` keeps both paths so a run can compare
//! them.
//!
//! Why a separate ring and not glommio's: glommio owns its rings' submission order and
//! offers no batch submission of foreign sends; a ring used synchronously from the delivery
//! loop is simpler and never interleaves with glommio's.

use super::connections::Connections;
use super::direct_send::{self, FlushOutcome};
use crate::fanout::ConnKey;
use crate::limits::SEND_IOVECS_MAX;
use crate::limits::URING_SEND_BATCH;
use io_uring::{opcode, types, IoUring};
use std::io;

/// Flags of every send: never block, never raise SIGPIPE.
const SEND_FLAGS: i32 = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;

/// One submission's memory: the kernel reads `msg` and `iovecs` until its completion.
struct Slot {
    key: ConnKey,
    msg: libc::msghdr,
    iovecs: [libc::iovec; SEND_IOVECS_MAX],
}

/// A shard's batched sender.
pub struct UringSender {
    ring: IoUring,
    /// Fixed at `URING_SEND_BATCH` slots and never reallocated, so submitted pointers stay valid.
    slots: Box<[Slot]>,
}

impl std::fmt::Debug for UringSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringSender").finish_non_exhaustive()
    }
}

impl UringSender {
    /// A ring of `URING_SEND_BATCH` entries; single-issuer and cooperative task running where the
    /// kernel has them (6.0+), a plain ring otherwise.
    pub fn new() -> io::Result<UringSender> {
        let entries = URING_SEND_BATCH as u32;
        let ring = IoUring::builder()
            .setup_single_issuer()
            .setup_coop_taskrun()
            .build(entries)
            .or_else(|_| IoUring::new(entries))?;
        let empty_iovec = libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 0,
        };
        let slots = (0..URING_SEND_BATCH)
            .map(|_| Slot {
                key: ConnKey(0),
                // SAFETY: an all-zero msghdr is a valid value (null pointers, zero lengths).
                msg: unsafe { std::mem::zeroed() },
                iovecs: [empty_iovec; SEND_IOVECS_MAX],
            })
            .collect();
        Ok(UringSender { ring, slots })
    }

    /// Writes the queue of every connection in `ready` once, `URING_SEND_BATCH` sockets per submission,
    /// and reports each outcome to `on_outcome`. A send that took only part of a queue is
    /// finished by `direct_send::flush`, which also turns a full socket into `Blocked`.
    ///
    /// Errors only when the ring itself fails, with the index into `ready` from which the
    /// caller must write with `direct_send` instead (connections from there on may have been
    /// reported already; writing them again is harmless). The sender must then be dropped.
    /// Every submission made has completed by the time this returns, either way.
    pub fn flush_ready(
        &mut self,
        ready: &[ConnKey],
        held: &mut Connections,
        on_outcome: &mut impl FnMut(&mut Connections, ConnKey, FlushOutcome),
    ) -> Result<(), (usize, io::Error)> {
        let mut done = 0;
        for batch in ready.chunks(URING_SEND_BATCH) {
            self.flush_batch(batch, held, on_outcome)
                .map_err(|e| (done, e))?;
            done += batch.len();
        }
        Ok(())
    }

    fn flush_batch(
        &mut self,
        batch: &[ConnKey],
        held: &mut Connections,
        on_outcome: &mut impl FnMut(&mut Connections, ConnKey, FlushOutcome),
    ) -> io::Result<()> {
        let mut in_flight = 0;
        for &key in batch {
            let Some(entry) = held.get_mut(key) else {
                continue;
            };
            if !entry.direct {
                // TLS: its task encrypts and writes (`Held::flush_direct`).
                on_outcome(held, key, FlushOutcome::Blocked);
                continue;
            }
            let slot = &mut self.slots[in_flight];
            let mut count = 0;
            for part in entry.sink.queue.front_slices(SEND_IOVECS_MAX) {
                slot.iovecs[count] = libc::iovec {
                    iov_base: part.as_ptr() as *mut libc::c_void,
                    iov_len: part.len(),
                };
                count += 1;
            }
            if count == 0 {
                on_outcome(held, key, FlushOutcome::Drained);
                continue;
            }
            slot.key = key;
            slot.msg.msg_iov = slot.iovecs.as_mut_ptr();
            slot.msg.msg_iovlen = count as _;
            let sqe = opcode::SendMsg::new(types::Fd(entry.fd), &slot.msg)
                .flags(SEND_FLAGS as u32)
                .build()
                .user_data(in_flight as u64);
            // SAFETY: the entry points at `slot.msg`, whose iovecs point into the queue of
            // `key`'s connection. The slot array is never reallocated; the queue is not touched
            // and no connection is removed (`held` is borrowed mutably by this call) until the
            // completion is reaped below, before this function returns. The descriptor stays
            // open for as long as its `Held` entry exists (the `Connections` invariant).
            unsafe { self.ring.submission().push(&sqe) }
                .map_err(|_| io::Error::other("io_uring submission queue full"))?;
            in_flight += 1;
        }
        let mut reaped = 0;
        while reaped < in_flight {
            match self.ring.submit_and_wait(in_flight - reaped) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
                // io_uring_enter fails only when it consumed no entry, so nothing of this batch
                // is in flight; the caller drops this sender, and with it the unsubmitted
                // entries, and writes the batch with `direct_send`.
                Err(e) => return Err(e),
            }
            let slots = &self.slots;
            for cqe in self.ring.completion() {
                reaped += 1;
                let key = slots[cqe.user_data() as usize].key;
                let outcome = match held.get_mut(key) {
                    Some(entry) => after_send(entry.fd, &mut entry.sink.queue, cqe.result()),
                    None => continue,
                };
                on_outcome(held, key, outcome);
            }
        }
        Ok(())
    }
}

/// Applies one send's result to its queue: bytes written are consumed and the rest is tried
/// once more directly (usually `EAGAIN`: the socket is full).
fn after_send(
    fd: std::os::unix::io::RawFd,
    queue: &mut crate::fanout::OutboundQueue,
    result: i32,
) -> FlushOutcome {
    if result >= 0 {
        queue.advance(result as usize);
        if queue.is_empty() {
            return FlushOutcome::Drained;
        }
        return direct_send::flush(fd, queue);
    }
    match -result {
        libc::EAGAIN => FlushOutcome::Blocked,
        libc::EINTR => direct_send::flush(fd, queue),
        errno => FlushOutcome::Failed(io::Error::from_raw_os_error(errno)),
    }
}
