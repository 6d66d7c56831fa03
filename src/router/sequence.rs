//! Sequencer: per-channel `id`/`prev-id` ordering, de-duplication and `message_wait`
//! (PUSHPIN.md §3.6).
//!
//! Owns: the last published id of each channel that has subscribers, the items parked waiting
//! for their predecessor, and the cache of recently published (channel, id) pairs.
//! Must not: read the clock (time is an argument), do I/O, or know about shards.
//! Invariants: an item is parked only when its channel has subscribers, it has a `prev-id`,
//! it is not `no-seq`, and the channel's last id is known and differs from that `prev-id`;
//! parked items leave by their predecessor's release, by `message_wait` passing, by the
//! per-channel limit, or by the channel losing its last subscriber. Memory is bounded: at most
//! `SEQUENCE_PARKED_PER_CHANNEL_MAX` parked items per channel, `ID_CACHE_ENTRIES_MAX` cached
//! ids, and last ids only for channels with subscribers.

use crate::limits::{ID_CACHE_ENTRIES_MAX, SEQUENCE_PARKED_PER_CHANNEL_MAX};
use crate::publish::item::PublishItem;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// The sequencer's settings, from `Config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SequencerConfig {
    /// How long an out-of-order item waits for its predecessor (`message_wait`).
    pub message_wait: Duration,
    /// How long a (channel, id) pair is remembered; zero turns de-duplication off.
    pub id_cache_ttl: Duration,
}

impl SequencerConfig {
    /// Pushpin's shipped settings: 5000 ms wait, 60 s id cache.
    pub const DEFAULT: SequencerConfig = SequencerConfig {
        message_wait: Duration::from_millis(5000),
        id_cache_ttl: Duration::from_secs(60),
    };
}

impl Default for SequencerConfig {
    fn default() -> SequencerConfig {
        SequencerConfig::DEFAULT
    }
}

/// An item waiting for the item whose id is its `prev_id`.
#[derive(Debug)]
struct Parked {
    prev_id: String,
    deadline: Instant,
    item: PublishItem,
}

/// Recently published (channel, id) pairs, oldest first.
#[derive(Debug, Default)]
struct IdCache {
    seen: HashMap<(String, String), Instant>,
    order: VecDeque<((String, String), Instant)>,
}

impl IdCache {
    /// True when (channel, id) was seen within `ttl`; otherwise records it at `now`.
    fn check_and_insert(&mut self, channel: &str, id: &str, ttl: Duration, now: Instant) -> bool {
        while let Some((key, seen_at)) = self.order.front() {
            let expired = now.saturating_duration_since(*seen_at) >= ttl;
            if !expired && self.order.len() < ID_CACHE_ENTRIES_MAX {
                break;
            }
            self.seen.remove(key);
            self.order.pop_front();
        }
        let key = (channel.to_owned(), id.to_owned());
        if self.seen.contains_key(&key) {
            return true;
        }
        self.seen.insert(key.clone(), now);
        self.order.push_back((key, now));
        false
    }

    fn len(&self) -> usize {
        self.seen.len()
    }
}

/// What happened to items, for the router's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SequencerCounts {
    /// Items dropped as duplicates of a recently published (channel, id).
    pub duplicates: u64,
    /// Items parked to wait for their predecessor.
    pub parked: u64,
    /// Parked items released because `message_wait` passed or the channel's limit was hit.
    pub released_unordered: u64,
}

/// The per-channel sequencing state machine.
#[derive(Debug, Default)]
pub struct Sequencer {
    config: SequencerConfig,
    /// Last released id of each channel with subscribers, when it had one.
    last_ids: HashMap<String, String>,
    /// Parked items per channel, in arrival order; never an empty queue.
    parked: HashMap<String, VecDeque<Parked>>,
    ids: IdCache,
    /// Totals since start.
    pub counts: SequencerCounts,
}

impl Sequencer {
    /// A sequencer with no state.
    pub fn new(config: SequencerConfig) -> Sequencer {
        Sequencer {
            config,
            ..Sequencer::default()
        }
    }

    /// Takes a published item; returns the items released now, in order. `has_subscribers`
    /// says whether the item's channel has a subscriber anywhere: only those channels are
    /// ordered, so a channel nobody listens to costs no memory here.
    pub fn on_publish(
        &mut self,
        item: PublishItem,
        has_subscribers: bool,
        now: Instant,
    ) -> Vec<PublishItem> {
        let mut out = Vec::new();
        self.on_publish_into(item, has_subscribers, now, &mut out);
        out
    }

    /// `on_publish`, appending the released items to `out`, so a caller routing thousands
    /// of items reuses one vector. Every item released here is on `item`'s channel.
    pub fn on_publish_into(
        &mut self,
        item: PublishItem,
        has_subscribers: bool,
        now: Instant,
        out: &mut Vec<PublishItem>,
    ) {
        if self.is_duplicate(&item, now) {
            self.counts.duplicates += 1;
            return;
        }
        if !has_subscribers {
            out.push(item);
            return;
        }
        if let Some(prev_id) = self.must_park(&item) {
            self.park(item, prev_id, now, out);
            return;
        }
        self.release(item, out);
    }

