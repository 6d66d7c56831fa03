//! Router: decides which shards receive each published item.
//!
//! Owns: the `ChannelMap`, the `Sequencer` (per-channel ordering and de-duplication), and
//! wrapping each released item once for every shard (`publish::format::EncodedItem`, whose
//! wire forms the shards build on first use).
//! Must not: touch sockets, import `fanout` or `shard`, or read the clock.
//! Cross-thread transport lives in `inbox.rs`; everything else here is a pure state machine.

pub mod channel_map;
pub mod inbox;
pub mod msg;
pub mod sequence;

pub use channel_map::{ChannelMap, Edge, ShardSet};
pub use msg::{RouterMsg, ShardId, ShardMsg};
pub use sequence::{Sequencer, SequencerConfig, SequencerCounts};

use crate::publish::format::{encode_item_with, EncodedItem};
use crate::publish::item::PublishItem;
use std::sync::Arc;
use std::time::Instant;

/// An item ready for the shards: encoded once, with the shards that must receive it.
pub type Routed = (Arc<EncodedItem>, ShardSet);

/// The publish router's state.
#[derive(Debug, Default)]
pub struct Router {
    channels: ChannelMap,
    sequencer: Sequencer,
    /// Items published (accepted by the endpoint).
    pub items_published: u64,
    /// Items released with no interested shard.
    pub items_unrouted: u64,
    /// Compress `ws-message` items too, for clients with permessage-deflate
    /// (`allow_compression`).
    pub ws_deflate: bool,
    /// Scratch for what the sequencer releases, reused across publishes.
    released: Vec<PublishItem>,
}

impl Router {
    /// An empty router sequencing with `config`.
    pub fn new(config: SequencerConfig) -> Router {
        Router {
            sequencer: Sequencer::new(config),
            ..Router::default()
        }
    }

    /// Applies a message from a shard. A channel that loses its last shard is forgotten by
    /// the sequencer too, with its last id and parked items. Returns the channel when the
    /// process as a whole gained or lost interest in it.
    pub fn on_msg(&mut self, msg: RouterMsg) -> Option<(String, Edge)> {
        match msg {
            RouterMsg::Interest {
                shard,
                channel,
                subscribed,
            } => {
                let edge = self.channels.on_interest(shard, &channel, subscribed);
                if edge == Some(Edge::Lost) {
                    self.sequencer.on_channel_unsubscribed(&channel);
                }
                edge.map(|edge| (channel, edge))
            }
        }
    }

    /// Every channel with subscribers somewhere in the process.
    pub fn subscribed_channels(&self) -> impl Iterator<Item = &str> {
        self.channels.channels()
    }

    /// Sequences `item` (PUSHPIN.md §3.6) and appends the items it releases to `out`, each
    /// as one shared `EncodedItem` (whose wire forms its first subscribers build) with the
    /// shards that must receive it, in release order. Items nobody listens to are dropped
    /// here.
    pub fn on_publish(&mut self, item: PublishItem, now: Instant, out: &mut Vec<Routed>) {
        self.items_published += 1;
        // Everything a publish releases is on its channel (a parked chain it completes is
        // too), so one lookup serves them all.
        let shards = self.channels.shards(&item.channel);
        let mut released = std::mem::take(&mut self.released);
        (self.sequencer).on_publish_into(item, !shards.is_empty(), now, &mut released);
        for item in released.drain(..) {
            self.route(item, shards, now, out);
        }
        self.released = released;
    }

    /// `/recover`: forgets every channel's last id (PUSHPIN.md §3.5); the caller then sends
    /// `ShardMsg::Recover` to every shard.
    pub fn on_recover(&mut self) {
        self.sequencer.forget_last_ids();
    }

    /// Releases the parked items whose `message_wait` has passed by `now`, appending them to
    /// `out` as `on_publish` does.
    pub fn on_timeout(&mut self, now: Instant, out: &mut Vec<Routed>) {
        for item in self.sequencer.on_timeout(now) {
            let shards = self.channels.shards(&item.channel);
            self.route(item, shards, now, out);
        }
    }

    /// When `on_timeout` should next be called, if any item is parked.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.sequencer.next_deadline()
    }

    /// What the sequencer did so far.
    pub fn sequencer_counts(&self) -> SequencerCounts {
        self.sequencer.counts
    }

    /// Channels with at least one subscriber somewhere.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    fn route(&mut self, item: PublishItem, shards: ShardSet, now: Instant, out: &mut Vec<Routed>) {
        if shards.is_empty() {
            self.items_unrouted += 1;
            return;
        }
        let mut encoded = encode_item_with(item, self.ws_deflate);
        encoded.routed_at = Some(now);
        out.push((Arc::new(encoded), shards));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn item(id: &str, prev_id: &str) -> PublishItem {
        let body = format!(
            r#"{{"items":[{{"channel":"c","id":"{id}","prev-id":"{prev_id}","formats":{{"http-stream":{{"content":"x"}}}}}}]}}"#
        );
        crate::publish::parse_items(body.as_bytes())
            .expect("valid")
            .remove(0)
    }

    fn interest(shard: u16, subscribed: bool) -> RouterMsg {
        RouterMsg::Interest {
            shard: ShardId(shard),
            channel: "c".into(),
            subscribed,
        }
    }

    #[test]
    fn released_items_carry_their_shards_and_losing_the_last_shard_forgets_parked_items() {
        let mut router = Router::new(SequencerConfig::DEFAULT);
        let now = Instant::now();
        assert_eq!(
            router.on_msg(interest(0, true)),
            Some(("c".into(), Edge::Gained))
        );
        assert_eq!(router.on_msg(interest(1, true)), None);
        assert_eq!(router.subscribed_channels().collect::<Vec<_>>(), ["c"]);
        let mut routed = Vec::new();
        router.on_publish(item("1", "0"), now, &mut routed);
        assert_eq!(routed.len(), 1);
        assert_eq!(routed[0].1.len(), 2);
        router.on_publish(item("3", "2"), now, &mut routed);
        assert_eq!(routed.len(), 1, "parked");
        assert_eq!(router.on_msg(interest(0, false)), None);
        assert!(router.next_deadline().is_some(), "shard 1 still listens");
        assert_eq!(
            router.on_msg(interest(1, false)),
            Some(("c".into(), Edge::Lost))
        );
        assert_eq!(router.next_deadline(), None, "forgotten with the channel");
        routed.clear();
        router.on_timeout(now + Duration::from_secs(60), &mut routed);
        assert!(routed.is_empty());
    }
}
