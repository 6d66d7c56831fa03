//! Connections of the floor server: a generation-checked slab of sockets, each with a small
//! pending buffer for bytes the kernel did not take at once.
//!
//! Owns: every accepted socket (`OwnedFd`, closed on removal), its role, its read buffer and its
//! pending bytes, and whether EPOLLOUT is armed for it.
//! Must not: parse HTTP or decide what to send (the server does); block.
//! Invariants: a connection's bytes leave in the order they were written: once anything is
//! pending, later writes queue behind it. EPOLLOUT is armed exactly while bytes are pending.
//! Pending bytes are bounded by `PENDING_BYTES_MAX`; past it the write fails with `Overflow`
//! and the caller closes the connection and counts it (no silent drop).

use super::channels::Subscription;
use super::sys::{self, Epoll, INTEREST_READ, INTEREST_READ_WRITE};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

/// Unsent bytes one connection may hold before it counts as too slow and is closed.
pub(super) const PENDING_BYTES_MAX: usize = 1024 * 1024;
/// A pending buffer that grew past this is given back to the allocator once it drains.
const PENDING_CAPACITY_KEPT: usize = 64 * 1024;

/// Which listener a connection came from, and for clients how far it got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    /// A client whose request head is still being read.
    ClientHead,
    /// A client that got the open response and is held: it receives its channel's chunks.
    Subscriber,
    /// A connection on the publish/control listener.
    Control,
}

/// Bytes written to a connection that the kernel has not taken yet.
#[derive(Debug, Default)]
pub(super) struct Pending {
    bytes: Vec<u8>,
    sent: usize,
}

impl Pending {
    pub(super) fn is_empty(&self) -> bool {
        self.sent == self.bytes.len()
    }

    fn len(&self) -> usize {
        self.bytes.len() - self.sent
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), WriteError> {
        if self.len() + bytes.len() > PENDING_BYTES_MAX {
            return Err(WriteError::Overflow);
        }
        if self.is_empty() {
            self.bytes.clear();
            self.sent = 0;
        }
        self.bytes.extend_from_slice(bytes);
        Ok(())
    }

