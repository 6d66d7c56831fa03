//! Conn: a socket (plain TCP or TLS, `tls::Stream`) with a read buffer, used by the client and
//! origin sides.
//!
//! Owns: buffered reads (heads, bodies) and writes on one socket.
//! Must not: know HTTP semantics beyond calling the pure parsers it is handed.
//! A client connection waits for each request with no read buffer at all (`wait_for_bytes`);
//! the buffer is allocated once bytes arrive, and released with `shrink()` when the
//! connection goes idle or is held, because 100K held connections must not keep 16 KiB each
//! of buffer nobody reads. Other reads with no buffer (`fill`) wait with a small one
//! (`CLIENT_FIRST_READ_BYTES`).

use crate::http::{BodyDecoder, DecodeProgress, ParseError};
use crate::limits::CLIENT_FIRST_READ_BYTES;
use crate::limits::READ_CHUNK_BYTES;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use std::io;
use std::time::{Duration, Instant};

/// Why a head could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HeadError {
    /// The peer closed before sending any byte of a head.
    #[error("peer closed the connection")]
    Closed,
    /// The peer closed in the middle of a head.
    #[error("peer closed the connection inside a message head")]
    Truncated,
    /// The head is malformed or over a limit.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A socket error, including a read timeout.
    #[error("i/o error reading a message head: {0}")]
    Io(#[from] io::Error),
    /// The whole head did not arrive before its deadline (`read_head_by`).
    #[error("the message head did not arrive in time")]
    TimedOut,
}

pub use crate::tls::Stream;

/// A socket with a read buffer.
#[derive(Debug)]
pub struct Conn {
    /// The socket.
    pub stream: Stream,
    buf: Vec<u8>,
    start: usize,
}

impl Conn {
    /// Wraps `stream` (a `Stream` or a plain glommio `TcpStream`) with an empty buffer.
    pub fn new(stream: impl Into<Stream>) -> Conn {
        Conn {
            stream: stream.into(),
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Bytes read but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.start..]
    }

    /// Marks `n` buffered bytes as consumed.
    pub fn consume(&mut self, n: usize) {
        self.start += n;
        debug_assert!(self.start <= self.buf.len());
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
    }

    /// Frees the buffer's memory if nothing is buffered.
    pub fn shrink(&mut self) {
        if self.start == self.buf.len() {
            self.buf = Vec::new();
            self.start = 0;
        }
    }

    /// Appends bytes read elsewhere (e.g. while a connection was held) to the buffer.
    /// Consumed bytes are dropped first: a WebSocket keeps a partial frame buffered while more
    /// arrives, and without this the buffer would keep every byte ever read.
    pub fn extend_buffered(&mut self, bytes: &[u8]) {
        if self.start > 0 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Sets the timeout of each following read; `None` waits forever.
    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream.set_read_timeout(timeout)
    }

