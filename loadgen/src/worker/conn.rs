//! Conn: one subscriber connection of a worker, and the byte moves between its socket, its
//! TLS session (with `--tls`) and its [`Client`].
//!
//! Owns: the per-connection state the worker keeps, handing read bytes (plain, or decrypted
//! by the session) to the client, and writing the client's queued bytes (plain, or through
//! the session) to the socket.
//! Must not: read the clock, count anything or touch epoll (the worker does), parse protocol
//! bytes (client.rs does) or encrypt (tls.rs does).
//! Invariants: a client's bytes leave in the order it queued them; a write that returns
//! "some left" means the socket refused bytes that EPOLLOUT will let through, never plaintext
//! waiting for a handshake (a read finishes the handshake and the worker flushes after every
//! read).

use std::io::{self, Write};
use std::net::TcpStream;

use crate::client::{Client, ClientConfig, Event};
use crate::seqtrack::SeqTracker;
use crate::tls::{Ciphertext, TlsError, TlsSession};

/// A subscriber connection, from connect until it closes.
pub(super) struct Conn {
    /// Non-blocking; registered with the worker's epoll under the connection's index.
    pub(super) stream: TcpStream,
    /// With `--tls`: the session between the socket's bytes and `client`'s.
    pub(super) tls: Option<Box<TlsSession>>,
    /// The protocol state machine.
    pub(super) client: Client,
    /// The channel this subscriber holds: its index in the worker's client configurations.
    pub(super) channel: usize,
    /// Which messages this connection has seen.
    pub(super) tracker: SeqTracker,
    /// The TCP connect completed.
    pub(super) connected: bool,
    /// The subscriber is held (counted once).
    pub(super) held: bool,
    /// EPOLLOUT is armed.
    pub(super) want_write: bool,
}

/// Hands what one read returned (empty: EOF) to the connection's TLS session, if any, and
/// the plaintext to its client; `sink` gets the client's events.
pub(super) fn feed(
    conn: &mut Conn,
    cfg: &ClientConfig,
    data: &[u8],
    plain_buf: &mut [u8],
    sink: &mut impl FnMut(Event),
) -> Result<(), TlsError> {
    let Conn { client, tls, .. } = conn;
    let mut eof = data.is_empty();
    match tls {
        Some(tls) if !eof => {
            let fed = tls.on_ciphertext(data, plain_buf, &mut |p| client.on_bytes(cfg, p, sink))?;
            eof = fed == Ciphertext::PeerClosed;
        }
        _ if !eof => client.on_bytes(cfg, data, sink),
        _ => {}
    }
    if eof {
        client.on_eof(cfg, sink);
    }
    Ok(())
}

/// Writes the client's queued bytes; true when the socket refused some.
pub(super) fn write_plain(stream: &mut TcpStream, client: &mut Client) -> io::Result<bool> {
    while !client.pending_output().is_empty() {
        match stream.write(client.pending_output()) {
            Ok(n) => client.consume_output(n),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// Moves the client's queued bytes into its TLS session and writes the session's records;
/// true when the socket refused some, or plaintext waits for room that writing will make.
/// Plaintext queued during the handshake waits inside rustls until the handshake ends,
/// which a read completes, so it needs no EPOLLOUT.
pub(super) fn write_tls(
    stream: &mut TcpStream,
    client: &mut Client,
    tls: &mut TlsSession,
) -> io::Result<bool> {
    while !client.pending_output().is_empty() {
        match tls.queue_plaintext(client.pending_output())? {
            0 => break,
            n => client.consume_output(n),
        }
    }
    while tls.wants_write() {
        match tls.write_ciphertext(stream) {
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(!client.pending_output().is_empty() && !tls.is_handshaking())
}
