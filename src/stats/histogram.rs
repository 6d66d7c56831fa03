//! A latency histogram with fixed buckets, single-writer like every counter here, rendered
//! the Prometheus way (`_bucket{le=…}`, `_sum`, `_count`, in seconds).
//!
//! Owns: `Histogram` and its bucket bounds.
//! Must not: allocate or take a lock on `observe`, which runs on the delivery and publish
//! paths: it is one bucket search over 14 bounds and three relaxed stores.

use super::counters::Counter;
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: 0.5 ms to 10 s, then `+Inf`.
pub const BUCKET_BOUNDS_SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Observations by bucket (not cumulative; rendering sums them), their sum and count.
#[derive(Debug, Default)]
pub struct Histogram {
    /// One per bound, then one for everything above the last.
    buckets: [Counter; BUCKET_BOUNDS_SECONDS.len() + 1],
    sum_micros: Counter,
}

impl Histogram {
    /// Counts one observation. Only the owning thread may call this.
    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        let index = BUCKET_BOUNDS_SECONDS
            .iter()
            .position(|&bound| seconds <= bound)
            .unwrap_or(BUCKET_BOUNDS_SECONDS.len());
        self.buckets[index].add(1);
        self.sum_micros.add(value.as_micros() as u64);
    }

    /// Per-bucket counts (not cumulative), the last one for `+Inf`.
    pub fn bucket_counts(&self) -> [u64; BUCKET_BOUNDS_SECONDS.len() + 1] {
        std::array::from_fn(|i| self.buckets[i].get())
    }

    /// The sum of every observation, in microseconds.
    pub fn sum_micros(&self) -> u64 {
        self.sum_micros.get()
    }
}

/// Appends one histogram family, summed over `parts` (one per shard, say).
pub fn render(out: &mut String, name: &str, help: &str, parts: &[&Histogram]) {
    use std::fmt::Write as _;
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut counts = [0u64; BUCKET_BOUNDS_SECONDS.len() + 1];
    let mut sum_micros = 0u64;
    for part in parts {
        for (total, count) in counts.iter_mut().zip(part.bucket_counts()) {
            *total += count;
        }
        sum_micros += part.sum_micros();
    }
    let mut cumulative = 0;
    for (bound, count) in BUCKET_BOUNDS_SECONDS.iter().zip(counts) {
        cumulative += count;
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    cumulative += counts[BUCKET_BOUNDS_SECONDS.len()];
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {cumulative}");
    let _ = writeln!(out, "{name}_sum {}", sum_micros as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {cumulative}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_land_in_their_bucket_and_render_cumulatively() {
        let (a, b) = (Histogram::default(), Histogram::default());
        a.observe(Duration::from_micros(300));
        a.observe(Duration::from_millis(1));
        b.observe(Duration::from_millis(40));
        b.observe(Duration::from_secs(60));
        let mut out = String::new();
        render(&mut out, "x_seconds", "Test.", &[&a, &b]);
        for line in [
            "# TYPE x_seconds histogram",
            "x_seconds_bucket{le=\"0.0005\"} 1",
            "x_seconds_bucket{le=\"0.001\"} 2",
            "x_seconds_bucket{le=\"0.025\"} 2",
            "x_seconds_bucket{le=\"0.05\"} 3",
            "x_seconds_bucket{le=\"10\"} 3",
            "x_seconds_bucket{le=\"+Inf\"} 4",
            "x_seconds_sum 60.0413",
            "x_seconds_count 4",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
    }
}
