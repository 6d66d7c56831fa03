//! The one raw syscall of the origin side: the non-blocking peek that vets an idle pooled
//! origin connection before it is reused (issue 10: a pooled connection must never hand one
//! client's answer to another).
//!
//! Owns: `peek_idle`. Each `unsafe` block says why it is sound.
//! Must not: consume bytes or block.

use std::io;

/// What a non-blocking peek found on an idle socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum IdlePeek {
    /// Nothing to read: the peer is quiet and the socket open.
    Quiet,
    /// The peer closed its side (a read would return 0).
    Closed,
    /// Bytes arrived that nobody asked for (at least this many).
    Stray(usize),
    /// The socket failed (reset, say).
    Failed,
}

/// Looks at an idle socket without reading from it and without waiting:
/// `recv(fd, MSG_PEEK | MSG_DONTWAIT)` on one byte.
pub(super) fn peek_idle(fd: std::os::unix::io::RawFd) -> IdlePeek {
    let mut byte = 0u8;
    // SAFETY: `byte` is a valid, writable one-byte buffer for the duration of the call; with
    // MSG_PEEK nothing is consumed, and MSG_DONTWAIT keeps the call from blocking.
    let ret = unsafe {
        libc::recv(
            fd,
            (&mut byte as *mut u8).cast(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    };
    match ret {
        0 => IdlePeek::Closed,
        n if n > 0 => IdlePeek::Stray(n as usize),
        _ => match io::Error::last_os_error().kind() {
            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => IdlePeek::Quiet,
            _ => IdlePeek::Failed,
        },
    }
}
