//! Prometheus text exposition of the shard and router counters.
//!
//! Owns: metric names (`ringpin_<noun>[_<unit>][_total]`) and the text format.
//! Must not: keep state; it renders a snapshot.

use super::counters::{Input, RouterCounters, ShardCounters};
use super::histogram::{self, Histogram};
use std::fmt::Write;
use std::sync::Arc;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// A metric summed over shards: name, type, help, and how to read it from one shard.
type ShardMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ShardCounters) -> i64,
);

/// A metric of the router: name, type, help, and how to read it.
type RouterMetric = (
    &'static str,
    &'static str,
    &'static str,
    fn(&RouterCounters) -> i64,
);

const SHARD_METRICS: &[ShardMetric] = &[
    (
        "ringpin_connections",
        "gauge",
        "Open client connections.",
        |s| s.connections.get(),
    ),
    (
        "ringpin_connections_accepted_total",
        "counter",
        "Client connections accepted.",
        |s| s.connections_accepted.get() as i64,
    ),
    (
        "ringpin_requests_total",
        "counter",
        "Client requests received.",
        |s| s.requests.get() as i64,
    ),
    (
        "ringpin_requests_failed_total",
        "counter",
        "Client requests answered with a ringpin error.",
        |s| s.requests_failed.get() as i64,
    ),
    (
        "ringpin_subscriptions",
        "gauge",
        "Held subscriptions (connection x channel).",
        |s| s.subscriptions.get(),
    ),
    (
        "ringpin_held_streams",
        "gauge",
        "Connections held as streams.",
        |s| s.held_streams.get(),
    ),
    (
        "ringpin_held_responses",
        "gauge",
        "Connections held as long-polls.",
        |s| s.held_responses.get(),
    ),
    (
        "ringpin_held_websockets",
        "gauge",
        "Upgraded WebSocket connections.",
        |s| s.held_websockets.get(),
    ),
    (
        "ringpin_deliveries_total",
        "counter",
        "Items delivered to subscribers.",
        |s| s.deliveries.get() as i64,
    ),
    (
        "ringpin_deliveries_dropped_total",
        "counter",
        "Items dropped because a subscriber's queue was full.",
        |s| s.deliveries_dropped.get() as i64,
    ),
    (
        "ringpin_slow_clients_closed_total",
        "counter",
        "Connections closed for not keeping up.",
        |s| s.slow_clients_closed.get() as i64,
    ),
    (
        "ringpin_connection_panics_total",
        "counter",
        "Connection tasks that panicked.",
        |s| s.connection_panics.get() as i64,
    ),
    (
        "ringpin_tls_handshakes_failed_total",
        "counter",
        "TLS client connections closed because their handshake failed or timed out.",
        |s| s.tls_handshakes_failed.get() as i64,
    ),
    (
        "ringpin_refetches_total",
        "counter",
        "Origin requests made to recover held connections.",
        |s| s.refetches.get() as i64,
    ),
    (
        "ringpin_link_fetches_failed_total",
        "counter",
        "Next-link fetches that failed, retries included.",
        |s| s.link_fetches_failed.get() as i64,
    ),
];

const ROUTER_METRICS: &[RouterMetric] = &[
    (
        "ringpin_publish_requests_total",
        "counter",
        "Publish requests answered.",
        |r| r.publish_requests.get() as i64,
    ),
    (
        "ringpin_items_published_total",
        "counter",
        "Items accepted for publishing.",
        |r| r.items_published.get() as i64,
    ),
    (
        "ringpin_publish_unauthorized_total",
        "counter",
        "Publish-endpoint requests refused with 401 (missing or bad credential).",
        |r| r.publish_unauthorized.get() as i64,
    ),
    (
        "ringpin_channels",
        "gauge",
        "Channels with at least one subscriber.",
        |r| r.channels.get(),
    ),
];

