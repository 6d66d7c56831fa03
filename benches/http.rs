//! `http`: the client request head parser and the stream chunk encoder.
//!
//! `parse_request` runs once per client request (a reconnect storm is 100K of them);
//! `encode_chunk` runs once per published `http-stream` item, never per subscriber.

mod common;

use criterion::{black_box, criterion_group, Criterion, Throughput};
use ringpin::http::{encode_chunk, parse_request, HeadLimits};

/// A client opening a stream with curl or an `EventSource`: a few short fields.
const SMALL_HEAD: &[u8] = b"GET /stream/news?last=1234 HTTP/1.1\r\n\
Host: rt.example.com\r\n\
User-Agent: curl/8.5.0\r\n\
Accept: text/event-stream\r\n\
\r\n";

/// A browser behind a CDN: many fields, long cookies, tracing headers; about 4 KiB.
fn large_head() -> Vec<u8> {
    let mut head = String::from("GET /stream/news?channel=user-42&last-event-id=1234 HTTP/1.1\r\n");
    let fields = [
        ("Host", "rt.example.com".to_string()),
        (
            "User-Agent",
            "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0".into(),
        ),
        ("Accept", "text/event-stream".into()),
        ("Accept-Language", "en-GB,en;q=0.8,fr;q=0.5,de;q=0.3".into()),
        ("Accept-Encoding", "gzip, deflate, br, zstd".into()),
        (
            "Referer",
            "https://www.example.com/dashboard/overview?tab=activity&range=7d".into(),
        ),
        ("Origin", "https://www.example.com".into()),
        ("Cache-Control", "no-cache".into()),
        ("Pragma", "no-cache".into()),
        ("Connection", "keep-alive".into()),
        ("Sec-Fetch-Dest", "empty".into()),
        ("Sec-Fetch-Mode", "cors".into()),
        ("Sec-Fetch-Site", "same-site".into()),
        ("Last-Event-ID", "1234".into()),
        ("Authorization", format!("Bearer {}", "x".repeat(600))),
        (
            "Cookie",
            (0..24)
                .map(|i| format!("c{i}={}", "v".repeat(60)))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        (
            "X-Forwarded-For",
            "203.0.113.7, 198.51.100.23, 192.0.2.1".into(),
        ),
        ("X-Forwarded-Proto", "https".into()),
        (
            "X-Request-Id",
            "7f0c9f9e-4a1b-4c3e-9d2a-6b1f0e8d3c21".into(),
        ),
        (
            "Traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".into(),
        ),
        (
            "Tracestate",
            "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7".into(),
        ),
        ("CDN-Loop", "cloudflare; loops=1".into()),
        ("CF-Connecting-IP", "203.0.113.7".into()),
        ("CF-Ray", "8e2c4b1d9a7f3c21-CDG".into()),
        ("CF-IPCountry", "FR".into()),
        ("True-Client-IP", "203.0.113.7".into()),
        ("DNT", "1".into()),
        ("Priority", "u=4".into()),
    ];
    for (name, value) in fields {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head.into_bytes()
}

fn bench_parse_request(c: &mut Criterion) {
    let mut group = c.benchmark_group("http/parse_request");
    for (kind, head) in [("small", SMALL_HEAD.to_vec()), ("large", large_head())] {
        common::warn_if_err(
            &format!("parse_request head={kind}"),
            &parse_request(&head, &HeadLimits::CLIENT),
        );
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(format!("head={kind}/bytes={}", head.len()), |b| {
            b.iter(|| parse_request(black_box(&head), &HeadLimits::CLIENT))
        });
    }
    group.finish();
}

fn bench_encode_chunk(c: &mut Criterion) {
    let mut group = c.benchmark_group("http/encode_chunk");
    for bytes in [128, 64 * 1024] {
        let data = common::payload(bytes);
        group.throughput(Throughput::Bytes(bytes as u64));
        group.bench_function(format!("payload={}", common::size_label(bytes)), |b| {
            b.iter(|| encode_chunk(black_box(&data)))
        });
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_parse_request, bench_encode_chunk
}

fn main() {
    common::print_header("http");
    benches();
    Criterion::default().configure_from_args().final_summary();
}
