//! The busiest channels for the status page: a bounded count of items published per channel.
//!
//! Owns: `TopChannels`, the space-saving algorithm (Metwally et al. 2005) over
//! `STATUS_TOP_CHANNELS_TRACKED` counters: a channel not tracked takes the place of the one
//! with the smallest count and inherits that count as its possible overestimate, so memory
//! stays bounded however many channels exist, and any channel with more than
//! 1/`STATUS_TOP_CHANNELS_TRACKED` of all items is always listed.
//! Must not: grow with the number of channels, or sit on a path that runs per delivery (it is
//! updated once per published item, on the router's thread).

use crate::limits::STATUS_TOP_CHANNELS_TRACKED;
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

/// Items counted per channel, for at most `STATUS_TOP_CHANNELS_TRACKED` channels.
#[derive(Debug, Default)]
pub(super) struct TopChannels {
    /// Unordered. A many-channel publish calls `add` once per item, mostly for channels not
    /// tracked, so the scan compares hashes before names, and an evicted entry's `String` is
    /// reused for the newcomer instead of allocating.
    counts: Vec<Tracked>,
}

#[derive(Debug, Clone)]
struct Tracked {
    hash: u64,
    channel: String,
    count: u64,
    overestimate: u64,
}

impl TopChannels {
    /// Counts one item on `channel`.
    pub(super) fn add(&mut self, channel: &str) {
        // A fixed-key hasher: the hashes only speed up this scan, so an adversary who makes
        // channel names collide only makes it compare names, as it did before hashes.
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(channel);
        let found = (self.counts.iter_mut()).find(|t| t.hash == hash && t.channel == channel);
        if let Some(tracked) = found {
            tracked.count += 1;
            return;
        }
        if self.counts.len() < STATUS_TOP_CHANNELS_TRACKED {
            self.counts.push(Tracked {
                hash,
                channel: channel.to_owned(),
                count: 1,
                overestimate: 0,
            });
            return;
        }
        if let Some(smallest) = self.counts.iter_mut().min_by_key(|t| t.count) {
            smallest.hash = hash;
            smallest.channel.clear();
            smallest.channel.push_str(channel);
            smallest.overestimate = smallest.count;
            smallest.count += 1;
        }
    }

    /// The `n` channels with the most items, most first: (channel, count, overestimate).
    pub(super) fn top(&self, n: usize) -> Vec<(String, u64, u64)> {
        let mut sorted: Vec<(String, u64, u64)> = (self.counts.iter())
            .map(|t| (t.channel.clone(), t.count, t.overestimate))
            .collect();
        sorted.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        sorted.truncate(n);
        sorted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heavy_channel_stays_listed_among_many_light_ones() {
        let mut top = TopChannels::default();
        for i in 0..10_000 {
            top.add("hot");
            top.add(&format!("cold-{i}"));
            if i % 2 == 0 {
                top.add("warm");
            }
        }
        let listed = top.top(3);
        assert_eq!(listed[0].0, "hot");
        assert_eq!(
            listed[0].1, 10_000,
            "a channel tracked from its start is exact"
        );
        assert_eq!(listed[1].0, "warm");
        assert!(top.counts.len() <= STATUS_TOP_CHANNELS_TRACKED);
    }

    #[test]
    fn an_evicted_slot_carries_the_floor_as_its_overestimate() {
        let mut top = TopChannels::default();
        for i in 0..STATUS_TOP_CHANNELS_TRACKED {
            top.add(&format!("c{i}"));
            top.add(&format!("c{i}"));
        }
        top.add("new");
        let new = top.top(STATUS_TOP_CHANNELS_TRACKED);
        let new = new.iter().find(|(c, _, _)| c == "new").expect("tracked");
        assert_eq!(
            (new.1, new.2),
            (3, 2),
            "count = floor + 1, overestimate = floor"
        );
        top.add("new");
        assert_eq!(top.top(1)[0], ("new".to_string(), 4, 2));
    }
}
