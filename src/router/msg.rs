//! The only values that cross threads: router -> shard, shard -> router and input -> router
//! messages.
//!
//! Owns: `ShardMsg`, `RouterMsg`, `InputMsg`, `SubscriptionChange`, `SessionQuery`, `ShardId`.
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
    /// Deliver these items, in order, each to the shard's subscribers of its channel: what
    /// the router released for this shard since its last flush (one POST's items, or a
    /// burst of one-item POSTs), so a shard wakes once per batch, not once per item.
    Deliver(Vec<Arc<EncodedItem>>),
    /// `/recover` was called: every hold that can go back to its origin does (PUSHPIN.md
    /// §3.5); queued in order with the items.
    Recover,
    /// A command about named sessions (`conncheck`, `refresh`): the shard acts on its own
    /// and answers on the query's reply channel, in order with the items before it.
    Sessions(SessionQuery),
}

/// A question every shard answers about its named sessions: the WebSocket-over-HTTP
/// connections, named by the `Connection-Id` their origin knows them by.
#[derive(Clone)]
pub struct SessionQuery {
    /// What to look for or do.
    pub ask: SessionAsk,
    /// Each shard calls it once with the ids it matched (and, for a refresh, refreshed).
    pub reply: SessionReply,
}

/// Where a shard's answer to a `SessionQuery` goes: the asker's thread waits on the other
/// end, so this must not block (a channel send, say).
pub type SessionReply = Arc<dyn Fn(Vec<String>) + Send + Sync>;

impl std::fmt::Debug for SessionQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionQuery")
            .field("ask", &self.ask)
            .finish_non_exhaustive()
    }
}

/// What a `SessionQuery` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionAsk {
    /// `conncheck`: which of these ids are connected here.
    Check(Arc<[String]>),
    /// `refresh` with `cid`: that connection sends its origin a request now.
    RefreshConnection(String),
    /// `refresh` with `channel`: every named session subscribed to the channel does.
    RefreshChannel(String),
}

/// A message from a publish input other than the HTTP endpoint (the ZeroMQ PULL socket's
/// thread) to the router.
#[derive(Debug)]
pub enum InputMsg {
    /// Items received and validated, in arrival order.
    Publish(Vec<PublishItem>),
    /// A `recover` command: as `POST /recover`.
    Recover,
    /// A `conncheck` or `refresh` command, for every shard.
    Sessions(SessionQuery),
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
