//! LogRateLimit: at most one log line per interval for a warning a peer can trigger at will.
//!
//! Owns: the decision "log now, and how many were suppressed since the last line".
//! Must not: read the clock itself beyond the process epoch; callers pass `now` (the
//! `log_limited!` macro passes `Instant::now()`), so the decision is a pure function of time.
//!
//! A peer that can make ringpin warn (a refused connection, a bad publish, a failed accept)
//! must not be able to fill the disk: 10 s of connect/close against a full proxy once wrote
//! 194,587 lines. Each call site gets its own limit (a `static`, shared by every shard), so
//! one noisy peer never hides a different warning.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A per-call-site limit: one line per `interval`, counting the ones it holds back.
#[derive(Debug)]
pub struct LogRateLimit {
    interval: Duration,
    /// Milliseconds since `epoch()` before which nothing is logged; 0 = log at once.
    next_ms: AtomicU64,
    /// Lines held back since the last one logged.
    suppressed: AtomicU64,
}

impl LogRateLimit {
    /// A limit of one line per `interval`.
    pub const fn new(interval: Duration) -> LogRateLimit {
        LogRateLimit {
            interval,
            next_ms: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    /// `Some(suppressed)` when a line may be logged at `now`, with how many were held back
    /// since the previous one; `None` when this one must be held back too.
    pub fn admit(&self, now: Instant) -> Option<u64> {
        let now_ms = millis_since_epoch(now);
        let next = self.next_ms.load(Ordering::Relaxed);
        if now_ms < next {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let after = now_ms
            .saturating_add(self.interval.as_millis() as u64)
            .max(1);
        // Several shards may race here; only the one that moves the deadline logs.
        if self
            .next_ms
            .compare_exchange(next, after, Ordering::Relaxed, Ordering::Relaxed)
            .is_err()
        {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        Some(self.suppressed.swap(0, Ordering::Relaxed))
    }
}

/// The instant all limits measure from: the first time any of them is asked.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn millis_since_epoch(now: Instant) -> u64 {
    now.saturating_duration_since(epoch()).as_millis() as u64
}

/// Logs at `level` at most once a second from this call site, appending how many lines were
/// held back: `log_limited!(Warn, "shard={} accept failed: {err}", id)`.
#[macro_export]
macro_rules! log_limited {
    ($level:ident, $($arg:tt)+) => {{
        static LIMIT: $crate::logger::LogRateLimit =
            $crate::logger::LogRateLimit::new($crate::limits::LOG_REPEAT_INTERVAL);
        if log::log_enabled!(log::Level::$level) {
            if let Some(held) = LIMIT.admit(std::time::Instant::now()) {
                if held == 0 {
                    log::log!(log::Level::$level, $($arg)+);
                } else {
                    log::log!(
                        log::Level::$level,
                        "{} ({held} more like this in the last {:?})",
                        format_args!($($arg)+),
                        $crate::limits::LOG_REPEAT_INTERVAL
                    );
                }
            }
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_line_passes_and_repeats_within_the_interval_are_counted() {
        let limit = LogRateLimit::new(Duration::from_secs(1));
        let t0 = epoch() + Duration::from_secs(5);
        assert_eq!(limit.admit(t0), Some(0));
        for i in 1..=999u64 {
            assert_eq!(limit.admit(t0 + Duration::from_micros(i * 900)), None);
        }
        assert_eq!(limit.admit(t0 + Duration::from_secs(1)), Some(999));
        assert_eq!(limit.admit(t0 + Duration::from_millis(1500)), None);
        assert_eq!(limit.admit(t0 + Duration::from_secs(3)), Some(1));
    }

    #[test]
    fn a_limit_admits_at_most_one_line_per_interval_over_a_long_flood() {
        let limit = LogRateLimit::new(Duration::from_secs(1));
        let t0 = epoch();
        let admitted = (0..100_000u64)
            .filter(|i| limit.admit(t0 + Duration::from_micros(i * 100)).is_some())
            .count();
        // 10 s of events: one line per second, the first at once.
        assert_eq!(admitted, 10);
    }

    #[test]
    fn time_before_the_epoch_does_not_wrap() {
        let limit = LogRateLimit::new(Duration::from_secs(1));
        let early = epoch()
            .checked_sub(Duration::from_secs(1))
            .unwrap_or(epoch());
        assert_eq!(limit.admit(early), Some(0));
        assert_eq!(limit.admit(early), None);
    }
}
