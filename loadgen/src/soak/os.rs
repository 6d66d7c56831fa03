//! Os: the soak's few Linux calls that std does not offer — an abortive close, a small
//! receive buffer, signals to the processes it started, and counting a process's open
//! descriptors.
//!
//! Owns: every `unsafe` block of the soak.
//! Must not: make policy decisions, or signal a pid the soak did not start (callers pass
//! only their own children's pids).
//! Invariants: each `unsafe` call gets valid pointers and lengths; errors come back as
//! `io::Error` from `errno`.

use std::io;
use std::os::fd::RawFd;

/// Sets `SO_LINGER` to {on, 0 s}: closing the socket then sends RST instead of FIN
/// (tcp(7)), the abortive close of a client that crashed or a middlebox that gave up.
pub(crate) fn set_linger_zero(fd: RawFd) -> io::Result<()> {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    let len = std::mem::size_of::<libc::linger>() as libc::socklen_t;
    // SAFETY: `linger` is a live libc::linger and `len` is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets `SO_RCVBUF` (the kernel doubles it and applies its minimum), so a reader that stops
/// reading fills its window, and then the proxy's queue, after a few kilobytes.
pub(crate) fn set_receive_buffer(fd: RawFd, bytes: i32) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `bytes` is a live c_int and `len` is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&bytes as *const libc::c_int).cast(),
            len,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sends `signal` to `pid`, a process this soak started.
pub(crate) fn signal(pid: u32, signal: libc::c_int) -> io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::other("pid out of range"))?;
    // SAFETY: kill(2) takes no pointers.
    if unsafe { libc::kill(pid, signal) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Open descriptors of `pid`: the entries of `/proc/PID/fd`.
pub(crate) fn open_descriptors(pid: u32) -> io::Result<u64> {
    Ok(std::fs::read_dir(format!("/proc/{pid}/fd"))?.count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn this_process_counts_its_descriptors_and_sockets_take_the_options() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        // stdin, stdout, stderr and the listener at least.
        assert!(open_descriptors(std::process::id()).expect("own /proc") >= 4);
        set_linger_zero(listener.as_raw_fd()).expect("linger");
        set_receive_buffer(listener.as_raw_fd(), 1024).expect("rcvbuf");
        assert!(set_linger_zero(-1).is_err());
        signal(std::process::id(), 0).expect("signal 0 checks the pid");
        assert!(open_descriptors(u32::MAX).is_err());
    }
}
