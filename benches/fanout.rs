//! `fanout`: the per-shard delivery loop and the subscription table it reads.
//!
//! `ChunkWriter::deliver` runs once per published item over every local subscriber, so its
//! time divided by the subscriber count is ringpin's own cost of one delivery, to set
//! against the kernel's few microseconds per `send(2)`. `Subscriptions` is touched on every
//! subscribe and disconnect, and looked up once per delivered item.

mod common;

use criterion::measurement::WallTime;
use criterion::{
    black_box, criterion_group, BatchSize, BenchmarkGroup, Criterion, SamplingMode, Throughput,
};
use ringpin::fanout::{
    ChunkWriter, ConnKey, DeliveryReport, OverflowPolicy, PushOutcome, Sink, SinkTable,
    Subscriptions, Transport,
};
use ringpin::grip::SubscriberFilters;
use ringpin::limits::{OUTBOUND_BYTES_MAX_DEFAULT, OUTBOUND_ITEMS_MAX_DEFAULT};
use ringpin::publish::{encode_item, parse_items, EncodedItem, EncodedStream};
use std::cell::RefCell;
use std::sync::Arc;
use std::time::Instant;

const SUBSCRIBER_COUNTS: [usize; 3] = [1_000, 10_000, 50_000];
const PAYLOAD_BYTES: usize = 128;
const TABLE_ENTRIES: usize = 100_000;
const CHANNEL: &str = "news";

/// The shard's connection table, reduced to what delivery touches: a dense `Vec` of sinks.
struct VecTable(Vec<Sink>);

impl SinkTable for VecTable {
    fn sink_mut(&mut self, key: ConnKey) -> Option<&mut Sink> {
        self.0.get_mut(key.0 as usize)
    }
}

/// What one delivery pass mutates; reset (untimed) before each pass.
struct DeliveryState {
    table: VecTable,
    report: DeliveryReport,
    /// Sinks whose queue is emptied between passes; the others stay full.
    drained: Vec<usize>,
}

impl DeliveryState {
    fn reset(&mut self) {
        for &at in &self.drained {
            self.table.0[at].queue.clear();
        }
        self.report.clear();
    }
}

/// A 128-byte `http-stream` item, parsed and encoded as the router does it.
fn stream_item() -> Arc<EncodedItem> {
    let content = String::from_utf8(common::payload(PAYLOAD_BYTES)).expect("ASCII filler");
    let body = format!(
        r#"{{"items": [{{"channel": "{CHANNEL}", "formats": {{"http-stream": {{"content": "{content}"}}}}}}]}}"#
    );
    let item = parse_items(body.as_bytes())
        .expect("a valid publish body")
        .remove(0);
    Arc::new(encode_item(item))
}

fn new_sink() -> Sink {
    Sink::new(
        Transport::HttpStreamChunked,
        OUTBOUND_BYTES_MAX_DEFAULT,
        OUTBOUND_ITEMS_MAX_DEFAULT,
    )
}

/// `subs` sinks; when `half_full`, every odd one has a queue already at its item bound.
fn delivery_state(subs: usize, item: &EncodedItem, half_full: bool) -> DeliveryState {
    let mut sinks: Vec<Sink> = (0..subs).map(|_| new_sink()).collect();
    let mut drained = Vec::with_capacity(subs);
    let chunk = match &item.stream {
        Some(EncodedStream::Content(content)) => content.chunk().clone(),
        _ => bytes::Bytes::from_static(b"x"),
    };
    for (at, sink) in sinks.iter_mut().enumerate() {
        if half_full && at % 2 == 1 {
            while sink.queue.push(chunk.clone()) != PushOutcome::Overflow {}
        } else {
            drained.push(at);
        }
    }
    DeliveryState {
        table: VecTable(sinks),
        report: DeliveryReport::default(),
        drained,
    }
}

