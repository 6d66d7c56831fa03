//! ChannelMap: which shards have at least one subscriber of each channel.
//!
//! Owns: channel -> `ShardSet`, kept current from the shards' interest messages.
//! Must not: know about connections or sockets; it only ever sees shard ids.

use super::msg::ShardId;
use crate::limits::SHARDS_MAX;
use std::collections::HashMap;

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
    pub fn on_interest(&mut self, shard: ShardId, channel: &str, subscribed: bool) {
        if subscribed {
            self.channels
                .entry(channel.to_owned())
                .or_default()
                .insert(shard);
        } else if let Some(set) = self.channels.get_mut(channel) {
            set.remove(shard);
            if set.is_empty() {
                self.channels.remove(channel);
            }
        }
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
        m.on_interest(ShardId(0), "a", true);
        m.on_interest(ShardId(3), "a", true);
        assert_eq!(
            m.shards("a").iter().collect::<Vec<_>>(),
            vec![ShardId(0), ShardId(3)]
        );
        m.on_interest(ShardId(0), "a", false);
        assert_eq!(m.shards("a").len(), 1);
        m.on_interest(ShardId(3), "a", false);
        assert!(m.shards("a").is_empty());
        assert!(m.is_empty());
        m.on_interest(ShardId(1), "b", false);
        assert!(
            m.is_empty(),
            "losing interest in an unknown channel is a no-op"
        );
    }
}
