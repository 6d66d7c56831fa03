//! Publish sink: an in-process HTTP endpoint that answers every publish POST with 200 at
//! once, to measure how fast loadgen's own sustained publishers can go (their ceiling), so
//! a rate-ladder result is never mistaken for the proxy's limit.
//!
//! Owns: the listener, one thread per connection, and the ceiling run against it.
//! Must not: parse the publish JSON (it only frames requests by Content-Length).
//! Invariants: loopback only; the threads end when their client closes; the listener thread
//! ends with the process (compare runs it once).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use crate::scenario::Scenario;
use crate::sustained::{self, SustainedTotals};

/// The ceiling run sends as many items as the top rate offers in this long…
const CEILING_RUN: Duration = Duration::from_secs(2);
/// …unpaced: a schedule this fast has every item due at once, so the publishers go as fast
/// as they can.
const UNPACED_RATE_PER_S: u64 = 1_000_000_000;
/// Bound on the whole ceiling run (connections, schedule, stragglers).
const CEILING_DEADLINE: Duration = Duration::from_secs(10);

/// Starts the sink on an ephemeral loopback port; returns its publish URL.
pub fn start() -> Result<String, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("publish sink: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("publish sink: {e}"))?;
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || serve(conn));
        }
    });
    Ok(format!("http://{addr}"))
}

fn serve(conn: TcpStream) {
    let _ = conn.set_nodelay(true);
    let Ok(writer) = conn.try_clone() else { return };
    let mut writer = writer;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    loop {
        let mut length = 0usize;
        line.clear();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        loop {
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            if line == "\r\n" {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        if std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink()).is_err() {
            return;
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nPublished\n")
            .is_err()
        {
            return;
        }
    }
}

/// The loadgen publishers' own ceiling: the scenario's publishers (channels, publishers,
/// size, mode) sending, unpaced, the items `rate` offers in [`CEILING_RUN`] to the sink.
pub fn ceiling(
    sink_url: &str,
    mode: &str,
    channels: u64,
    publishers: u64,
    size: u64,
    rate: u64,
) -> Result<SustainedTotals, String> {
    let items = (rate as f64 * CEILING_RUN.as_secs_f64()).ceil() as u64;
    let messages = items.div_ceil(channels).max(1);
    let argv: Vec<String> = format!(
        "--proxy 127.0.0.1:1 --publish {sink_url} --mode {mode} --clients {channels} \
         --channels {channels} --messages {messages} --size {size} --rate {UNPACED_RATE_PER_S} \
         --publishers {publishers}"
    )
    .split_whitespace()
    .map(String::from)
    .collect();
    let s = Scenario::parse(&argv)?;
    let names: Vec<String> = (0..channels)
        .map(|c| crate::channels::channel_name(&s.channel, channels, c))
        .collect();
    let out = sustained::run(&s, &names, Instant::now() + CEILING_DEADLINE)?;
    Ok(out.totals)
}

/// Accepted items/s of a ceiling run.
pub fn accepted_per_s(t: &SustainedTotals) -> f64 {
    let span_s = t.end_ns.saturating_sub(t.start_ns) as f64 / 1e9;
    if span_s > 0.0 {
        t.items_accepted as f64 / span_s
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sink_answers_every_post_and_the_publishers_reach_a_small_rate() {
        let url = start().expect("sink");
        let t = ceiling(&url, "stream", 4, 2, 128, 400).expect("ceiling run");
        assert_eq!(t.items_offered, 800, "2 s at 400/s");
        assert_eq!((t.items_accepted, t.items_refused), (800, 0));
        assert!(!t.stopped_early);
        assert!(accepted_per_s(&t) > 0.0);
    }
}
