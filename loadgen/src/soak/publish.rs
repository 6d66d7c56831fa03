//! Publish (soak): the steady publisher thread, and the flood thread.
//!
//! Owns: the per-channel item numbers, the publish schedule (item `k` is due at
//! `k / rate` seconds, channels in turn), the state file the backend reads, and the log of
//! what was published when; and the flood: large items into [`FLOOD_CHANNEL`], which only
//! slow readers subscribe to, so that their queues overflow within seconds. Without it a
//! slow reader would take many minutes to overflow: on loopback the kernel lets ringpin's
//! send buffer of a stalled socket grow to `tcp_wmem`'s maximum (4 MiB here) before
//! ringpin's own queue bound (256 KiB, 100 items) even starts to fill.
//! Must not: retry past a few attempts or publish faster than the schedule to catch up a
//! backlog by more than it lost (items are due at fixed times; a late one goes at once).
//! Invariants: an item is recorded in the state file only after ringpin accepted it (see
//! `state_file.rs`); a retried item keeps its id, and ringpin drops an id it has seen, so a
//! retry after a lost answer cannot duplicate it.

use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::clock;
use crate::publisher::{PublishUrl, Publisher};

use super::item;
use super::state_file::PublishedCounts;

/// The channel only slow readers listen on.
pub(crate) const FLOOD_CHANNEL: &str = "soak-flood";
/// Size of a flood item, and flood items per second: 512 KiB/s fills a stalled 4 MiB
/// send buffer in about 8 s.
const FLOOD_ITEM_BYTES: usize = 128 << 10;
const FLOOD_ITEMS_PER_S: u32 = 4;

/// Attempts per item before it counts as a publish error.
const ATTEMPTS_MAX: u32 = 3;
/// Pause between attempts.
const RETRY_PAUSE: Duration = Duration::from_millis(200);

/// One published item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Published {
    pub(crate) channel: u64,
    pub(crate) n: u64,
    /// CLOCK_MONOTONIC ns just before its request was sent.
    pub(crate) send_ns: u64,
}

/// What the publisher did.
#[derive(Debug, Default)]
pub(crate) struct PublishLog {
    pub(crate) items: Vec<Published>,
    /// Items that failed every attempt, and attempts that failed.
    pub(crate) errors: u64,
    pub(crate) retries: u64,
    pub(crate) first_error: Option<String>,
    /// From the first item's due time to the last item's acceptance.
    pub(crate) seconds: f64,
}

/// What the publisher is told.
#[derive(Debug)]
pub(crate) struct PublishJob {
    pub(crate) publish: SocketAddrV4,
    pub(crate) channels: u64,
    pub(crate) rate_per_s: f64,
    pub(crate) size: usize,
    pub(crate) duration: Duration,
    pub(crate) counts: PublishedCounts,
}

/// Publishes from `start` for `job.duration`, or until `stop` is set; returns the log.
pub(crate) fn run(job: PublishJob, start: Instant, stop: &AtomicBool) -> PublishLog {
    let mut publisher = Publisher::new(PublishUrl {
        addr: job.publish,
        publish_path: "/publish/".into(),
    });
    let mut log = PublishLog::default();
    let mut numbers = vec![0u64; job.channels as usize];
    let period = Duration::from_secs_f64(1.0 / job.rate_per_s);
    for k in 0u32.. {
        let due = start + period * k;
        if due >= start + job.duration || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        let channel = u64::from(k) % job.channels;
        let n = numbers[channel as usize] + 1;
        numbers[channel as usize] = n;
        let send_ns = clock::now_ns();
        let body = item::publish_body(channel, n, send_ns, job.size);
        if !publish_with_retries(&mut publisher, &body, &mut log) {
            log.errors += 1;
        }
        if let Err(e) = job.counts.set(channel, n) {
            log.errors += 1;
            log.first_error.get_or_insert(format!("state file: {e}"));
        }
        log.items.push(Published {
            channel,
            n,
            send_ns,
        });
    }
    log.seconds = start.elapsed().as_secs_f64();
    log
}

fn publish_with_retries(publisher: &mut Publisher, body: &[u8], log: &mut PublishLog) -> bool {
    for attempt in 1..=ATTEMPTS_MAX {
        match publisher.publish(body) {
            Ok(_) => return true,
            Err(e) => {
                log.retries += 1;
                log.first_error.get_or_insert(e);
                if attempt < ATTEMPTS_MAX {
                    std::thread::sleep(RETRY_PAUSE);
                }
            }
        }
    }
    false
}

/// Publishes flood items from now until `until` or `stop`; returns (items, errors).
pub(crate) fn flood(publish: SocketAddrV4, until: Instant, stop: &AtomicBool) -> (u64, u64) {
    let mut publisher = Publisher::new(PublishUrl {
        addr: publish,
        publish_path: "/publish/".into(),
    });
    let mut content = "f".repeat(FLOOD_ITEM_BYTES - 1);
    content.push('\n');
    let body = serde_json::json!({
        "items": [{ "channel": FLOOD_CHANNEL, "formats": { "http-stream": { "content": content } } }]
    });
    let body = serde_json::to_vec(&body).expect("a JSON value always serializes");
    let start = Instant::now();
    let period = Duration::from_secs(1) / FLOOD_ITEMS_PER_S;
    let (mut items, mut errors) = (0, 0);
    for k in 0u32.. {
        let due = start + period * k;
        if due >= until || stop.load(Ordering::Relaxed) {
            break;
        }
        std::thread::sleep(due.saturating_duration_since(Instant::now()));
        match publisher.publish(&body) {
            Ok(_) => items += 1,
            Err(_) => errors += 1,
        }
    }
    (items, errors)
}
