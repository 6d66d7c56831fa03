//! Counters and their Prometheus rendering.

pub mod counters;
pub mod prometheus;

pub use counters::{Counter, Gauge, Input, InputCounters, RouterCounters, ShardCounters};
