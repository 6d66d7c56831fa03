//! Sys: the few Linux calls std does not offer — epoll, a non-blocking connect from a
//! chosen source address, RLIMIT_NOFILE, raw fd reads, the clock tick rate.
//!
//! Owns: every `unsafe` block in loadgen except the clock read.
//! Must not: hold state beyond the epoll fd, or make policy decisions.
//! Invariants: each `unsafe` call gets valid pointers and lengths; errors come back as
//! `io::Error` from `errno`.

use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Readiness for reading, and peer half-close.
pub const EV_READ: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP) as u32;
/// Readiness for writing (also: connect completed).
pub const EV_WRITE: u32 = libc::EPOLLOUT as u32;
/// Error or hang-up (always reported by epoll).
pub const EV_ERROR: u32 = (libc::EPOLLERR | libc::EPOLLHUP) as u32;

fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

/// An epoll instance and its event buffer.
#[derive(Debug)]
pub struct Epoll {
    fd: OwnedFd,
    events: Vec<libc::epoll_event>,
    ready: usize,
}

impl Epoll {
    /// A new epoll fd returning up to `batch` events per wait.
    pub fn new(batch: usize) -> io::Result<Epoll> {
        // SAFETY: epoll_create1 takes no pointers; the fd it returns is owned here alone.
        let fd = check(unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) })?;
        // SAFETY: `fd` is a fresh, valid descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let events = vec![libc::epoll_event { events: 0, u64: 0 }; batch.max(1)];
        Ok(Epoll {
            fd,
            events,
            ready: 0,
        })
    }

    fn ctl(&self, op: libc::c_int, fd: RawFd, token: u64, interest: u32) -> io::Result<()> {
        let mut ev = libc::epoll_event {
            events: interest,
            u64: token,
        };
        // SAFETY: `ev` is a valid epoll_event for the duration of the call.
        check(unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) }).map(drop)
    }

    /// Registers `fd` (level-triggered) under `token`.
    pub fn add(&self, fd: RawFd, token: u64, interest: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, token, interest)
    }

    /// Changes the interest of a registered `fd`.
    pub fn modify(&self, fd: RawFd, token: u64, interest: u32) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, token, interest)
    }

    /// Waits up to `timeout_ms` (-1: forever); returns how many events are ready.
    pub fn wait(&mut self, timeout_ms: i32) -> io::Result<usize> {
        let cap = libc::c_int::try_from(self.events.len()).unwrap_or(libc::c_int::MAX);
        // SAFETY: the buffer holds `cap` epoll_events and outlives the call.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                self.events.as_mut_ptr(),
                cap,
                timeout_ms,
            )
        };
        match check(n) {
            Ok(n) => self.ready = n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.ready = 0,
            Err(e) => return Err(e),
        }
        Ok(self.ready)
    }

    /// The `i`th ready event as (token, flags).
    pub fn event(&self, i: usize) -> (u64, u32) {
        debug_assert!(i < self.ready);
        let ev = self.events[i];
        (ev.u64, ev.events)
    }
}

fn set_int_opt(
    fd: RawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> io::Result<()> {
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `value` is a live c_int and `len` is its size.
    check(unsafe { libc::setsockopt(fd, level, name, (&value as *const libc::c_int).cast(), len) })
        .map(drop)
}

fn sockaddr(addr: SocketAddrV4) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: addr.port().to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(*addr.ip()).to_be(),
        },
        sin_zero: [0; 8],
    }
}

/// Starts a non-blocking TCP connect from `src` (port chosen at connect time, thanks to
/// `IP_BIND_ADDRESS_NO_PORT`, so ports are shared across destinations) to `dst`.
pub fn connect_nonblocking(src: Ipv4Addr, dst: SocketAddrV4) -> io::Result<TcpStream> {
    let flags = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    // SAFETY: socket takes no pointers.
    let fd = check(unsafe { libc::socket(libc::AF_INET, flags, 0) })?;
    // SAFETY: `fd` is fresh and owned only here; OwnedFd closes it on every error path.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let raw = fd.as_raw_fd();
    set_int_opt(raw, libc::IPPROTO_IP, libc::IP_BIND_ADDRESS_NO_PORT, 1)?;
    set_int_opt(raw, libc::IPPROTO_TCP, libc::TCP_NODELAY, 1)?;
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    let src = sockaddr(SocketAddrV4::new(src, 0));
    // SAFETY: `src` is a valid sockaddr_in of `len` bytes.
    check(unsafe { libc::bind(raw, (&src as *const libc::sockaddr_in).cast(), len) })?;
    let dst = sockaddr(dst);
    // SAFETY: `dst` is a valid sockaddr_in of `len` bytes.
    let rc = unsafe { libc::connect(raw, (&dst as *const libc::sockaddr_in).cast(), len) };
    if let Err(e) = check(rc) {
        if e.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(e);
        }
    }
    Ok(TcpStream::from(fd))
}

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable rlimit.
    check(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) })?;
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: `lim` is a valid rlimit.
    check(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) })?;
    Ok(lim.rlim_cur)
}

/// Makes `fd` non-blocking (used for the worker's stdin pipe, which only it reads).
pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl with F_GETFL/F_SETFL takes no pointers.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) }).map(drop)
}

/// `read(2)` on a raw fd.
pub fn read_fd(fd: RawFd, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `buf` is valid for writes of `buf.len()` bytes.
    let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Kernel clock ticks per second (the unit of utime/stime in `/proc/PID/stat`).
pub fn clock_ticks_per_s() -> u64 {
    // SAFETY: sysconf takes no pointers.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// True if `fd` is a terminal.
pub fn is_tty(fd: RawFd) -> bool {
    // SAFETY: isatty takes no pointers.
    unsafe { libc::isatty(fd) == 1 }
}

/// A listening TCP socket with `SO_REUSEADDR` and a deep accept `backlog` (std's
/// `TcpListener::bind` uses 128, which a proxy opening a burst of origin connections
/// overflows; each dropped SYN then costs a 1 s retransmit).
pub fn listen_tcp(addr: SocketAddrV4, backlog: i32) -> io::Result<std::net::TcpListener> {
    // SAFETY: socket takes no pointers.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is fresh and owned only here; OwnedFd closes it on every error path.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    set_int_opt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
    let sa = sockaddr(addr);
    let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
    // SAFETY: `sa` is a valid sockaddr_in of `len` bytes.
    check(unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&sa as *const libc::sockaddr_in).cast(),
            len,
        )
    })?;
    // SAFETY: listen takes no pointers.
    check(unsafe { libc::listen(fd.as_raw_fd(), backlog) })?;
    Ok(std::net::TcpListener::from(fd))
}
