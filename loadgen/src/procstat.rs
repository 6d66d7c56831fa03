//! Procstat: CPU time and resident memory of the proxy's processes, from `/proc`.
//!
//! Owns: reading `/proc/PID/stat` (utime + stime, whole thread group) and
//! `/proc/PID/status` (VmRSS), summed over a pid list.
//! Must not: sample anything but the pids it is given.
//! Invariants: CPU time has the kernel's tick resolution (`_SC_CLK_TCK`, usually 10 ms),
//! so a phase should last well over a tick for per-delivery figures to mean much.

use std::fs;

/// One sample over all pids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sample {
    /// utime + stime, microseconds, summed over the pids and all their threads.
    pub cpu_us: u64,
    /// VmRSS, bytes, summed over the pids.
    pub rss_bytes: u64,
}

/// Samples every pid; an unreadable pid (exited, or not ours) is an error.
pub fn sample(pids: &[u32]) -> Result<Sample, String> {
    let ticks = crate::sys::clock_ticks_per_s();
    let mut total = Sample::default();
    for &pid in pids {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat"))
            .map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
        let cpu_ticks = parse_stat_cpu_ticks(&stat)
            .ok_or_else(|| format!("/proc/{pid}/stat: unexpected format"))?;
        total.cpu_us += cpu_ticks * 1_000_000 / ticks;
        let status = fs::read_to_string(format!("/proc/{pid}/status"))
            .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
        total.rss_bytes += parse_status_rss_bytes(&status).unwrap_or(0);
    }
    Ok(total)
}

/// utime + stime (fields 14 and 15) in ticks. The command name (field 2) may contain
/// spaces and parentheses, so fields are counted from the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    // `after` starts at field 3 (state), so field N is at index N - 3.
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// `VmRSS:  1234 kB` in bytes.
fn parse_status_rss_bytes(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat =
            "42 (my (odd) proc) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 100 0 0";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn rss_is_read_in_bytes() {
        let status = "Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t    2048 kB\n";
        assert_eq!(parse_status_rss_bytes(status), Some(2048 * 1024));
    }

    #[test]
    fn this_process_can_be_sampled() {
        let s = sample(&[std::process::id()]).expect("own /proc entry");
        assert!(s.rss_bytes > 0);
        assert!(sample(&[u32::MAX]).is_err());
    }
}
