//! XPUB subscriptions: what the subscription frames an XPUB socket receives say about which
//! subscribers (ringpin's or Pushpin's bound SUB inputs) want which channel.
//!
//! Owns: parsing one frame (`\x01CHANNEL` subscribe, `\x00CHANNEL` unsubscribe), the
//! per-topic count of subscribed peers, and what a wait for them found.
//! Must not: touch sockets (zmq_publisher.rs receives the frames) or read the clock.
//! Invariants: the count is right for an XPUB with `ZMQ_XPUB_VERBOSE` set and
//! `ZMQ_XPUB_VERBOSER` not (the `zmq` crate 0.10 cannot set it): every peer's subscribe is
//! passed up, but an unsubscribe only when no peer is left on that topic, so an unsubscribe
//! resets that topic's count to zero. A SUB replays its subscription set once to a new
//! connection and then sends one subscribe per `ZMQ_SUBSCRIBE`; ringpin subscribes on a
//! channel's first subscriber only, so while subscriptions are stable (the coordinator
//! connects the XPUB once every client is held) the count is the number of peers subscribed.

use std::collections::HashMap;
use std::time::Duration;

/// What waiting for subscriptions found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscribeWait {
    /// From the XPUB's connect to the last expected subscription (or to giving up).
    pub waited: Duration,
    /// Peers subscribed to the channel when the wait ended.
    pub peers: u64,
    /// Peers that were expected.
    pub expected: u64,
}

/// One frame received on an XPUB socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionFrame<'a> {
    /// A peer subscribed to this channel (`\x01` + channel).
    Subscribe(&'a [u8]),
    /// The last peer unsubscribed from this channel (`\x00` + channel).
    Unsubscribe(&'a [u8]),
    /// Empty, or a first byte other than 0 or 1 (not something a SUB sends).
    Other,
}

/// Parses one XPUB frame.
pub fn parse_subscription_frame(frame: &[u8]) -> SubscriptionFrame<'_> {
    match frame.split_first() {
        Some((1, channel)) => SubscriptionFrame::Subscribe(channel),
        Some((0, channel)) => SubscriptionFrame::Unsubscribe(channel),
        _ => SubscriptionFrame::Other,
    }
}

/// Subscribed peers per topic, as seen by one verbose XPUB.
#[derive(Debug, Default)]
pub struct SubscriptionTally {
    peers_by_topic: HashMap<Vec<u8>, u64>,
}

impl SubscriptionTally {
    /// Takes one received frame into account; returns what it was.
    pub fn on_frame<'a>(&mut self, frame: &'a [u8]) -> SubscriptionFrame<'a> {
        let parsed = parse_subscription_frame(frame);
        match parsed {
            SubscriptionFrame::Subscribe(channel) => {
                *self.peers_by_topic.entry(channel.to_vec()).or_default() += 1;
            }
            SubscriptionFrame::Unsubscribe(channel) => {
                self.peers_by_topic.remove(channel);
            }
            SubscriptionFrame::Other => {}
        }
        parsed
    }

    /// Peers whose subscriptions cover `channel`: ZeroMQ topics are prefixes, so a
    /// subscription to `load` or to everything (the empty topic) counts for `loadgen`.
    pub fn peers(&self, channel: &[u8]) -> u64 {
        self.peers_by_topic
            .iter()
            .filter(|(topic, _)| channel.starts_with(topic))
            .map(|(_, n)| n)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_parse_by_their_first_byte() {
        let check = |frame: &[u8], expected: SubscriptionFrame<'_>| {
            assert_eq!(parse_subscription_frame(frame), expected, "{frame:?}");
        };
        check(b"\x01loadgen", SubscriptionFrame::Subscribe(b"loadgen"));
        check(b"\x00loadgen", SubscriptionFrame::Unsubscribe(b"loadgen"));
        // An empty topic subscribes to everything; it is still a subscription.
        check(b"\x01", SubscriptionFrame::Subscribe(b""));
        check(b"\x01\x00bin", SubscriptionFrame::Subscribe(b"\x00bin"));
        check(b"", SubscriptionFrame::Other);
        check(b"\x02loadgen", SubscriptionFrame::Other);
        check(b"loadgen", SubscriptionFrame::Other);
    }

    #[test]
    fn the_tally_counts_each_peer_and_an_unsubscribe_clears_the_channel() {
        let mut t = SubscriptionTally::default();
        assert_eq!(t.peers(b"a"), 0);
        for frame in [&b"\x01a"[..], b"\x01a", b"\x01b", b"junk", b"", b"\x01a"] {
            t.on_frame(frame);
        }
        assert_eq!((t.peers(b"a"), t.peers(b"b"), t.peers(b"c")), (3, 1, 0));
        assert_eq!(t.on_frame(b"\x00a"), SubscriptionFrame::Unsubscribe(b"a"));
        assert_eq!((t.peers(b"a"), t.peers(b"b")), (0, 1));
        t.on_frame(b"\x01a");
        assert_eq!(t.peers(b"a"), 1);
    }

    #[test]
    fn a_prefix_or_empty_topic_covers_the_channel() {
        let mut t = SubscriptionTally::default();
        for frame in [&b"\x01load"[..], b"\x01", b"\x01loadgen-2", b"\x01other"] {
            t.on_frame(frame);
        }
        assert_eq!(t.peers(b"loadgen"), 2, "`load` and the empty topic");
        assert_eq!(t.peers(b"loadgen-2"), 3);
        assert_eq!(t.peers(b"x"), 1, "the empty topic only");
    }
}
