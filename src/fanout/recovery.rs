//! Recovery: one held connection's view of its channels' ids, and whether it must go back to
//! its origin (PUSHPIN.md §3.8, §4 `hint`, §5.3).
//!
//! Owns: the last id the connection knows for each channel the origin gave a `prev-id` for,
//! the verdict on each published item (deliver, set aside, or set aside and refetch), the
//! items set aside while a refetch is wanted or running, and which channels received an item
//! since the last periodic refresh.
//! Must not: do I/O, read the clock or allocate on the common path: `ChunkWriter` consults it
//! only for connections that have one (response holds and stream holds with a next link), so
//! every other subscriber pays one `Option` check.
//! Invariants: while `wanted` or `fetching` is set no item is delivered, so the link
//! response's body always precedes the items that follow it; at most `aside_max` items are
//! set aside, and the rest are refused and counted by the caller as drops (not for a
//! long-poll, which needs one item at most).

use super::transport::Transport;
use crate::publish::format::{EncodedItem, EncodedStream};
use crate::publish::item::HttpResponseFormat;
use std::sync::Arc;

/// Why a held connection goes back to its origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefetchReason {
    /// A published item's `prev-id` is not the id this connection last saw.
    Gap,
    /// A `hint` action was published.
    Hint,
    /// `/recover` was called.
    Recover,
    /// The channel got its first subscriber on this shard a moment ago (PUSHPIN.md §3.4).
    FirstSubscription,
    /// The next link's `timeout` passed without a message on every channel.
    Refresh,
    /// The origin answered with a next link and no hold: fetch it at once.
    NextLink,
}

/// What `ChunkWriter` does with an item for a connection that has a `Recovery`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver as usual.
    Deliver,
    /// Kept aside (or refused when the aside list is full); nothing to do now.
    Held,
    /// A refetch is now wanted: wake the connection's task.
    Wake,
}

/// One channel as the connection knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct ChannelIds {
    name: String,
    /// The last id the origin or a delivered item gave; `None` means unchecked.
    last_id: Option<String>,
    /// An item arrived on it since the last refresh check.
    received: bool,
}

/// Per-connection sequencing and refetch state.
#[derive(Debug)]
pub struct Recovery {
    channels: Vec<ChannelIds>,
    /// Set when the connection must refetch; its task takes it.
    pub wanted: Option<RefetchReason>,
    /// A refetch is running; items are set aside until it ends.
    pub fetching: bool,
    /// Items waiting for the refetch to end, oldest first.
    aside: Vec<Arc<EncodedItem>>,
    aside_max: usize,
    /// Items refused because the aside list was full, not yet reported.
    pub refused: u64,
}

impl Recovery {
    /// State for `channels`, each with the `prev-id` the origin gave, if any. At most
    /// `aside_max` items wait while a refetch runs.
    pub fn new(channels: Vec<(String, Option<String>)>, aside_max: usize) -> Recovery {
        Recovery {
            channels: to_ids(channels),
            wanted: None,
            fetching: false,
            aside: Vec::new(),
            aside_max,
            refused: 0,
        }
    }

    /// Judges `item` for a connection of `transport`; see `Verdict`.
    pub fn on_item(&mut self, transport: Transport, item: &Arc<EncodedItem>) -> Verdict {
        if is_hint(transport, item) {
            return self.want(RefetchReason::Hint);
        }
        if !has_format(transport, item) {
            return Verdict::Deliver;
        }
        if self.wanted.is_some() || self.fetching {
            self.set_aside(transport, item);
            return Verdict::Held;
        }
        let Some(channel) = self.channels.iter_mut().find(|c| c.name == item.channel) else {
            return Verdict::Deliver;
        };
        channel.received = true;
        if item.no_seq {
            return Verdict::Deliver;
        }
        if let (Some(last), Some(prev)) = (&channel.last_id, &item.prev_id) {
            if last != prev {
                // A long-poll's replay answers for the item that revealed the gap; a stream
                // keeps it, since the link answer may end just before it.
                if transport != Transport::HttpResponse {
                    self.set_aside(transport, item);
                }
                return self.want(RefetchReason::Gap);
            }
        }
        if let (Some(last), Some(id)) = (&mut channel.last_id, &item.id) {
            last.clone_from(id);
        }
        Verdict::Deliver
    }

