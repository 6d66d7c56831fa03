//! When a routes reload may happen, and whether its result may replace the routes in use.
//!
//! Owns: `RoutesWatch`, the decision the routes-file watcher makes on each poll (read the
//! file now, or wait), and `check_reload`, which refuses a reloaded table with no route.
//! Must not: read files or the clock; `runtime.rs` polls the file's signature and passes
//! the time in, and `config::load_routes` reads the file.
//! Invariants: a changed file is read only after its signature (modification time, size,
//! inode) has been the same for `settle`, measured from the first poll that saw it, so a
//! writer that pauses for less than that between two writes is never read half-way; a
//! refused reload leaves the routes in use untouched, and its file is not retried until it
//! changes again.

use std::time::{Duration, Instant};

use super::{ConfigError, RouteWarning, Routes};

/// The watcher's state between polls; `S` is the file's signature (what identifies one
/// version of it: in `runtime.rs`, modification time, size and inode, or `None` when the
/// file cannot be seen).
#[derive(Debug)]
pub struct RoutesWatch<S> {
    /// The signature of the version last read (applied or refused).
    read: S,
    /// A different signature and the time it was first seen.
    changed: Option<(S, Instant)>,
    /// How long a changed signature must stay the same before the file is read.
    settle: Duration,
}

impl<S: PartialEq> RoutesWatch<S> {
    /// A watcher whose file was last read as `read`.
    pub fn new(read: S, settle: Duration) -> RoutesWatch<S> {
        RoutesWatch {
            read,
            changed: None,
            settle,
        }
    }

    /// A poll found the file as `current` at `now`: true when it should be read now, after
    /// which the caller reports the version it read with `on_read`.
    pub fn on_poll(&mut self, current: S, now: Instant) -> bool {
        if current == self.read {
            self.changed = None;
            return false;
        }
        match &self.changed {
            Some((seen, since)) if *seen == current => {
                now.saturating_duration_since(*since) >= self.settle
            }
            _ => {
                self.changed = Some((current, now));
                false
            }
        }
    }

    /// The file was read as `signature` (by the watcher or on SIGHUP), whatever became of
    /// the result: the watcher waits for the next change.
    pub fn on_read(&mut self, signature: S) {
        self.read = signature;
        self.changed = None;
    }
}

/// Whether a reloaded table may replace the routes in use. A table with no route at all
/// (an empty file, only comments, or only lines that were skipped) is refused: it would
/// answer every request with 502, and is far more likely a file caught half-written or
/// broken by a mistake than an intent. `file` names the file in the error.
pub fn check_reload(
    loaded: (Routes, Vec<RouteWarning>),
    file: &str,
) -> Result<(Routes, Vec<RouteWarning>), ConfigError> {
    if loaded.0.is_empty() {
        return Err(ConfigError::NoRoutes {
            file: file.to_owned(),
        });
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_routes;

    const SETTLE: Duration = Duration::from_secs(2);

    /// `(signature, milliseconds since start)`.
    type Poll = (u32, u64);

    /// Runs `polls` and returns the ones that read the file.
    fn reads(initial: u32, polls: &[Poll]) -> Vec<Poll> {
        let start = Instant::now();
        let mut watch = RoutesWatch::new(initial, SETTLE);
        let mut read = Vec::new();
        for &(signature, at_ms) in polls {
            if watch.on_poll(signature, start + Duration::from_millis(at_ms)) {
                watch.on_read(signature);
                read.push((signature, at_ms));
            }
        }
        read
    }

    #[test]
    fn a_changed_file_is_read_once_it_has_stayed_the_same_for_the_settle_time() {
        // (initial signature, polls, expected reads)
        let cases: &[(u32, &[Poll], &[Poll])] = &[
            // Unchanged: never read.
            (1, &[(1, 0), (1, 500), (1, 5000)], &[]),
            // Changed and stable: read at the first poll 2 s after it was first seen.
            (
                1,
                &[(2, 0), (2, 500), (2, 1500), (2, 2000), (2, 2500)],
                &[(2, 2000)],
            ),
            // A second write 1.2 s after the first restarts the wait: the first half is never read.
            (
                1,
                &[(2, 0), (2, 500), (2, 1000), (3, 1200), (3, 2500), (3, 3200)],
                &[(3, 3200)],
            ),
            // Changed back to the version in use before settling: nothing to read.
            (1, &[(2, 0), (1, 500), (1, 3000)], &[]),
            // Read once, then not again until the next change.
            (
                1,
                &[(2, 0), (2, 2000), (2, 4000), (3, 4500), (3, 6500)],
                &[(2, 2000), (3, 6500)],
            ),
        ];
        for &(initial, polls, expected) in cases {
            assert_eq!(reads(initial, polls), expected, "polls {polls:?}");
        }
    }

    #[test]
    fn a_read_on_sighup_resets_the_watch_to_that_version() {
        let start = Instant::now();
        let mut watch = RoutesWatch::new(1, SETTLE);
        assert!(!watch.on_poll(2, start));
        watch.on_read(2);
        assert!(!watch.on_poll(2, start + SETTLE * 2));
    }

    #[test]
    fn a_reload_with_no_route_is_refused_and_one_with_a_route_is_kept() {
        // (file text, refused?)
        let cases = [
            ("", true),
            ("# only a comment\n\n", true),
            ("garbage\n* 127.0.0.1:notaport\n", true),
            ("garbage\n* 127.0.0.1:80\n", false),
            ("* test\n", false),
        ];
        for (text, refused) in cases {
            let result = check_reload(parse_routes(text), "routes");
            assert_eq!(result.is_err(), refused, "{text:?}: {result:?}");
        }
        let err = check_reload(parse_routes("garbage\n"), "/etc/routes").unwrap_err();
        assert_eq!(
            err.to_string(),
            "/etc/routes has no valid route; reload refused, the routes in use stay"
        );
    }
}
