//! `grip`: reading an origin's GRIP response, once per held request.
//!
//! A subscribe storm (100K clients reconnecting) runs `parse_instruction` once per client,
//! so its cost bounds how fast a shard can re-admit them.

mod common;

use bytes::Bytes;
use criterion::{black_box, criterion_group, Criterion, Throughput};
use ringpin::grip::{parse_header_params, parse_instruction, InstructError, Instruction};
use ringpin::http::Headers;
use ringpin::limits::CONNECTION_SUBSCRIPTIONS_MAX;

/// What a typical stream-hold origin answers (pushpin's `grip` examples, Django EventStream).
fn stream_hold_headers() -> Headers {
    let mut h = Headers::new();
    h.push("Content-Type", "text/event-stream");
    h.push("Cache-Control", "no-cache");
    h.push("Date", "Mon, 23 Nov 2026 09:00:00 GMT");
    h.push("Grip-Hold", "stream");
    h.push(
        "Grip-Channel",
        "news; prev-id=1234; filter=skip-self; filter=build-id, user-42; filter=skip-self",
    );
    h.push(
        "Grip-Keep-Alive",
        "event: keep-alive\\ndata: \\n\\n; format=cstring; timeout=20",
    );
    h.push("Grip-Timeout", "120");
    h.push("Content-Length", "14");
    h
}

const STREAM_BODY: &[u8] = b"event: open\n\n\n";

/// The same hold in the `application/grip-instruct` JSON form.
const INSTRUCT_JSON: &[u8] = br#"{
  "hold": {
    "mode": "stream",
    "channels": [
      {"name": "news", "prev-id": "1234", "filters": ["skip-self", "build-id"]},
      {"name": "user-42", "filters": ["skip-self"]}
    ],
    "timeout": 120,
    "keep-alive": {"content": "event: keep-alive\ndata: \n\n", "timeout": 20}
  },
  "response": {
    "code": 200,
    "headers": {"Content-Type": "text/event-stream", "Cache-Control": "no-cache"},
    "body": "event: open\n\n\n"
  }
}"#;

fn instruct_json_headers() -> Headers {
    let mut h = Headers::new();
    h.push("Content-Type", "application/grip-instruct");
    h.push("Date", "Mon, 23 Nov 2026 09:00:00 GMT");
    h.push("Content-Length", INSTRUCT_JSON.len().to_string());
    h
}

fn parse(headers: &Headers, body: &Bytes) -> Result<Instruction, InstructError> {
    parse_instruction(
        200,
        "OK",
        headers,
        body.clone(),
        "",
        CONNECTION_SUBSCRIPTIONS_MAX,
    )
}

fn bench_parse_instruction(c: &mut Criterion) {
    let mut group = c.benchmark_group("grip/parse_instruction");
    let forms = [
        (
            "headers",
            stream_hold_headers(),
            Bytes::from_static(STREAM_BODY),
        ),
        (
            "json",
            instruct_json_headers(),
            Bytes::from_static(INSTRUCT_JSON),
        ),
    ];
    for (form, headers, body) in &forms {
        common::warn_if_err(
            &format!("parse_instruction form={form}"),
            &parse(headers, body),
        );
        group.throughput(Throughput::Elements(1));
        group.bench_function(format!("form={form}/hold=stream/channels=2"), |b| {
            b.iter(|| parse(black_box(headers), black_box(body)))
        });
    }
    group.finish();
}

fn bench_parse_header_params(c: &mut Criterion) {
    let mut group = c.benchmark_group("grip/parse_header_params");
    let values = [
        ("pieces=1/params=0", "news".to_string()),
        (
            "pieces=1/params=3",
            "news; prev-id=1234; filter=skip-self; filter=build-id".to_string(),
        ),
        (
            "pieces=4/params=quoted",
            r#"a; prev-id="12,34"; filter=skip-self, b; prev-id="x\"y", c, d; filter=build-id"#
                .to_string(),
        ),
        (
            "pieces=20/params=1",
            (0..20)
                .map(|i| format!("channel-{i}; prev-id={i}"))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    ];
    for (id, value) in &values {
        common::warn_if_err(id, &parse_header_params(value));
        group.throughput(Throughput::Bytes(value.len() as u64));
        group.bench_function(*id, |b| b.iter(|| parse_header_params(black_box(value))));
    }
    group.finish();
}

criterion_group! {
    name = benches;
    config = common::config();
    targets = bench_parse_instruction, bench_parse_header_params
}

fn main() {
    common::print_header("grip");
    benches();
    Criterion::default().configure_from_args().final_summary();
}
