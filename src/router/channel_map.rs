//! ChannelMap: which shards have at least one subscriber of each channel.
//!
//! Owns: channel -> `ShardSet`, kept current from the shards' interest messages.
//! Must not: know about connections or sockets; it only ever sees shard ids.

use super::msg::ShardId;
use crate::limits::SHARDS_MAX;
use std::collections::HashMap;

/// How the process's interest in a channel changed: the first shard subscribed, or the last
/// one left. A ZeroMQ SUB input subscribes and unsubscribes on these, so an XPUB publisher
/// sends nothing to an instance without listeners.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edge {
    /// The channel has subscribers in this process now, and had none.
    Gained,
    /// The channel's last subscriber in this process left.
    Lost,
}

/// A set of shards as a bit mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShardSet(u64);

impl ShardSet {
    /// The empty set.
    pub const EMPTY: ShardSet = ShardSet(0);

    /// Adds `shard`.
    pub fn insert(&mut self, shard: ShardId) {
        assert!((shard.0 as usize) < SHARDS_MAX, "shard id out of range");
        self.0 |= 1 << shard.0;
    }

    /// Removes `shard`.
    pub fn remove(&mut self, shard: ShardId) {
        assert!((shard.0 as usize) < SHARDS_MAX, "shard id out of range");
        self.0 &= !(1u64 << shard.0);
    }

    /// True when no shard is in the set.
    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The shards in ascending order.
    pub fn iter(self) -> impl Iterator<Item = ShardId> {
        (0..SHARDS_MAX as u16)
            .filter(move |i| self.0 & (1 << i) != 0)
            .map(ShardId)
    }

    /// Number of shards in the set.
    pub fn len(&self) -> usize {
        self.0.count_ones() as usize
    }
}

/// The channel -> shard-set map.
#[derive(Debug, Default)]
pub struct ChannelMap {
    channels: HashMap<String, ShardSet>,
}

impl ChannelMap {
    /// An empty map.
    pub fn new() -> ChannelMap {
        ChannelMap::default()
    }

    /// Records that `shard` now has (or no longer has) subscribers of `channel`.
    pub fn on_interest(&mut self, shard: ShardId, channel: &str, subscribed: bool) -> Option<Edge> {
        if subscribed {
            let set = self.channels.entry(channel.to_owned()).or_default();
            let was_empty = set.is_empty();
            set.insert(shard);
            was_empty.then_some(Edge::Gained)
        } else {
            let set = self.channels.get_mut(channel)?;
            set.remove(shard);
            if !set.is_empty() {
                return None;
            }
            self.channels.remove(channel);
            Some(Edge::Lost)
        }
    }

    /// Every channel with at least one interested shard (for a newly connected SUB socket).
    pub fn channels(&self) -> impl Iterator<Item = &str> {
        self.channels.keys().map(String::as_str)
    }

    /// The shards with subscribers of `channel`.
    pub fn shards(&self, channel: &str) -> ShardSet {
        self.channels
            .get(channel)
            .copied()
            .unwrap_or(ShardSet::EMPTY)
    }

    /// Channels with at least one interested shard.
    pub fn len(&self) -> usize {
        self.channels.len()
    }

    /// True when no channel has subscribers.
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_adds_and_removes_shards_and_forgets_empty_channels() {
        let mut m = ChannelMap::new();
        assert_eq!(m.on_interest(ShardId(0), "a", true), Some(Edge::Gained));
        assert_eq!(m.on_interest(ShardId(3), "a", true), None);
        assert_eq!(
            m.shards("a").iter().collect::<Vec<_>>(),
            vec![ShardId(0), ShardId(3)]
        );
        assert_eq!(m.on_interest(ShardId(0), "a", false), None);
        assert_eq!(m.shards("a").len(), 1);
        assert_eq!(m.on_interest(ShardId(3), "a", false), Some(Edge::Lost));
        assert!(m.shards("a").is_empty());
        assert!(m.is_empty());
        assert_eq!(m.on_interest(ShardId(1), "b", false), None);
        assert!(
            m.is_empty(),
            "losing interest in an unknown channel is a no-op"
        );
    }
}
