//! `router`: the per-publish dispatch and the channel map it keeps.
//!
//! `Router::on_publish` (channel lookup + encode once) runs for every published item on one
//! thread, so its cost caps publishes per second for the whole process; `on_interest` runs
//! whenever a shard gains its first or loses its last subscriber of a channel. The items are
//! `no-seq` and de-duplication is off, so the figures are routing and encoding alone.
//! `publish_body` is a whole many-channel publish: parse a 2,500-item body, then route each.

mod common;

use criterion::{black_box, criterion_group, BatchSize, Criterion, Throughput};
use ringpin::publish::{parse_items, PublishItem};
use ringpin::router::{ChannelMap, Router, RouterMsg, SequencerConfig, ShardId};
use std::time::{Duration, Instant};

const CHANNELS: usize = 100_000;
/// Shards the interest is spread over: the 2-core reference machine runs two.
const SHARDS: u16 = 2;

fn channel_name(i: usize) -> String {
    format!("user-{i}")
}

/// A one-format `http-stream` item of `bytes` bytes, as the publish endpoint hands it over.
fn stream_item(bytes: usize) -> PublishItem {
    let content = String::from_utf8(common::payload(bytes)).expect("ASCII filler");
    let body = format!(
        r#"{{"items": [{{"channel": "user-0", "id": "2", "prev-id": "1", "formats": {{"http-stream": {{"content": "{content}"}}}}}}]}}"#
    );
    let mut item = parse_items(body.as_bytes())
        .expect("a valid publish body")
        .remove(0);
    item.no_seq = true;
    item
}

fn router_with_channels(names: &[String]) -> Router {
    let mut router = Router::new(SequencerConfig {
        message_wait: Duration::from_secs(5),
        id_cache_ttl: Duration::ZERO,
    });
    for (i, name) in names.iter().enumerate() {
        router.on_msg(RouterMsg::Interest {
            shard: ShardId(i as u16 % SHARDS),
            channel: name.clone(),
            subscribed: true,
        });
    }
    router
}

fn bench_on_publish(c: &mut Criterion) {
    let names: Vec<String> = (0..CHANNELS).map(channel_name).collect();
    let mut router = router_with_channels(&names);
    let order = common::shuffled(CHANNELS);
    // The sequencer never parks here, so one instant serves every call.
    let now = Instant::now();
    let mut group = c.benchmark_group("router/on_publish");
    group.throughput(Throughput::Elements(1));
    for bytes in [128, 64 * 1024] {
        let proto = stream_item(bytes);
        let mut next = 0;
        let id = format!(
            "channels={CHANNELS}/format=http-stream/payload={}",
            common::size_label(bytes)
        );
        group.bench_function(id, |b| {
            b.iter_batched(
                || {
                    // The item arrives owned from the endpoint; making it is not timed.
                    let mut item = proto.clone();
                    item.channel.clone_from(&names[order[next % CHANNELS]]);
                    next += 1;
                    item
                },
                |item| {
                    let mut routed = Vec::with_capacity(1);
                    router.on_publish(item, now, &mut routed);
                    routed
                },
                BatchSize::NumIterations(100),
            )
        });
    }
    // A publish nobody listens to: lookup only, nothing encoded.
    let proto = stream_item(128);
    group.bench_function(format!("channels={CHANNELS}/unrouted"), |b| {
        b.iter_batched(
            || {
                let mut item = proto.clone();
                item.channel = "nobody-listens".to_string();
                item
            },
            |item| {
                let mut routed = Vec::with_capacity(1);
                router.on_publish(item, now, &mut routed);
                routed
            },
            BatchSize::NumIterations(100),
        )
    });
    group.finish();
}

