//! The live status page on the publish/control listener: `GET /status` (one HTML page, no
//! external assets) and `GET /status/events`, ringpin's own Server-Sent Events stream of its
//! counters, which the page reads, so the page also shows ringpin serving SSE.
//!
//! Owns: the page, the JSON snapshot of the counters (`snapshot`), and serving one events
//! stream: a snapshot every `STATUS_EVENT_INTERVAL` until the client leaves or stalls for
//! `STATUS_WRITE_TIMEOUT`, at most `STATUS_STREAMS_MAX` streams at once.
//! Must not: compute rates (the page does, from successive snapshots) or keep history.

use super::top_channels::TopChannels;
use crate::limits::{STATUS_EVENT_INTERVAL, STATUS_TOP_CHANNELS_SHOWN, STATUS_WRITE_TIMEOUT};
use crate::netio::Conn;
use crate::stats::{RouterCounters, ShardCounters};
use serde_json::{json, Value};
use std::sync::Arc;

/// The counters of every shard and of the router, and the busiest channels, as one JSON
/// object; `unix_ms` is when it was taken.
pub(super) fn snapshot(
    shards: &[Arc<ShardCounters>],
    router: &RouterCounters,
    top: &TopChannels,
    unix_ms: u64,
) -> Value {
    let sum = |f: fn(&ShardCounters) -> i64| shards.iter().map(|s| f(s)).sum::<i64>();
    let per_shard: Vec<Value> = (shards.iter())
        .map(|s| {
            json!({
                "connections": s.connections.get(),
                "subscriptions": s.subscriptions.get(),
                "deliveries": s.deliveries.get(),
            })
        })
        .collect();
    let busiest: Vec<Value> = (top.top(STATUS_TOP_CHANNELS_SHOWN).into_iter())
        .map(|(channel, items, over)| json!({"channel": channel, "items": items, "over": over}))
        .collect();
    json!({
        "unix_ms": unix_ms,
        "connections": sum(|s| s.connections.get()),
        "held_streams": sum(|s| s.held_streams.get()),
        "held_responses": sum(|s| s.held_responses.get()),
        "held_websockets": sum(|s| s.held_websockets.get()),
        "subscriptions": sum(|s| s.subscriptions.get()),
        "channels": router.channels.get(),
        "deliveries": sum(|s| s.deliveries.get() as i64),
        "deliveries_dropped": sum(|s| s.deliveries_dropped.get() as i64),
        "slow_clients_closed": sum(|s| s.slow_clients_closed.get() as i64),
        "items_published": router.items_published.get(),
        "publish_requests": router.publish_requests.get(),
        "shards": per_shard,
        "busiest_channels": busiest,
    })
}

/// The head of the events stream, which is chunked like a held stream.
pub(super) const EVENTS_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\
Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n";

/// Writes a snapshot from `next` every `STATUS_EVENT_INTERVAL` until the client leaves, or
/// takes longer than `STATUS_WRITE_TIMEOUT` to accept one.
pub(super) async fn stream_events(conn: &mut Conn, mut next: impl FnMut() -> Value) {
    let _ = conn.set_write_timeout(Some(STATUS_WRITE_TIMEOUT));
    if conn.write_all(EVENTS_HEAD).await.is_err() {
        return;
    }
    loop {
        let event = format!("event: counters\ndata: {}\n\n", next());
        let mut chunk = Vec::with_capacity(event.len() + 16);
        crate::http::encode_chunk_into(event.as_bytes(), &mut chunk);
        if conn.write_all(&chunk).await.is_err() {
            return;
        }
        glommio::timer::sleep(STATUS_EVENT_INTERVAL).await;
    }
}

/// The page: tables of the current counters, a chart of deliveries and publishes per second
/// over the last five minutes, per-shard load and the busiest channels. It connects to
/// `/status/events` with the page's own query (so `?access_token=…` carries over).
pub(super) const PAGE_HTML: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ringpin status</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222;max-width:60em}
h1{font-size:1.3em}h2{font-size:1.05em;margin-top:1.5em}
table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:right;border-bottom:1px solid #ddd}
th:first-child,td:first-child{text-align:left}#state{color:#777}
canvas{border:1px solid #ddd;width:100%;height:180px}
</style></head><body>
<h1>ringpin status <span id="state">connecting…</span></h1>
<table id="totals"></table>
<h2>Last five minutes (per second: <b style="color:#1565c0">deliveries</b>, <b style="color:#c62828">items published</b>)</h2>
<canvas id="chart" width="900" height="180"></canvas>
<h2>Shards</h2><table id="shards"></table>
<h2>Busiest channels (items published)</h2><table id="channels"></table>
<script>
"use strict";
const HISTORY = 300, history = [];
let last = null;
const cell = (tag, text) => { const e = document.createElement(tag); e.textContent = text; return e; };
function rows(id, header, data) {
  const t = document.getElementById(id); t.replaceChildren();
  const h = document.createElement("tr"); header.forEach(x => h.appendChild(cell("th", x))); t.appendChild(h);
  data.forEach(r => { const tr = document.createElement("tr"); r.forEach(x => tr.appendChild(cell("td", x))); t.appendChild(tr); });
}
function draw() {
  const c = document.getElementById("chart"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  const max = Math.max(1, ...history.map(p => Math.max(p.d, p.p)));
  for (const [key, color] of [["d", "#1565c0"], ["p", "#c62828"]]) {
    g.strokeStyle = color; g.beginPath();
    history.forEach((p, i) => {
      const x = c.width * (i + HISTORY - history.length) / (HISTORY - 1), y = c.height - 4 - (c.height - 8) * p[key] / max;
      i ? g.lineTo(x, y) : g.moveTo(x, y);
    });
    g.stroke();
  }
  g.fillStyle = "#777"; g.fillText(max.toFixed(0) + "/s", 4, 12);
}
function show(s) {
  let rate = {d: 0, p: 0};
  if (last) {
    const dt = Math.max(0.001, (s.unix_ms - last.unix_ms) / 1000);
    rate = {d: (s.deliveries - last.deliveries) / dt, p: (s.items_published - last.items_published) / dt};
    history.push(rate); if (history.length > HISTORY) history.shift();
  }
  last = s;
  rows("totals", ["", "now"], [
    ["connections", s.connections], ["held streams", s.held_streams], ["held long-polls", s.held_responses],
    ["WebSockets", s.held_websockets], ["subscriptions", s.subscriptions], ["channels", s.channels],
    ["deliveries/s", rate.d.toFixed(1)], ["items published/s", rate.p.toFixed(1)],
    ["deliveries dropped", s.deliveries_dropped], ["slow clients closed", s.slow_clients_closed]]);
  rows("shards", ["shard", "connections", "subscriptions", "deliveries"],
    s.shards.map((x, i) => [i, x.connections, x.subscriptions, x.deliveries]));
  rows("channels", ["channel", "items", "may be over by"],
    s.busiest_channels.map(x => [x.channel, x.items, x.over]));
  draw();
}
const events = new EventSource("/status/events" + location.search);
events.addEventListener("counters", e => { document.getElementById("state").textContent = "live"; show(JSON.parse(e.data)); });
events.onerror = () => { document.getElementById("state").textContent = "reconnecting…"; };
</script></body></html>
"##;
