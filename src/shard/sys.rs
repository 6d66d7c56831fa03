//! The shard's raw syscalls: turning descriptors into glommio sockets, the shard thread's CPU
//! time, and SO_SNDBUF on client sockets. Each `unsafe` block says why it is sound.
//!
//! Owns: nothing after the call returns.
//! Must not: be used per delivery.

use std::io;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};

/// `ret` as an `io::Result`: negative means `errno` says what failed.
pub(crate) fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// Hands a listening socket to glommio; must run on the executor that will accept on it.
pub fn glommio_listener(fd: OwnedFd) -> glommio::net::TcpListener {
    // SAFETY: `OwnedFd` guarantees we own an open descriptor, and `into_raw_fd` gives that
    // ownership up, so glommio's listener becomes its only owner.
    unsafe { glommio::net::TcpListener::from_raw_fd(fd.into_raw_fd()) }
}

/// Hands one end of a Unix socket pair to glommio; must run on the executor that reads it.
pub fn glommio_unix_stream(socket: std::os::unix::net::UnixStream) -> glommio::net::UnixStream {
    // SAFETY: `into_raw_fd` gives up the std stream's ownership of the open descriptor, so
    // glommio's stream becomes its only owner.
    unsafe { glommio::net::UnixStream::from_raw_fd(socket.into_raw_fd()) }
}

/// CPU time this thread has used. Used to tell, for a slow delivery pass, whether the shard
/// was working or waiting for a core; `None` if the clock is unavailable.
pub fn thread_cpu_time() -> Option<std::time::Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let ret = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (ret == 0).then(|| std::time::Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32))
}

/// Sets `SO_SNDBUF` on a socket (the kernel doubles it for bookkeeping, and the socket's send
/// buffer no longer autotunes).
pub fn set_send_buffer(fd: std::os::unix::io::RawFd, bytes: usize) -> io::Result<()> {
    let value = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    // SAFETY: `value` is a valid c_int for the duration of the call, and its size is passed.
    check(unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_SNDBUF,
            (&value as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}
