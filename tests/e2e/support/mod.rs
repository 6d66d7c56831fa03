//! Support for the black-box suite: the ringpin process (`proxy.rs`), a scripted GRIP origin
//! (`backend.rs`), raw HTTP clients with deadlines (`client.rs`), the routes/conf files a
//! test hands to ringpin (`files.rs`), the real Django origin of `tests/django/`
//! (`django.rs`), a WebSocket client (`ws_client.rs`), a WebSocket-over-HTTP origin
//! (`woh.rs`), a plain WebSocket origin (`ws_backend.rs`), headless Chromium driven by
//! playwright-core (`browser.rs`), hosts of their own for several
//! ringpins (`hosts.rs`: network namespaces, else loopback addresses) and pubcontrol's and
//! gripcontrol's ZeroMQ publishing run in Python (`publisher.rs`).
//!
//! This doc is the contract between the suite and the server. The server implements exactly
//! what is written here; a change on either side changes this text first.
//!
//! # Command line (DESIGN.md §4)
//!
//! Every test runs:
//! `ringpin --listen 127.0.0.1:P --publish-listen 127.0.0.1:Q --shards 2 --log-level debug
//! --route "* 127.0.0.1:B"` (the route is one argv element), plus, in some tests:
//! - `--sig-key KEY`: HS256 key of the `Grip-Sig` sent to origins (default `changeme`;
//!   issuer `pushpin`, `exp` = now + 3600).
//! - `--x-forwarded-for append`: append the client address to `X-Forwarded-For`, joined with `, `.
//! - `--outbound-bytes-max N`: bytes a connection may have queued inside ringpin (beyond what
//!   the kernel socket buffer took) before the slow-client policy applies.
//! - `--outbound-items-max N`: the same bound counted in published items.
//! - `--slow-client close|drop`: what a full queue does. `close` closes that client's connection
//!   and counts it in `ringpin_slow_clients_closed_total`; `drop` refuses the items that do not
//!   fit, whole items only (never a partial chunk), counts each in
//!   `ringpin_deliveries_dropped_total`, and keeps the connection; later items are delivered once
//!   the queue has room. Either way other subscribers are not delayed.
//!
//! - `--ws-message-bytes-max N`: the largest WebSocket message (and frame) a client may send;
//!   a larger one gets close code 1009.
//!
//! WebSocket tests route with `--route "* 127.0.0.1:B,over_http"` (WebSocket-over-HTTP,
//! `woh.rs` is the origin) and talk to ringpin with tungstenite (`ws_client.rs`). A WebSocket
//! subscription made by a `c:` control message counts in `ringpin_subscriptions` like a hold.
//!
//! Tests that exercise configuration (`Proxy::start_with`) replace everything after
//! `--shards 2 --log-level debug` with their own argv, e.g. `--routes FILE` (Pushpin's routes
//! syntax, PUSHPIN.md §1.1-1.3; the file is re-read on SIGHUP, and when it changes, once it has
//! stayed unchanged for 2 s; a bad line is skipped, the rest load; a reload with no valid route
//! is refused and the old routes stay) or
//! `--config pushpin.conf` (`[runner] http_port`, `[proxy] routesfile` relative to the conf
//! file's directory, `[handler] push_in_http_port`) with no `--listen`/`--publish-listen`.
//!
//! Tests of a scaled-out deployment (`Proxy::start_on`) run each ringpin on a host of its own
//! (`hosts.rs`), with both listeners, its route's origin and its ZeroMQ specs
//! (`--push-in-spec`, `--push-in-sub-spec`, `--command-spec`) on that host's addresses.
//!
//! Readiness: ringpin is up once both `--listen` and `--publish-listen` accept TCP connections
//! (polled for 10 s). Exiting before that fails the attempt; the harness retries with new ports
//! up to 3 times, since a port found free may be taken before ringpin binds it.
//! Stop: SIGTERM; ringpin must exit within 10 s, else it gets SIGKILL. Exiting on its own during
//! a test fails that test. SIGTERM drains (`shutdown.rs`): every held stream ends with its
//! terminating chunk, every held response is answered with its timeout response, and the exit
//! status is 0. Once it has exited, its ports are free at once: a ringpin restarted on them
//! (`Proxy::start_at`, as a service manager restarts it) binds them (`shutdown.rs`).
//! Logs: stderr only, captured to a file in a temp dir; its tail is printed when a test fails.
//! Every log line is `TIMESTAMP LEVEL [thread] message`, one line per event, the timestamp in
//! RFC 3339 UTC with milliseconds (`2026-12-06T15:41:37.123Z`) and the level one of `ERROR`,
//! `WARN`, `INFO`, `DEBUG`, `TRACE` (`logging.rs`); an access line names the path and `->`
//! the target. No other test parses log lines, with two exceptions: a publish listener
//! bound to an address that is not loopback logs a `WARN` line at start that names `publish`
//! and `authentication` (`http_edges.rs`); and `hostile_clients.rs` bounds how many lines a
//! flood produces by counting lines that contain a fixed text, so a refusal at
//! `--connections-per-ip-max` names that flag, and a failed client or publish `accept` says
//! `accept failed`.
//!
//! # `GET /metrics` on the publish listener
//!
//! `200` with Prometheus text exposition: `name value` or `name{labels} value` lines; `#` lines
//! are ignored. The suite sums every sample of a name over all label sets, so labels (a
//! `reason`, a `transport`) are free. All five names are present from start-up, `0` when idle:
//!
//! | name | type | meaning |
//! |---|---|---|
//! | `ringpin_subscriptions` | gauge | (subscriber connection, channel) pairs held now, all shards, stream and response holds. `Grip-Channel: a, b` on one hold counts 2. |
//! | `ringpin_deliveries_total` | counter | published items handed to a subscriber connection, one per item per subscriber |
//! | `ringpin_deliveries_dropped_total` | counter | deliveries refused because the subscriber's queue was full (`--slow-client drop`) |
//! | `ringpin_slow_clients_closed_total` | counter | connections closed by `--slow-client close` |
//! | `ringpin_connections` | gauge | open client connections on `--listen` (not publish connections) |
//!
//! The ZeroMQ inputs add `ringpin_items_received_total{input="zmq_pull"|"zmq_sub"|...}`
//! (counter: valid items received, by input; a test may read one label set alone, written
//! exactly so) and `ringpin_zmq_subscriptions` (gauge: channels the SUB input subscribes to
//! now; counted once the subscription is set on the socket).
//!
//! Also: `ringpin_shards` (gauge), the number of shard threads running (`--shards`), and
//! `ringpin_connections_refused_total` (counter), client connections closed at once after
//! accept, with `reason="capacity"` (the shard's connection cap) or `reason="per_ip"`
//! (`--connections-per-ip-max`).
//!
//! ## The subscription race, and what `ringpin_subscriptions` promises
//!
//! A client has its stream's initial response before its subscription has reached the publish
//! router, so a publish sent at once could miss it. Tests therefore call
//! `wait_subscribed(&proxy, n)`, which polls `/metrics` until `ringpin_subscriptions >= n`. So
//! that this is enough, a subscription is counted only once any publish that `/publish/`
//! accepts afterwards is certain to be delivered to it (for example: the shard increments the
//! gauge only after the router has applied its interest change, or the router and the gauge
//! read are ordered through the same inbox). It is decremented when the hold ends: a response
//! hold answered or timed out, a stream closed, or the client gone (EOF or a write error).
//!
//! # Publish endpoint
//!
//! `POST /publish/` with Pushpin's JSON (PUSHPIN.md §3.1-3.2) answers `200 Published\n`;
//! errors and content negotiation are as Pushpin 1.36 (`publish_api.rs` lists the cases).
//! Like Pushpin, the reply may precede delivery, but ordering must survive it: the items of a
//! publish that has been answered are delivered, on each channel, before the items of any
//! publish sent after that answer. Tests publish sequentially and expect that order (so the
//! handoff to the router happens before the reply, through one ordered path per channel).

mod backend;
mod browser;
mod client;
mod django;
mod files;
mod hosts;
mod proxy;
mod publisher;
pub mod tls;
pub mod woh;
pub mod ws_backend;
mod ws_client;

pub use backend::{
    pattern_body, sign_jwt, verify_grip_sig, Backend, BackendRequest, BackendResponse,
};
pub use browser::Browser;
pub use client::{
    assert_same_bytes, find, get, get_request, preview, raw_response, request, Conn, Response,
    SseClient, StreamClient, DEADLINE,
};
pub use django::{Django, DjangoSite};
pub use files::TempDir;
pub use hosts::{Host, Hosts};
pub use proxy::{
    free_port, metric, metrics, parse_metric, publish, publish_ok, publish_request, response_item,
    stream_close_item, stream_item, wait_metric, wait_subscribed, Ports, Proxy, EXIT_TIMEOUT,
    METRIC_NAMES,
};
pub use publisher::Publisher;
pub use ws_client::{ws_connect, ws_reject};
