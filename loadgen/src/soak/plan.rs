//! Plan: what one soak is — its flags, validated once, and the timeline derived from them.
//!
//! Owns: parsing `soak` options and the phase boundaries (warm-up, fault window, settle).
//! Must not: open sockets, spawn processes or read the clock.
//! Invariants: every phase has positive length and faults stop `settle` before publishing
//! does, so descriptors can come back to their baseline before the last sample; each worker
//! holds at most [`SUBSCRIBERS_PER_WORKER_MAX`] subscribers, leaving room under
//! RLIMIT_NOFILE for replacements, long-poll reconnects and slow readers.

use std::path::PathBuf;
use std::time::Duration;

use crate::args::Args;

use super::item::{self, CHANNELS_MAX};

/// Subscribers one worker process holds at most (RLIMIT_NOFILE is 20,000 here).
pub(crate) const SUBSCRIBERS_PER_WORKER_MAX: u64 = 15_000;
/// Default subscribers per worker: several processes for the full soak.
const SUBSCRIBERS_PER_WORKER_DEFAULT: u64 = 5_000;

/// A validated `soak` run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// How long items are published.
    pub(crate) publish: Duration,
    /// Subscribers held at all times (faulted ones are replaced).
    pub(crate) subscribers: u64,
    /// Logical channels (each one line and one SSE GRIP channel).
    pub(crate) channels: u64,
    /// Items published per second, over all channels.
    pub(crate) rate_per_s: f64,
    /// Bytes per item encoding.
    pub(crate) size: usize,
    /// Seed of the fault schedule and of the workers' choices.
    pub(crate) seed: u64,
    /// The ringpin binary.
    pub(crate) ringpin: PathBuf,
    /// Extra ringpin flags.
    pub(crate) ringpin_args: Vec<String>,
    /// ringpin's `--origin-timeout`.
    pub(crate) origin_timeout: Duration,
    /// How long the backend hangs (SIGSTOP) per hang fault.
    pub(crate) hang: Duration,
    /// Worker processes.
    pub(crate) workers: u64,
    /// Mean pause between faults.
    pub(crate) fault_interval: Duration,
    /// No fault before this; resource figures are judged after it.
    pub(crate) warmup: Duration,
    /// No fault in the last `settle` of the publish phase.
    pub(crate) settle: Duration,
    /// Subscribers disconnected per disconnect fault.
    pub(crate) disconnect_per_fault: u64,
    /// Slow readers added per slow-reader fault.
    pub(crate) slow_per_fault: u64,
    /// Where the report, plots and logs go.
    pub(crate) out: PathBuf,
    /// Ports are looked for from here up.
    pub(crate) base_port: u16,
    /// RSS may grow this much (percent) from the first half to the second, after warm-up.
    pub(crate) rss_growth_pct: f64,
}

