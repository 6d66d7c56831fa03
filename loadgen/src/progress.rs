//! Progress: the connect-phase status line on stderr.
//!
//! Owns: formatting and pacing of `connected N/TARGET  RATE/s  failures F`.
//! Must not: write to stdout (reports go there) or affect the run.
//! Invariants: on a terminal the line is redrawn in place at most 10 times a second;
//! otherwise a plain line is printed at most every 2 s, so logs stay short.

use std::io::Write;
use std::time::{Duration, Instant};

/// The status line's state.
#[derive(Debug)]
pub struct Progress {
    target: u64,
    start: Instant,
    tty: bool,
    last: Option<Instant>,
}

impl Progress {
    /// Starts timing a connect phase of `target` clients.
    pub fn new(target: u64) -> Progress {
        Progress {
            target,
            start: Instant::now(),
            tty: crate::sys::is_tty(2),
            last: None,
        }
    }

    /// Redraws if it is time to.
    pub fn update(&mut self, held: u64, failed: u64) {
        let every = if self.tty {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(2)
        };
        if self.last.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        self.draw(held, failed, false);
    }

    /// Draws the final state and ends the line.
    pub fn finish(&mut self, held: u64, failed: u64) {
        self.draw(held, failed, true);
    }

    fn draw(&self, held: u64, failed: u64, last: bool) {
        let line = format_line(held, self.target, failed, self.start.elapsed());
        let mut err = std::io::stderr().lock();
        let _ = match (self.tty, last) {
            (true, false) => write!(err, "\r{line}\x1b[K"),
            (true, true) => writeln!(err, "\r{line}\x1b[K"),
            (false, _) => writeln!(err, "{line}"),
        };
        let _ = err.flush();
    }
}

/// `connected 12000/15000  4800/s  failures 0  (2.5 s)`.
fn format_line(held: u64, target: u64, failed: u64, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { held as f64 / secs } else { 0.0 };
    format!("connected {held}/{target}  {rate:.0}/s  failures {failed}  ({secs:.1} s)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_shows_count_rate_and_failures() {
        let line = format_line(12000, 15000, 3, Duration::from_secs(4));
        assert_eq!(line, "connected 12000/15000  3000/s  failures 3  (4.0 s)");
    }
}
