//! Stream: a client or origin socket, plain TCP or TLS over it, read and written the same way.
//!
//! Owns: the record layer (futures-rustls over glommio's `TcpStream`), the handshakes with
//! their deadline, and the rule that makes TLS writes behave like plain ones: bytes a write
//! accepted always reach the socket, even when nobody writes again.
//! Must not: be written to by the delivery loop: its descriptor carries ciphertext, so
//! `Stream::is_tls` connections are written by their own task (`shard::connections::Held`).
//!
//! futures-rustls' `poll_write` may accept plaintext and leave its ciphertext queued inside
//! rustls when the socket is full; that ciphertext is sent by the next write or flush. The
//! hold loops write and then wait to read, so `poll_read` here first pushes out what is
//! queued (registering for writability if the socket is full), and `poll_write` does the
//! same before accepting more. A plain `TcpStream` pays one `match` per call.

use futures_lite::io::{AsyncRead, AsyncWrite};
use futures_rustls::{client, server};
use glommio::net::TcpStream;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::os::unix::io::{AsRawFd, RawFd};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

/// A socket ringpin reads and writes: plain, or TLS as a server (client connections) or as a
/// client (`ssl` origins). The TLS states are boxed: rustls' connection state is a few KiB,
/// and a `Conn` lives inside every connection task's future.
pub enum Stream {
    /// Plain TCP.
    Plain(TcpStream),
    /// A client connection on a `--listen-tls` listener, after its handshake.
    TlsServer(Box<server::TlsStream<TcpStream>>),
    /// A connection to an `ssl` origin target, after its handshake.
    TlsClient(Box<client::TlsStream<TcpStream>>),
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self {
            Stream::Plain(_) => "plain",
            Stream::TlsServer(_) => "tls-server",
            Stream::TlsClient(_) => "tls-client",
        };
        write!(f, "Stream({kind}, fd {})", self.as_raw_fd())
    }
}

impl From<TcpStream> for Stream {
    fn from(tcp: TcpStream) -> Stream {
        Stream::Plain(tcp)
    }
}

impl Stream {
    /// The TCP socket underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::TlsServer(tls) => tls.get_ref().0,
            Stream::TlsClient(tls) => tls.get_ref().0,
        }
    }

    /// True for TLS: the bytes on the socket are not the bytes written here.
    pub fn is_tls(&self) -> bool {
        !matches!(self, Stream::Plain(_))
    }

    /// The SNI name a TLS client asked for, if any.
    pub fn server_name(&self) -> Option<&str> {
        match self {
            Stream::TlsServer(tls) => tls.get_ref().1.server_name(),
            _ => None,
        }
    }

    /// The peer's address.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.tcp()
            .peer_addr()
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Sets `TCP_NODELAY`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.tcp()
            .set_nodelay(on)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Sets the timeout of each following socket read; `None` waits forever.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp()
            .set_read_timeout(timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Sets the timeout of each following socket write; `None` waits forever.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp()
            .set_write_timeout(timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Shuts down the write side; TLS first sends its close_notify and what is queued.
    pub async fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp
                .shutdown(Shutdown::Write)
                .await
                .map_err(|e| io::Error::other(e.to_string())),
            // Closing a TLS stream sends close_notify, flushes, and shuts the TCP write side.
            _ => futures_lite::AsyncWriteExt::close(self).await,
        }
    }

    fn pending_tls_write(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Stream::Plain(_) => Poll::Ready(Ok(())),
            Stream::TlsServer(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            Stream::TlsClient(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }
}

impl AsRawFd for Stream {
    fn as_raw_fd(&self) -> RawFd {
        self.tcp().as_raw_fd()
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Stream::Plain(tcp) = this {
            return Pin::new(tcp).poll_read(cx, buf);
        }
        // Queued ciphertext goes out while the task waits for the peer (module doc).
        if let Poll::Ready(Err(err)) = this.pending_tls_write(cx) {
            return Poll::Ready(Err(err));
        }
        match this {
            Stream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            Stream::TlsServer(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            Stream::TlsClient(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Stream::Plain(tcp) = this {
            return Pin::new(tcp).poll_write(cx, buf);
        }
        // What an earlier write accepted is sent before more is accepted.
        std::task::ready!(this.pending_tls_write(cx))?;
        let written = match this {
            Stream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            Stream::TlsServer(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            Stream::TlsClient(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        };
        if let Poll::Ready(Ok(_)) = written {
            // Try to send it now; what the socket does not take goes with the next call.
            let _ = this.pending_tls_write(cx);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            Stream::TlsServer(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            Stream::TlsClient(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(tcp) => Pin::new(tcp).poll_close(cx),
            Stream::TlsServer(tls) => Pin::new(tls.as_mut()).poll_close(cx),
            Stream::TlsClient(tls) => Pin::new(tls.as_mut()).poll_close(cx),
        }
    }
}

/// Runs a server handshake on an accepted socket; an error when the client sent something
/// that is not TLS, failed the handshake, or did not finish it within `timeout`.
pub async fn accept(
    tcp: TcpStream,
    config: std::sync::Arc<rustls::ServerConfig>,
    timeout: Duration,
) -> Result<Stream, io::Error> {
    // Boxed: the handshake's state is large and transient, and would otherwise sit in every
    // connection task's future for its whole life.
    let handshake = Box::pin(futures_rustls::TlsAcceptor::from(config).accept(tcp));
    let expire = async {
        glommio::timer::sleep(timeout).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("TLS handshake not finished within {timeout:?}"),
        ))
    };
    let tls = futures_lite::future::or(handshake, expire).await?;
    Ok(Stream::TlsServer(Box::new(tls)))
}

/// Runs a client handshake to an origin, naming `server_name` (SNI and the certificate
/// check), within `timeout`.
pub async fn connect(
    tcp: TcpStream,
    config: std::sync::Arc<rustls::ClientConfig>,
    server_name: rustls_pki_types::ServerName<'static>,
    timeout: Duration,
) -> Result<Stream, io::Error> {
    let handshake = Box::pin(futures_rustls::TlsConnector::from(config).connect(server_name, tcp));
    let expire = async {
        glommio::timer::sleep(timeout).await;
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("TLS handshake with the origin not finished within {timeout:?}"),
        ))
    };
    let tls = futures_lite::future::or(handshake, expire).await?;
    Ok(Stream::TlsClient(Box::new(tls)))
}