impl Plan {
    /// Parses and validates `soak` options.
    pub(crate) fn parse(argv: &[String]) -> Result<Plan, String> {
        let mut a = Args::parse(argv)?;
        let publish = match (
            a.parsed_opt::<f64>("--minutes")?,
            a.parsed_opt::<u64>("--seconds")?,
        ) {
            (Some(m), None) if m > 0.0 => Duration::from_secs_f64(m * 60.0),
            (None, Some(s)) if s > 0 => Duration::from_secs(s),
            _ => return Err("give exactly one of --minutes M and --seconds S, above 0".into()),
        };
        let subscribers: u64 = a.parsed("--subscribers", 15_000)?;
        let origin_timeout = Duration::from_secs(a.parsed("--origin-timeout-s", 2)?);
        let warmup = secs_or(&mut a, "--warmup-s", clamp_part(publish, 6, 5, 120))?;
        let settle = secs_or(&mut a, "--settle-s", clamp_part(publish, 4, 15, 120))?;
        let window = publish.saturating_sub(warmup + settle);
        let plan = Plan {
            publish,
            subscribers,
            channels: a.parsed("--channels", 100)?,
            rate_per_s: a.parsed("--rate", 20.0)?,
            size: a.parsed("--size", 256)?,
            seed: a.parsed("--seed", 1)?,
            ringpin: PathBuf::from(a.parsed("--ringpin", "target/release/ringpin".to_string())?),
            ringpin_args: a
                .take("--ringpin-args")
                .map(|s| s.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            hang: secs_or(
                &mut a,
                "--hang-s",
                origin_timeout * 2 + Duration::from_secs(1),
            )?,
            origin_timeout,
            workers: a.parsed(
                "--workers",
                subscribers.div_ceil(SUBSCRIBERS_PER_WORKER_DEFAULT),
            )?,
            fault_interval: secs_or(&mut a, "--fault-interval-s", clamp_part(window, 24, 1, 20))?,
            warmup,
            settle,
            disconnect_per_fault: a.parsed("--disconnect-per-fault", (subscribers / 200).max(1))?,
            slow_per_fault: a.parsed("--slow-per-fault", 2)?,
            out: PathBuf::from(a.parsed("--out", "soak-out".to_string())?),
            base_port: a.parsed("--base-port", 46_000)?,
            rss_growth_pct: a.parsed("--rss-growth-pct", 10.0)?,
        };
        a.finish()?;
        plan.validate()?;
        Ok(plan)
    }

    fn validate(&self) -> Result<(), String> {
        if self.channels == 0 || self.channels > CHANNELS_MAX {
            return Err(format!("--channels must be 1..={CHANNELS_MAX}"));
        }
        if self.subscribers < 4 {
            return Err("--subscribers must be at least 4 (one per transport)".into());
        }
        if self.workers == 0 || self.subscribers.div_ceil(self.workers) > SUBSCRIBERS_PER_WORKER_MAX
        {
            return Err(format!(
                "--workers: at most {SUBSCRIBERS_PER_WORKER_MAX} subscribers per worker"
            ));
        }
        if !(self.rate_per_s > 0.0 && self.rate_per_s <= 10_000.0) {
            return Err("--rate must be above 0 and at most 10000 items/s".into());
        }
        let min = item::min_size(self.items_per_channel_max());
        if self.size < min {
            return Err(format!("--size must be at least {min} bytes for this run"));
        }
        if self.fault_window().is_zero() {
            return Err("--warmup-s plus --settle-s leave no time for faults".into());
        }
        if self.origin_timeout.is_zero() || self.fault_interval.is_zero() {
            return Err("--origin-timeout-s and --fault-interval-s must be above 0".into());
        }
        if self.hang <= self.origin_timeout {
            return Err("--hang-s must exceed --origin-timeout-s, or no request times out".into());
        }
        Ok(())
    }

    /// The most items one channel can get (all of them, with one channel).
    pub(crate) fn items_per_channel_max(&self) -> u64 {
        (self.publish.as_secs_f64() * self.rate_per_s).ceil() as u64 + 1
    }

    /// Faults happen in `[warmup, publish - settle)`, measured from the first publish.
    pub(crate) fn fault_window(&self) -> Duration {
        self.publish.saturating_sub(self.warmup + self.settle)
    }

    /// When the fault window ends, from the first publish.
    pub(crate) fn faults_end(&self) -> Duration {
        self.publish.saturating_sub(self.settle)
    }
}

/// `total / parts`, clamped to `[lo_s, hi_s]` seconds.
fn clamp_part(total: Duration, parts: u32, lo_s: u64, hi_s: u64) -> Duration {
    (total / parts).clamp(Duration::from_secs(lo_s), Duration::from_secs(hi_s))
}

fn secs_or(a: &mut Args, name: &str, default: Duration) -> Result<Duration, String> {
    Ok(match a.parsed_opt::<f64>(name)? {
        Some(s) if s >= 0.0 && s.is_finite() => Duration::from_secs_f64(s),
        Some(_) => return Err(format!("{name} must be a number of seconds")),
        None => default,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Plan, String> {
        Plan::parse(&s.split_whitespace().map(String::from).collect::<Vec<_>>())
    }

    #[test]
    fn the_full_soak_has_several_workers_and_a_long_fault_window() {
        let p = parse("--minutes 30").expect("valid");
        assert_eq!((p.subscribers, p.channels, p.workers), (15_000, 100, 3));
        assert_eq!((p.warmup.as_secs(), p.settle.as_secs()), (120, 120));
        assert_eq!(p.faults_end().as_secs(), 1680);
        assert_eq!(p.fault_interval.as_secs(), 20);
        assert_eq!(p.disconnect_per_fault, 75);
        assert_eq!(p.hang.as_secs(), 5);
    }

    #[test]
    fn the_ci_soak_fits_a_minute() {
        let p = parse("--seconds 60 --subscribers 600 --channels 20 --fault-interval-s 1.5")
            .expect("valid");
        assert_eq!((p.warmup.as_secs(), p.settle.as_secs()), (10, 15));
        assert_eq!(p.fault_window().as_secs(), 35);
        assert_eq!((p.workers, p.disconnect_per_fault), (1, 3));
        assert_eq!(p.fault_interval.as_millis(), 1500);
    }

    #[test]
    fn impossible_soaks_are_refused() {
        for bad in [
            "",
            "--minutes 1 --seconds 60",
            "--seconds 0",
            "--seconds 60 --channels 1001",
            "--seconds 60 --subscribers 3",
            "--seconds 60 --subscribers 40000 --workers 2",
            "--seconds 60 --size 20",
            "--seconds 60 --warmup-s 30 --settle-s 30",
            "--seconds 60 --hang-s 2",
            "--seconds 60 --rate 0",
            "--seconds 60 --bogus 1",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