fn bench_channel_map(c: &mut Criterion) {
    let names: Vec<String> = (0..CHANNELS).map(channel_name).collect();
    let mut map = ChannelMap::new();
    for (i, name) in names.iter().enumerate() {
        map.on_interest(ShardId(i as u16 % SHARDS), name, true);
    }
    // Channel names in random order, copied so that they lie in that order in memory: an
    // input is then cache-friendly, as a just-received message's channel name is, and the
    // figures are the map's cost alone.
    let shuffled: Vec<(usize, String)> = common::shuffled(CHANNELS)
        .into_iter()
        .map(|i| (i, names[i].clone()))
        .collect();
    let mut group = c.benchmark_group("router/channel_map");

    // A channel gets its first subscriber somewhere, then loses it: insert + remove.
    let fresh: Vec<String> = (0..CHANNELS).map(|i| format!("fresh-{i}")).collect();
    let mut next = 0;
    group.throughput(Throughput::Elements(1));
    group.bench_function(
        format!("on_interest_churn/channels={CHANNELS}/kind=new_channel"),
        |b| {
            b.iter(|| {
                let name = &fresh[next % CHANNELS];
                next += 1;
                map.on_interest(ShardId(0), black_box(name), true);
                map.on_interest(ShardId(0), black_box(name), false);
            })
        },
    );

    // A second shard joins and leaves a channel that stays: the set changes, the map does not.
    let mut next = 0;
    group.bench_function(
        format!("on_interest_churn/channels={CHANNELS}/kind=existing_channel"),
        |b| {
            b.iter(|| {
                let (i, name) = &shuffled[next % CHANNELS];
                next += 1;
                let other = ShardId((*i as u16 + 1) % SHARDS);
                map.on_interest(other, black_box(name), true);
                map.on_interest(other, black_box(name), false);
            })
        },
    );

    let lookups: Vec<&str> = shuffled.iter().map(|(_, name)| name.as_str()).collect();
    group.throughput(Throughput::Elements(lookups.len() as u64));
    group.bench_function(
        format!("shards/channels={CHANNELS}/lookups={}", lookups.len()),
        |b| {
            b.iter(|| {
                let mut found = 0;
                for name in &lookups {
                    found += map.shards(black_box(name)).len();
                }
                found
            })
        },
    );
    group.finish();
}

/// Items in one many-channel publish body: issue 14's case, 2,500 channels with a few
/// subscribers each and one item per channel per publish.
const BODY_ITEMS: usize = 2_500;

/// A publish body of `BODY_ITEMS` items, one per channel `user-0`.., each with `formats`
/// (`{}` replaced by the 128-byte content).
fn many_channel_body(formats: &str) -> Vec<u8> {
    let content = String::from_utf8(common::payload(128)).expect("ASCII filler");
    let formats = formats.replace("{}", &content);
    let items: Vec<String> = (0..BODY_ITEMS)
        .map(|i| {
            format!(
                r#"{{"channel": "{}", "formats": {formats}}}"#,
                channel_name(i)
            )
        })
        .collect();
    format!(r#"{{"items": [{}]}}"#, items.join(", ")).into_bytes()
}

/// What the publish endpoint does with a many-channel body before it answers: parse, then
/// sequence, look up and encode every item. Throughput is per item, so the figure reads as
/// the routing cost per item that issue 14 bounds (≤ 1 µs).
fn bench_publish_body(c: &mut Criterion) {
    let names: Vec<String> = (0..BODY_ITEMS).map(channel_name).collect();
    let mut router = router_with_channels(&names);
    let now = Instant::now();
    let mut group = c.benchmark_group("router/publish_body");
    group.throughput(Throughput::Elements(BODY_ITEMS as u64));
    let cases = [
        ("http-stream", r#"{"http-stream": {"content": "{}"}}"#),
        (
            "stream+response+ws",
            r#"{"http-stream": {"content": "{}"}, "http-response": {"body": "{}"}, "ws-message": {"content": "{}"}}"#,
        ),
    ];
    for (label, formats) in cases {
        let body = many_channel_body(formats);
        let id = format!("items={BODY_ITEMS}/channels={BODY_ITEMS}/formats={label}/payload=128B");
        group.bench_function(id, |b| {
            b.iter(|| {
                let items = parse_items(black_box(&body)).expect("a valid publish body");
                let mut routed = Vec::with_capacity(items.len());
                for item in items {
                    router.on_publish(item, now, &mut routed);
                }
                routed.len()
            })
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_on_publish, bench_publish_body, bench_channel_map
}

fn main() {
    common::print_header("router");
    benches();
    Criterion::default().configure_from_args().final_summary();
}
