//! A small stderr logger for the `log` facade: `2026-12-06T15:41:37.123Z LEVEL [thread]
//! message`, one line per record (RFC 3339 in UTC with milliseconds; a line break inside a
//! message is written as `\n`, so a record never spans two lines).
//!
//! Owns: log formatting. ringpin logs to stderr and leaves rotation to the service manager
//! (journald, a container runtime), as Pushpin's runner does.
//! Must not: block on anything but the stderr write of one line.

mod rate_limit;
mod timestamp;

pub use rate_limit::LogRateLimit;
pub use timestamp::format_utc_millis;

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
            "{} {:<5} [{}] {}\n",
            format_utc_millis(now),
            record.level(),
            thread.name().unwrap_or("main"),
            one_line(&record.args().to_string())
        );
        // One write per line so lines from different shards do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// `message` with its line breaks escaped (`\n`, `\r`), so one record is one line.
fn one_line(message: &str) -> std::borrow::Cow<'_, str> {
    if message.contains(['\n', '\r']) {
        message.replace('\n', "\\n").replace('\r', "\\r").into()
    } else {
        message.into()
    }
}

static LOGGER: StderrLogger = StderrLogger;

/// Installs the logger at `level`. Calling it twice keeps the first logger.
pub fn init(level: LevelFilter) {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(level);
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_message_with_line_breaks_stays_on_one_line() {
        assert_eq!(super::one_line("a\nb\r\nc"), "a\\nb\\r\\nc");
        assert_eq!(super::one_line("plain"), "plain");
    }
}