    /// Sends as much as the socket takes; `Ok(true)` when nothing is left.
    fn flush(&mut self, fd: &OwnedFd) -> io::Result<bool> {
        while !self.is_empty() {
            match sys::send(fd.as_raw_fd(), &self.bytes[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        self.bytes.clear();
        self.sent = 0;
        if self.bytes.capacity() > PENDING_CAPACITY_KEPT {
            self.bytes = Vec::new();
        }
        Ok(true)
    }
}

/// How a write went, for the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Written {
    /// The kernel took every byte.
    Whole,
    /// The kernel took some bytes; the rest is pending.
    Partial,
    /// The kernel took nothing (EAGAIN), or bytes were already pending; all of it is pending.
    Queued,
}

/// Why a write failed; either way the caller closes the connection.
#[derive(Debug)]
pub(super) enum WriteError {
    /// The socket failed (reset, broken pipe, ...).
    Io(io::Error),
    /// More than `PENDING_BYTES_MAX` would be pending.
    Overflow,
}

/// One socket and its state.
#[derive(Debug)]
pub(super) struct Conn {
    pub fd: OwnedFd,
    pub role: Role,
    /// Request bytes read and not yet parsed.
    pub inbuf: Vec<u8>,
    /// Close once the pending bytes are sent (after an error answer or `Connection: close`).
    pub close_when_flushed: bool,
    /// A subscriber's place in its channel's list.
    pub subscription: Option<Subscription>,
    pending: Pending,
    is_write_armed: bool,
}

impl Conn {
    pub(super) fn new(fd: OwnedFd, role: Role) -> Conn {
        Conn {
            fd,
            role,
            inbuf: Vec::new(),
            close_when_flushed: false,
            subscription: None,
            pending: Pending::default(),
            is_write_armed: false,
        }
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Writes `bytes` now with one send(2), or queues them behind what is already pending.
    pub(super) fn write(
        &mut self,
        bytes: &[u8],
        epoll: &Epoll,
        key: Key,
    ) -> Result<Written, WriteError> {
        if self.has_pending() {
            self.pending.push(bytes)?;
            return Ok(Written::Queued);
        }
        let sent = sys::send(self.fd.as_raw_fd(), bytes);
        self.on_sent(bytes, sent, epoll, key)
    }

    /// Accounts for one send of `bytes` made while nothing was pending (by send(2) or by an
    /// IORING_OP_SEND completion): keeps what the kernel did not take and arms EPOLLOUT for it.
    pub(super) fn on_sent(
        &mut self,
        bytes: &[u8],
        sent: io::Result<usize>,
        epoll: &Epoll,
        key: Key,
    ) -> Result<Written, WriteError> {
        debug_assert!(
            !self.has_pending(),
            "a send must not overtake pending bytes"
        );
        let written = match sent {
            Ok(n) if n >= bytes.len() => return Ok(Written::Whole),
            Ok(n) => {
                self.pending.push(&bytes[n..])?;
                Written::Partial
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                self.pending.push(bytes)?;
                Written::Queued
            }
            Err(e) => return Err(WriteError::Io(e)),
        };
        self.set_write_interest(epoll, key, true)
            .map_err(WriteError::Io)?;
        Ok(written)
    }

    /// On EPOLLOUT: sends pending bytes; disarms EPOLLOUT once they are gone.
    /// `Ok(true)` when nothing is pending any more.
    pub(super) fn on_writable(&mut self, epoll: &Epoll, key: Key) -> io::Result<bool> {
        let is_drained = self.pending.flush(&self.fd)?;
        if is_drained {
            self.set_write_interest(epoll, key, false)?;
        }
        Ok(is_drained)
    }

    fn set_write_interest(&mut self, epoll: &Epoll, key: Key, is_wanted: bool) -> io::Result<()> {
        if self.is_write_armed == is_wanted {
            return Ok(());
        }
        let interest = if is_wanted {
            INTEREST_READ_WRITE
        } else {
            INTEREST_READ
        };
        epoll.modify(self.fd.as_raw_fd(), interest, key.token())?;
        self.is_write_armed = is_wanted;
        Ok(())
    }
}

/// A connection's identity: its slot and the slot's generation, so an event for a closed
/// connection can never reach the connection that reused its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Key {
    slot: u32,
    generation: u32,
}

/// Tokens at or above this are the listeners and the signalfd, never a connection.
pub(super) const TOKEN_RESERVED_MIN: u64 = u64::MAX - 15;

impl Key {
    /// The epoll (and io_uring user_data) token for this key.
    pub(super) fn token(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.slot)
    }

    pub(super) fn from_token(token: u64) -> Key {
        debug_assert!(token < TOKEN_RESERVED_MIN);
        Key {
            slot: token as u32,
            generation: (token >> 32) as u32,
        }
    }
}

#[derive(Debug, Default)]
struct Slot {
    generation: u32,
    conn: Option<Conn>,
}

/// Every open connection, by `Key`.
#[derive(Debug, Default)]
pub(super) struct Conns {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

impl Conns {
    pub(super) fn insert(&mut self, conn: Conn) -> Key {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None => {
                self.slots.push(Slot::default());
                u32::try_from(self.slots.len() - 1).expect("fewer than 2^32 sockets per process")
            }
        };
        let entry = &mut self.slots[slot as usize];
        debug_assert!(entry.conn.is_none());
        entry.conn = Some(conn);
        Key {
            slot,
            generation: entry.generation,
        }
    }

    pub(super) fn get_mut(&mut self, key: Key) -> Option<&mut Conn> {
        let entry = self.slots.get_mut(key.slot as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        entry.conn.as_mut()
    }

    /// Removes the connection; dropping the returned value closes its socket.
    pub(super) fn remove(&mut self, key: Key) -> Option<Conn> {
        let entry = self.slots.get_mut(key.slot as usize)?;
        if entry.generation != key.generation {
            return None;
        }
        let conn = entry.conn.take()?;
        // Wrapping is harmless: 2^32 reuses of one slot between an event and its handling
        // cannot happen within one epoll batch. A token reaches the reserved range only with
        // slot indexes near 2^32, far beyond any descriptor limit.
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(key.slot);
        Some(conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Conn {
        let fd = std::fs::File::open("/dev/null").expect("open /dev/null");
        Conn::new(OwnedFd::from(fd), Role::Control)
    }

    #[test]
    fn a_removed_key_never_reaches_the_connection_that_reuses_its_slot() {
        let mut conns = Conns::default();
        let first = conns.insert(conn());
        assert!(conns.remove(first).is_some());
        let second = conns.insert(conn());
        assert_eq!(first.slot, second.slot);
        assert!(conns.get_mut(first).is_none());
        assert!(conns.remove(first).is_none());
        assert!(conns.get_mut(second).is_some());
        assert_eq!(Key::from_token(second.token()), second);
    }

    #[test]
    fn pending_is_bounded_at_exactly_the_limit() {
        let mut pending = Pending::default();
        assert!(pending.push(&vec![0; PENDING_BYTES_MAX]).is_ok());
        assert!(matches!(pending.push(&[0]), Err(WriteError::Overflow)));
    }
}
