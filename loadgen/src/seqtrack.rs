//! Seq tracking: what one subscriber's sequence of received messages says about delivery.
//!
//! Owns: the next expected sequence number of one connection and the numbers it skipped.
//! Must not: time anything or know about other connections.
//! Invariants: each arrival is classified exactly once: in order, ahead (a gap opened),
//! late (it fills a gap: reordered), duplicate, or out of range. A gap that is never
//! filled is a lost message; the caller derives losses from expected minus unique arrivals.

use std::collections::BTreeSet;

/// How one arrival relates to what came before on the same connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// The expected next number.
    InOrder,
    /// Beyond the expected number; `skipped` numbers are missing so far.
    Ahead { skipped: u64 },
    /// A number that was skipped earlier and has now arrived.
    Reordered,
    /// A number already received.
    Duplicate,
    /// Zero or above the run's last sequence number: not a message of this run.
    OutOfRange,
}

impl Arrival {
    /// True when this arrival is a message the connection had not received before.
    pub fn is_new(self) -> bool {
        matches!(
            self,
            Arrival::InOrder | Arrival::Ahead { .. } | Arrival::Reordered
        )
    }
}

/// Per-connection sequence state. Small (16 bytes) until a gap appears.
#[derive(Debug, Clone)]
pub struct SeqTracker {
    next: u64,
    // Boxed so a connection without gaps (nearly all of them) pays 8 bytes, not 24.
    #[allow(clippy::box_collection)]
    gaps: Option<Box<BTreeSet<u64>>>,
}

impl Default for SeqTracker {
    fn default() -> Self {
        SeqTracker {
            next: 1,
            gaps: None,
        }
    }
}

impl SeqTracker {
    /// Classifies the arrival of `seq` in a run whose sequence numbers are `1..=seq_max`.
    pub fn on_seq(&mut self, seq: u64, seq_max: u64) -> Arrival {
        if seq == 0 || seq > seq_max {
            return Arrival::OutOfRange;
        }
        if seq == self.next {
            self.next += 1;
            return Arrival::InOrder;
        }
        if seq > self.next {
            let gaps = self.gaps.get_or_insert_with(Default::default);
            gaps.extend(self.next..seq);
            let skipped = seq - self.next;
            self.next = seq + 1;
            return Arrival::Ahead { skipped };
        }
        let filled = self.gaps.as_mut().is_some_and(|gaps| gaps.remove(&seq));
        if filled {
            Arrival::Reordered
        } else {
            Arrival::Duplicate
        }
    }

    /// The highest sequence number received so far (0 if none).
    pub fn highest(&self) -> u64 {
        self.next - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_order_arrivals_advance() {
        let mut t = SeqTracker::default();
        assert_eq!(t.on_seq(1, 3), Arrival::InOrder);
        assert_eq!(t.on_seq(2, 3), Arrival::InOrder);
        assert_eq!(t.highest(), 2);
    }

    #[test]
    fn a_gap_filled_later_is_reordered_and_a_repeat_is_duplicate() {
        let mut t = SeqTracker::default();
        assert_eq!(t.on_seq(1, 5), Arrival::InOrder);
        assert_eq!(t.on_seq(4, 5), Arrival::Ahead { skipped: 2 });
        assert_eq!(t.on_seq(2, 5), Arrival::Reordered);
        assert_eq!(t.on_seq(2, 5), Arrival::Duplicate);
        assert_eq!(t.on_seq(4, 5), Arrival::Duplicate);
        assert_eq!(t.on_seq(1, 5), Arrival::Duplicate);
        assert_eq!(t.on_seq(5, 5), Arrival::InOrder);
        assert_eq!(t.highest(), 5);
    }

    #[test]
    fn numbers_outside_the_run_are_out_of_range() {
        let mut t = SeqTracker::default();
        assert_eq!(t.on_seq(0, 5), Arrival::OutOfRange);
        assert_eq!(t.on_seq(6, 5), Arrival::OutOfRange);
        assert!(!Arrival::OutOfRange.is_new());
        assert!(Arrival::Reordered.is_new());
    }
}
