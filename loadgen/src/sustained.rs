//! Sustained: the publish side of `run --rate R --publishers P`: P threads, each with its
//! own keep-alive connection to every publish URL (or its own PUSH socket per ZeroMQ
//! input), sending one item per POST on the fixed schedule of pacing.rs.
//!
//! Owns: the publisher threads, their connections, and merging what they measured (items
//! offered, accepted and refused, POST round trips, the first send of every round, the
//! schedule lag), plus the progress line while they run.
//! Must not: time deliveries (the workers do) or judge the run (verdict.rs does).
//! Invariants: every item of channel c is sent by thread `c mod P`, in sequence order; an
//! item is stamped just before its request is built, so its delivery latency includes
//! nothing of the items before it; a refusal (non-2xx) is counted and the schedule goes on;
//! an I/O error stops the run; no thread sends after the run's deadline.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::batch;
use crate::clock;
use crate::message;
use crate::pacing::{Schedule, ScheduleLag};
use crate::publisher::{PublishUrl, Publisher};
use crate::report::PublishOutcome;
use crate::scenario::{PublishVia, Scenario};
use crate::tnetstring;
use crate::zmq_publisher::ZmqPublisher;

/// How often the progress line is redrawn on a terminal (every 2 s otherwise).
const PROGRESS_INTERVAL_TTY: Duration = Duration::from_millis(250);
const PROGRESS_INTERVAL_LOG: Duration = Duration::from_secs(2);

/// Totals of a sustained publish phase (what the report shows besides the histogram).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SustainedTotals {
    /// `--rate`: items/s the schedule offers, in total.
    pub rate_per_s: u64,
    pub publishers: u64,
    /// Requests (HTTP: POSTs, one item each, to every URL) or PUSH sends made.
    pub items_offered: u64,
    /// Answered 2xx (ZeroMQ: every send that queued).
    pub items_accepted: u64,
    /// Answered otherwise.
    pub items_refused: u64,
    /// The schedule's start and the last send's return, `CLOCK_MONOTONIC` ns.
    pub start_ns: u64,
    pub end_ns: u64,
    pub lag: ScheduleLag,
    /// The deadline stopped the publishers before the schedule's end.
    pub stopped_early: bool,
}

/// What the publisher threads measured.
#[derive(Debug)]
pub struct SustainedOutcome {
    pub totals: SustainedTotals,
    /// Per seq: the earliest stamp of any item of that round (0: none sent).
    pub first_send_ns: Vec<u64>,
    /// HTTP only: every POST's round trip, µs.
    pub publish: PublishOutcome,
}

/// The bytes each thread needs per channel: HTTP body prefix, or the channel name.
struct ChannelBytes {
    names: Vec<String>,
    /// `{"items":[{"channel":"NAME","formats":`.
    body_prefixes: Vec<Vec<u8>>,
}

/// Runs the publisher threads to the schedule's end or the deadline.
pub fn run(s: &Scenario, names: &[String], deadline: Instant) -> Result<SustainedOutcome, String> {
    let bytes = ChannelBytes {
        names: names.to_vec(),
        body_prefixes: names.iter().map(|n| body_prefix(n)).collect(),
    };
    let publishers = s.publisher_threads();
    let schedule = Schedule {
        rate_per_s: s.rate.unwrap_or(1),
        channels: s.channels,
    };
    let sent = AtomicU64::new(0);
    let start = Instant::now() + Duration::from_millis(10);
    let start_ns = clock::now_ns() + 10_000_000;
    let results = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..publishers)
            .map(|t| {
                let ctx = ThreadCtx {
                    s,
                    bytes: &bytes,
                    schedule,
                    thread: t,
                    start,
                    deadline,
                    sent: &sent,
                };
                scope.spawn(move || drive_thread(&ctx))
            })
            .collect();
        show_progress(&handles, &sent, s.channels * s.messages, start);
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a publisher thread panicked".into()))
            })
            .collect::<Vec<_>>()
    });
    merge(s, start_ns, results)
}

fn merge(
    s: &Scenario,
    start_ns: u64,
    results: Vec<Result<ThreadOutcome, String>>,
) -> Result<SustainedOutcome, String> {
    let mut out = SustainedOutcome {
        totals: SustainedTotals {
            rate_per_s: s.rate.unwrap_or(0),
            publishers: s.publisher_threads(),
            start_ns,
            ..SustainedTotals::default()
        },
        first_send_ns: vec![0; s.messages as usize],
        publish: PublishOutcome::new(s.publish_via, None),
    };
    for r in results {
        let r = r?;
        let t = &mut out.totals;
        t.items_offered += r.offered;
        t.items_accepted += r.accepted;
        t.items_refused += r.refused;
        t.end_ns = t.end_ns.max(r.end_ns);
        t.lag.merge(&r.lag);
        t.stopped_early |= r.stopped_early;
        for (m, &first) in out.first_send_ns.iter_mut().zip(&r.first_send_ns) {
            if first != 0 && (*m == 0 || first < *m) {
                *m = first;
            }
        }
        if let Some(h) = r.round_trip_us {
            merge_histogram(&mut out.publish, &h)?;
        }
    }
    out.publish.items = out.totals.items_accepted;
    out.publish.end_ns = out.totals.end_ns;
    if s.publish_via == PublishVia::Http {
        out.publish.items_per_post = 1;
        out.publish.posts_per_message = s.channels;
    }
    Ok(out)
}

fn merge_histogram(p: &mut PublishOutcome, h: &Histogram<u64>) -> Result<(), String> {
    match &mut p.post_round_trip_us {
        Some(all) => all.add(h).map_err(|e| format!("histogram merge: {e:?}")),
        None => {
            p.post_round_trip_us = Some(h.clone());
            Ok(())
        }
    }
}

