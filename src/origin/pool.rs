//! OriginPool: this shard's idle keep-alive connections to origins.
//!
//! Owns: connecting to targets (with a deadline) and keeping finished connections for reuse.
//! Must not: be shared between shards (it holds glommio sockets, which are `!Send`).

use crate::http::{parse_response, HeadLimits, ResponseHead};
use crate::limits::{
    ORIGIN_CONNECT_TIMEOUT, ORIGIN_POOL_IDLE_PER_TARGET_MAX, ORIGIN_POOL_IDLE_TIMEOUT,
};
use crate::netio::{Conn, HeadError};
use glommio::net::TcpStream;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
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

/// Idle origin connections by `host:port`.
#[derive(Debug, Default)]
pub struct OriginPool {
    idle: RefCell<HashMap<(String, u16), IdleList>>,
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
        Ok(OriginConn {
            conn: connect(host, port).await?,
            reused: false,
        })
    }

    /// A new connection, never a pooled one.
    pub async fn connect_fresh(&self, host: &str, port: u16) -> io::Result<OriginConn> {
        Ok(OriginConn {
            conn: connect(host, port).await?,
            reused: false,
        })
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

async fn connect(host: &str, port: u16) -> io::Result<Conn> {
    let addr = resolve(host, port)?;
    let stream = TcpStream::connect_timeout(addr, ORIGIN_CONNECT_TIMEOUT)
        .await
        .map_err(|e| io::Error::other(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    Ok(Conn::new(stream))
}

fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}")))
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
