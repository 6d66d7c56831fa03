//! Subscriber: one logical subscriber of the soak — its transport, channel and what it has
//! received — independent of the connections that carry it.
//!
//! Owns: the per-subscriber delivery record (first and highest item, unique, missing,
//! duplicated, reordered, from another channel, malformed) and the long-poll request that
//! names the last item received.
//! Must not: touch sockets or read the clock (times are passed in).
//! Invariants: a stream, SSE or WebSocket subscriber lives on one connection; a long-poll
//! subscriber outlives its connections (each re-poll, and each reconnect after an error,
//! says `after=N` for the last item it has), so its record spans them. Items are judged
//! by their per-channel number `n` (see `item.rs`), relative to the first one received, so a
//! subscriber that joined mid-run does not count the items before it as missing.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::message::Stamp;
use crate::scenario::Mode;
use crate::seqtrack::{Arrival, SeqTracker};

use super::item;

/// A subscriber that joins mid-run must receive every item of its channel published this
/// long after it was held (or after its first long-poll request was sent), and every item
/// after the first one it receives. The grace covers the moment between ringpin holding a
/// connection and its router knowing of the subscription, and, for a long-poll, the trip of
/// its first request to the backend (which ringpin bounds by the origin timeout, 2 s in a
/// soak, answering 503 or 504 past it); generous, since the machine is shared and a starved
/// thread must not fail a run.
pub(crate) const JOIN_GRACE: Duration = Duration::from_secs(5);

/// Transports in the order subscribers are spread over them.
pub(crate) const MODES: [Mode; 4] = [Mode::Stream, Mode::Sse, Mode::Longpoll, Mode::Ws];

/// What one subscriber received, as the worker reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SubRecord {
    /// `stream`, `sse`, `longpoll` or `ws`.
    pub(crate) mode: String,
    /// Logical channel.
    pub(crate) channel: u64,
    /// Held before the first publish (expects every item from 1).
    pub(crate) initial: bool,
    /// Chosen for a fault (disconnected, or still connecting when the run ended): not judged.
    pub(crate) faulted: bool,
    /// Why a healthy subscriber's connection ended unexpectedly, if it did.
    pub(crate) broken: Option<String>,
    /// CLOCK_MONOTONIC ns when it was held (long-poll: its first request without `after`
    /// was sent); 0 if never.
    pub(crate) join_ns: u64,
    /// First and highest item number received (0: none).
    pub(crate) first: u64,
    pub(crate) highest: u64,
    /// Distinct items received.
    pub(crate) unique: u64,
    /// Items between `first` and `highest` that never arrived.
    pub(crate) missing: u64,
    pub(crate) duplicated: u64,
    pub(crate) reordered: u64,
    /// Items of another channel.
    pub(crate) misrouted: u64,
    /// Messages that did not parse or had the wrong size.
    pub(crate) malformed: u64,
    /// Long-poll items answered by the backend (recovery) rather than published to the hold.
    pub(crate) backend_served: u64,
}

/// A subscriber's delivery state.
#[derive(Debug, Clone)]
pub(crate) struct Subscriber {
    pub(crate) mode: Mode,
    pub(crate) channel: u64,
    pub(crate) initial: bool,
    /// See [`SubRecord::join_ns`].
    pub(crate) join_ns: u64,
    /// Item numbers are tracked as `n - base`, `base` being one below the first item.
    base: Option<u64>,
    tracker: SeqTracker,
    record: SubRecord,
    /// Numbers jumped over, and how many of them arrived later.
    skipped: u64,
    filled: u64,
}

impl Subscriber {
    /// A subscriber of `mode` on logical channel `channel`.
    pub(crate) fn new(mode: Mode, channel: u64, initial: bool) -> Subscriber {
        Subscriber {
            mode,
            channel,
            initial,
            join_ns: 0,
            base: None,
            tracker: SeqTracker::default(),
            record: SubRecord {
                mode: mode.name().to_string(),
                channel,
                initial,
                ..SubRecord::default()
            },
            skipped: 0,
            filled: 0,
        }
    }