/// Times `ChunkWriter::deliver` of `item` to `subscribers`, resetting `state` before each run.
fn measure_deliver(
    group: &mut BenchmarkGroup<'_, WallTime>,
    subs: usize,
    writer: &ChunkWriter,
    item: &Arc<EncodedItem>,
    subscribers: &[ConnKey],
    state: &RefCell<DeliveryState>,
    now: Instant,
) {
    let id = format!("subs={subs}/payload={PAYLOAD_BYTES}B");
    group.bench_function(id, |b| {
        b.iter_batched(
            || state.borrow_mut().reset(),
            |()| {
                let state = &mut *state.borrow_mut();
                writer.deliver(item, subscribers, &mut state.table, now, &mut state.report);
            },
            BatchSize::PerIteration,
        )
    });
}

fn bench_deliver(c: &mut Criterion) {
    let item = stream_item();
    let now = Instant::now();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    let variants = [("deliver", false), ("deliver_half_overflow", true)];
    for (name, half_full) in variants {
        let mut group = c.benchmark_group(format!("fanout/{name}"));
        for subs in SUBSCRIBER_COUNTS {
            let mut subscriptions = Subscriptions::new();
            for key in 0..subs {
                subscriptions.add(CHANNEL, ConnKey(key as u32));
            }
            let subscribers = subscriptions.subscribers(CHANNEL);
            let state = RefCell::new(delivery_state(subs, &item, half_full));
            group.throughput(Throughput::Elements(subs as u64));
            measure_deliver(&mut group, subs, &writer, &item, subscribers, &state, now);
        }
        group.finish();
    }
}

/// A 128-byte `http-stream` item in django-eventstream's shape: `id: %I` for build-id.
fn build_id_item() -> Arc<EncodedItem> {
    let filler = String::from_utf8(common::payload(PAYLOAD_BYTES - 12)).expect("ASCII filler");
    let body = format!(
        r#"{{"items": [{{"channel": "{CHANNEL}", "id": "2", "prev-id": "1", "formats": {{"http-stream": {{"content": "id: %I\ndata: {filler}", "content-filters": ["build-id"]}}}}}}]}}"#
    );
    let item = parse_items(body.as_bytes())
        .expect("a valid publish body")
        .remove(0);
    Arc::new(encode_item(item))
}

/// The slow path: every subscriber has a `build-id` filter. In `deliver_build_id` they all
/// render the same id (django-eventstream's subscribers of one channel), so equal rewrites
/// share one encoding; in `deliver_build_id_distinct` every id differs (the worst case).
fn bench_deliver_filtered(c: &mut Criterion) {
    let item = build_id_item();
    let now = Instant::now();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    for (name, distinct) in [
        ("deliver_build_id", false),
        ("deliver_build_id_distinct", true),
    ] {
        let mut group = c.benchmark_group(format!("fanout/{name}"));
        for subs in SUBSCRIBER_COUNTS {
            let mut subscriptions = Subscriptions::new();
            for key in 0..subs {
                subscriptions.add(CHANNEL, ConnKey(key as u32));
            }
            let subscribers = subscriptions.subscribers(CHANNEL);
            let mut state = delivery_state(subs, &item, false);
            for (at, sink) in state.table.0.iter_mut().enumerate() {
                let suffix = if distinct {
                    format!("/{at}")
                } else {
                    String::new()
                };
                let id_format = format!("{CHANNEL}:%({CHANNEL})s{suffix}");
                let mut filters = SubscriberFilters::new(vec![("id_format".into(), id_format)]);
                filters.subscribe(CHANNEL, Some("1".into()), &["build-id".to_string()]);
                sink.filters = Some(Box::new(filters));
            }
            let state = RefCell::new(state);
            group.throughput(Throughput::Elements(subs as u64));
            measure_deliver(&mut group, subs, &writer, &item, subscribers, &state, now);
        }
        group.finish();
    }
}

/// Channel names and keys for a table of `TABLE_ENTRIES` subscriptions spread over
/// `channels` channels (1, or one per subscription).
struct Layout {
    channels: usize,
    names: Vec<String>,
}

impl Layout {
    fn new(channels: usize) -> Layout {
        let names = if channels == 1 {
            vec![CHANNEL.to_string()]
        } else {
            (0..channels).map(|i| format!("user-{i}")).collect()
        };
        Layout { channels, names }
    }

