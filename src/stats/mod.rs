//! Counters and their Prometheus rendering.

pub mod counters;
pub mod histogram;
pub mod prometheus;

pub use counters::{Counter, Gauge, Input, InputCounters, RouterCounters, ShardCounters};
pub use histogram::Histogram;
