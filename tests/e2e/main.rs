//! Black-box tests: the real `ringpin` binary, a real origin and real clients on loopback.
//!
//! What belongs here: behaviour a client, an origin or a publisher can observe on the wire,
//! checked against Pushpin 1.36 (`PUSHPIN.md`) and ringpin's documented differences
//! (`DESIGN.md` §4). Each test starts its own ringpin (`--shards 2`) and origin, speaks raw
//! bytes, and is named as a sentence about that behaviour.
//!
//! What does not: parsing or state-machine cases (unit tests in the pure modules), randomised
//! interleavings (`tests/sim`), byte-level robustness (`tests/fuzz`), and timing: a test asserts
//! only that something arrives before a generous deadline, never how fast.
//!
//! The contract these tests rely on (flags, readiness, `/metrics` names) is written at the top
//! of `support/mod.rs`.

mod support;

mod browser;
mod cors_jsonp;
mod django_eventstream;
mod filters;
mod grip_edges;
mod hostile_clients;
mod hostile_origin;
mod hostile_publish;
mod http_edges;
mod logging;
mod malformed_input;
mod memory_bound;
mod multi_shard;
mod next_links;
mod proxy;
mod publish_api;
mod publish_auth;
mod publish_cmd;
mod recovery;
mod relay_streaming;
mod response_hold;
mod routes_config;
mod sequencing;
mod shutdown;
mod slow_consumer;
mod sse;
mod startup;
mod status_page;
mod stream_hold;
mod tls;
mod websocket;
mod ws_compression;
mod ws_control;
mod ws_memory;
mod ws_over_http;
mod ws_passthrough;
mod zmq_input;
mod zmq_scaleout;
mod zmq_sessions;
