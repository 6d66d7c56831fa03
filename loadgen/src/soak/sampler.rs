//! Sampler: ringpin's resident memory, open descriptors and CPU time, once a second.
//!
//! Owns: the time series the flatness checks and the plots are made from.
//! Must not: sample any process but the ringpin the soak started.
//! Invariants: each sample is stamped with seconds since the first publish (negative
//! before it); a sample that cannot be read (the process is gone) is skipped, and the
//! controller notices the missing process on its own.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::procstat;

use super::os;

/// Between samples.
pub(crate) const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);

/// One sample of ringpin.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Sample {
    /// Seconds since the first publish.
    pub(crate) t_s: f64,
    pub(crate) rss_bytes: u64,
    pub(crate) fds: u64,
    /// utime + stime so far, µs.
    pub(crate) cpu_us: u64,
}

/// Samples `pid` every [`SAMPLE_INTERVAL`] until `stop` is set.
pub(crate) fn run(pid: u32, start: Instant, stop: Arc<AtomicBool>) -> Vec<Sample> {
    let mut samples = Vec::new();
    let mut next = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if let (Ok(s), Ok(fds)) = (procstat::sample(&[pid]), os::open_descriptors(pid)) {
            let now = Instant::now();
            let t_s = if now >= start {
                now.duration_since(start).as_secs_f64()
            } else {
                -start.duration_since(now).as_secs_f64()
            };
            samples.push(Sample {
                t_s,
                rss_bytes: s.rss_bytes,
                fds,
                cpu_us: s.cpu_us,
            });
        }
        next += SAMPLE_INTERVAL;
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
    }
    samples
}
