//! PeerLimit: how many client connections each source address holds, over all shards.
//!
//! Owns: the per-address count behind `--connections-per-ip-max`, and `PeerSlot`, the guard a
//! connection keeps while it is open.
//! Must not: be touched per request or per delivery; only accept and close use it, and only
//! when the limit is set (the default, no limit, never takes the lock).
//!
//! The kernel spreads one address's connections over the shards (SO_REUSEPORT hashes the
//! source port too), so a per-shard count would let an address hold N times the limit; the
//! count is process-wide instead. It is split over `PEER_LIMIT_STRIPES` mutexes by address,
//! so shards accepting from different addresses rarely meet on one lock.

use crate::limits::PEER_LIMIT_STRIPES;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Open client connections per source address, process-wide.
#[derive(Debug)]
pub struct PeerLimit {
    max: u32,
    stripes: Vec<Mutex<HashMap<IpAddr, u32>>>,
    hasher: std::collections::hash_map::RandomState,
}

/// One open connection counted against its address; dropping it gives the place back.
#[derive(Debug)]
pub struct PeerSlot {
    limit: Arc<PeerLimit>,
    ip: IpAddr,
}

impl PeerLimit {
    /// A limit of `max` connections per address.
    pub fn new(max: u32) -> PeerLimit {
        PeerLimit {
            max,
            stripes: (0..PEER_LIMIT_STRIPES)
                .map(|_| Mutex::new(HashMap::new()))
                .collect(),
            hasher: Default::default(),
        }
    }

    /// The per-address maximum.
    pub fn max(&self) -> u32 {
        self.max
    }

    fn stripe(&self, ip: &IpAddr) -> &Mutex<HashMap<IpAddr, u32>> {
        &self.stripes[self.hasher.hash_one(ip) as usize % self.stripes.len()]
    }

    /// Counts one more connection from `ip`, or `None` when `ip` already holds `max`.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Option<PeerSlot> {
        let mut counts = self.stripe(&ip).lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.max {
            return None;
        }
        *count += 1;
        Some(PeerSlot {
            limit: Arc::clone(self),
            ip,
        })
    }

    /// Connections `ip` holds now.
    pub fn count(&self, ip: IpAddr) -> u32 {
        let counts = self.stripe(&ip).lock().unwrap_or_else(|p| p.into_inner());
        counts.get(&ip).copied().unwrap_or(0)
    }

    fn release(&self, ip: IpAddr) {
        let mut counts = self.stripe(&ip).lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&ip) {
            *count -= 1;
            if *count == 0 {
                // An address with no connection leaves no entry, so the map is bounded by
                // the open connections, not by every address ever seen.
                counts.remove(&ip);
            }
        }
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        self.limit.release(self.ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn an_address_gets_max_slots_and_others_are_not_affected() {
        let limit = Arc::new(PeerLimit::new(2));
        let a1 = limit.try_acquire(ip(2)).expect("first");
        let _a2 = limit.try_acquire(ip(2)).expect("second");
        assert!(limit.try_acquire(ip(2)).is_none(), "third is refused");
        let _b1 = limit.try_acquire(ip(3)).expect("another address");
        drop(a1);
        assert_eq!(limit.count(ip(2)), 1);
        let _a3 = limit
            .try_acquire(ip(2))
            .expect("a closed slot is free again");
        assert!(limit.try_acquire(ip(2)).is_none());
    }

    #[test]
    fn an_address_with_no_connection_leaves_no_entry() {
        let limit = Arc::new(PeerLimit::new(1));
        for last in 0..=255u8 {
            drop(limit.try_acquire(ip(last)).expect("free"));
        }
        let entries: usize = limit.stripes.iter().map(|s| s.lock().unwrap().len()).sum();
        assert_eq!(entries, 0);
    }
}
