//! OutboundQueue: the bytes waiting to be written to one connection.
//!
//! Owns: a bounded FIFO of shared `Bytes` handles plus the write offset into the first one.
//! Must not: touch sockets or decide what to do with an overflowing client (the caller applies
//! the configured slow-client policy to the `Overflow` outcome).
//!
//! Slow-consumer policy: the queue is bounded both in bytes and in items. A push that would
//! exceed either bound is refused whole and reported as `Overflow`; nothing already queued is
//! touched, so the client sees a gap, never a torn message. Memory per connection is therefore
//! at most `bytes_max` plus one item, whatever the publisher does.

use crate::limits::OUTBOUND_ITEMS_INITIAL;
use bytes::Bytes;
use std::collections::VecDeque;

/// What `OutboundQueue::push` did with an item.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushOutcome {
    /// Queued behind bytes that were already waiting: a write is already pending.
    Queued,
    /// Queued into an empty queue: the caller should start writing now.
    BecameReady,
    /// Refused: the queue is full. The item was dropped and nothing else changed.
    Overflow,
}

/// A bounded queue of byte buffers for one connection.
#[derive(Debug)]
pub struct OutboundQueue {
    items: VecDeque<Bytes>,
    /// Bytes of `items[0]` already written.
    head_written: usize,
    /// Unwritten bytes across all items.
    bytes_pending: usize,
    bytes_max: usize,
    items_max: usize,
}

impl OutboundQueue {
    /// An empty queue holding at most `bytes_max` unwritten bytes and `items_max` items.
    pub fn new(bytes_max: usize, items_max: usize) -> OutboundQueue {
        debug_assert!(bytes_max > 0 && items_max > 0);
        OutboundQueue {
            items: VecDeque::new(),
            head_written: 0,
            bytes_pending: 0,
            bytes_max,
            items_max,
        }
    }

    /// Appends `bytes` unless that would exceed a bound. Empty buffers are ignored (`Queued`).
    pub fn push(&mut self, bytes: Bytes) -> PushOutcome {
        if bytes.is_empty() {
            return PushOutcome::Queued;
        }
        let was_empty = self.items.is_empty();
        // An idle connection always accepts one item, however large, so that a message
        // bigger than the byte bound still reaches a client that keeps up.
        if !was_empty
            && (self.items.len() >= self.items_max
                || self.bytes_pending + bytes.len() > self.bytes_max)
        {
            return PushOutcome::Overflow;
        }
        self.push_unbounded(bytes)
    }

    /// Appends `bytes` ignoring the bounds, for the few writes ringpin itself owes the client
    /// (a response head, a terminating chunk) which must never be dropped.
    pub fn push_unbounded(&mut self, bytes: Bytes) -> PushOutcome {
        if bytes.is_empty() {
            return PushOutcome::Queued;
        }
        let was_empty = self.items.is_empty();
        if self.items.capacity() == 0 {
            // A held connection's queue lives as long as the connection, and most never hold
            // more than a stream's head and first body, or one item at a time: room for two,
            // not the four a first push would reserve (64 bytes less for each of 100,000).
            self.items.reserve_exact(OUTBOUND_ITEMS_INITIAL);
        }
        self.bytes_pending += bytes.len();
        self.items.push_back(bytes);
        if was_empty {
            PushOutcome::BecameReady
        } else {
            PushOutcome::Queued
        }
    }

    /// The unwritten part of the first item, or `None` when the queue is empty.
    pub fn front(&self) -> Option<&[u8]> {
        self.items.front().map(|b| &b[self.head_written..])
    }

    /// The unwritten part of the first item as a shared handle (no copy).
    pub fn front_bytes(&self) -> Option<Bytes> {
        self.items.front().map(|b| b.slice(self.head_written..))
    }

    /// Up to `max` unwritten slices from the front, for a vectored write.
    pub fn front_slices(&self, max: usize) -> impl Iterator<Item = &[u8]> {
        self.items.iter().take(max).enumerate().map(|(i, b)| {
            if i == 0 {
                &b[self.head_written..]
            } else {
                &b[..]
            }
        })
    }

