//! Soak: `ringpin-loadgen soak`, a fault-injection run against a ringpin it starts itself.
//!
//! A soak holds N subscribers of every transport (HTTP stream, SSE, long-poll, WebSocket
//! over HTTP) through ringpin, publishes numbered items at a steady rate into many
//! channels, and meanwhile injects faults at seeded random times: client disconnects
//! (half RST, half FIN) with replacements, slow readers, backend restarts and hangs,
//! SIGHUP with good and broken routes, malformed requests and broken WebSocket frames.
//! It then checks that every healthy subscriber got every item of its channel in order
//! and once, that no connection panicked and ringpin survived, that ringpin's RSS and
//! descriptors stayed flat, and that every fault got the answer it must; it writes
//! `soak.json`, `soak.md`, `rss.svg` and `fds.svg`, and exits nonzero on any failure.
//!
//! Processes: the controller (this subcommand; `controller.rs`), the GRIP backend
//! (`soak-backend`, `backend.rs`), ringpin, and the workers (`soak-worker`, `worker.rs`).
//! Owns: the soak, start to end.
//! Must not: depend on the ringpin library, or signal a process it did not start.

mod backend;
mod census;
mod controller;
mod faults;
mod fleet;
mod item;
mod os;
mod plan;
mod plot;
mod probes;
mod processes;
mod publish;
mod report;
mod rng;
mod sampler;
mod schedule;
mod state_file;
mod subscriber;
mod verdict;
mod wire;
mod worker;
mod worker_conn;

pub(crate) use backend::main as backend_main;
pub(crate) use controller::main;
pub(crate) use worker::main as worker_main;
