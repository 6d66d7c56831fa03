//! ringpin's log lines as a person reads them: an RFC 3339 UTC timestamp with milliseconds,
//! the level, the thread, the message, one line per event; `--log-level` picks what is written.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::{get, Backend, BackendResponse, Proxy, DEADLINE};

/// True for `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn is_rfc3339_utc_millis(stamp: &str) -> bool {
    let b = stamp.as_bytes();
    let digits = |range: std::ops::Range<usize>| range.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() == 24
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[19] == b'.'
        && digits(20..23)
        && b[23] == b'Z'
}

/// The log's lines that contain `needle`, waiting until there is one.
fn lines_with(proxy: &Proxy, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let lines: Vec<String> = proxy
            .log()
            .lines()
            .filter(|l| l.contains(needle))
            .map(str::to_owned)
            .collect();
        if !lines.is_empty() || Instant::now() >= deadline {
            return lines;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn every_log_line_starts_with_an_rfc3339_utc_timestamp_then_the_level() {
    let backend = Backend::start(|_| BackendResponse::text(200, "hi\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let this_year = 1970 + since_epoch.as_secs() / 31_556_952;
    assert_eq!(get(proxy.addr, "/logged").status, 200);
    let access = lines_with(&proxy, "/logged");
    assert_eq!(access.len(), 1, "{}", proxy.log_tail());
    let log = proxy.log();
    assert!(!log.is_empty());
    for line in log.lines() {
        let (stamp, rest) = line.split_once(' ').expect("a space after the timestamp");
        assert!(is_rfc3339_utc_millis(stamp), "{line}");
        let year: u64 = stamp[..4].parse().expect("year");
        assert!(year.abs_diff(this_year) <= 1, "{line}");
        let level = rest.split_whitespace().next().unwrap_or("");
        assert!(
            ["ERROR", "WARN", "INFO", "DEBUG", "TRACE"].contains(&level),
            "{line}"
        );
    }
}

#[test]
fn log_level_warn_leaves_out_the_info_access_lines() {
    let backend = Backend::start(|_| BackendResponse::text(200, "hi\n"));
    let proxy = Proxy::start(backend.port(), &["--log-level", "warn"]);
    assert_eq!(get(proxy.addr, "/quiet").status, 200);
    let route = "-> 127.0.0.1";
    // A request after the first one proves the first one's line would have been written.
    assert_eq!(get(proxy.addr, "/quiet").status, 200);
    let log = proxy.log();
    assert!(!log.contains(route), "{log}");
    assert!(!log.lines().any(|l| l.contains(" INFO ")), "{log}");
}
