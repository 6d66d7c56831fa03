//! random_u64: the one source of random numbers for the shard's I/O code.
//!
//! Owns: drawing 64 unpredictable bits for keep-alive and retry jitter, `Connection-Id`s and
//! WebSocket masks.
//! Must not: be used by pure modules; they take their random numbers as arguments, so their
//! tests are deterministic.

use std::hash::{BuildHasher, Hasher};

/// 64 unpredictable bits: std's random hash keys (seeded from the OS once per thread, and
/// stepped on every call) over the current time.
pub fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    hasher.write_u128(nanos);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_differ_even_within_one_clock_tick() {
        let draws: std::collections::HashSet<u64> = (0..1000).map(|_| random_u64()).collect();
        assert_eq!(draws.len(), 1000);
    }
}
