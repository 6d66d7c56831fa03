//! The lingering close: how a client connection ends after an error response from ringpin.
//!
//! Owns: `linger_close`.
//! Must not: write anything but the FIN, or keep a connection longer than its time and byte
//! budget.
//! Invariants: closing a socket whose receive queue still holds unread bytes makes the kernel
//! send a reset instead of a FIN and drop what is still queued to send, so a client that is
//! still sending (a body after a `414`, the rest of a `431` head) could lose the response it
//! was sent. So the write side is shut down first (the response and the FIN are queued in
//! order), then the client's bytes are read and discarded until it closes, at most
//! `CLIENT_LINGER_BYTES_MAX` bytes or `CLIENT_LINGER_TIMEOUT`, and only then is the socket
//! closed.

use crate::limits::{CLIENT_LINGER_BYTES_MAX, CLIENT_LINGER_TIMEOUT};
use crate::netio::Conn;
use futures_lite::future::or;
use futures_lite::AsyncReadExt;
use std::net::Shutdown;

/// Bytes read per call while discarding.
const LINGER_READ_BYTES: usize = 4096;

/// Shuts down the write side and discards what the client still sends, within the budget;
/// the caller then drops (closes) the connection. The time bound is a timer raced against the
/// reads, not the socket's read timeout, so it holds whatever timeout the caller had set.
pub async fn linger_close(conn: &mut Conn) {
    if conn.stream.shutdown(Shutdown::Write).await.is_err() {
        return;
    }
    let mut buf = vec![0u8; LINGER_READ_BYTES];
    let discard = async {
        let mut discarded = 0;
        while discarded < CLIENT_LINGER_BYTES_MAX {
            match conn.stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    };
    or(discard, glommio::timer::sleep(CLIENT_LINGER_TIMEOUT)).await;
}
