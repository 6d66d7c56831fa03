//! Router: decides which shards receive each published item.
//!
//! Owns: the `ChannelMap` and the encoding of each item, done once for every shard.
//! Must not: touch sockets, import `fanout` or `shard`, or read the clock.
//! Cross-thread transport lives in `inbox.rs`; everything else here is a pure state machine.

pub mod channel_map;
pub mod inbox;
pub mod msg;

pub use channel_map::{ChannelMap, ShardSet};
pub use msg::{RouterMsg, ShardId, ShardMsg};

use crate::publish::format::{encode_item, EncodedItem};
use crate::publish::item::PublishItem;
use std::sync::Arc;

/// The publish router's state.
#[derive(Debug, Default)]
pub struct Router {
    channels: ChannelMap,
    /// Items published (accepted by the endpoint).
    pub items_published: u64,
    /// Items that had no interested shard.
    pub items_unrouted: u64,
}

impl Router {
    /// An empty router.
    pub fn new() -> Router {
        Router::default()
    }

    /// Applies a message from a shard.
    pub fn on_msg(&mut self, msg: RouterMsg) {
        match msg {
            RouterMsg::Interest {
                shard,
                channel,
                subscribed,
            } => self.channels.on_interest(shard, &channel, subscribed),
        }
    }

    /// Encodes `item` once and returns it with the shards that must receive it; `None` when
    /// no shard has a subscriber (the item is not even encoded).
    pub fn on_publish(&mut self, item: PublishItem) -> Option<(Arc<EncodedItem>, ShardSet)> {
        self.items_published += 1;
        let shards = self.channels.shards(&item.channel);
        if shards.is_empty() {
            self.items_unrouted += 1;
            return None;
        }
        Some((Arc::new(encode_item(item)), shards))
    }

    /// Channels with at least one subscriber somewhere.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
}
