//! Per-shard delivery state: who listens on what, and the bytes queued for each connection.
//!
//! Owns: `Subscriptions`, `OutboundQueue`, `ChunkWriter`, the `Sink` of each held connection
//! and its `Recovery` (id tracking and refetch requests) when it has one.
//! Must not: touch sockets, await, read the clock, or import `router` (interest changes are
//! returned as values and forwarded by the shard).

pub mod chunk_writer;
pub mod outbound;
pub mod recovery;
pub mod subscriptions;
pub mod transport;

pub use chunk_writer::{ChunkWriter, DeliveryReport, OverflowPolicy, Sink, SinkTable, Transport};
pub use outbound::{OutboundQueue, PushOutcome};
pub use recovery::{Recovery, RefetchReason, Verdict};
pub use subscriptions::{ConnKey, InterestChange, Subscriptions};