    /// Sets (or clears, with `None`) the socket's write timeout: a write that makes no
    /// progress for that long fails with `TimedOut`.
    pub fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.stream
            .set_write_timeout(timeout)
            .map_err(|e| io::Error::other(e.to_string()))
    }

    /// Reads more bytes into the buffer; returns how many (0 = the peer closed).
    /// With no buffer memory (a new or `shrink`ed connection), the first read waits in a
    /// small `CLIENT_FIRST_READ_BYTES` buffer; the full-size one is allocated only once bytes
    /// have arrived. The small buffer is on the heap, not the stack: a stack array here would
    /// be part of every connection task's future, held streams included, for their lifetime.
    pub async fn fill(&mut self) -> io::Result<usize> {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve_exact(CLIENT_FIRST_READ_BYTES);
        }
        let old_len = self.buf.len();
        // Read into the room already allocated when there is a useful amount of it, so the
        // buffer allocated after a first read is not reallocated by the second.
        let room = self.buf.capacity() - old_len;
        let chunk = if room >= CLIENT_FIRST_READ_BYTES {
            room.min(READ_CHUNK_BYTES)
        } else {
            READ_CHUNK_BYTES
        };
        self.buf.resize(old_len + chunk, 0);
        let result = self.stream.read(&mut self.buf[old_len..]).await;
        let n = *result.as_ref().unwrap_or(&0);
        self.buf.truncate(old_len + n);
        result
    }

    /// Waits for the peer's next bytes holding no read buffer: the wait reads one byte into
    /// a one-byte array, so an idle connection's task holds nothing but its socket, and only
    /// then is the buffer allocated, with `READ_CHUNK_BYTES` of room for the rest. Returns
    /// at once when bytes are buffered already (a pipelined request); false when the peer
    /// closed. A read timeout (`set_read_timeout`) ends the wait with `TimedOut`.
    pub async fn wait_for_bytes(&mut self) -> io::Result<bool> {
        if !self.buffered().is_empty() {
            return Ok(true);
        }
        let mut byte = [0u8; 1];
        if self.stream.read(&mut byte).await? == 0 {
            return Ok(false);
        }
        self.buf.clear();
        self.start = 0;
        self.buf.reserve_exact(READ_CHUNK_BYTES);
        self.buf.push(byte[0]);
        Ok(true)
    }

    /// Reads until `parse` finds a complete head; consumes it.
    pub async fn read_head<T>(
        &mut self,
        parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ParseError>,
    ) -> Result<T, HeadError> {
        loop {
            if !self.buffered().is_empty() {
                if let Some((head, used)) = parse(self.buffered())? {
                    self.consume(used);
                    return Ok(head);
                }
            }
            let had_bytes = !self.buffered().is_empty();
            if self.fill().await? == 0 {
                return Err(if had_bytes {
                    HeadError::Truncated
                } else {
                    HeadError::Closed
                });
            }
        }
    }

    /// `read_head`, but the whole head must be complete by `deadline` (it is not moved by the
    /// bytes that arrive): a client that trickles a head byte by byte still runs out of time.
    pub async fn read_head_by<T>(
        &mut self,
        parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, ParseError>,
        deadline: Instant,
    ) -> Result<T, HeadError> {
        let read = self.read_head(parse);
        let expire = async {
            glommio::timer::sleep(deadline.saturating_duration_since(Instant::now())).await;
            Err(HeadError::TimedOut)
        };
        futures_lite::future::or(read, expire).await
    }

    /// Decodes body bytes already buffered, and reads more while `out` stays under `max`.
    /// Returns true when the body is complete, false when `max` was reached first.
    pub async fn read_body(
        &mut self,
        decoder: &mut BodyDecoder,
        out: &mut Vec<u8>,
        max: usize,
    ) -> Result<bool, BodyError> {
        loop {
            if !self.buffered().is_empty() {
                let DecodeProgress { consumed, done } = decoder.decode(self.buffered(), out)?;
                self.consume(consumed);
                if done {
                    return Ok(true);
                }
            } else if decoder.is_done() {
                return Ok(true);
            }
            if out.len() >= max {
                return Ok(false);
            }
            if self.fill().await? == 0 {
                decoder.on_eof()?;
                return Ok(true);
            }
        }
    }

    /// Decodes the body bytes already buffered, reading nothing: true when the body is
    /// complete in them.
    pub fn decode_buffered(
        &mut self,
        decoder: &mut BodyDecoder,
        out: &mut Vec<u8>,
    ) -> Result<bool, ParseError> {
        let DecodeProgress { consumed, done } = decoder.decode(self.buffered(), out)?;
        self.consume(consumed);
        Ok(done)
    }

    /// Reads until at least one more body byte is in `out`, or the body is complete: one
    /// read's worth (`READ_CHUNK_BYTES` of the wire) at a time, so a relay can pass each piece
    /// on as it arrives. Returns true when the body is complete.
    pub async fn read_body_some(
        &mut self,
        decoder: &mut BodyDecoder,
        out: &mut Vec<u8>,
    ) -> Result<bool, BodyError> {
        self.read_body(decoder, out, out.len() + 1).await
    }

    /// Writes all of `data`. On TLS, also sends all of its ciphertext before returning, so a
    /// response written just before a close is not lost.
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.stream.write_all(data).await?;
        if self.stream.is_tls() {
            self.stream.flush().await?;
        }
        Ok(())
    }

    /// Ends the connection cleanly before it is dropped: TLS sends what is still queued and its
    /// close_notify, within `timeout` (a client that does not read cannot hold the task);
    /// plain TCP needs nothing.
    pub async fn close(&mut self, timeout: Duration) {
        if !self.stream.is_tls() {
            return;
        }
        let close = async {
            let _ = self.stream.shutdown_write().await;
        };
        futures_lite::future::or(close, glommio::timer::sleep(timeout)).await;
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// The body framing is invalid or the peer closed early.
    #[error(transparent)]
    Parse(#[from] ParseError),
    /// A socket error, including a read timeout.
    #[error("i/o error reading a body: {0}")]
    Io(#[from] io::Error),
}