    fn channel_of(&self, entry: usize) -> &str {
        &self.names[entry % self.names.len()]
    }

    fn filled(&self) -> Subscriptions {
        let mut subs = Subscriptions::new();
        for entry in 0..TABLE_ENTRIES {
            subs.add(self.channel_of(entry), ConnKey(entry as u32));
        }
        subs
    }

    /// `(channel, key)` of every entry in random order. The names are fresh copies laid
    /// out in that order, so reading an input is cache-friendly, as a just-received
    /// request's channel name is, and the figure is the table's cost alone.
    fn ops_in_random_order(&self) -> Vec<(String, ConnKey)> {
        common::shuffled(TABLE_ENTRIES)
            .into_iter()
            .map(|entry| (self.channel_of(entry).to_string(), ConnKey(entry as u32)))
            .collect()
    }

    fn id(&self) -> String {
        format!("channels={}/entries={TABLE_ENTRIES}", self.channels)
    }
}

fn bench_subscriptions_bulk(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout/subscriptions");
    // One pass adds or removes 100K entries: flat sampling keeps the run short.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(TABLE_ENTRIES as u64));
    for channels in [1, TABLE_ENTRIES] {
        let layout = Layout::new(channels);
        bench_add_all(&mut group, &layout);
        bench_remove_all(&mut group, &layout);
    }
    group.finish();
}

/// Adds `TABLE_ENTRIES` subscriptions to an empty table (a subscribe storm).
fn bench_add_all(group: &mut BenchmarkGroup<'_, WallTime>, layout: &Layout) {
    group.bench_function(format!("add/{}", layout.id()), |b| {
        b.iter_batched(
            Subscriptions::new,
            |mut subs| {
                for entry in 0..TABLE_ENTRIES {
                    subs.add(layout.channel_of(entry), ConnKey(entry as u32));
                }
                subs
            },
            BatchSize::PerIteration,
        )
    });
}

/// Removes all `TABLE_ENTRIES` subscriptions, in random order (a mass disconnect).
fn bench_remove_all(group: &mut BenchmarkGroup<'_, WallTime>, layout: &Layout) {
    let ops = layout.ops_in_random_order();
    group.bench_function(format!("remove/{}", layout.id()), |b| {
        b.iter_batched(
            || layout.filled(),
            |mut subs| {
                for (channel, key) in &ops {
                    subs.remove(channel, *key);
                }
                subs
            },
            BatchSize::PerIteration,
        )
    });
}

fn bench_subscriptions_steady(c: &mut Criterion) {
    let mut group = c.benchmark_group("fanout/subscriptions");
    for channels in [1, TABLE_ENTRIES] {
        let layout = Layout::new(channels);
        let mut subs = layout.filled();
        let ops = layout.ops_in_random_order();
        // One client leaves and another takes its place, with the table at 100K.
        group.throughput(Throughput::Elements(1));
        let mut next = 0;
        group.bench_function(format!("remove_then_add/{}", layout.id()), |b| {
            b.iter(|| {
                let (channel, key) = &ops[next % TABLE_ENTRIES];
                next += 1;
                black_box(subs.remove(channel, *key));
                black_box(subs.add(channel, *key));
            })
        });
        // The lookup a delivery starts with, for channels in random order.
        let lookups: Vec<&str> = ops.iter().map(|(channel, _)| channel.as_str()).collect();
        group.throughput(Throughput::Elements(lookups.len() as u64));
        group.bench_function(
            format!("subscribers/{}/lookups={}", layout.id(), lookups.len()),
            |b| {
                b.iter(|| {
                    let mut found = 0;
                    for channel in &lookups {
                        found += subs.subscribers(black_box(channel)).len();
                    }
                    found
                })
            },
        );
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_deliver, bench_deliver_filtered, bench_subscriptions_bulk, bench_subscriptions_steady
}

fn main() {
    common::print_header("fanout");
    benches();
    Criterion::default().configure_from_args().final_summary();
}
