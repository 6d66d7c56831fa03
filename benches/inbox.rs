//! `inbox`: what one message costs to cross from one core to another.
//!
//! The router hands every published item to each interested shard through an inbox, so
//! this per-message cost is paid once per item per shard (not per subscriber). It settles
//! DESIGN.md's "crossbeam (or glommio shared)" with numbers from one run: a crossbeam
//! bounded channel against glommio's `shared_channel`, each between two executors pinned to
//! cores 0 and 1, 1M `Arc<u64>` messages, rounds interleaved so both see the same machine.
//! Modelled on glommio's `benches/shared_channel.rs`.

mod common;

use glommio::channels::shared_channel;
use glommio::{LocalExecutorBuilder, Placement};
use ringpin::limits::SHARD_INBOX_MESSAGES_MAX;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const MESSAGES: usize = 1_000_000;
/// Both inboxes get the capacity of ringpin's router -> shard inbox.
const CAPACITY: usize = SHARD_INBOX_MESSAGES_MAX;
const ROUNDS: usize = 5;
const SENDER_CORE: usize = 0;
const RECEIVER_CORE: usize = 1;
/// The executors' io_uring buffer, as `runtime.rs` sizes a shard's (512 KiB fits the
/// default 8 MiB memlock limit).
const IO_MEMORY_BYTES: usize = 512 * 1024;

/// One round's timings, from the moment both sides are connected and released together.
struct Round {
    /// Until the sender has handed over its last message.
    send: Duration,
    /// Until the receiver holds the last message: the throughput figure.
    end_to_end: Duration,
    /// Messages that did not arrive (a closed inbox); 0 unless something broke.
    lost: usize,
}

impl Round {
    fn ns_per_message(d: Duration) -> f64 {
        d.as_nanos() as f64 / MESSAGES as f64
    }
}

/// Runs `send` pinned to `SENDER_CORE` and `recv` pinned to `RECEIVER_CORE`; both start
/// timing when the barrier releases them. Returns `None` when an executor cannot start.
fn run_pinned<S, R, SF, RF>(send: S, recv: R) -> Option<Round>
where
    S: FnOnce(Arc<Barrier>) -> SF + Send + 'static,
    SF: std::future::Future<Output = Duration> + 'static,
    R: FnOnce(Arc<Barrier>) -> RF + Send + 'static,
    RF: std::future::Future<Output = (Duration, usize)> + 'static,
{
    let barrier = Arc::new(Barrier::new(2));
    let start = |core: usize, name: &str| {
        LocalExecutorBuilder::new(Placement::Fixed(core))
            .name(name)
            .io_memory(IO_MEMORY_BYTES)
    };
    let b = Arc::clone(&barrier);
    let sender = start(SENDER_CORE, "inbox-send").spawn(move || send(b));
    let receiver = start(RECEIVER_CORE, "inbox-recv").spawn(move || recv(barrier));
    let (sender, receiver) = match (sender, receiver) {
        (Ok(s), Ok(r)) => (s, r),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("inbox: cannot start a pinned executor: {e}");
            return None;
        }
    };
    let send = sender.join().ok()?;
    let (end_to_end, lost) = receiver.join().ok()?;
    Some(Round {
        send,
        end_to_end,
        lost,
    })
}

fn messages() -> Vec<Arc<u64>> {
    (0..MESSAGES as u64).map(Arc::new).collect()
}

/// Crossbeam's bounded channel, blocking on both sides.
fn crossbeam_round() -> Option<Round> {
    let (tx, rx) = crossbeam_channel::bounded::<Arc<u64>>(CAPACITY);
    let batch = messages();
    run_pinned(
        move |barrier| async move {
            barrier.wait();
            let t = Instant::now();
            for m in batch {
                if tx.send(m).is_err() {
                    break;
                }
            }
            t.elapsed()
        },
        move |barrier| async move {
            // Received messages are kept and freed after timing: only the queue is measured.
            let mut got = Vec::with_capacity(MESSAGES);
            barrier.wait();
            let t = Instant::now();
            while got.len() < MESSAGES {
                match rx.recv() {
                    Ok(m) => got.push(m),
                    Err(_) => break,
                }
            }
            (t.elapsed(), MESSAGES - got.len())
        },
    )
}

/// glommio's `shared_channel`, as `router/inbox.rs` uses it: async send and receive.
fn shared_channel_round() -> Option<Round> {
    let (tx, rx) = shared_channel::new_bounded::<Arc<u64>>(CAPACITY);
    let batch = messages();
    run_pinned(
        move |barrier| async move {
            let tx = tx.connect().await;
            barrier.wait();
            let t = Instant::now();
            for m in batch {
                if tx.send(m).await.is_err() {
                    break;
                }
            }
            t.elapsed()
        },
        move |barrier| async move {
            let rx = rx.connect().await;
            let mut got = Vec::with_capacity(MESSAGES);
            barrier.wait();
            let t = Instant::now();
            while got.len() < MESSAGES {
                match rx.recv().await {
                    Some(m) => got.push(m),
                    None => break,
                }
            }
            (t.elapsed(), MESSAGES - got.len())
        },
    )
}

fn print_round(round: usize, name: &str, r: &Round) {
    println!(
        "round {round} {name:<16} send {:>7.1} ns/msg   end-to-end {:>7.1} ns/msg{}",
        Round::ns_per_message(r.send),
        Round::ns_per_message(r.end_to_end),
        if r.lost > 0 {
            format!("   ({} messages lost)", r.lost)
        } else {
            String::new()
        }
    );
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

fn main() {
    common::print_header("inbox");
    println!(
        "inbox/cross_core/messages={MESSAGES}/capacity={CAPACITY}: Arc<u64> messages, \
         sender on core {SENDER_CORE}, receiver on core {RECEIVER_CORE}, {ROUNDS} interleaved rounds"
    );
    let mut crossbeam = Vec::new();
    let mut shared = Vec::new();
    for round in 1..=ROUNDS {
        if let Some(r) = crossbeam_round() {
            print_round(round, "crossbeam", &r);
            crossbeam.push(Round::ns_per_message(r.end_to_end));
        }
        if let Some(r) = shared_channel_round() {
            print_round(round, "shared_channel", &r);
            shared.push(Round::ns_per_message(r.end_to_end));
        }
    }
    let (cb, sc) = (median(crossbeam), median(shared));
    println!();
    println!("median end-to-end: crossbeam {cb:.1} ns/msg, shared_channel {sc:.1} ns/msg");
    println!("ratio shared_channel / crossbeam: {:.2}", sc / cb);
}
