//! OriginPool: this shard's idle keep-alive connections to origins.
//!
//! Owns: connecting to targets (with a deadline), resolving their host names (off the
//! shard's thread, cached for `ORIGIN_DNS_CACHE_TTL`), and keeping finished connections for
//! reuse.
//! Must not: be shared between shards (it holds glommio sockets, which are `!Send`), or
//! block the shard: `getaddrinfo` runs on glommio's blocking pool.

use crate::http::{parse_response, HeadLimits, ResponseHead};
use crate::limits::{
    ORIGIN_CONNECT_TIMEOUT, ORIGIN_DNS_CACHE_TTL, ORIGIN_POOL_IDLE_PER_TARGET_MAX,
    ORIGIN_POOL_IDLE_TIMEOUT,
};
use crate::netio::{Conn, HeadError};
use glommio::net::TcpStream;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::rc::Rc;
use std::time::Instant;

/// An origin connection ready for a request, and whether it came from the pool.
#[derive(Debug)]
pub struct OriginConn {
    /// The buffered connection.
    pub conn: Conn,
    /// True when reused: a failure before any response byte may be retried once.
    pub reused: bool,
}

/// Idle connections to one target, each with the time it was returned.
type IdleList = Vec<(Conn, Instant)>;

/// A host name's addresses, in the resolver's order, and when they were resolved.
type Resolved = (Rc<[SocketAddr]>, Instant);

/// Idle origin connections by `host:port`.
#[derive(Debug, Default)]
pub struct OriginPool {
    idle: RefCell<HashMap<(String, u16), IdleList>>,
    /// Addresses of the host names resolved so far, and when.
    resolved: RefCell<HashMap<(String, u16), Resolved>>,
}

impl OriginPool {
    /// An empty pool.
    pub fn new() -> OriginPool {
        OriginPool::default()
    }

    /// A pooled connection to `host:port`, or a new one.
    pub async fn get(&self, host: &str, port: u16) -> io::Result<OriginConn> {
        if let Some(conn) = self.take_idle(host, port) {
            return Ok(OriginConn { conn, reused: true });
        }
        self.connect_fresh(host, port).await
    }

    /// A new connection, never a pooled one.
    /// Each address of the name is tried in the resolver's order (IPv6 and IPv4 of a
    /// dual-stack name, say) until one connects.
    pub async fn connect_fresh(&self, host: &str, port: u16) -> io::Result<OriginConn> {
        let addrs = self.resolve(host, port).await?;
        let mut last_error = None;
        for &addr in addrs.iter() {
            match TcpStream::connect_timeout(addr, ORIGIN_CONNECT_TIMEOUT).await {
                Ok(stream) => {
                    let _ = stream.set_nodelay(true);
                    return Ok(OriginConn {
                        conn: Conn::new(stream),
                        reused: false,
                    });
                }
                Err(err) => last_error = Some(io::Error::other(err.to_string())),
            }
        }
        Err(last_error.unwrap_or_else(|| no_address(host)))
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

    fn take_idle(&self, host: &str, port: u16) -> Option<Conn> {
        let mut idle = self.idle.borrow_mut();
        let list = idle.get_mut(&(host.to_owned(), port))?;
        while let Some((conn, since)) = list.pop() {
            if since.elapsed() < ORIGIN_POOL_IDLE_TIMEOUT && conn.buffered().is_empty() {
                return Some(conn);
            }
        }
        None
    }

    /// Returns a connection whose last response was read completely.
    pub fn put(&self, host: &str, port: u16, mut conn: Conn) {
        conn.shrink();
        let mut idle = self.idle.borrow_mut();
        let list = idle.entry((host.to_owned(), port)).or_default();
        if list.len() < ORIGIN_POOL_IDLE_PER_TARGET_MAX {
            list.push((conn, Instant::now()));
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
