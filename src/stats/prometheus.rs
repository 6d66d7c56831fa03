//! Prometheus text exposition of the shard and router counters.
//!
//! Owns: metric names (`ringpin_<noun>[_<unit>][_total]`) and the text format.
//! Must not: keep state; it renders a snapshot.

use super::counters::{RouterCounters, ShardCounters};
use std::fmt::Write;
use std::sync::Arc;

fn metric(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    let _ = writeln!(out, "{name} {value}");
}

/// Renders every metric, summed over shards.
pub fn render(shards: &[Arc<ShardCounters>], router: &RouterCounters) -> String {
    let sum = |f: fn(&ShardCounters) -> i64| shards.iter().map(|s| f(s)).sum::<i64>();
    let mut out = String::with_capacity(2048);
    let rows: [(&str, &str, &str, i64); 12] = [
        (
            "ringpin_connections",
            "gauge",
            "Open client connections.",
            sum(|s| s.connections.get()),
        ),
        (
            "ringpin_connections_accepted_total",
            "counter",
            "Client connections accepted.",
            sum(|s| s.connections_accepted.get() as i64),
        ),
        (
            "ringpin_requests_total",
            "counter",
            "Client requests received.",
            sum(|s| s.requests.get() as i64),
        ),
        (
            "ringpin_requests_failed_total",
            "counter",
            "Client requests answered with a ringpin error.",
            sum(|s| s.requests_failed.get() as i64),
        ),
        (
            "ringpin_subscriptions",
            "gauge",
            "Held subscriptions (connection x channel).",
            sum(|s| s.subscriptions.get()),
        ),
        (
            "ringpin_held_streams",
            "gauge",
            "Connections held as streams.",
            sum(|s| s.held_streams.get()),
        ),
        (
            "ringpin_held_responses",
            "gauge",
            "Connections held as long-polls.",
            sum(|s| s.held_responses.get()),
        ),
        (
            "ringpin_held_websockets",
            "gauge",
            "Upgraded WebSocket connections.",
            sum(|s| s.held_websockets.get()),
        ),
        (
            "ringpin_deliveries_total",
            "counter",
            "Items delivered to subscribers.",
            sum(|s| s.deliveries.get() as i64),
        ),
        (
            "ringpin_deliveries_dropped_total",
            "counter",
            "Items dropped because a subscriber's queue was full.",
            sum(|s| s.deliveries_dropped.get() as i64),
        ),
        (
            "ringpin_slow_clients_closed_total",
            "counter",
            "Connections closed for not keeping up.",
            sum(|s| s.slow_clients_closed.get() as i64),
        ),
        (
            "ringpin_connection_panics_total",
            "counter",
            "Connection tasks that panicked.",
            sum(|s| s.connection_panics.get() as i64),
        ),
    ];
    for (name, kind, help, value) in rows {
        metric(&mut out, name, kind, help, value);
    }
    let name = "ringpin_connections_refused_total";
    let _ = writeln!(
        out,
        "# HELP {name} Client connections refused: reason=capacity at the shard's connection \
         limit, reason=per_ip at --connections-per-ip-max.\n# TYPE {name} counter"
    );
    let _ = writeln!(
        out,
        "{name}{{reason=\"capacity\"}} {}",
        sum(|s| s.connections_refused.get() as i64)
    );
    let _ = writeln!(
        out,
        "{name}{{reason=\"per_ip\"}} {}",
        sum(|s| s.connections_refused_per_ip.get() as i64)
    );
    metric(
        &mut out,
        "ringpin_refetches_total",
        "counter",
        "Origin requests made to recover held connections.",
        sum(|s| s.refetches.get() as i64),
    );
    metric(
        &mut out,
        "ringpin_link_fetches_failed_total",
        "counter",
        "Next-link fetches that failed, retries included.",
        sum(|s| s.link_fetches_failed.get() as i64),
    );
    metric(
        &mut out,
        "ringpin_publish_requests_total",
        "counter",
        "Publish requests answered.",
        router.publish_requests.get(),
    );
    metric(
        &mut out,
        "ringpin_items_published_total",
        "counter",
        "Items accepted for publishing.",
        router.items_published.get(),
    );
    metric(
        &mut out,
        "ringpin_channels",
        "gauge",
        "Channels with at least one subscriber.",
        router.channels.get(),
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
    }
}
