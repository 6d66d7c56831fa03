//! OriginPool: this shard's origin sockets, in use and idle.
//!
//! Owns: connecting to targets (with a deadline), resolving their host names (off the
//! shard's thread, cached for `ORIGIN_DNS_CACHE_TTL`), keeping finished connections for
//! reuse, and counting every origin socket the shard has open against its share of
//! descriptors (`open_max`, from `runtime`).
//! Must not: be shared between shards (it holds glommio sockets, which are `!Send`), or
//! block the shard: `getaddrinfo` runs on glommio's blocking pool.
//! Invariants: an `OriginConn` holds one slot of the count for as long as its socket is open,
//! pooled or not; a pooled connection is handed out only if nothing arrived on it while it
//! was idle (checked on the socket itself, `sys::peek_idle`), so no client ever reads bytes
//! an origin sent for another request or for none.
//! At the bound, a request first closes the oldest idle connection; with none idle it waits,
//! first come first served, up to `ORIGIN_SLOT_WAIT_MAX` for a socket to close (a connection
//! that finishes meanwhile is closed rather than pooled, so a waiter gets its slot), then
//! fails with `Exhausted` (503). A burst of slow origin answers thus queues requests briefly
//! instead of refusing them at once.

use super::endpoint::Endpoint;
use super::sys::{peek_idle, IdlePeek};
use crate::http::{parse_response, HeadLimits, ResponseHead};
use crate::limits::ORIGIN_SLOT_WAIT_MAX;
use crate::limits::{
    ORIGIN_CONNECT_TIMEOUT, ORIGIN_DNS_CACHE_TTL, ORIGIN_POOL_IDLE_PER_TARGET_MAX,
    ORIGIN_POOL_IDLE_TIMEOUT, ORIGIN_TLS_HANDSHAKE_TIMEOUT,
};
use crate::netio::{Conn, HeadError};
use crate::tls::OriginTls;
use futures_lite::future::or;
use glommio::net::TcpStream;
use glommio::sync::{Semaphore, StaticPermit};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::ops::{Deref, DerefMut};
use std::os::unix::io::AsRawFd;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why no origin connection could be had.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The shard had `open_max` origin sockets open, none idle, and none closed within
    /// `ORIGIN_SLOT_WAIT_MAX`.
    #[error("origin connection limit of {open_max} reached on this shard")]
    Exhausted {
        /// The shard's bound.
        open_max: usize,
    },
    /// Resolving or connecting failed.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// One counted origin socket: a permit of the shard's origin semaphore, returned when the
/// socket closes.
struct OriginSlot {
    _permit: StaticPermit,
}

impl std::fmt::Debug for OriginSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OriginSlot")
    }
}

/// An origin connection ready for a request, and whether it came from the pool. It derefs to
/// its `Conn`; the socket stays counted against the shard's bound until this drops or goes
/// back with `OriginPool::put`.
#[derive(Debug)]
pub struct OriginConn {
    conn: Conn,
    /// True when reused: a failure before any response byte may be retried once.
    pub reused: bool,
    _slot: OriginSlot,
}

impl Deref for OriginConn {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        &self.conn
    }
}

impl DerefMut for OriginConn {
    fn deref_mut(&mut self) -> &mut Conn {
        &mut self.conn
    }
}

/// Idle connections to one target, each with the time it was returned, oldest first.
type IdleList = Vec<(OriginConn, Instant)>;

/// A host name's addresses, in the resolver's order, and when they were resolved.
type Resolved = (Rc<[SocketAddr]>, Instant);

/// Idle origin connections by endpoint (address and TLS), and the count of all open ones.
#[derive(Debug)]
pub struct OriginPool {
    idle: RefCell<HashMap<Endpoint, IdleList>>,
    /// Addresses of the host names resolved so far, and when.
    resolved: RefCell<HashMap<(String, u16), Resolved>>,
    /// One permit per origin socket this shard may have open (`runtime::FdBudget`); held by
    /// every socket in use, connecting, or idle in the pool.
    slots: Rc<Semaphore>,
    /// Most origin sockets this shard may have open.
    open_max: usize,
    /// Requests waiting for a slot now.
    waiting: Cell<usize>,
    /// Longest wait for a slot (`ORIGIN_SLOT_WAIT_MAX`; shorter in tests).
    slot_wait: Duration,
    /// The TLS client configurations for `ssl` targets and `https` links.
    tls: Option<Arc<OriginTls>>,
}