    /// Asks for a refetch unless one is already wanted or running; `Verdict::Wake` when the
    /// task must be woken.
    pub fn want(&mut self, reason: RefetchReason) -> Verdict {
        if self.wanted.is_some() || self.fetching {
            return Verdict::Held;
        }
        self.wanted = Some(reason);
        Verdict::Wake
    }

    /// Starts the wanted refetch: from now on items are set aside until `finish_fetch`.
    pub fn start_fetch(&mut self) -> Option<RefetchReason> {
        let reason = self.wanted.take()?;
        self.fetching = true;
        Some(reason)
    }

    /// Ends a refetch with the channels (and `prev-id`s) of the origin's newest answer, or
    /// keeps the old ones when `channels` is `None`; returns the items set aside meanwhile
    /// that follow those ids, to be judged again in order. The others are discarded
    /// (PUSHPIN.md §3.8): the answer covered them, or the next live item finds the gap, so a
    /// set-aside item can never make the connection refetch again and again.
    pub fn finish_fetch(
        &mut self,
        channels: Option<Vec<(String, Option<String>)>>,
    ) -> Vec<Arc<EncodedItem>> {
        if let Some(channels) = channels {
            self.channels = to_ids(channels);
        }
        self.fetching = false;
        self.wanted = None;
        let aside = std::mem::take(&mut self.aside);
        self.following(aside)
    }

    /// `(channel, last id)` for every channel with a known id: the `Grip-Last` entries.
    pub fn last_ids(&self) -> Vec<(String, String)> {
        self.channels
            .iter()
            .filter_map(|c| Some((c.name.clone(), c.last_id.clone()?)))
            .collect()
    }

    /// True when every channel received an item since the previous call (the periodic
    /// refresh is then skipped, PUSHPIN.md §5.3); resets the record either way.
    pub fn take_all_received(&mut self) -> bool {
        let all = !self.channels.is_empty() && self.channels.iter().all(|c| c.received);
        for channel in &mut self.channels {
            channel.received = false;
        }
        all
    }

    /// The items of `items` that follow the current ids, each advancing a copy of them.
    fn following(&self, items: Vec<Arc<EncodedItem>>) -> Vec<Arc<EncodedItem>> {
        let mut last: Vec<Option<String>> =
            self.channels.iter().map(|c| c.last_id.clone()).collect();
        items
            .into_iter()
            .filter(|item| {
                let at = self.channels.iter().position(|c| c.name == item.channel);
                let Some(last) = at.and_then(|at| last.get_mut(at)) else {
                    return true;
                };
                if item.no_seq {
                    return true;
                }
                if let (Some(known), Some(prev)) = (last.as_ref(), &item.prev_id) {
                    if known != prev {
                        return false;
                    }
                }
                if let (Some(known), Some(id)) = (last.as_mut(), &item.id) {
                    known.clone_from(id);
                }
                true
            })
            .collect()
    }

    fn set_aside(&mut self, transport: Transport, item: &Arc<EncodedItem>) {
        if self.aside.len() < self.aside_max {
            self.aside.push(Arc::clone(item));
        } else if transport != Transport::HttpResponse {
            // A long-poll needs one item at most; the rest are not losses.
            self.refused += 1;
        }
    }
}

fn to_ids(channels: Vec<(String, Option<String>)>) -> Vec<ChannelIds> {
    channels
        .into_iter()
        .map(|(name, last_id)| ChannelIds {
            name,
            last_id,
            received: false,
        })
        .collect()
}

/// True when `item` carries something for a connection of `transport`; other items are
/// left to `ChunkWriter`, which ignores them.
fn has_format(transport: Transport, item: &EncodedItem) -> bool {
    match transport {
        Transport::HttpStreamChunked | Transport::HttpStreamRaw => item.stream.is_some(),
        Transport::HttpResponse => item.response.is_some(),
        Transport::WebSocket => item.ws.is_some(),
    }
}

/// True when `item` is a `hint` action for a connection of `transport`.
fn is_hint(transport: Transport, item: &EncodedItem) -> bool {
    match transport {
        Transport::HttpStreamChunked | Transport::HttpStreamRaw => {
            matches!(item.stream, Some(EncodedStream::Hint))
        }
        Transport::HttpResponse => matches!(item.response, Some(HttpResponseFormat::Hint)),
        Transport::WebSocket => false,
    }
}

#[cfg(test)]
mod tests;
