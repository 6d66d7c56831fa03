//! Memory stays bounded under a subscriber that never reads (DESIGN.md §1 "Backpressure"):
//! with `--slow-client drop`, what ringpin holds for that subscriber is capped by
//! `--outbound-bytes-max`, however much is published, while a reading subscriber on the same
//! channel still gets every item, in order.
//!
//! The figure checked is the process's resident set (`VmRSS` in `/proc/PID/status`), sampled
//! through the run: 32 MB are published, and the resident set may grow by less than half of
//! that. What the kernel buffers for the stalled socket (up to `net.ipv4.tcp_wmem` max) is not
//! part of the process's resident set.

use serde_json::json;

use crate::support::{
    metric, preview, publish_ok, wait_subscribed, Backend, BackendResponse, Proxy, StreamClient,
};

const CHANNEL: &str = "flood";
const ITEM_BYTES: usize = 8 * 1024;
/// 4,000 items of 8 KiB: 32 MiB through the proxy.
const ITEMS: usize = 4_000;
/// `--outbound-bytes-max`.
const OUTBOUND_BYTES_MAX: usize = 65_536;
/// Items per publish request.
const ITEMS_PER_PUBLISH: usize = 5;
/// The reader drains each publish before the next, so its own queue never nears the bound and
/// only the stalled subscriber can trip the drop policy.
const _: () = assert!(ITEMS_PER_PUBLISH * ITEM_BYTES < OUTBOUND_BYTES_MAX);
/// How much the resident set may grow over the run: half of what is published.
const RSS_GROWTH_BYTES_MAX: u64 = 16 * 1024 * 1024;
/// Publishes between two samples of the resident set.
const RSS_SAMPLE_EVERY: usize = 20;

/// Item `seq`: `"NNNNN "`, filler, `\n`; exactly `ITEM_BYTES` long.
fn item_content(seq: usize) -> String {
    let mut content = format!("{seq:05} ");
    content.push_str(&"x".repeat(ITEM_BYTES - content.len() - 1));
    content.push('\n');
    content
}

/// One publish body carrying items `first..first + ITEMS_PER_PUBLISH`.
fn batch_json(first: usize) -> String {
    let items: Vec<serde_json::Value> = (first..first + ITEMS_PER_PUBLISH)
        .map(|seq| {
            json!({ "channel": CHANNEL, "formats": { "http-stream": { "content": item_content(seq) } } })
        })
        .collect();
    json!({ "items": items }).to_string()
}

fn subscribe(proxy: &Proxy) -> StreamClient {
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.head().status, 200, "{:?}", client.head());
    assert_eq!(client.read_until("start\n"), "start\n");
    client
}

fn rss(proxy: &Proxy) -> u64 {
    proxy.proc_status_bytes("VmRSS")
}

#[test]
fn stalled_subscriber_does_not_grow_memory_while_a_reader_gets_every_item_in_order() {
    let backend = Backend::start(|_| BackendResponse::stream_hold(CHANNEL, "start\n"));
    let bytes_max = OUTBOUND_BYTES_MAX.to_string();
    let flags = ["--slow-client", "drop", "--outbound-bytes-max", &bytes_max];
    let proxy = Proxy::start(backend.port(), &flags);
    let _stalled = subscribe(&proxy); // never read again
    let mut reader = subscribe(&proxy);
    wait_subscribed(&proxy, 2);
    let baseline = rss(&proxy);
    let mut peak = baseline;

    for (publish, first) in (0..ITEMS).step_by(ITEMS_PER_PUBLISH).enumerate() {
        publish_ok(&proxy, &batch_json(first));
        for seq in first..first + ITEMS_PER_PUBLISH {
            let got = reader.read_body_bytes(ITEM_BYTES);
            assert!(
                got == item_content(seq).as_bytes(),
                "reading subscriber, item {seq}: got {}",
                preview(&got)
            );
        }
        if publish % RSS_SAMPLE_EVERY == 0 {
            peak = peak.max(rss(&proxy));
        }
    }
    peak = peak.max(rss(&proxy));

    let growth = peak.saturating_sub(baseline);
    assert!(
        growth < RSS_GROWTH_BYTES_MAX,
        "VmRSS grew by {growth} bytes (from {baseline} to a peak of {peak}) while {} bytes were \
         published to a subscriber that never reads; limit {RSS_GROWTH_BYTES_MAX}",
        ITEMS * ITEM_BYTES
    );
    let dropped = metric(&proxy, "ringpin_deliveries_dropped_total");
    assert!(
        dropped.is_some_and(|v| v > 0.0),
        "ringpin_deliveries_dropped_total is {dropped:?} after {ITEMS} items to a stalled subscriber"
    );
    assert_eq!(
        metric(&proxy, "ringpin_slow_clients_closed_total"),
        Some(0.0)
    );
    eprintln!("VmRSS baseline {baseline}, peak {peak}, growth {growth}; dropped {dropped:?}");
}
