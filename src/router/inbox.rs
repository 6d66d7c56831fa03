//! The cross-thread queues, and nothing else.
//!
//! Owns: the two inbox types, both lock-free crossbeam queues.
//! - Router -> shard: a bounded queue plus a wake-up byte on a Unix socket pair. A shard
//!   sleeps in io_uring waiting for that byte, so an idle shard costs nothing and still reacts
//!   to a publish at once. Wake-ups are coalesced: the sender writes a byte only when it flips
//!   `wake_pending` from false to true, and the shard clears the flag *before* draining the
//!   queue, so no message can be left behind without a byte on its way.
//!   (glommio's own `shared_channel` was used first; under heavy start-up load its connect
//!   handshake occasionally missed a wake-up and left a shard asleep for good, which a
//!   socket byte cannot do.)
//! - Shard -> router: an unbounded queue the router drains before routing each publish (so a
//!   subscription that a client has already seen acknowledged is always known) and on a
//!   short tick, so it stays small when nothing is published.
//!
//! - Input thread -> router: a bounded queue plus a wake-up byte, like a shard inbox; the
//!   router executor waits for the byte. A full queue blocks the input's thread, so a fast
//!   ZeroMQ publisher meets ZeroMQ's own high-water mark instead of growing memory.
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

/// The router's end of a shard inbox.
#[derive(Debug, Clone)]
pub struct ShardInboxSender {
    queue: Sender<ShardMsg>,
    wake: Arc<Wake>,
}

/// Why a message could not be queued; the message is handed back.
#[derive(Debug)]
pub enum InboxSendError {
    /// The queue is full; try again after the shard caught up.
    Full(ShardMsg),
    /// The shard is gone.
    Closed(ShardMsg),
}

impl ShardInboxSender {
    /// Queues `msg` and wakes the shard if it may be asleep.
    pub fn send(&self, msg: ShardMsg) -> Result<(), InboxSendError> {
        match self.queue.try_send(msg) {
            Ok(()) => {}
            Err(TrySendError::Full(msg)) => return Err(InboxSendError::Full(msg)),
            Err(TrySendError::Disconnected(msg)) => return Err(InboxSendError::Closed(msg)),
        }
        if !self.wake.pending.swap(true, Ordering::AcqRel) {
            // A full socket buffer means wake-up bytes are already waiting: nothing is lost.
            let _ = (&self.wake.socket).write(&[1]);
        }
        Ok(())
    }
}

/// The shard's end of its inbox.
#[derive(Debug)]
pub struct ShardInboxReceiver {
    queue: Receiver<ShardMsg>,
    wake: Arc<Wake>,
    wake_socket: Option<UnixStream>,
}

impl ShardInboxReceiver {
    /// The socket that becomes readable when messages arrive; taken once, by the shard.
    pub fn take_wake_socket(&mut self) -> Option<UnixStream> {
        self.wake_socket.take()
    }

    /// Marks wake-ups as consumed. Call before draining with `try_recv`.
    pub fn clear_wake(&self) {
        self.wake.pending.store(false, Ordering::Release);
    }

    /// The next queued message, if any.
    pub fn try_recv(&self) -> Option<ShardMsg> {
        self.queue.try_recv().ok()
    }
}

/// A new router -> shard inbox.
pub fn shard_inbox() -> io::Result<(ShardInboxSender, ShardInboxReceiver)> {
    let (router_end, shard_end) = UnixStream::pair()?;
    router_end.set_nonblocking(true)?;
    let (tx, rx) = crossbeam_channel::bounded(SHARD_INBOX_MESSAGES_MAX);
    let wake = Arc::new(Wake {
        pending: AtomicBool::new(false),
        socket: router_end,
    });
    Ok((
        ShardInboxSender {
            queue: tx,
            wake: Arc::clone(&wake),
        },
        ShardInboxReceiver {
            queue: rx,
            wake,
            wake_socket: Some(shard_end),
        },
    ))
}

/// An input thread's end of the router's input inbox.
#[derive(Debug, Clone)]
pub struct InputInboxSender {
    queue: Sender<InputMsg>,
    wake: Arc<Wake>,
}

impl InputInboxSender {
    /// Queues `msg`, waiting while the inbox is full, and wakes the router; false when the
    /// router is gone.
    pub fn send_blocking(&self, msg: InputMsg) -> bool {
        if self.queue.send(msg).is_err() {
            return false;
        }
        if !self.wake.pending.swap(true, Ordering::AcqRel) {
            let _ = (&self.wake.socket).write(&[1]);
        }
        true
    }
}

/// The router's end of its input inbox.
#[derive(Debug)]
pub struct InputInboxReceiver {
    queue: Receiver<InputMsg>,
    wake: Arc<Wake>,
    wake_socket: Option<UnixStream>,
}

impl InputInboxReceiver {
    /// The socket that becomes readable when messages arrive; taken once, by the router.
    pub fn take_wake_socket(&mut self) -> Option<UnixStream> {
        self.wake_socket.take()
    }

    /// Marks wake-ups as consumed. Call before draining with `try_recv`.
    pub fn clear_wake(&self) {
        self.wake.pending.store(false, Ordering::Release);
    }

    /// The next queued message, if any.
    pub fn try_recv(&self) -> Option<InputMsg> {
        self.queue.try_recv().ok()
    }
}

/// A new input -> router inbox.
pub fn input_inbox() -> io::Result<(InputInboxSender, InputInboxReceiver)> {
    let (input_end, router_end) = UnixStream::pair()?;
    input_end.set_nonblocking(true)?;
    let (tx, rx) = crossbeam_channel::bounded(INPUT_INBOX_MESSAGES_MAX);
    let wake = Arc::new(Wake {
        pending: AtomicBool::new(false),
        socket: input_end,
    });
    Ok((
        InputInboxSender {
            queue: tx,
            wake: Arc::clone(&wake),
        },
        InputInboxReceiver {
            queue: rx,
            wake,
            wake_socket: Some(router_end),
        },
    ))
}

/// Router -> SUB input thread: subscription changes, few and small (one per channel edge), so
/// unbounded; the thread applies them between receives.
pub type SubscriptionSender = crossbeam_channel::Sender<SubscriptionChange>;
/// The SUB input thread's end.
pub type SubscriptionReceiver = crossbeam_channel::Receiver<SubscriptionChange>;

/// A new router -> SUB input queue.
pub fn subscription_inbox() -> (SubscriptionSender, SubscriptionReceiver) {
    crossbeam_channel::unbounded()
}

/// Sending half of the router's inbox; cloned into every shard.
pub type RouterInboxSender = crossbeam_channel::Sender<RouterMsg>;
/// Receiving half of the router's inbox.
pub type RouterInboxReceiver = crossbeam_channel::Receiver<RouterMsg>;

/// A new shard -> router inbox.
pub fn router_inbox() -> (RouterInboxSender, RouterInboxReceiver) {
    crossbeam_channel::unbounded()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::sync::Arc as StdArc;

    fn item() -> ShardMsg {
        ShardMsg::Deliver(StdArc::new(crate::publish::encode_item(
            crate::publish::parse_items(
                br#"{"items":[{"channel":"c","formats":{"http-stream":{"content":"x"}}}]}"#,
            )
            .expect("valid")
            .remove(0),
        )))
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
