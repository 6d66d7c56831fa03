//! The cross-thread queues, and nothing else.
//!
//! Owns: `WokenSender`/`WokenReceiver`, a lock-free crossbeam queue plus a wake-up byte on a
//! Unix socket pair, and the four queues built from it. The receiver sleeps in io_uring (or
//! in `zmq_poll`) waiting for that byte, so an idle receiver costs nothing and still reacts
//! at once. Wake-ups are coalesced: the sender writes a byte only when it flips `pending`
//! from false to true, and the receiver clears the flag *before* draining the queue, so no
//! message can be left behind without a byte on its way. (glommio's own `shared_channel` was
//! used first; under heavy start-up load its connect handshake occasionally missed a wake-up
//! and left a shard asleep for good, which a socket byte cannot do.)
//! - Router -> shard (`shard_inbox`): bounded; a full inbox makes the router wait, so a slow
//!   shard slows publishing instead of losing items.
//! - Shard -> router (`router_inbox`): channel interest edges, unbounded. The router drains
//!   it before routing each publish (so a subscription a client has seen acknowledged is
//!   known) and whenever its byte arrives, so a ZeroMQ SUB input learns of a first subscriber
//!   at once.
//! - Input thread -> router (`input_inbox`): bounded; a full queue blocks the input's thread,
//!   so a fast ZeroMQ publisher meets ZeroMQ's own high-water mark instead of growing memory.
//! - Router -> SUB input thread (`subscription_inbox`): channel edges, unbounded (one per
//!   first or last subscriber); the thread polls the byte beside its SUB socket.
//!
//! Must not: carry anything but `router::msg` values.

use super::msg::{InputMsg, RouterMsg, ShardMsg, SubscriptionChange};
use crate::limits::{INPUT_INBOX_MESSAGES_MAX, SHARD_INBOX_MESSAGES_MAX};
use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Debug)]
struct Wake {
    pending: AtomicBool,
    socket: UnixStream,
}

/// The sending end of a woken queue; cloned where several threads send.
#[derive(Debug)]
pub struct WokenSender<T> {
    queue: Sender<T>,
    wake: Arc<Wake>,
}

impl<T> Clone for WokenSender<T> {
    fn clone(&self) -> Self {
        WokenSender {
            queue: self.queue.clone(),
            wake: Arc::clone(&self.wake),
        }
    }
}

/// Why a message could not be queued; the message is handed back.
#[derive(Debug)]
pub enum InboxSendError<T> {
    /// The queue is full; try again after the receiver caught up.
    Full(T),
    /// The receiver is gone.
    Closed(T),
}

impl<T> WokenSender<T> {
    /// Queues `msg` without waiting and wakes the receiver if it may be asleep.
    pub fn send(&self, msg: T) -> Result<(), InboxSendError<T>> {
        match self.queue.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => return Err(InboxSendError::Full(msg)),
            Err(TrySendError::Disconnected(msg)) => return Err(InboxSendError::Closed(msg)),
        }
        self.wake();
        Ok(())
    }

    /// Queues `msg`, blocking the calling thread while a bounded queue is full, and wakes the
    /// receiver; false when the receiver is gone. For threads, never for an executor.
    pub fn send_blocking(&self, msg: T) -> bool {
        if self.queue.send(msg).is_err() {
            return false;
        }
        self.wake();
        true
    }

    fn wake(&self) {
        if !self.wake.pending.swap(true, Ordering::AcqRel) {
            // A full socket buffer means wake-up bytes are already waiting: nothing is lost.
            let _ = (&self.wake.socket).write(&[1]);
        }
    }
}

/// The receiving end of a woken queue.
#[derive(Debug)]
pub struct WokenReceiver<T> {
    queue: Receiver<T>,
    wake: Arc<Wake>,
    wake_socket: Option<UnixStream>,
}

impl<T> WokenReceiver<T> {
    /// The socket that becomes readable when messages arrive; taken once, by the receiver's
    /// loop, which reads the bytes and then calls `clear_wake`.
    pub fn take_wake_socket(&mut self) -> Option<UnixStream> {
        self.wake_socket.take()
    }

