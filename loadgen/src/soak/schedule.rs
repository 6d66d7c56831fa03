//! Schedule: which fault happens when, drawn from the seed before the run starts.
//!
//! Owns: the fault kinds and their order and spacing.
//! Must not: inject anything (faults.rs does) or read the clock: times are offsets from the
//! first publish.
//! Invariants: faults come in rounds; every round holds every kind (disconnects three
//! times, since they are cheap and the commonest fault in production) in a seeded random
//! order, so even a short run meets every kind. The pause before each fault is uniform in
//! `[0.5, 1.5]` times the mean interval. Offsets are earliest starts: faults run one at a
//! time and a slow one delays the rest, never overlapping them.

use std::time::Duration;

use super::rng::Rng;

/// One kind of fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum FaultKind {
    /// Close random subscribers (half with RST, half with FIN) and replace them.
    Disconnect,
    /// Add subscribers that never read.
    SlowReaders,
    /// Kill the backend and start it again.
    BackendRestart,
    /// Stop the backend (SIGSTOP) for a while, then let it go on.
    BackendHang,
    /// Rewrite the routes file with a valid variant and send SIGHUP.
    HupGood,
    /// Write a routes file with no valid route and send SIGHUP.
    HupBroken,
    /// Send malformed requests and broken WebSocket frames on fresh connections.
    Malformed,
}

/// The kinds of one round.
const ROUND: [FaultKind; 9] = [
    FaultKind::Disconnect,
    FaultKind::Disconnect,
    FaultKind::Disconnect,
    FaultKind::SlowReaders,
    FaultKind::BackendRestart,
    FaultKind::BackendHang,
    FaultKind::HupGood,
    FaultKind::HupBroken,
    FaultKind::Malformed,
];

impl FaultKind {
    /// The name used in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            FaultKind::Disconnect => "disconnect",
            FaultKind::SlowReaders => "slow_readers",
            FaultKind::BackendRestart => "backend_restart",
            FaultKind::BackendHang => "backend_hang",
            FaultKind::HupGood => "sighup_good_routes",
            FaultKind::HupBroken => "sighup_broken_routes",
            FaultKind::Malformed => "malformed_input",
        }
    }
}

/// A fault and the earliest moment it may start, from the first publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fault {
    /// Earliest start.
    pub(crate) at: Duration,
    /// What happens.
    pub(crate) kind: FaultKind,
}

/// The faults of `[start, end)` with `mean` between them, drawn from `seed`.
pub(crate) fn schedule(seed: u64, start: Duration, end: Duration, mean: Duration) -> Vec<Fault> {
    let mut rng = Rng::new(seed);
    let mut faults = Vec::new();
    let mut at = start;
    loop {
        let mut round = ROUND;
        rng.shuffle(&mut round);
        for kind in round {
            at += mean.mul_f64(0.5 + rng.unit());
            if at >= end {
                return faults;
            }
            faults.push(Fault { at, kind });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_seed_always_gives_the_same_schedule_inside_the_window() {
        let a = schedule(5, secs(10), secs(100), secs(2));
        assert_eq!(a, schedule(5, secs(10), secs(100), secs(2)));
        assert_ne!(a, schedule(6, secs(10), secs(100), secs(2)));
        assert!(a.iter().all(|f| f.at > secs(10) && f.at < secs(100)));
        assert!(a.windows(2).all(|w| w[0].at < w[1].at));
        // 90 s at 1-3 s apart: between 30 and 90 faults.
        assert!((30..=90).contains(&a.len()), "{}", a.len());
    }

    #[test]
    fn every_round_holds_every_kind() {
        let faults = schedule(9, secs(0), secs(1000), secs(1));
        for round in faults.chunks_exact(ROUND.len()) {
            let mut kinds: Vec<FaultKind> = round.iter().map(|f| f.kind).collect();
            kinds.sort();
            let mut want = ROUND.to_vec();
            want.sort();
            assert_eq!(kinds, want);
        }
    }
}