    /// Records that `written` bytes from the front reached the socket.
    pub fn advance(&mut self, mut written: usize) {
        assert!(written <= self.bytes_pending, "advanced past queued bytes");
        self.bytes_pending -= written;
        while written > 0 {
            let head_left = self.items[0].len() - self.head_written;
            if written >= head_left {
                written -= head_left;
                self.items.pop_front();
                self.head_written = 0;
            } else {
                self.head_written += written;
                written = 0;
            }
        }
    }

    /// True when nothing waits to be written.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Unwritten bytes.
    pub fn bytes_pending(&self) -> usize {
        self.bytes_pending
    }

    /// Items still (partly) unwritten.
    pub fn items_pending(&self) -> usize {
        self.items.len()
    }

    /// Forgets everything queued (the connection is going away).
    pub fn clear(&mut self) {
        self.items.clear();
        self.head_written = 0;
        self.bytes_pending = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(s: &'static str) -> Bytes {
        Bytes::from_static(s.as_bytes())
    }

    #[test]
    fn first_push_is_ready_and_later_ones_queue() {
        let mut q = OutboundQueue::new(100, 10);
        assert_eq!(q.push(b("abc")), PushOutcome::BecameReady);
        assert_eq!(q.push(b("de")), PushOutcome::Queued);
        assert_eq!(q.bytes_pending(), 5);
        assert_eq!(q.front(), Some(&b"abc"[..]));
    }

    #[test]
    fn advance_crosses_item_boundaries() {
        let mut q = OutboundQueue::new(100, 10);
        q.push(b("abc"));
        q.push(b("defg"));
        q.advance(2);
        assert_eq!(q.front(), Some(&b"c"[..]));
        let joined: Vec<u8> = q.front_slices(8).flatten().copied().collect();
        assert_eq!(joined, b"cdefg");
        q.advance(3);
        assert_eq!(q.front(), Some(&b"fg"[..]));
        q.advance(2);
        assert!(q.is_empty());
        assert_eq!(q.push(b("x")), PushOutcome::BecameReady);
    }

    #[test]
    fn byte_bound_exactly_at_limit_passes_and_one_over_overflows() {
        let mut q = OutboundQueue::new(6, 10);
        q.push(b("abc"));
        assert_eq!(q.push(b("def")), PushOutcome::Queued);
        assert_eq!(q.push(b("g")), PushOutcome::Overflow);
        assert_eq!(q.bytes_pending(), 6);
    }

    #[test]
    fn item_bound_exactly_at_limit_passes_and_one_over_overflows() {
        let mut q = OutboundQueue::new(100, 2);
        q.push(b("a"));
        assert_eq!(q.push(b("b")), PushOutcome::Queued);
        assert_eq!(q.push(b("c")), PushOutcome::Overflow);
        assert_eq!(q.items_pending(), 2);
    }

    #[test]
    fn an_idle_queue_accepts_one_oversized_item() {
        let mut q = OutboundQueue::new(4, 10);
        assert_eq!(q.push(b("0123456789")), PushOutcome::BecameReady);
        assert_eq!(q.push(b("x")), PushOutcome::Overflow);
        assert_eq!(q.push_unbounded(b("0\r\n\r\n")), PushOutcome::Queued);
    }

    #[test]
    fn a_queue_holds_no_memory_until_its_first_push_then_room_for_two_items() {
        let mut q = OutboundQueue::new(100, 10);
        assert_eq!(q.items.capacity(), 0);
        q.push_unbounded(b("HTTP/1.1 200 OK\r\n\r\n"));
        q.push(b("first body"));
        assert_eq!(q.items.capacity(), OUTBOUND_ITEMS_INITIAL);
        q.push(b("third"));
        assert_eq!(q.items_pending(), 3, "the queue still grows past it");
    }

    #[test]
    fn empty_pushes_change_nothing() {
        let mut q = OutboundQueue::new(4, 1);
        assert_eq!(q.push(Bytes::new()), PushOutcome::Queued);
        assert!(q.is_empty());
    }
}
