//! Recovery on a shard: asking held connections to go back to their origin, and changing a
//! held connection's channels after a next link answered.
//!
//! Owns: the first-subscription update (PUSHPIN.md §3.4: about 1 s after a channel gets its
//! first subscriber on this shard, every hold on it that can refetch does so, unless the
//! channel had a subscriber within `SUBSCRIPTION_LINGER`), `/recover` on this shard, the
//! re-subscription of a stream whose link response named other channels, and re-judging the
//! items a connection set aside while it refetched.
//! Must not: talk to origins (`next_link.rs` and `proxy.rs` do) or write to sockets; it only
//! sets `Recovery::wanted`, queues bytes and wakes tasks.

use super::ShardContext;
use crate::fanout::{ConnKey, DeliveryReport, Recovery, RefetchReason, Verdict};
use crate::grip::ChannelSub;
use crate::limits::{
    FIRST_SUBSCRIPTION_UPDATE_DELAY, LINGER_CHANNELS_MAX, REFETCHES_CONCURRENT_MAX,
    SUBSCRIPTION_LINGER,
};
use crate::publish::format::EncodedItem;
use glommio::sync::Semaphore;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// A `Recovery` for a hold on `channels`, tracking the ids the origin gave as `prev-id`.
pub fn recovery_for(channels: &[ChannelSub], aside_max: usize) -> Recovery {
    let ids = channels
        .iter()
        .map(|c| (c.name.clone(), c.prev_id.clone()))
        .collect();
    Recovery::new(ids, aside_max)
}

/// Per-shard recovery state.
#[derive(Debug)]
pub struct ShardRecovery {
    /// Permits for origin requests made for recovery (`REFETCHES_CONCURRENT_MAX`).
    pub(super) refetches: Semaphore,
    /// When each channel lost its last subscriber on this shard.
    quiet_since: RefCell<HashMap<String, Instant>>,
    /// The id of the last item delivered on each channel with subscribers here, the shard's
    /// copy of the router's last id (every shard sees a channel's items in release order).
    last_ids: RefCell<HashMap<String, String>>,
    /// Next-link fetches in flight, for collapsing identical ones.
    pub(super) link_fetches: super::collapse::Collapse<crate::origin::link::LinkResult>,
}

impl Default for ShardRecovery {
    fn default() -> ShardRecovery {
        ShardRecovery {
            refetches: Semaphore::new(REFETCHES_CONCURRENT_MAX),
            quiet_since: RefCell::default(),
            last_ids: RefCell::default(),
            link_fetches: super::collapse::Collapse::default(),
        }
    }
}