impl OriginPool {
    /// An empty pool allowed `open_max` origin sockets at once; TLS endpoints use `tls`
    /// (without it they cannot be reached).
    pub fn new(open_max: usize, tls: Option<Arc<OriginTls>>) -> OriginPool {
        OriginPool {
            idle: RefCell::default(),
            resolved: RefCell::default(),
            slots: Rc::new(Semaphore::new(open_max as u64)),
            open_max,
            waiting: Cell::new(0),
            slot_wait: ORIGIN_SLOT_WAIT_MAX,
            tls,
        }
    }

    /// The same pool, waiting at most `wait` for a slot at the bound.
    pub fn with_slot_wait(mut self, wait: Duration) -> OriginPool {
        self.slot_wait = wait;
        self
    }

    /// Origin sockets open now, idle ones included.
    pub fn open(&self) -> usize {
        self.open_max - self.slots.available() as usize
    }

    /// A pooled connection to `endpoint`, or a new one.
    pub async fn get(&self, endpoint: &Endpoint) -> Result<OriginConn, ConnectError> {
        if let Some(conn) = self.take_idle(endpoint) {
            return Ok(conn);
        }
        self.connect_fresh(endpoint).await
    }

    /// A new connection, never a pooled one.
    /// Each address of the name is tried in the resolver's order (IPv6 and IPv4 of a
    /// dual-stack name, say) until one connects. At the shard's bound, the oldest idle
    /// connection is closed to make room; with none idle, this fails at once.
    /// A TLS endpoint's handshake follows the connect; its failure is a connect failure (the
    /// next target is tried, PUSHPIN.md §1.3).
    pub async fn connect_fresh(&self, endpoint: &Endpoint) -> Result<OriginConn, ConnectError> {
        let (host, port) = (endpoint.host.as_str(), endpoint.port);
        let slot = self.slot().await?;
        let addrs = self.resolve(host, port).await?;
        let mut last_error = None;
        for &addr in addrs.iter() {
            match TcpStream::connect_timeout(addr, ORIGIN_CONNECT_TIMEOUT).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(OriginConn {
                        conn: Conn::new(self.secure(stream, endpoint).await?),
                        reused: false,
                        _slot: slot,
                    });
                }
                Err(err) => last_error = Some(io::Error::other(err.to_string())),
            }
        }
        Err(last_error.unwrap_or_else(|| no_address(host)).into())
    }

    /// The connection's stream: plain, or after a TLS handshake for an `ssl` endpoint.
    async fn secure(
        &self,
        tcp: TcpStream,
        endpoint: &Endpoint,
    ) -> Result<crate::netio::Stream, ConnectError> {
        let Some(peer) = &endpoint.tls else {
            return Ok(tcp.into());
        };
        let tls = self
            .tls
            .as_ref()
            .ok_or_else(|| io::Error::other("no TLS configuration for origins"))?;
        let name = rustls_pki_types::ServerName::try_from(peer.name.clone())
            .map_err(|e| io::Error::other(format!("TLS name {:?}: {e}", peer.name)))?;
        let config = tls.config(peer.insecure);
        crate::tls::stream::connect(tcp, config, name, ORIGIN_TLS_HANDSHAKE_TIMEOUT)
            .await
            .map_err(|e| io::Error::other(format!("TLS with {endpoint}: {e}")).into())
    }

    /// Counts one more origin socket: at the bound, the oldest idle one is closed first; with
    /// none idle, this waits in line up to `slot_wait` for a socket to close.
    async fn slot(&self) -> Result<OriginSlot, ConnectError> {
        if let Ok(permit) = self.slots.try_acquire_static_permit(1) {
            return Ok(OriginSlot { _permit: permit });
        }
        self.close_oldest_idle();
        if let Ok(permit) = self.slots.try_acquire_static_permit(1) {
            return Ok(OriginSlot { _permit: permit });
        }
        self.waiting.set(self.waiting.get() + 1);
        let acquired = async { self.slots.acquire_static_permit(1).await.ok() };
        let timed_out = async {
            glommio::timer::sleep(self.slot_wait).await;
            None
        };
        let permit = or(acquired, timed_out).await;
        self.waiting.set(self.waiting.get() - 1);
        // The caller logs a refusal (rate-limited) with the request it refuses.
        permit
            .map(|permit| OriginSlot { _permit: permit })
            .ok_or(ConnectError::Exhausted {
                open_max: self.open_max,
            })
    }

    fn close_oldest_idle(&self) {
        let mut idle = self.idle.borrow_mut();
        let oldest = idle
            .iter()
            .filter_map(|(key, list)| list.first().map(|(_, since)| (key.clone(), *since)))
            .min_by_key(|(_, since)| *since);
        if let Some((key, _)) = oldest {
            if let Some(list) = idle.get_mut(&key) {
                drop(list.remove(0));
                if list.is_empty() {
                    idle.remove(&key);
                }
            }
        }
    }

    /// The address of `host:port`: an IP literal at once, a name from the cache or, when
    /// missing or older than `ORIGIN_DNS_CACHE_TTL`, from `getaddrinfo` on glommio's blocking
    /// pool, so a slow resolver never stalls the shard's other connections.
    async fn resolve(&self, host: &str, port: u16) -> io::Result<Rc<[SocketAddr]>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(Rc::from([SocketAddr::new(ip, port)]));
        }
        let key = (host.to_owned(), port);
        if let Some((addrs, at)) = self.resolved.borrow().get(&key) {
            if at.elapsed() < ORIGIN_DNS_CACHE_TTL {
                return Ok(Rc::clone(addrs));
            }
        }
        let name = host.to_owned();
        let addrs: Rc<[SocketAddr]> = glommio::executor()
            .spawn_blocking(move || resolve_blocking(&name, port))
            .await?
            .into();
        self.resolved
            .borrow_mut()
            .insert(key, (Rc::clone(&addrs), Instant::now()));
        Ok(addrs)
    }

    /// The newest idle connection to `endpoint` that is still fresh and on which nothing
    /// arrived while it was idle; the others are closed.
    fn take_idle(&self, endpoint: &Endpoint) -> Option<OriginConn> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(endpoint)?;
        while let Some((mut conn, since)) = list.pop() {
            if since.elapsed() < ORIGIN_POOL_IDLE_TIMEOUT && still_clean(&conn, endpoint) {
                conn.reused = true;
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection whose last response was read completely. It is closed instead
    /// when the origin already sent more (bytes past the response in the buffer or on the
    /// socket), or closed its side.
    pub fn put(&self, endpoint: &Endpoint, mut origin: OriginConn) {
        // A request waiting for a slot gets this one's: closing it returns its permit.
        if self.waiting.get() > 0 || !still_clean(&origin, endpoint) {
            return;
        }
        origin.conn.shrink();
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry(endpoint.clone()).or_default();
        if list.len() < ORIGIN_POOL_IDLE_PER_TARGET_MAX {
            list.push((origin, Instant::now()));
        }
    }
}

/// True when nothing is waiting to be read on an origin connection between responses, in
/// ringpin's buffer or in the socket. Stray bytes are logged (rate-limited: an origin can
/// send them at will).
/// On TLS, bytes on an idle socket are usually the origin's close_notify: the connection is
/// closed the same way, without the warning.
fn still_clean(conn: &Conn, endpoint: &Endpoint) -> bool {
    let peek = match conn.buffered().len() {
        0 => peek_idle(conn.stream.as_raw_fd()),
        n => IdlePeek::Stray(n),
    };
    match peek {
        IdlePeek::Quiet => true,
        IdlePeek::Stray(_) if conn.stream.is_tls() => {
            log::debug!("origin {endpoint} sent TLS records on an idle connection; closing it");
            false
        }
        IdlePeek::Stray(_) => {
            crate::log_limited!(
                Warn,
                "origin {endpoint} sent bytes on a keep-alive connection outside any \
                 response; closing that connection"
            );
            false
        }
        IdlePeek::Closed | IdlePeek::Failed => {
            log::debug!("origin {endpoint} closed an idle keep-alive connection");
            false
        }
    }
}

/// `getaddrinfo`: blocks, so it runs only on the blocking pool. Never empty on success.
fn resolve_blocking(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(no_address(host));
    }
    Ok(addrs)
}

fn no_address(host: &str) -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"))
}

/// Reads an origin's final response head, skipping interim `1xx` answers (`100 Continue`,
/// `102`, `103`); with `upgrade`, a `101 Switching Protocols` is final too.
pub async fn read_final_head(conn: &mut Conn, upgrade: bool) -> Result<ResponseHead, HeadError> {
    loop {
        let head = conn
            .read_head(|b| parse_response(b, &HeadLimits::ORIGIN))
            .await?;
        if head.status >= 200 || (upgrade && head.status == 101) {
            return Ok(head);
        }
    }
}

/// A head error as an origin failure's text: a close before any byte names the origin.
pub fn head_error_text(err: HeadError) -> String {
    match err {
        HeadError::Closed => "origin closed the connection".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests;
