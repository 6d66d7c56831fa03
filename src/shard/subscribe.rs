//! Subscribing a held connection after it was registered (WebSocket `subscribe` and
//! `unsubscribe` control messages).
//!
//! Owns: `ShardContext::subscribe_held` and `unsubscribe_held`, the later-subscription
//! counterparts of `register_hold` (which subscribes once, at registration).
//! Must not: change what `register_hold` and `HeldGuard` do; the guard's drop still
//! unsubscribes every channel listed in the entry, so a channel added here is always
//! listed there first.
//! Invariants: the gauge `ringpin_subscriptions` and the router's interest move together,
//! as in `register_hold`: interest is sent before the gauge counts the subscription.

use crate::fanout::ConnKey;
use crate::shard::ShardContext;

/// What `subscribe_held` did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubscribeOutcome {
    /// Newly subscribed.
    Added,
    /// Already subscribed; nothing changed.
    AlreadySubscribed,
    /// The connection holds `connection_subscriptions_max` channels already.
    OverLimit,
    /// The connection is no longer held.
    Gone,
}

impl ShardContext {
    /// Subscribes the held connection `key` to `channel`, within the per-connection limit.
    pub fn subscribe_held(&self, key: ConnKey, channel: &str) -> SubscribeOutcome {
        {
            let mut held = self.held.borrow_mut();
            let Some(entry) = held.get_mut(key) else {
                return SubscribeOutcome::Gone;
            };
            if entry.channels.iter().any(|c| c == channel) {
                return SubscribeOutcome::AlreadySubscribed;
            }
            if entry.channels.len() >= self.config.connection_subscriptions_max {
                return SubscribeOutcome::OverLimit;
            }
            entry.channels.push(channel.to_owned());
        }
        let mut subs = self.subscriptions.borrow_mut();
        if subs.add(channel, key).is_some() {
            self.send_interest(channel, true);
        }
        self.counters.subscriptions.add(1);
        SubscribeOutcome::Added
    }

    /// Unsubscribes the held connection `key` from `channel`; false if it was not subscribed.
    pub fn unsubscribe_held(&self, key: ConnKey, channel: &str) -> bool {
        {
            let mut held = self.held.borrow_mut();
            let Some(entry) = held.get_mut(key) else {
                return false;
            };
            let before = entry.channels.len();
            entry.channels.retain(|c| c != channel);
            if entry.channels.len() == before {
                return false;
            }
        }
        let mut subs = self.subscriptions.borrow_mut();
        if subs.contains(channel, key) {
            if subs.remove(channel, key).is_some() {
                self.send_interest(channel, false);
            }
            self.counters.subscriptions.add(-1);
        }
        true
    }
}
