//! Connections: this shard's held connections, the ones that receive published items.
//!
//! Owns: a slab of `Held` entries keyed by `ConnKey`, each with its `Sink`, the socket
//! descriptor the delivery loop writes to, the channels it is subscribed to, and the waker of
//! its task.
//! Must not: outlive the sockets it names. Architecture invariant: an entry is removed (by
//! `HeldGuard`'s drop) before its connection's stream is dropped, so the delivery loop never
//! writes to a closed or reused descriptor. `Connections` holds `Rc`-free plain data but the
//! shard keeps it behind an `Rc`, so it is `!Send`: a connection never moves between shards.

use super::direct_send::{self, FlushOutcome};
use crate::fanout::{ConnKey, Sink, SinkTable};
use std::os::unix::io::RawFd;
use std::task::Waker;

/// A held connection's delivery state.
#[derive(Debug)]
pub struct Held {
    /// The socket the delivery loop writes to directly.
    pub fd: RawFd,
    /// False for a TLS connection: its bytes must be encrypted by its own task, so the
    /// delivery loop wakes the task instead of writing (`flush_direct`).
    pub direct: bool,
    /// Queue and delivery flags.
    pub sink: Sink,
    /// Channels this connection is subscribed to.
    pub channels: Vec<String>,
    /// The connection task's waker, set while it waits.
    pub waker: Option<Waker>,
    /// Set by `wake`, cleared by the task when it looks.
    pub woken: bool,
    /// The socket failed while the delivery loop wrote to it.
    pub failed: bool,
    /// The id control commands know this connection by (`ShardContext::name_session`).
    pub session_id: Option<Box<str>>,
}

impl Held {
    /// Writes as much of the queue as the socket takes now. A TLS connection is left to its
    /// task, which encrypts: `Blocked`, so the caller wakes the task as for a full socket.
    pub fn flush_direct(&mut self) -> FlushOutcome {
        if !self.direct {
            return FlushOutcome::Blocked;
        }
        direct_send::flush(self.fd, &mut self.sink.queue)
    }
}

/// The slab of held connections.
#[derive(Debug, Default)]
pub struct Connections {
    slots: Vec<Option<Held>>,
    free: Vec<u32>,
    len: usize,
}

impl Connections {
    /// An empty table.
    pub fn new() -> Connections {
        Connections::default()
    }

    /// Adds an entry and returns its key.
    pub fn insert(&mut self, held: Held) -> ConnKey {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            self.slots[index as usize] = Some(held);
            return ConnKey(index);
        }
        let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 held connections");
        self.slots.push(Some(held));
        ConnKey(index)
    }

    /// Removes and returns an entry.
    pub fn remove(&mut self, key: ConnKey) -> Option<Held> {
        let held = self.slots.get_mut(key.0 as usize)?.take()?;
        self.free.push(key.0);
        self.len -= 1;
        Some(held)
    }

    /// The entry of `key`.
    pub fn get_mut(&mut self, key: ConnKey) -> Option<&mut Held> {
        self.slots.get_mut(key.0 as usize)?.as_mut()
    }

    /// Marks `key` as woken and wakes its task.
    pub fn wake(&mut self, key: ConnKey) {
        if let Some(held) = self.get_mut(key) {
            held.woken = true;
            if let Some(waker) = held.waker.take() {
                waker.wake();
            }
        }
    }

    /// Number of held connections.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Keys of every held connection.
    pub fn keys(&self) -> Vec<ConnKey> {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.is_some())
            .map(|(i, _)| ConnKey(i as u32))
            .collect()
    }
}

impl SinkTable for Connections {
    fn sink_mut(&mut self, key: ConnKey) -> Option<&mut Sink> {
        self.get_mut(key).map(|h| &mut h.sink)
    }
}
