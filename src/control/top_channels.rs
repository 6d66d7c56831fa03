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

/// Items counted per channel, for at most `STATUS_TOP_CHANNELS_TRACKED` channels.
#[derive(Debug, Default)]
pub(super) struct TopChannels {
    /// (channel, count, overestimate), unordered.
    counts: Vec<(String, u64, u64)>,
}

impl TopChannels {
    /// Counts one item on `channel`.
    pub(super) fn add(&mut self, channel: &str) {
        if let Some(entry) = self.counts.iter_mut().find(|(c, _, _)| c == channel) {
            entry.1 += 1;
            return;
        }
        if self.counts.len() < STATUS_TOP_CHANNELS_TRACKED {
            self.counts.push((channel.to_owned(), 1, 0));
            return;
        }
        if let Some(smallest) = self.counts.iter_mut().min_by_key(|(_, count, _)| *count) {
            let floor = smallest.1;
            *smallest = (channel.to_owned(), floor + 1, floor);
        }
    }

    /// The `n` channels with the most items, most first: (channel, count, overestimate).
    pub(super) fn top(&self, n: usize) -> Vec<(String, u64, u64)> {
        let mut sorted = self.counts.clone();
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
}