    /// Judges one received message.
    pub(crate) fn on_message(&mut self, stamp: Stamp) {
        let (c, n) = item::untag(stamp.seq);
        if c != self.channel || n == 0 {
            self.record.misrouted += 1;
            return;
        }
        if stamp.send_ns == 0 {
            self.record.backend_served += 1;
        }
        let base = *self.base.get_or_insert(n - 1);
        if n <= base {
            // Older than the first item received: it arrived out of order.
            self.record.reordered += 1;
            return;
        }
        match self.tracker.on_seq(n - base, u64::MAX) {
            Arrival::InOrder => {}
            Arrival::Ahead { skipped } => self.skipped += skipped,
            Arrival::Reordered => {
                self.record.reordered += 1;
                self.filled += 1;
            }
            Arrival::Duplicate => self.record.duplicated += 1,
            Arrival::OutOfRange => self.record.misrouted += 1,
        }
    }

    /// A message that was not a valid item.
    pub(crate) fn on_malformed(&mut self) {
        self.record.malformed += 1;
    }

    /// The highest item number received, if any.
    pub(crate) fn highest(&self) -> Option<u64> {
        self.base.map(|b| b + self.tracker.highest())
    }

    /// The request of a long-poll: `after` the last item received, or, for an initial
    /// subscriber that has none yet, after item 0; a replacement with none joins "now".
    pub(crate) fn longpoll_request(&self) -> Vec<u8> {
        let after = self.highest().or(self.initial.then_some(0));
        let channel = item::channel_name(self.channel);
        let query = match after {
            Some(n) => format!("channel={channel}&after={n}"),
            None => format!("channel={channel}"),
        };
        format!("GET /longpoll?{query} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes()
    }

    /// The record, with `faulted` and `broken` as given.
    pub(crate) fn record(&self, faulted: bool, broken: Option<String>) -> SubRecord {
        let mut r = self.record.clone();
        r.faulted = faulted;
        r.broken = broken;
        r.join_ns = self.join_ns;
        if let Some(base) = self.base {
            let span = self.tracker.highest();
            r.first = base + 1;
            r.highest = base + span;
            r.missing = self.skipped - self.filled;
            r.unique = span - r.missing + (r.reordered - self.filled);
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamp(c: u64, n: u64) -> Stamp {
        Stamp {
            seq: item::tag(c, n),
            send_ns: 5,
        }
    }

    fn feed(sub: &mut Subscriber, ns: &[u64]) -> SubRecord {
        for &n in ns {
            sub.on_message(stamp(sub.channel, n));
        }
        sub.record(false, None)
    }

    #[test]
    fn a_subscriber_joining_mid_channel_counts_from_its_first_item() {
        let r = feed(&mut Subscriber::new(Mode::Stream, 3, false), &[7, 8, 9]);
        assert_eq!((r.first, r.highest, r.unique, r.missing), (7, 9, 3, 0));
        assert_eq!((r.duplicated, r.reordered, r.misrouted), (0, 0, 0));
    }

    #[test]
    fn gaps_duplicates_reorders_and_strangers_are_each_counted() {
        let mut sub = Subscriber::new(Mode::Ws, 3, true);
        let r = feed(&mut sub, &[1, 2, 5, 3, 3, 7]);
        // 4 and 6 never came; 3 came late, then again.
        assert_eq!((r.first, r.highest, r.unique, r.missing), (1, 7, 5, 2));
        assert_eq!((r.duplicated, r.reordered), (1, 1));
        sub.on_message(stamp(4, 8));
        sub.on_message(Stamp { seq: 3, send_ns: 1 });
        sub.on_malformed();
        let r = sub.record(false, None);
        assert_eq!((r.misrouted, r.malformed), (2, 1));
        let r = feed(&mut Subscriber::new(Mode::Sse, 0, false), &[4, 5, 2]);
        assert_eq!((r.first, r.unique, r.missing, r.reordered), (4, 3, 0, 1));
    }

    #[test]
    fn a_long_poll_asks_after_its_last_item_across_reconnects() {
        let text = |s: &Subscriber| String::from_utf8(s.longpoll_request()).expect("ascii");
        let mut initial = Subscriber::new(Mode::Longpoll, 2, true);
        assert!(text(&initial).starts_with("GET /longpoll?channel=soak-2&after=0 HTTP/1.1\r\n"));
        feed(&mut initial, &[1, 2]);
        assert!(text(&initial).contains("&after=2 "));
        let mut joining = Subscriber::new(Mode::Longpoll, 2, false);
        assert!(text(&joining).starts_with("GET /longpoll?channel=soak-2 HTTP/1.1"));
        joining.on_message(Stamp {
            seq: item::tag(2, 9),
            send_ns: 0,
        });
        assert!(text(&joining).contains("&after=9 "));
        assert_eq!(joining.record(false, None).backend_served, 1);
    }
}
