//! Per-shard delivery state: who listens on what, and the bytes queued for each connection.
//!
//! Owns: `Subscriptions`, `OutboundQueue`, `ChunkWriter` and the `Sink` of each held connection.
//! Must not: touch sockets, await, read the clock, or import `router` (interest changes are
//! returned as values and forwarded by the shard).

pub mod chunk_writer;
pub mod outbound;
pub mod subscriptions;

pub use chunk_writer::{ChunkWriter, DeliveryReport, OverflowPolicy, Sink, SinkTable, Transport};
pub use outbound::{OutboundQueue, PushOutcome};
pub use subscriptions::{ConnKey, InterestChange, Subscriptions};