    /// Releases, in arrival order per channel, every parked item whose `message_wait` has
    /// passed by `now`, each followed by any parked chain it completes.
    pub fn on_timeout(&mut self, now: Instant) -> Vec<PublishItem> {
        let mut out = Vec::new();
        let due: Vec<String> = self
            .parked
            .iter()
            .filter(|(_, queue)| queue.front().is_some_and(|p| p.deadline <= now))
            .map(|(channel, _)| channel.clone())
            .collect();
        for channel in due {
            while let Some(parked) = self.pop_due(&channel, now) {
                self.counts.released_unordered += 1;
                self.release(parked.item, &mut out);
            }
        }
        out
    }

    /// The earliest moment a parked item's `message_wait` passes, if any item is parked.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.parked
            .values()
            .filter_map(|queue| queue.front().map(|p| p.deadline))
            .min()
    }

    /// Forgets `channel`'s last id and parked items: it lost its last subscriber, so the
    /// first item after a quiet period is never held.
    pub fn on_channel_unsubscribed(&mut self, channel: &str) {
        self.last_ids.remove(channel);
        self.parked.remove(channel);
    }

    /// Forgets every channel's last id (`/recover`, PUSHPIN.md §3.5), so the next item on
    /// each channel is released without waiting; parked items stay parked until their
    /// predecessor or `message_wait`.
    pub fn forget_last_ids(&mut self) {
        self.last_ids.clear();
    }

    /// Items parked over all channels.
    pub fn parked_len(&self) -> usize {
        self.parked.values().map(VecDeque::len).sum()
    }

    /// (channel, id) pairs in the de-duplication cache.
    pub fn id_cache_len(&self) -> usize {
        self.ids.len()
    }

    /// Channels whose last id is known.
    pub fn last_id_len(&self) -> usize {
        self.last_ids.len()
    }

    fn is_duplicate(&mut self, item: &PublishItem, now: Instant) -> bool {
        let ttl = self.config.id_cache_ttl;
        match &item.id {
            Some(id) if !ttl.is_zero() => self.ids.check_and_insert(&item.channel, id, ttl, now),
            _ => false,
        }
    }

    /// The `prev-id` to park `item` under, or `None` when it goes out at once.
    fn must_park(&self, item: &PublishItem) -> Option<String> {
        if item.no_seq {
            return None;
        }
        let prev_id = item.prev_id.as_ref()?;
        let last_id = self.last_ids.get(&item.channel)?;
        (prev_id != last_id).then(|| prev_id.clone())
    }

    fn park(
        &mut self,
        item: PublishItem,
        prev_id: String,
        now: Instant,
        out: &mut Vec<PublishItem>,
    ) {
        let queue = self.parked.entry(item.channel.clone()).or_default();
        if queue.iter().any(|p| p.prev_id == prev_id) {
            self.counts.duplicates += 1;
            return;
        }
        let oldest = if queue.len() >= SEQUENCE_PARKED_PER_CHANNEL_MAX {
            queue.pop_front()
        } else {
            None
        };
        queue.push_back(Parked {
            prev_id,
            deadline: now + self.config.message_wait,
            item,
        });
        self.counts.parked += 1;
        if let Some(oldest) = oldest {
            self.counts.released_unordered += 1;
            self.release(oldest.item, out);
        }
    }

    /// The front parked item of `channel` if its deadline has passed.
    fn pop_due(&mut self, channel: &str, now: Instant) -> Option<Parked> {
        let queue = self.parked.get_mut(channel)?;
        if queue.front()?.deadline > now {
            return None;
        }
        let parked = queue.pop_front();
        if queue.is_empty() {
            self.parked.remove(channel);
        }
        parked
    }

    /// Emits `item`, records it as its channel's last id, then emits every parked item that
    /// now follows, in chain order. Only called for channels with subscribers.
    fn release(&mut self, item: PublishItem, out: &mut Vec<PublishItem>) {
        let mut next = Some(item);
        while let Some(item) = next.take() {
            match &item.id {
                Some(id) => {
                    next = self.take_successor(&item.channel, id);
                    self.last_ids.insert(item.channel.clone(), id.clone());
                }
                // Most traffic has no ids: skip hashing the channel when nothing is kept.
                None if self.last_ids.is_empty() => {}
                None => {
                    self.last_ids.remove(&item.channel);
                }
            }
            out.push(item);
        }
    }

    /// Removes and returns the parked item of `channel` whose `prev-id` is `id`.
    fn take_successor(&mut self, channel: &str, id: &str) -> Option<PublishItem> {
        let queue = self.parked.get_mut(channel)?;
        let at = queue.iter().position(|p| p.prev_id == id)?;
        let parked = queue.remove(at);
        if queue.is_empty() {
            self.parked.remove(channel);
        }
        parked.map(|p| p.item)
    }
}

#[cfg(test)]
mod tests;
