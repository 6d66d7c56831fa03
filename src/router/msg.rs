//! The only values that cross threads: router -> shard, shard -> router and input -> router
//! messages.
//!
//! Owns: `ShardMsg`, `RouterMsg`, `InputMsg`, `SubscriptionChange`, `ShardId`.
//! Must not: carry anything mutable or shard-local; payloads are immutable `Arc`s.

use crate::publish::format::EncodedItem;
use crate::publish::item::PublishItem;
use std::sync::Arc;

/// Index of a shard, 0-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ShardId(pub u16);

/// A message from the router to one shard.
#[derive(Debug)]
pub enum ShardMsg {
    /// Deliver this item to the shard's subscribers of `item.channel`.
    Deliver(Arc<EncodedItem>),
    /// `/recover` was called: every hold that can go back to its origin does (PUSHPIN.md
    /// §3.5); queued in order with the items.
    Recover,
}

/// A message from a publish input other than the HTTP endpoint (the ZeroMQ PULL socket's
/// thread) to the router.
#[derive(Debug)]
pub enum InputMsg {
    /// Items received and validated, in arrival order.
    Publish(Vec<PublishItem>),
    /// A `recover` command: as `POST /recover`.
    Recover,
}

/// From the router to a ZeroMQ SUB input's thread: the process gained its first subscriber of
/// `channel` (`subscribed`) or lost its last one, so the SUB socket subscribes or unsubscribes
/// and an XPUB publisher sends only what someone here listens to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionChange {
    /// The channel.
    pub channel: String,
    /// True when the first subscriber came, false when the last one left.
    pub subscribed: bool,
}

/// A message from a shard to the router.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterMsg {
    /// The shard gained its first (`subscribed: true`) or lost its last subscriber of `channel`.
    Interest {
        /// The shard whose interest changed.
        shard: ShardId,
        /// The channel.
        channel: String,
        /// True when the shard now has subscribers.
        subscribed: bool,
    },
}
