//! Channels of the floor server: who holds each channel, and the chunks published to it that
//! the next delivery pass will write.
//!
//! Owns: the channel names, each channel's subscriber keys, and each channel's pending chunks.
//! Must not: touch sockets or connections (the server closes them and tells this table).
//! Why: with `--channels K` a proxy delivers each item to its channel's subscribers only; a
//! floor that wrote every item to every socket would do K times the proxy's work and stop
//! being a floor. The table is the least a proxy must keep for that: one map lookup per item
//! and per subscribe, one vector per channel.
//! Invariants: a subscriber is in exactly one channel's list, at the position its
//! `Subscription` records, until `unsubscribe`; chunks of a channel are delivered in the order
//! they were queued; a channel's pending chunks are taken once, by `take_pending`, in the order
//! the channels were first published to since the last pass.

use std::collections::HashMap;

use super::conns::Key;

/// Where a subscriber sits: its channel and its index in that channel's list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Subscription {
    channel: u32,
    position: u32,
}

/// What one channel holds.
#[derive(Debug, Default)]
struct Channel {
    subscribers: Vec<Key>,
    /// Chunks published since the last pass, back to back.
    pending: Vec<u8>,
    pending_items: u64,
}

/// One channel's share of a delivery pass: its chunks as one buffer, and who gets it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Batch {
    pub chunks: Vec<u8>,
    pub items: u64,
    /// The channel's subscribers when the pass took the batch; some may close during it.
    pub subscribers: Vec<Key>,
}

/// Every channel anyone has subscribed to.
#[derive(Debug, Default)]
pub(super) struct Channels {
    ids: HashMap<Box<str>, u32>,
    channels: Vec<Channel>,
    /// Channels with pending chunks, in the order they got their first.
    dirty: Vec<u32>,
}

impl Channels {
    /// Adds `key` to `name`'s subscribers, creating the channel on first use.
    pub(super) fn subscribe(&mut self, name: &str, key: Key) -> Subscription {
        let channel = match self.ids.get(name) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.channels.len()).expect("fewer than 2^32 channels");
                self.ids.insert(name.into(), id);
                self.channels.push(Channel::default());
                id
            }
        };
        let subscribers = &mut self.channels[channel as usize].subscribers;
        let position = u32::try_from(subscribers.len()).expect("fewer than 2^32 subscribers");
        subscribers.push(key);
        Subscription { channel, position }
    }

    /// Removes the subscriber at `subscription`. The channel's last subscriber takes its
    /// place; its key and new subscription are returned so the caller can record the move.
    /// A channel keeps its (empty) list: loadgen reuses its few channel names.
    pub(super) fn unsubscribe(
        &mut self,
        subscription: Subscription,
    ) -> Option<(Key, Subscription)> {
        let subscribers = &mut self.channels[subscription.channel as usize].subscribers;
        let position = subscription.position as usize;
        subscribers.swap_remove(position);
        subscribers
            .get(position)
            .map(|&moved| (moved, subscription))
    }

    /// Queues `chunk` for `name`'s subscribers; false (and nothing queued) when nobody holds
    /// the channel, as a proxy drops an item with no subscriber.
    pub(super) fn queue(&mut self, name: &str, chunk: &[u8]) -> bool {
        let Some(&id) = self.ids.get(name) else {
            return false;
        };
        let channel = &mut self.channels[id as usize];
        if channel.subscribers.is_empty() {
            return false;
        }
        if channel.pending.is_empty() {
            self.dirty.push(id);
        }
        channel.pending.extend_from_slice(chunk);
        channel.pending_items += 1;
        true
    }

    pub(super) fn has_pending(&self) -> bool {
        !self.dirty.is_empty()
    }

    /// Every channel's pending chunks with its subscribers, leaving nothing pending.
    pub(super) fn take_pending(&mut self) -> Vec<Batch> {
        let dirty = std::mem::take(&mut self.dirty);
        dirty
            .into_iter()
            .map(|id| {
                let channel = &mut self.channels[id as usize];
                Batch {
                    chunks: std::mem::take(&mut channel.pending),
                    items: std::mem::take(&mut channel.pending_items),
                    subscribers: channel.subscribers.clone(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> Key {
        Key::from_token(n)
    }

    #[test]
    fn a_chunk_reaches_only_its_channels_subscribers_in_publish_order() {
        let mut channels = Channels::default();
        channels.subscribe("a", key(1));
        channels.subscribe("b", key(2));
        channels.subscribe("a", key(3));
        assert!(channels.queue("b", b"b1"));
        assert!(channels.queue("a", b"a1"));
        assert!(channels.queue("b", b"b2"));
        assert!(!channels.queue("nobody", b"x"));
        assert!(channels.has_pending());
        let batches = channels.take_pending();
        assert_eq!(
            batches,
            [
                Batch {
                    chunks: b"b1b2".to_vec(),
                    items: 2,
                    subscribers: vec![key(2)],
                },
                Batch {
                    chunks: b"a1".to_vec(),
                    items: 1,
                    subscribers: vec![key(1), key(3)],
                },
            ]
        );
        assert!(!channels.has_pending());
        assert!(channels.take_pending().is_empty());
    }

    #[test]
    fn unsubscribing_moves_the_last_subscriber_into_the_gap() {
        let mut channels = Channels::default();
        let first = channels.subscribe("a", key(1));
        channels.subscribe("a", key(2));
        channels.subscribe("a", key(3));
        // The last one fills the first one's place, and says so.
        assert_eq!(channels.unsubscribe(first), Some((key(3), first)));
        // Removing the (moved) third at its new place leaves only the second.
        assert_eq!(channels.unsubscribe(first), Some((key(2), first)));
        let only = Subscription {
            channel: 0,
            position: 0,
        };
        assert_eq!(channels.unsubscribe(only), None);
        assert!(!channels.queue("a", b"x"), "an empty channel takes nothing");
    }
}
