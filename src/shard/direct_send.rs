//! Direct non-blocking sends from the delivery loop: the only `unsafe` in ringpin.
//!
//! Owns: writing an `OutboundQueue` to a socket descriptor with `sendmsg(2)`,
//! `MSG_DONTWAIT | MSG_NOSIGNAL`, up to `SEND_IOVECS_MAX` buffers per call.
//! Must not: block, or be called for a descriptor whose owning task has dropped its stream.
//!
//! Why not the connection task: waking one task per delivery is what the design forbids
//! (DESIGN.md §1). glommio's own `TcpStream` writes the same way (a non-blocking `send` first,
//! io_uring only to wait for writability), so writing here from the delivery loop and, when the
//! socket is full, leaving the rest to the connection task is equivalent and ordered: the task
//! writes only from the queue, and the loop writes only when the queue was empty.

use crate::fanout::OutboundQueue;
use crate::limits::SEND_IOVECS_MAX;
use std::io;
use std::os::unix::io::RawFd;

/// What a direct flush achieved.
#[derive(Debug)]
pub enum FlushOutcome {
    /// The queue is empty.
    Drained,
    /// The socket buffer is full; the rest waits for the connection task.
    Blocked,
    /// The socket failed (peer gone); the connection must close.
    Failed(io::Error),
}

/// Writes as much of `queue` to `fd` as the socket takes without blocking.
pub fn flush(fd: RawFd, queue: &mut OutboundQueue) -> FlushOutcome {
    let mut iovecs = [libc::iovec {
        iov_base: std::ptr::null_mut(),
        iov_len: 0,
    }; SEND_IOVECS_MAX];
    loop {
        let mut count = 0;
        for slice in queue.front_slices(SEND_IOVECS_MAX) {
            iovecs[count] = libc::iovec {
                iov_base: slice.as_ptr() as *mut libc::c_void,
                iov_len: slice.len(),
            };
            count += 1;
        }
        if count == 0 {
            return FlushOutcome::Drained;
        }
        // SAFETY: `msghdr` is zero-initialised, which is a valid value for every field;
        // we then point it at `count` iovecs that borrow from `queue`, which is not touched
        // until the call returns.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iovecs.as_mut_ptr();
        msg.msg_iovlen = count as _;
        // SAFETY: `fd` is an open socket owned by a live connection task (the caller's
        // contract: the connection's entry is removed before its stream is dropped), and
        // `msg` only references memory valid for the duration of the call.
        let sent = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if sent < 0 {
            let err = io::Error::last_os_error();
            match err.kind() {
                io::ErrorKind::WouldBlock => return FlushOutcome::Blocked,
                io::ErrorKind::Interrupted => continue,
                _ => return FlushOutcome::Failed(err),
            }
        }
        queue.advance(sent as usize);
    }
}
