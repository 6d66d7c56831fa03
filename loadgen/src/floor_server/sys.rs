//! Raw Linux calls the floor server needs and std does not offer: an SO_REUSEPORT listener with
//! a chosen backlog, accept4, non-blocking send/recv, epoll, signalfd and the RLIMIT_NOFILE raise.
//!
//! Owns: nothing after a call returns; descriptors go to the caller as `OwnedFd`, so they close
//! exactly once, on drop.
//! Must not: keep state, log, or decide what an error means (the caller does).
//! Invariants: every `unsafe` block says why it is sound; every return value is checked.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: libc::ssize_t) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Takes ownership of a descriptor a syscall just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: `fd` was just returned by a successful syscall and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

fn set_int_option(fd: RawFd, level: libc::c_int, option: libc::c_int) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: `one` outlives the call and its size is passed correctly.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            option,
            &one as *const libc::c_int as *const libc::c_void,
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    })
    .map(drop)
}

/// A non-blocking listening TCP socket on `addr` with SO_REUSEADDR and SO_REUSEPORT, so several
/// floor-server processes can share one client port (DESIGN §3), and the given `backlog`.
pub(super) fn bind_listener(addr: SocketAddr, backlog: i32) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    let flags = libc::SOCK_STREAM | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK;
    // SAFETY: plain socket(2) call with constant arguments; the result is checked.
    let fd = owned(check(unsafe { libc::socket(domain, flags, 0) })?);
    set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR)?;
    set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEPORT)?;
    let (storage, len) = sockaddr_of(addr);
    // SAFETY: `storage` holds a valid sockaddr of length `len` for the call's duration.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &storage as *const libc::sockaddr_storage as *const libc::sockaddr,
            len,
        )
    })?;
    // SAFETY: plain listen(2) on the socket we own.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(fd)
}

fn sockaddr_of(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(v4) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: v4.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(v4.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(v6) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: v6.port().to_be(),
                sin6_flowinfo: v6.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: v6.ip().octets(),
                },
                sin6_scope_id: v6.scope_id(),
            };
            // SAFETY: sockaddr_storage is larger than and aligned for sockaddr_in6.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}

/// Accepts one connection as a non-blocking, close-on-exec socket.
/// `ErrorKind::WouldBlock` means the backlog is empty.
pub(super) fn accept(listener: &OwnedFd) -> io::Result<OwnedFd> {
    let flags = libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    loop {
        // SAFETY: null address pointers are allowed by accept4(2) when the peer is not wanted.
        let ret = unsafe {
            libc::accept4(
                listener.as_raw_fd(),
                std::ptr::null_mut(),
                std::ptr::null_mut(),
                flags,
            )
        };
        match check(ret) {
            Ok(fd) => return Ok(owned(fd)),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// TCP_NODELAY, as ringpin sets on client sockets, so a small chunk leaves at once.
pub(super) fn set_nodelay(fd: &OwnedFd) -> io::Result<()> {
    set_int_option(fd.as_raw_fd(), libc::IPPROTO_TCP, libc::TCP_NODELAY)
}

/// The send flags every delivery uses, in both modes: never block, never raise SIGPIPE.
pub(super) const SEND_FLAGS: libc::c_int = libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL;

/// One non-blocking send(2); returns the bytes the kernel took.
pub(super) fn send(fd: RawFd, bytes: &[u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `bytes` is valid for reads of `bytes.len()` for the call's duration.
        let ret = unsafe {
            libc::send(
                fd,
                bytes.as_ptr() as *const libc::c_void,
                bytes.len(),
                SEND_FLAGS,
            )
        };
        match check_size(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// One non-blocking recv(2) into `buf`; `Ok(0)` is end of stream.
pub(super) fn recv(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        // SAFETY: `buf` is valid for writes of `buf.len()` for the call's duration.
        let ret = unsafe {
            libc::recv(
                fd,
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        match check_size(ret) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the resulting soft limit.
pub(super) fn raise_nofile_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-pointer for the call.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) })?;
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid in-pointer for the call.
        check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) })?;
    }
    // rlim_t is u64 on every 64-bit Linux target; the conversion is for 32-bit ones.
    #[allow(clippy::unnecessary_cast)]
    Ok(limit.rlim_cur as u64)
}

/// Level-triggered epoll; a registration's token is an opaque `u64` chosen by the caller.
#[derive(Debug)]
pub(super) struct Epoll {
    fd: OwnedFd,
}

/// Readable, or the peer shut its side down.
pub(super) const INTEREST_READ: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
/// Readable or writable: armed only while a connection has pending bytes.
pub(super) const INTEREST_READ_WRITE: u32 = INTEREST_READ | libc::EPOLLOUT as u32;

impl Epoll {
    pub(super) fn new() -> io::Result<Epoll> {
        // SAFETY: plain epoll_create1(2) with a constant flag; the result is checked.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        Ok(Epoll { fd: owned(fd) })
    }

    fn control(&self, op: libc::c_int, fd: RawFd, interest: u32, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: interest,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event for the call's duration.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut event) }).map(drop)
    }

    pub(super) fn add(&self, fd: RawFd, interest: u32, token: u64) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_ADD, fd, interest, token)
    }

    pub(super) fn modify(&self, fd: RawFd, interest: u32, token: u64) -> io::Result<()> {
        self.control(libc::EPOLL_CTL_MOD, fd, interest, token)
    }

    /// Waits up to `timeout_ms` (-1: no timeout; signals arrive through the signalfd) and
    /// fills `events`; returns how many are valid. EINTR counts as zero events.
    pub(super) fn wait(
        &self,
        events: &mut [libc::epoll_event],
        timeout_ms: libc::c_int,
    ) -> io::Result<usize> {
        let capacity = events.len().min(libc::c_int::MAX as usize) as libc::c_int;
        // SAFETY: `events` is valid for writes of `capacity` entries.
        let ret = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                capacity,
                timeout_ms,
            )
        };
        match check(ret) {
            Ok(n) => Ok(n as usize),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
            Err(e) => Err(e),
        }
    }
}

/// A signalfd for `signals`, which are blocked for the (single) thread so they arrive only here.
pub(super) fn signal_fd(signals: &[libc::c_int]) -> io::Result<OwnedFd> {
    // SAFETY: all-zero is a valid starting sigset_t and sigemptyset initialises it.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for &signal in signals {
        // SAFETY: `set` is initialised and `signal` is a valid signal number.
        check(unsafe { libc::sigaddset(&mut set, signal) })?;
    }
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    let flags = libc::SFD_NONBLOCK | libc::SFD_CLOEXEC;
    // SAFETY: -1 asks for a new signalfd; `set` is initialised.
    let fd = check(unsafe { libc::signalfd(-1, &set, flags) })?;
    Ok(owned(fd))
}

/// Reads one pending signal from a signalfd; `None` when none is pending.
pub(super) fn read_signal(fd: &OwnedFd) -> io::Result<Option<u32>> {
    // SAFETY: all-zero is a valid signalfd_siginfo.
    let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::signalfd_siginfo>();
    // SAFETY: `info` is valid for writes of `size` bytes.
    let ret = unsafe {
        libc::read(
            fd.as_raw_fd(),
            &mut info as *mut libc::signalfd_siginfo as *mut libc::c_void,
            size,
        )
    };
    match check_size(ret) {
        Ok(n) if n == size => Ok(Some(info.ssi_signo)),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
        Err(e) => Err(e),
    }
}
