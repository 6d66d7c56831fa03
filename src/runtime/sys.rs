//! Process-level syscalls std does not offer: SO_REUSEPORT listeners with a chosen backlog,
//! stopping them before exit (`ListenerStop`), the RLIMIT_NOFILE raise, and the signal mask.
//! Each `unsafe` block says why it is sound.
//!
//! Owns: nothing after the call returns (descriptors are handed to the caller as `OwnedFd`),
//! except a `ListenerStop`'s second descriptor of its listener.
//! Must not: be used on the delivery path.

use crate::shard::sys::check;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A listening TCP socket on `addr` with SO_REUSEADDR, optionally SO_REUSEPORT, and `backlog`.
pub fn bind_listener(addr: SocketAddr, reuse_port: bool, backlog: i32) -> io::Result<OwnedFd> {
    let domain = if addr.is_ipv4() {
        libc::AF_INET
    } else {
        libc::AF_INET6
    };
    // SAFETY: plain socket(2) call with constant arguments; the result is checked.
    let fd = check(unsafe { libc::socket(domain, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` was just returned by socket(2) and is owned by nobody else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    let mut options = vec![libc::SO_REUSEADDR];
    if reuse_port {
        options.push(libc::SO_REUSEPORT);
    }
    for option in options {
        // SAFETY: `one` outlives the call and its size is passed correctly.
        check(unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                option,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        })?;
    }
    let (storage, len) = sockaddr_of(addr);
    // SAFETY: `storage` holds a valid sockaddr of length `len` for the call's duration.
    check(unsafe { libc::bind(fd, &storage as *const _ as *const libc::sockaddr, len) })?;
    // SAFETY: plain listen(2) on the socket we own.
    check(unsafe { libc::listen(fd, backlog) })?;
    Ok(owned)
}

/// A second descriptor of a listening socket that stops it listening when dropped.
///
/// Why: the executor that owns a listener keeps an io_uring accept pending on it, and the
/// kernel tears a dead process's rings down only after it has exited; until then the socket
/// still listens, so a restart on the same port fails with "address in use" and connections
/// are accepted that nobody will serve. `shutdown(SHUT_RD)` ends the listening state at once
/// (the pending accept fails); the port then binds again with SO_REUSEADDR.
#[derive(Debug)]
pub struct ListenerStop(OwnedFd);

impl ListenerStop {
    /// Duplicates `listener`'s descriptor.
    pub fn new(listener: &OwnedFd) -> io::Result<ListenerStop> {
        listener.try_clone().map(ListenerStop)
    }
}

impl Drop for ListenerStop {
    fn drop(&mut self) {
        // SAFETY: shutdown(2) on a descriptor this value owns; no memory is passed. An error
        // (the socket already closed or never listening) leaves nothing to undo.
        unsafe { libc::shutdown(self.0.as_raw_fd(), libc::SHUT_RD) };
    }
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

/// Raises the soft RLIMIT_NOFILE to the hard limit; returns the resulting soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
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
    Ok(limit.rlim_cur)
}

/// How much memory this process may lock, which io_uring charges its rings to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryLock {
    /// CAP_IPC_LOCK is effective: no limit applies.
    pub has_ipc_lock: bool,
    /// The soft RLIMIT_MEMLOCK in bytes; `None` when it is unlimited.
    pub limit: Option<u64>,
}

/// Reads CAP_IPC_LOCK from `/proc/self/status` and RLIMIT_MEMLOCK. A value that cannot be
/// read counts as limited: the caller then takes the choice that needs the least.
pub fn memory_lock() -> MemoryLock {
    // CAP_IPC_LOCK is capability 14 (linux/capability.h); CapEff is the effective set in hex.
    let ipc_lock_bit = 1u64 << 14;
    let has_ipc_lock = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let hex = status.lines().find_map(|l| l.strip_prefix("CapEff:"))?;
            u64::from_str_radix(hex.trim(), 16).ok()
        })
        .is_some_and(|caps| caps & ipc_lock_bit != 0);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-pointer for the call.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut limit) } == 0;
    let limit = match (read, limit.rlim_cur) {
        (true, libc::RLIM_INFINITY) => None,
        (true, bytes) => Some(bytes),
        (false, _) => Some(0),
    };
    MemoryLock {
        has_ipc_lock,
        limit,
    }
}

/// The signals the signal thread waits for.
pub const HANDLED_SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP];

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigemptyset initialises the set it is given; all-zero is a valid starting value.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe { libc::sigemptyset(&mut set) };
    for signal in HANDLED_SIGNALS {
        // SAFETY: `set` is initialised and `signal` is a valid signal number.
        unsafe { libc::sigaddset(&mut set, signal) };
    }
    set
}

/// Blocks the handled signals in this thread (and the threads it spawns afterwards), so
/// only `wait_signal` sees them; ignores SIGPIPE so a write to a vanished client is an error,
/// not a process exit.
pub fn block_signals() -> io::Result<()> {
    let set = handled_set();
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let ret = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    // SAFETY: setting SIGPIPE's disposition to SIG_IGN has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    Ok(())
}

/// Waits up to `timeout` for one of the handled signals; `None` on timeout.
pub fn wait_signal(timeout: std::time::Duration) -> Option<libc::c_int> {
    let set = handled_set();
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: timeout.subsec_nanos() as libc::c_long,
    };
    // SAFETY: `set` and `ts` are valid for the call; a null siginfo pointer is allowed.
    let signal = unsafe { libc::sigtimedwait(&set, std::ptr::null_mut(), &ts) };
    (signal > 0).then_some(signal)
}
