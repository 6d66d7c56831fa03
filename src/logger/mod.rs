//! A small stderr logger for the `log` facade: `SECS.MILLIS LEVEL [thread] message`, one
//! line per record.
//!
//! Owns: log formatting. ringpin logs to stderr and leaves rotation to the service manager
//! (journald, a container runtime), as Pushpin's runner does.
//! Must not: block on anything but the stderr write of one line.

mod rate_limit;

pub use rate_limit::LogRateLimit;

use log::{LevelFilter, Log, Metadata, Record};
use std::io::Write;
use std::time::{SystemTime, UNIX_EPOCH};

struct StderrLogger;

impl Log for StderrLogger {
    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        metadata.level() <= log::max_level() && metadata.target().starts_with("ringpin")
    }

    fn log(&self, record: &Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let thread = std::thread::current();
        let line = format!(
            "{}.{:03} {:<5} [{}] {}\n",
            now.as_secs(),
            now.subsec_millis(),
            record.level(),
            thread.name().unwrap_or("main"),
            record.args()
        );
        // One write per line so lines from different shards do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger at `level`. Calling it twice keeps the first logger.
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}
