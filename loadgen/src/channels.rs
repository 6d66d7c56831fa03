//! Channels: which GRIP channel each subscriber holds and which publisher thread owns each
//! channel, for `run --channels K` and `run --rate R --publishers P`.
//!
//! Owns: the channel naming rule and the two ownership maps (subscriber → channel,
//! channel → publisher thread).
//! Must not: do I/O.
//! Invariants: with K = 1 the one channel is the base name itself (`--channel`, as before
//! `--channels` existed), so single-channel runs publish and subscribe byte for byte as
//! they did; with K > 1 channel c is `BASE-c`. Channel c is published only by thread
//! `c mod P`, so one thread sends every item of a channel, in order.

/// The name of channel `index` of `count` channels named after `base`.
pub fn channel_name(base: &str, count: u64, index: u64) -> String {
    if count == 1 {
        base.to_string()
    } else {
        format!("{base}-{index}")
    }
}

/// The channel subscriber `global` (its index over all workers) holds.
pub fn channel_of_subscriber(global: u64, count: u64) -> u64 {
    global % count.max(1)
}

/// The publisher thread that sends every item of channel `channel`.
pub fn owner_of_channel(channel: u64, publishers: u64) -> u64 {
    channel % publishers.max(1)
}

/// The channels publisher thread `thread` owns, in ascending order.
pub fn channels_of_thread(thread: u64, count: u64, publishers: u64) -> Vec<u64> {
    (0..count)
        .filter(|&c| owner_of_channel(c, publishers) == thread)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_channel_keeps_the_base_name_and_many_are_numbered() {
        assert_eq!(channel_name("loadgen", 1, 0), "loadgen");
        assert_eq!(channel_name("loadgen", 20, 0), "loadgen-0");
        assert_eq!(channel_name("loadgen", 20, 19), "loadgen-19");
    }

    #[test]
    fn subscribers_take_channels_in_turn() {
        let got: Vec<u64> = (0..7).map(|i| channel_of_subscriber(i, 3)).collect();
        assert_eq!(got, [0, 1, 2, 0, 1, 2, 0]);
        assert_eq!(channel_of_subscriber(12345, 1), 0);
    }

    #[test]
    fn every_channel_has_exactly_one_owner_thread() {
        for (count, publishers) in [(1, 1), (20, 3), (10_000, 4), (7, 7)] {
            let mut seen = vec![0u32; count as usize];
            for t in 0..publishers {
                for c in channels_of_thread(t, count, publishers) {
                    assert_eq!(owner_of_channel(c, publishers), t);
                    seen[c as usize] += 1;
                }
            }
            assert!(seen.iter().all(|&n| n == 1), "{count} over {publishers}");
        }
        assert_eq!(channels_of_thread(1, 10, 4), [1, 5, 9]);
    }
}