    /// Marks wake-ups as consumed. Call before draining with `try_recv`.
    pub fn clear_wake(&self) {
        self.wake.pending.store(false, Ordering::Release);
    }

    /// The next queued message, if any.
    pub fn try_recv(&self) -> Option<T> {
        self.queue.try_recv().ok()
    }
}

/// A new woken queue holding at most `capacity` messages (`None`: unbounded).
fn woken_queue<T>(capacity: Option<usize>) -> io::Result<(WokenSender<T>, WokenReceiver<T>)> {
    let (sender_end, receiver_end) = UnixStream::pair()?;
    sender_end.set_nonblocking(true)?;
    let (tx, rx) = match capacity {
        Some(capacity) => crossbeam_channel::bounded(capacity),
        None => crossbeam_channel::unbounded(),
    };
    let wake = Arc::new(Wake {
        pending: AtomicBool::new(false),
        socket: sender_end,
    });
    let sender = WokenSender {
        queue: tx,
        wake: Arc::clone(&wake),
    };
    let receiver = WokenReceiver {
        queue: rx,
        wake,
        wake_socket: Some(receiver_end),
    };
    Ok((sender, receiver))
}

/// The router's end of a shard inbox.
pub type ShardInboxSender = WokenSender<ShardMsg>;
/// The shard's end of its inbox.
pub type ShardInboxReceiver = WokenReceiver<ShardMsg>;

/// A new router -> shard inbox.
pub fn shard_inbox() -> io::Result<(ShardInboxSender, ShardInboxReceiver)> {
    woken_queue(Some(SHARD_INBOX_MESSAGES_MAX))
}

/// Sending half of the router's interest inbox; cloned into every shard.
pub type RouterInboxSender = WokenSender<RouterMsg>;
/// Receiving half of the router's interest inbox.
pub type RouterInboxReceiver = WokenReceiver<RouterMsg>;

/// A new shard -> router interest inbox.
pub fn router_inbox() -> io::Result<(RouterInboxSender, RouterInboxReceiver)> {
    woken_queue(None)
}

/// An input thread's end of the router's input inbox.
pub type InputInboxSender = WokenSender<InputMsg>;
/// The router's end of its input inbox.
pub type InputInboxReceiver = WokenReceiver<InputMsg>;

/// A new input -> router inbox.
pub fn input_inbox() -> io::Result<(InputInboxSender, InputInboxReceiver)> {
    woken_queue(Some(INPUT_INBOX_MESSAGES_MAX))
}

/// The router's end of a SUB input's subscription queue.
pub type SubscriptionSender = WokenSender<SubscriptionChange>;
/// The SUB input thread's end.
pub type SubscriptionReceiver = WokenReceiver<SubscriptionChange>;

/// A new router -> SUB input queue.
pub fn subscription_inbox() -> io::Result<(SubscriptionSender, SubscriptionReceiver)> {
    woken_queue(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Arc as StdArc;

    fn item() -> ShardMsg {
        ShardMsg::Deliver(vec![StdArc::new(crate::publish::encode_item(
            crate::publish::parse_items(
                br#"{"items":[{"channel":"c","formats":{"http-stream":{"content":"x"}}}]}"#,
            )
            .expect("valid")
            .remove(0),
        ))])
    }

    #[test]
    fn wake_ups_are_coalesced_until_the_shard_clears_them() {
        let (tx, mut rx) = shard_inbox().expect("socket pair");
        let mut socket = rx.take_wake_socket().expect("socket");
        socket.set_nonblocking(true).expect("nonblocking");
        tx.send(item()).expect("queued");
        tx.send(item()).expect("queued");
        let mut buf = [0u8; 8];
        assert_eq!(socket.read(&mut buf).expect("one byte"), 1);
        rx.clear_wake();
        assert!(rx.try_recv().is_some() && rx.try_recv().is_some());
        assert!(rx.try_recv().is_none());
        tx.send(item()).expect("queued");
        assert_eq!(socket.read(&mut buf).expect("a new byte after clearing"), 1);
    }
}
