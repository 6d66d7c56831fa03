//! Subscriptions: which of this shard's connections listen on which channel.
//!
//! Owns: the channel -> subscriber map for one shard, and the first/last-subscriber changes
//! the router needs to know about.
//! Must not: touch sockets, await, read the clock, or know other shards exist.
//! Invariants: a connection appears at most once per channel; a channel whose last subscriber
//! is removed disappears in the same call. Add and remove are O(1): each channel keeps a dense
//! slot vector for the delivery loop plus a position index for swap-removal, because 100K
//! subscribers leaving one channel must not cost 100K² steps.

use std::collections::HashMap;

/// Key of a connection in its shard's connection table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnKey(pub u32);

/// A change in whether this shard has any subscriber for a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterestChange {
    /// The channel got its first local subscriber.
    First(String),
    /// The channel lost its last local subscriber.
    Last(String),
}

#[derive(Debug, Default)]
struct ChannelSlots {
    slots: Vec<ConnKey>,
    position: HashMap<ConnKey, u32>,
}

/// The subscription table of one shard.
#[derive(Debug, Default)]
pub struct Subscriptions {
    channels: HashMap<String, ChannelSlots>,
    total: usize,
}

impl Subscriptions {
    /// An empty table.
    pub fn new() -> Subscriptions {
        Subscriptions::default()
    }

    /// Subscribes `conn` to `channel`. Returns the interest change, if this was the first.
    /// Subscribing twice is a no-op.
    pub fn add(&mut self, channel: &str, conn: ConnKey) -> Option<InterestChange> {
        // Look up by &str: the common case, a channel that already has subscribers, then
        // allocates nothing (the name is copied only for a new channel).
        let first = !self.channels.contains_key(channel);
        if first {
            self.channels
                .insert(channel.to_owned(), ChannelSlots::default());
        }
        let entry = self
            .channels
            .get_mut(channel)
            .expect("the channel was inserted above");
        if entry.position.contains_key(&conn) {
            return None;
        }
        let at = u32::try_from(entry.slots.len()).expect("fewer than 2^32 subscribers per shard");
        entry.slots.push(conn);
        entry.position.insert(conn, at);
        self.total += 1;
        first.then(|| InterestChange::First(channel.to_owned()))
    }

    /// Unsubscribes `conn` from `channel`. Returns the interest change, if this was the last.
    pub fn remove(&mut self, channel: &str, conn: ConnKey) -> Option<InterestChange> {
        let entry = self.channels.get_mut(channel)?;
        let at = entry.position.remove(&conn)? as usize;
        entry.slots.swap_remove(at);
        if let Some(moved) = entry.slots.get(at) {
            entry.position.insert(*moved, at as u32);
        }
        self.total -= 1;
        if entry.slots.is_empty() {
            self.channels.remove(channel);
            return Some(InterestChange::Last(channel.to_owned()));
        }
        None
    }

    /// The connections subscribed to `channel`, in no particular order.
    pub fn subscribers(&self, channel: &str) -> &[ConnKey] {
        self.channels
            .get(channel)
            .map_or(&[][..], |c| c.slots.as_slice())
    }

    /// True when `conn` is subscribed to `channel`.
    pub fn contains(&self, channel: &str, conn: ConnKey) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|c| c.position.contains_key(&conn))
    }

    /// Subscriptions across all channels.
    pub fn total(&self) -> usize {
        self.total
    }

    /// Channels with at least one subscriber.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_and_last_subscriber_are_reported_once() {
        let mut s = Subscriptions::new();
        assert_eq!(
            s.add("a", ConnKey(1)),
            Some(InterestChange::First("a".into()))
        );
        assert_eq!(s.add("a", ConnKey(2)), None);
        assert_eq!(s.add("a", ConnKey(2)), None, "double subscribe is a no-op");
        assert_eq!(s.total(), 2);
        assert_eq!(s.remove("a", ConnKey(1)), None);
        assert_eq!(
            s.remove("a", ConnKey(2)),
            Some(InterestChange::Last("a".into()))
        );
        assert_eq!(s.remove("a", ConnKey(2)), None);
        assert_eq!(s.total(), 0);
        assert_eq!(s.channel_count(), 0);
    }

    #[test]
    fn swap_removal_keeps_every_other_subscriber() {
        let mut s = Subscriptions::new();
        for k in 0..100 {
            s.add("c", ConnKey(k));
        }
        for k in (0..100).step_by(3) {
            s.remove("c", ConnKey(k));
        }
        let mut left: Vec<u32> = s.subscribers("c").iter().map(|k| k.0).collect();
        left.sort_unstable();
        let expected: Vec<u32> = (0..100).filter(|k| k % 3 != 0).collect();
        assert_eq!(left, expected);
        for k in &expected {
            assert!(s.contains("c", ConnKey(*k)));
        }
    }

    #[test]
    fn unknown_channels_have_no_subscribers() {
        let s = Subscriptions::new();
        assert!(s.subscribers("nope").is_empty());
    }
}