impl ShardContext {
    /// One of the shard's `REFETCHES_CONCURRENT_MAX` permits to ask an origin on a hold's
    /// behalf (a long-poll re-request or a link fetch); counted in `ringpin_refetches_total`.
    /// `None` only if the semaphore were closed, which it never is.
    pub(crate) async fn refetch_permit(&self) -> Option<glommio::sync::Permit<'_>> {
        let permit = self.recovery.refetches.acquire_permit(1).await.ok();
        self.counters.refetches.add(1);
        permit
    }

    /// A permit from the same pool for a request ringpin sends after a hold ended (a gone
    /// link's POST), not counted as a refetch: a mass disconnect then queues its notices
    /// instead of taking every origin socket at once.
    pub(crate) async fn notice_permit(&self) -> Option<glommio::sync::Permit<'_>> {
        self.recovery.refetches.acquire_permit(1).await.ok()
    }

    /// The registry that lets identical link fetches share one exchange.
    pub(crate) fn link_fetches(
        &self,
    ) -> &super::collapse::Collapse<crate::origin::link::LinkResult> {
        &self.recovery.link_fetches
    }

    /// A channel got its first subscriber here: unless it lingered, schedule the
    /// first-subscription update of its holds.
    pub(super) fn on_first_subscriber(self: &Rc<Self>, channel: &str) {
        let lingered = self
            .recovery
            .quiet_since
            .borrow_mut()
            .remove(channel)
            .is_some_and(|since| since.elapsed() < SUBSCRIPTION_LINGER);
        if lingered || !self.config.update_on_first_subscription {
            return;
        }
        let ctx = Rc::clone(self);
        let channel = channel.to_owned();
        glommio::spawn_local(async move {
            glommio::timer::sleep(FIRST_SUBSCRIPTION_UPDATE_DELAY).await;
            let keys = ctx.subscriptions.borrow().subscribers(&channel).to_vec();
            let woken = ctx.want_refetch(&keys, RefetchReason::FirstSubscription);
            if woken > 0 {
                log::debug!(
                    "shard={} first-subscription update of {woken} holds on {channel:?}",
                    ctx.id.0
                );
            }
        })
        .detach();
    }

    /// Records `item`'s id as its channel's last (an item without an id forgets it), as
    /// the router's sequencer does; called only for channels with subscribers here.
    pub(super) fn note_delivered(&self, item: &EncodedItem) {
        if item.no_seq {
            return;
        }
        let mut last_ids = self.recovery.last_ids.borrow_mut();
        if item.id.is_none() && last_ids.is_empty() {
            // Ordinary traffic without ids costs no lookup.
            return;
        }
        match (&item.id, last_ids.get_mut(&item.channel)) {
            (Some(id), Some(last)) => last.clone_from(id),
            (Some(id), None) => {
                last_ids.insert(item.channel.clone(), id.clone());
            }
            (None, _) => {
                last_ids.remove(&item.channel);
            }
        }
    }

    /// The `(channel, prev-id)` pairs of a new long-poll when any `prev-id` disagrees with
    /// the channel's last id here: Pushpin re-requests such a hold at once (PUSHPIN.md §3.8)
    /// instead of holding a client that already missed an item.
    pub(crate) fn stale_prev_ids(&self, channels: &[ChannelSub]) -> Option<Vec<(String, String)>> {
        let last_ids = self.recovery.last_ids.borrow();
        let stale = channels
            .iter()
            .any(|c| match (&c.prev_id, last_ids.get(&c.name)) {
                (Some(prev), Some(last)) => prev != last,
                _ => false,
            });
        stale.then(|| {
            channels
                .iter()
                .filter_map(|c| Some((c.name.clone(), c.prev_id.clone()?)))
                .collect()
        })
    }

    /// A channel lost its last subscriber here: remember when, for the linger window.
    pub(super) fn on_last_subscriber(&self, channel: &str) {
        self.recovery.last_ids.borrow_mut().remove(channel);
        let mut quiet = self.recovery.quiet_since.borrow_mut();
        let now = Instant::now();
        if quiet.len() >= LINGER_CHANNELS_MAX {
            quiet.retain(|_, since| now.duration_since(*since) < SUBSCRIPTION_LINGER);
            if quiet.len() >= LINGER_CHANNELS_MAX {
                quiet.clear();
            }
        }
        quiet.insert(channel.to_owned(), now);
    }

    /// Asks each of `keys` that can refetch to do so for `reason`; returns how many were
    /// woken (a hold already refetching is left alone).
    pub(crate) fn want_refetch(&self, keys: &[ConnKey], reason: RefetchReason) -> usize {
        let mut held = self.held.borrow_mut();
        let mut woken = 0;
        for &key in keys {
            let Some(entry) = held.get_mut(key) else {
                continue;
            };
            let Some(recovery) = entry.sink.recovery.as_deref_mut() else {
                continue;
            };
            if recovery.want(reason) == Verdict::Wake {
                held.wake(key);
                woken += 1;
            }
        }
        woken
    }

    /// `/recover` reached this shard: the last ids are forgotten and every hold that can
    /// refetch does.
    pub(super) fn recover_all(&self) {
        self.recovery.last_ids.borrow_mut().clear();
        let keys = self.held.borrow().keys();
        let woken = self.want_refetch(&keys, RefetchReason::Recover);
        log::info!("shard={} recover: {woken} holds refetch", self.id.0);
    }

    /// Replaces the channels of held connection `key` with `channels`, telling the router
    /// about channels this shard gains or loses.
    pub(crate) fn set_hold_channels(self: &Rc<Self>, key: ConnKey, channels: Vec<String>) {
        let old = match self.held.borrow_mut().get_mut(key) {
            Some(entry) => std::mem::take(&mut entry.channels),
            None => return,
        };
        let mut gained = Vec::new();
        {
            let mut subs = self.subscriptions.borrow_mut();
            for channel in old.iter().filter(|c| !channels.contains(c)) {
                if subs.contains(channel, key) {
                    if subs.remove(channel, key).is_some() {
                        self.send_interest(channel, false);
                        self.on_last_subscriber(channel);
                    }
                    self.counters.subscriptions.add(-1);
                }
            }
            for channel in &channels {
                if subs.contains(channel, key) {
                    continue;
                }
                if subs.add(channel, key).is_some() {
                    self.send_interest(channel, true);
                    gained.push(channel.clone());
                }
                self.counters.subscriptions.add(1);
            }
        }
        if let Some(entry) = self.held.borrow_mut().get_mut(key) {
            entry.channels = channels;
        }
        for channel in gained {
            self.on_first_subscriber(&channel);
        }
    }

    /// A long-poll's replay answered with a new response hold on `channels`: the kept
    /// registration takes them on, and an item that arrived meanwhile and follows them
    /// completes it at once.
    pub(super) fn adopt_hold(self: &Rc<Self>, key: ConnKey, channels: &[ChannelSub]) {
        let names = channels.iter().map(|c| c.name.clone()).collect();
        self.set_hold_channels(key, names);
        let ids = channels
            .iter()
            .map(|c| (c.name.clone(), c.prev_id.clone()))
            .collect();
        let aside = match self.held.borrow_mut().get_mut(key) {
            Some(entry) => match entry.sink.recovery.as_deref_mut() {
                Some(recovery) => recovery.finish_fetch(Some(ids)),
                None => Vec::new(),
            },
            None => Vec::new(),
        };
        self.redeliver(key, aside);
    }

    /// Judges again, in order, the items `key` set aside while it refetched, queueing those
    /// that now follow; the connection's task writes them.
    pub(crate) fn redeliver(&self, key: ConnKey, items: Vec<Arc<EncodedItem>>) {
        if items.is_empty() {
            return;
        }
        let mut report = DeliveryReport::default();
        let now = Instant::now();
        let mut held = self.held.borrow_mut();
        for item in &items {
            self.writer
                .deliver(item, &[key], &mut *held, now, &mut report);
        }
        for &key in &report.wake {
            held.wake(key);
        }
        self.counters.deliveries.add(report.delivered);
        self.counters.deliveries_dropped.add(report.dropped);
        self.counters
            .slow_clients_closed
            .add(report.overflow_closed);
    }
}
