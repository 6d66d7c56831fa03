//! `publish`: the router's per-publish cost, before any subscriber is touched.
//!
//! Every published item is parsed from the `/publish/` JSON once and encoded once; that
//! cost is paid per item, not per subscriber, so it is what caps publishes per second.

mod common;

use criterion::{black_box, criterion_group, BatchSize, Criterion, Throughput};
use ringpin::publish::{encode_item, parse_items};

const PAYLOAD_BYTES: [usize; 3] = [100, 1024, 64 * 1024];
const FORMATS: [&str; 3] = ["http-stream", "http-response", "ws-message"];

/// A one-item `/publish/` body carrying `content` in `format`, as pubcontrol clients send it.
fn publish_body(format: &str, content: &str) -> Vec<u8> {
    let formats = match format {
        "http-stream" => format!(r#"{{"http-stream": {{"content": "{content}"}}}}"#),
        "http-response" => format!(
            r#"{{"http-response": {{"code": 200, "headers": {{"Content-Type": "text/plain"}}, "body": "{content}"}}}}"#
        ),
        _ => format!(r#"{{"ws-message": {{"content": "{content}"}}}}"#),
    };
    format!(
        r#"{{"items": [{{"channel": "news", "id": "1235", "prev-id": "1234", "formats": {formats}}}]}}"#
    )
    .into_bytes()
}

fn bench_publish(c: &mut Criterion) {
    let mut parse_group = c.benchmark_group("publish/parse_items");
    for format in FORMATS {
        for bytes in PAYLOAD_BYTES {
            let content = String::from_utf8(common::payload(bytes)).expect("ASCII filler");
            let body = publish_body(format, &content);
            common::warn_if_err(&format!("parse_items {format}"), &parse_items(&body));
            let id = format!("format={format}/payload={}", common::size_label(bytes));
            parse_group.throughput(Throughput::Bytes(bytes as u64));
            parse_group.bench_function(&id, |b| b.iter(|| parse_items(black_box(&body))));
        }
    }
    parse_group.finish();

    let mut encode_group = c.benchmark_group("publish/encode_item");
    for format in FORMATS {
        for bytes in PAYLOAD_BYTES {
            let content = String::from_utf8(common::payload(bytes)).expect("ASCII filler");
            let body = publish_body(format, &content);
            let Ok(items) = parse_items(&body) else {
                continue;
            };
            let item = items.into_iter().next().expect("one item per body");
            let id = format!("format={format}/payload={}", common::size_label(bytes));
            encode_group.throughput(Throughput::Bytes(bytes as u64));
            // The clone is setup (its payload is a shared `Bytes`); only encoding is timed.
            encode_group.bench_function(&id, |b| {
                b.iter_batched(|| item.clone(), encode_item, BatchSize::NumIterations(100))
            });
        }
    }
    encode_group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_publish
}

fn main() {
    common::print_header("publish");
    benches();
    Criterion::default().configure_from_args().final_summary();
}
