//! The cross-thread queues, and nothing else.
//!
//! Owns: the two inbox types.
//! - Router -> shard: glommio's `shared_channel`, a bounded lock-free SPSC ring whose
//!   receiver is woken through the shard's reactor, so an idle shard sleeps in io_uring and
//!   still reacts to a publish at once.
//! - Shard -> router: a crossbeam queue. The router does not need to be woken for interest
//!   changes: it drains this queue before routing each publish (so a subscription that a
//!   client has already seen acknowledged is always known to the router) and on a short
//!   tick, so the queue stays small when nothing is published.
//!
//! Must not: carry anything but `router::msg` values.

use super::msg::{RouterMsg, ShardMsg};
use crate::limits::SHARD_INBOX_MESSAGES_MAX;
use glommio::channels::shared_channel::{self, SharedReceiver, SharedSender};

/// The sending half of a shard's inbox, before it is connected on the router's executor.
pub type ShardInboxSender = SharedSender<ShardMsg>;
/// The receiving half of a shard's inbox, before it is connected on the shard's executor.
pub type ShardInboxReceiver = SharedReceiver<ShardMsg>;

/// A new router -> shard inbox.
pub fn shard_inbox() -> (ShardInboxSender, ShardInboxReceiver) {
    shared_channel::new_bounded(SHARD_INBOX_MESSAGES_MAX)
}

/// Sending half of the router's inbox; cloned into every shard.
pub type RouterInboxSender = crossbeam_channel::Sender<RouterMsg>;
/// Receiving half of the router's inbox.
pub type RouterInboxReceiver = crossbeam_channel::Receiver<RouterMsg>;

/// A new shard -> router inbox.
pub fn router_inbox() -> (RouterInboxSender, RouterInboxReceiver) {
    crossbeam_channel::unbounded()
}