/// Renders every metric, summed over shards.
pub fn render(shards: &[Arc<ShardCounters>], router: &RouterCounters) -> String {
    let sum = |f: fn(&ShardCounters) -> i64| shards.iter().map(|s| f(s)).sum::<i64>();
    let mut out = String::with_capacity(2048);
    for &(name, kind, help, read) in SHARD_METRICS {
        metric(&mut out, name, kind, help, sum(read));
    }
    let name = "ringpin_connections_refused_total";
    let _ = writeln!(
        out,
        "# HELP {name} Client connections refused: reason=capacity at the shard's connection \
         limit, reason=per_ip at --connections-per-ip-max.\n# TYPE {name} counter"
    );
    let capacity = sum(|s| s.connections_refused.get() as i64);
    let per_ip = sum(|s| s.connections_refused_per_ip.get() as i64);
    let _ = writeln!(out, "{name}{{reason=\"capacity\"}} {capacity}");
    let _ = writeln!(out, "{name}{{reason=\"per_ip\"}} {per_ip}");
    for &(name, kind, help, read) in ROUTER_METRICS {
        metric(&mut out, name, kind, help, read(router));
    }
    render_inputs(&mut out, router);
    let deliveries: Vec<&Histogram> = shards.iter().map(|s| &s.delivery_latency).collect();
    histogram::render(
        &mut out,
        "ringpin_delivery_latency_seconds",
        "From the router releasing a published item to a shard's delivery pass for it.",
        &deliveries,
    );
    histogram::render(
        &mut out,
        "ringpin_publish_latency_seconds",
        "HTTP publish requests, from the body read to the items queued to the shards.",
        &[&router.publish_latency],
    );
    metric(
        &mut out,
        "ringpin_shards",
        "gauge",
        "Shards running.",
        shards.len(),
    );
    out
}

/// `ringpin_items_received_total{input=…}`, `ringpin_items_rejected_total{input=…}` and the
/// SUB input's `ringpin_zmq_subscriptions`.
fn render_inputs(out: &mut String, router: &RouterCounters) {
    let families = [
        (
            "ringpin_items_received_total",
            "Valid items received, by publish input.",
        ),
        (
            "ringpin_items_rejected_total",
            "Messages or requests refused, by publish input.",
        ),
    ];
    for (index, (name, help)) in families.into_iter().enumerate() {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        for input in Input::ALL {
            let counters = router.input(input);
            let value = if index == 0 {
                counters.received.get()
            } else {
                counters.rejected.get()
            };
            let _ = writeln!(out, "{name}{{input=\"{}\"}} {value}", input.label());
        }
    }
    let subscriptions = router.input(Input::ZmqSub).subscriptions.get();
    let help = "Channels the ZeroMQ SUB input subscribes to.";
    metric(
        out,
        "ringpin_zmq_subscriptions",
        "gauge",
        help,
        subscriptions,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_shards_and_names_counters_with_total() {
        let a = Arc::new(ShardCounters::default());
        let b = Arc::new(ShardCounters::default());
        a.subscriptions.add(3);
        b.subscriptions.add(4);
        b.deliveries.add(10);
        let text = render(&[a, b], &RouterCounters::default());
        assert!(text.contains("\nringpin_subscriptions 7\n"));
        assert!(text.contains("\nringpin_deliveries_total 10\n"));
        assert!(text.contains("# TYPE ringpin_deliveries_total counter"));
        assert!(text.contains("\nringpin_shards 2\n"));
        assert!(text.contains("\nringpin_items_received_total{input=\"zmq_pull\"} 0\n"));
        assert!(text.contains("\nringpin_items_rejected_total{input=\"http\"} 0\n"));
        assert!(text.contains("\nringpin_zmq_subscriptions 0\n"));
    }

    /// The Grafana dashboard in `contrib/` may only chart metrics that exist.
    #[test]
    fn every_metric_the_grafana_dashboard_charts_is_rendered() {
        let dashboard = include_str!("../../contrib/grafana/ringpin-dashboard.json");
        let text = render(
            &[Arc::new(ShardCounters::default())],
            &RouterCounters::default(),
        );
        let families: Vec<&str> = (text.lines())
            .filter_map(|line| line.strip_prefix("# TYPE "))
            .filter_map(|rest| rest.split(' ').next())
            .collect();
        let mut charted = 0;
        for (at, _) in dashboard.match_indices("ringpin_") {
            let name: String = dashboard[at..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if name == "ringpin_" || name.starts_with("ringpin_overview") {
                continue;
            }
            let family = name.strip_suffix("_bucket").unwrap_or(&name);
            assert!(
                families.contains(&family),
                "{name} is charted but not rendered"
            );
            charted += 1;
        }
        assert!(charted > 15, "only {charted} metric references found");
    }
}