fn body_prefix(channel: &str) -> Vec<u8> {
    let mut item = batch::item_json(channel, b"");
    item.pop(); // the item's closing brace: the formats go in between
    let mut prefix = b"{\"items\":[".to_vec();
    prefix.extend_from_slice(&item);
    prefix
}

/// What one thread is given.
struct ThreadCtx<'a> {
    s: &'a Scenario,
    bytes: &'a ChannelBytes,
    schedule: Schedule,
    thread: u64,
    start: Instant,
    deadline: Instant,
    sent: &'a AtomicU64,
}

/// What one thread measured.
struct ThreadOutcome {
    offered: u64,
    accepted: u64,
    refused: u64,
    end_ns: u64,
    lag: ScheduleLag,
    stopped_early: bool,
    first_send_ns: Vec<u64>,
    round_trip_us: Option<Histogram<u64>>,
}

/// One thread's connections: a publisher per URL, or a PUSH socket per input.
enum Sink {
    Http(Vec<Publisher>),
    Push(ZmqPublisher),
}

impl Sink {
    fn connect(s: &Scenario) -> Result<Sink, String> {
        if s.publish_via == PublishVia::ZmqPush {
            return ZmqPublisher::connect_push(&s.zmq_specs)
                .map(Sink::Push)
                .map_err(|e| e.to_string());
        }
        s.publish_urls
            .iter()
            .map(|u| PublishUrl::parse(u).map(Publisher::new))
            .collect::<Result<Vec<_>, _>>()
            .map(Sink::Http)
    }
}

fn drive_thread(ctx: &ThreadCtx<'_>) -> Result<ThreadOutcome, String> {
    let s = ctx.s;
    let mut sink = Sink::connect(s)?;
    let mut out = ThreadOutcome {
        offered: 0,
        accepted: 0,
        refused: 0,
        end_ns: 0,
        lag: ScheduleLag::default(),
        stopped_early: false,
        first_send_ns: vec![0; s.messages as usize],
        round_trip_us: None,
    };
    let publishers = s.publisher_threads();
    for item in ctx
        .schedule
        .thread_items(ctx.thread, publishers, s.messages)
    {
        let due = ctx.start + Duration::from_nanos(item.due_ns);
        let now = Instant::now();
        if now >= ctx.deadline {
            out.stopped_early = true;
            break;
        }
        if due > now {
            std::thread::sleep(due - now);
        }
        let late = Instant::now().saturating_duration_since(ctx.start);
        out.lag.on_send(
            item.due_ns,
            u64::try_from(late.as_nanos()).unwrap_or(u64::MAX),
        );
        let send_ns = clock::now_ns();
        let first = &mut out.first_send_ns[item.seq as usize - 1];
        if *first == 0 {
            *first = send_ns;
        }
        send_item(
            ctx,
            &mut sink,
            &mut out,
            item.seq,
            item.channel as usize,
            send_ns,
        )?;
        out.end_ns = clock::now_ns();
        ctx.sent.fetch_add(1, Ordering::Relaxed);
    }
    Ok(out)
}

fn send_item(
    ctx: &ThreadCtx<'_>,
    sink: &mut Sink,
    out: &mut ThreadOutcome,
    seq: u64,
    channel: usize,
    send_ns: u64,
) -> Result<(), String> {
    let s = ctx.s;
    let stream = message::encode_framed(seq, send_ns, s.size, s.mode.framing());
    let line = message::encode(seq, send_ns, s.size);
    match sink {
        Sink::Push(zmq) => {
            let name = &ctx.bytes.names[channel];
            let item = tnetstring::publish_item(name, &stream, &line);
            zmq.publish(name, &item).map_err(|e| e.to_string())?;
            out.offered += 1;
            out.accepted += 1;
        }
        Sink::Http(list) => {
            let mut body = ctx.bytes.body_prefixes[channel].clone();
            body.extend_from_slice(&batch::scenario_formats_json(s, &stream, &line));
            body.extend_from_slice(b"}]}");
            for p in list {
                let sent = Instant::now();
                let status = p.post(&body)?.status;
                record_round_trip(out, sent.elapsed());
                out.offered += 1;
                if (200..300).contains(&status) {
                    out.accepted += 1;
                } else {
                    out.refused += 1;
                }
            }
        }
    }
    Ok(())
}

fn record_round_trip(out: &mut ThreadOutcome, took: Duration) {
    let hist = out.round_trip_us.get_or_insert_with(|| {
        Histogram::new_with_bounds(1, 60_000_000, 3).expect("constant histogram bounds are valid")
    });
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    hist.saturating_record(us.clamp(1, 60_000_000));
}

/// `published N/TOTAL items  R/s  (T s)` on stderr until every thread has finished.
fn show_progress<T>(
    handles: &[std::thread::ScopedJoinHandle<'_, T>],
    sent: &AtomicU64,
    total: u64,
    start: Instant,
) {
    let tty = crate::sys::is_tty(2);
    let every = if tty {
        PROGRESS_INTERVAL_TTY
    } else {
        PROGRESS_INTERVAL_LOG
    };
    let mut last_draw = Instant::now();
    loop {
        let done = handles.iter().all(|h| h.is_finished());
        if done || last_draw.elapsed() >= every {
            last_draw = Instant::now();
            let n = sent.load(Ordering::Relaxed);
            let secs = start.elapsed().as_secs_f64().max(1e-9);
            let line = format!(
                "published {n}/{total} items  {:.0}/s  ({secs:.1} s)",
                n as f64 / secs
            );
            match (tty, done) {
                (true, false) => eprint!("\r{line}\x1b[K"),
                (true, true) => eprintln!("\r{line}\x1b[K"),
                (false, _) => eprintln!("{line}"),
            }
        }
        if done {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
