//! Pacing: the fixed schedule of the sustained publish mode (`run --rate R --publishers P`)
//! and how far behind it the publishers fell.
//!
//! Owns: which items each publisher thread sends, in what order, when each is due, and the
//! schedule lag bookkeeping.
//! Must not: read the clock or sleep (the publisher threads pass times in).
//! Invariants: item m of channel c (seq m, 1-based) has the global index
//! `(m - 1) · K + c` and is due `index / R` seconds after the start, whoever sends it, so
//! the total offered rate is R whatever P is (open loop: a thread that falls behind sends
//! at once and the lag is recorded, the schedule does not slide). A thread's items are in
//! ascending index order, and every item of channel c is sent by thread `c mod P`
//! ([`crate::channels`]), so each channel's items leave in sequence order.

use crate::channels;

/// The schedule: R items per second over every thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Items per second, in total.
    pub rate_per_s: u64,
    /// Channels (items per round).
    pub channels: u64,
}

/// One item to send: its channel and sequence number, and when it is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DueItem {
    pub seq: u64,
    pub channel: u64,
    /// Nanoseconds after the schedule's start.
    pub due_ns: u64,
}

impl Schedule {
    /// When item `index` is due, in ns after the start.
    pub fn due_ns(&self, index: u64) -> u64 {
        let ns = u128::from(index) * 1_000_000_000 / u128::from(self.rate_per_s.max(1));
        u64::try_from(ns).unwrap_or(u64::MAX)
    }

    /// The global index of item `seq` (1-based) of `channel`.
    pub fn index(&self, seq: u64, channel: u64) -> u64 {
        (seq - 1) * self.channels + channel
    }

    /// The items thread `thread` of `publishers` sends for `messages` rounds, in order.
    pub fn thread_items(
        &self,
        thread: u64,
        publishers: u64,
        messages: u64,
    ) -> impl Iterator<Item = DueItem> + '_ {
        let owned = channels::channels_of_thread(thread, self.channels, publishers);
        (1..=messages).flat_map(move |seq| {
            owned.clone().into_iter().map(move |channel| DueItem {
                seq,
                channel,
                due_ns: self.due_ns(self.index(seq, channel)),
            })
        })
    }
}

/// How far behind the schedule sends went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScheduleLag {
    /// The largest lag of any send, ns.
    pub max_ns: u64,
    /// Sum over sends, ns (for the mean).
    pub sum_ns: u128,
    /// Sends recorded.
    pub sends: u64,
    /// The lag of the last item in schedule order (the furthest behind the end was).
    pub last_ns: u64,
    last_due_ns: u64,
}

impl ScheduleLag {
    /// Records a send of an item due at `due_ns` that went at `sent_ns` (both relative to
    /// the start); sends ahead of time count as no lag.
    pub fn on_send(&mut self, due_ns: u64, sent_ns: u64) {
        let lag = sent_ns.saturating_sub(due_ns);
        self.max_ns = self.max_ns.max(lag);
        self.sum_ns += u128::from(lag);
        self.sends += 1;
        if due_ns >= self.last_due_ns {
            self.last_due_ns = due_ns;
            self.last_ns = lag;
        }
    }

    /// Combines two threads' records.
    pub fn merge(&mut self, other: &ScheduleLag) {
        self.max_ns = self.max_ns.max(other.max_ns);
        self.sum_ns += other.sum_ns;
        self.sends += other.sends;
        if other.sends > 0 && other.last_due_ns >= self.last_due_ns {
            self.last_due_ns = other.last_due_ns;
            self.last_ns = other.last_ns;
        }
    }

    /// Mean lag, ns.
    pub fn mean_ns(&self) -> u64 {
        match self.sends {
            0 => 0,
            n => u64::try_from(self.sum_ns / u128::from(n)).unwrap_or(u64::MAX),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_due_at_the_total_rate_whatever_the_thread() {
        let s = Schedule {
            rate_per_s: 200,
            channels: 20,
        };
        assert_eq!(s.due_ns(0), 0);
        assert_eq!(s.due_ns(1), 5_000_000);
        assert_eq!(s.due_ns(200), 1_000_000_000);
        assert_eq!(s.index(1, 0), 0);
        assert_eq!(s.index(2, 3), 23);
        let fast = Schedule {
            rate_per_s: 3_000_000,
            channels: 1,
        };
        assert_eq!(fast.due_ns(3), 1_000);
    }

    #[test]
    fn the_threads_together_send_every_item_once_in_per_channel_order() {
        let s = Schedule {
            rate_per_s: 1000,
            channels: 10,
        };
        let (publishers, messages) = (3, 4);
        let mut all = Vec::new();
        for t in 0..publishers {
            let items: Vec<DueItem> = s.thread_items(t, publishers, messages).collect();
            assert!(
                items.windows(2).all(|w| w[0].due_ns < w[1].due_ns),
                "thread {t} in order"
            );
            assert!(items.iter().all(|i| i.channel % publishers == t));
            all.extend(items);
        }
        assert_eq!(all.len(), 40);
        all.sort_by_key(|i| i.due_ns);
        for (k, item) in all.iter().enumerate() {
            assert_eq!(
                s.index(item.seq, item.channel),
                k as u64,
                "one item per slot"
            );
        }
    }

    #[test]
    fn lag_counts_only_late_sends_and_remembers_the_last_one() {
        let mut a = ScheduleLag::default();
        a.on_send(0, 0);
        a.on_send(10, 5); // early: no lag
        a.on_send(20, 50);
        assert_eq!((a.max_ns, a.sends, a.last_ns), (30, 3, 30));
        let mut b = ScheduleLag::default();
        b.on_send(15, 115);
        b.on_send(30, 32);
        a.merge(&b);
        assert_eq!((a.max_ns, a.sends, a.last_ns), (100, 5, 2));
        assert_eq!(a.mean_ns(), (30 + 100 + 2) / 5);
        assert_eq!(ScheduleLag::default().mean_ns(), 0);
    }
}
