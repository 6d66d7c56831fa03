use super::*;

/// One input to the sequencer and the ids it must release, in order ("-" for an item
/// without an id).
enum Step {
    /// Publish on channel `c` with `id`, `prev-id` (`""` = none) at `ms`; subscribed.
    Pub(
        &'static str,
        &'static str,
        &'static str,
        u64,
        &'static [&'static str],
    ),
    /// The same, with `no-seq`.
    NoSeq(
        &'static str,
        &'static str,
        &'static str,
        u64,
        &'static [&'static str],
    ),
    /// The same, on a channel without subscribers.
    Unsubscribed(
        &'static str,
        &'static str,
        &'static str,
        u64,
        &'static [&'static str],
    ),
    /// `on_timeout` at `ms`.
    Timeout(u64, &'static [&'static str]),
    /// The channel lost its last subscriber.
    Forget(&'static str),
}
use Step::*;

const WAIT_MS: u64 = 1000;
const TTL_MS: u64 = 60_000;

fn item(channel: &str, id: &str, prev_id: &str, no_seq: bool) -> PublishItem {
    let text = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    PublishItem {
        channel: channel.to_owned(),
        id: text(id),
        prev_id: text(prev_id),
        meta: Vec::new(),
        no_seq,
        http_response: None,
        http_stream: None,
        ws_message: None,
    }
}

fn ids(items: &[PublishItem]) -> Vec<String> {
    items
        .iter()
        .map(|i| format!("{}:{}", i.channel, i.id.as_deref().unwrap_or("-")))
        .collect()
}

fn want(channel: &str, list: &[&str]) -> Vec<String> {
    list.iter().map(|id| format!("{channel}:{id}")).collect()
}

fn run(name: &str, steps: &[Step]) {
    let config = SequencerConfig {
        message_wait: Duration::from_millis(WAIT_MS),
        id_cache_ttl: Duration::from_millis(TTL_MS),
    };
    let mut seq = Sequencer::new(config);
    let start = Instant::now();
    let at = |ms: u64| start + Duration::from_millis(ms);
    for (n, step) in steps.iter().enumerate() {
        let (got, expected) = match *step {
            Pub(c, id, prev, ms, out) => (
                seq.on_publish(item(c, id, prev, false), true, at(ms)),
                want(c, out),
            ),
            NoSeq(c, id, prev, ms, out) => (
                seq.on_publish(item(c, id, prev, true), true, at(ms)),
                want(c, out),
            ),
            Unsubscribed(c, id, prev, ms, out) => (
                seq.on_publish(item(c, id, prev, false), false, at(ms)),
                want(c, out),
            ),
            Timeout(ms, out) => (seq.on_timeout(at(ms)), want("c", out)),
            Forget(c) => {
                seq.on_channel_unsubscribed(c);
                continue;
            }
        };
        assert_eq!(ids(&got), expected, "{name}: step {n}");
    }
}

#[test]
fn in_order_items_are_released_at_once() {
    run(
        "in order",
        &[
            Pub("c", "1", "", 0, &["1"]),
            Pub("c", "2", "1", 1, &["2"]),
            Pub("c", "3", "2", 2, &["3"]),
        ],
    );
}

#[test]
fn table_of_sequencing_cases() {
    let cases: &[(&str, &[Step])] = &[
        (
            "out of order: 1, 3 prev 2, 2 prev 1 -> 1, 2, 3",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "3", "2", 1, &[]),
                Pub("c", "2", "1", 2, &["2", "3"]),
            ],
        ),
        (
            "a chain of parked items follows its head",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "4", "3", 1, &[]),
                Pub("c", "3", "2", 2, &[]),
                Pub("c", "2", "1", 3, &["2", "3", "4"]),
            ],
        ),
        (
            "a gap is released at the deadline, not before",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "3", "2", 10, &[]),
                Timeout(10 + WAIT_MS - 1, &[]),
                Timeout(10 + WAIT_MS, &["3"]),
                Pub("c", "4", "3", 2000, &["4"]),
            ],
        ),
        (
            "expired items go out in arrival order with their chains",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "5", "4", 10, &[]),
                Pub("c", "3", "2", 20, &[]),
                Pub("c", "4", "3", 30, &[]),
                Timeout(20 + WAIT_MS, &["5", "3", "4"]),
                Timeout(30 + WAIT_MS, &[]),
            ],
        ),
        (
            "a duplicate id is dropped within the ttl and accepted after it",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "1", "", 5, &[]),
                Pub("c", "1", "", TTL_MS - 1, &[]),
                Pub("c", "1", "", TTL_MS + 5, &["1"]),
            ],
        ),
        (
            "the same id on another channel is not a duplicate",
            &[Pub("c", "1", "", 0, &["1"]), Pub("d", "1", "", 1, &["1"])],
        ),
        (
            "a second parked item with the same prev-id is dropped",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "3", "2", 1, &[]),
                Pub("c", "3b", "2", 2, &[]),
                Pub("c", "2", "1", 3, &["2", "3"]),
                Timeout(10 * WAIT_MS, &[]),
            ],
        ),
        (
            "no-seq bypasses ordering and still sets the last id",
            &[
                Pub("c", "1", "", 0, &["1"]),
                NoSeq("c", "7", "5", 1, &["7"]),
                Pub("c", "8", "7", 2, &["8"]),
            ],
        ),
        (
            "an unknown last id never parks",
            &[
                Pub("c", "9", "8", 0, &["9"]),
                Pub("c", "10", "9", 1, &["10"]),
            ],
        ),
        (
            "an item without an id clears the last id",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "", "", 1, &["-"]),
                Pub("c", "5", "4", 2, &["5"]),
            ],
        ),
        (
            "an item without a prev-id is never parked",
            &[Pub("c", "1", "", 0, &["1"]), Pub("c", "5", "", 1, &["5"])],
        ),
        (
            "a channel without subscribers is neither parked nor remembered",
            &[
                Unsubscribed("c", "1", "0", 0, &["1"]),
                Unsubscribed("c", "3", "2", 1, &["3"]),
                Pub("c", "5", "4", 2, &["5"]),
            ],
        ),
        (
            "an unsubscribed channel forgets its last id and parked items",
            &[
                Pub("c", "1", "", 0, &["1"]),
                Pub("c", "3", "2", 1, &[]),
                Forget("c"),
                Timeout(10 * WAIT_MS, &[]),
                Pub("c", "7", "6", 20_000, &["7"]),
            ],
        ),
    ];
    for (name, steps) in cases {
        run(name, steps);
    }
}

#[test]
fn park_limit_releases_the_oldest_parked_item() {
    let mut seq = Sequencer::new(SequencerConfig::DEFAULT);
    let now = Instant::now();
    assert_eq!(
        ids(&seq.on_publish(item("c", "0", "", false), true, now)),
        ["c:0"]
    );
    for n in 0..SEQUENCE_PARKED_PER_CHANNEL_MAX {
        let (id, prev) = (format!("x{n}"), format!("p{n}"));
        assert!(seq
            .on_publish(item("c", &id, &prev, false), true, now)
            .is_empty());
    }
    assert_eq!(seq.parked_len(), SEQUENCE_PARKED_PER_CHANNEL_MAX);
    let out = seq.on_publish(item("c", "y", "q", false), true, now);
    assert_eq!(
        ids(&out),
        ["c:x0"],
        "one over the limit releases the oldest"
    );
    assert_eq!(seq.parked_len(), SEQUENCE_PARKED_PER_CHANNEL_MAX);
    assert_eq!(seq.counts.released_unordered, 1);
}

#[test]
fn next_deadline_is_the_earliest_parked_deadline() {
    let mut seq = Sequencer::new(SequencerConfig::DEFAULT);
    let now = Instant::now();
    assert_eq!(seq.next_deadline(), None);
    seq.on_publish(item("a", "1", "", false), true, now);
    seq.on_publish(item("b", "1", "", false), true, now);
    seq.on_publish(
        item("b", "3", "2", false),
        true,
        now + Duration::from_millis(5),
    );
    seq.on_publish(
        item("a", "3", "2", false),
        true,
        now + Duration::from_millis(9),
    );
    let wait = SequencerConfig::DEFAULT.message_wait;
    assert_eq!(
        seq.next_deadline(),
        Some(now + Duration::from_millis(5) + wait)
    );
    seq.on_publish(
        item("b", "2", "1", false),
        true,
        now + Duration::from_millis(10),
    );
    assert_eq!(
        seq.next_deadline(),
        Some(now + Duration::from_millis(9) + wait)
    );
}

#[test]
fn id_cache_and_last_ids_stay_bounded() {
    let config = SequencerConfig {
        message_wait: Duration::from_secs(5),
        id_cache_ttl: Duration::from_secs(3600),
    };
    let mut seq = Sequencer::new(config);
    let now = Instant::now();
    for n in 0..ID_CACHE_ENTRIES_MAX + 10 {
        let channel = format!("ch{}", n % 7);
        seq.on_publish(item(&channel, &n.to_string(), "", false), true, now);
    }
    assert_eq!(seq.id_cache_len(), ID_CACHE_ENTRIES_MAX);
    assert_eq!(seq.last_id_len(), 7);
    for n in 0..7 {
        seq.on_channel_unsubscribed(&format!("ch{n}"));
    }
    assert_eq!(seq.last_id_len(), 0);
}

#[test]
fn zero_ttl_turns_de_duplication_off() {
    let config = SequencerConfig {
        message_wait: Duration::from_secs(5),
        id_cache_ttl: Duration::ZERO,
    };
    let mut seq = Sequencer::new(config);
    let now = Instant::now();
    assert_eq!(
        seq.on_publish(item("c", "1", "", false), true, now).len(),
        1
    );
    assert_eq!(
        seq.on_publish(item("c", "1", "", false), true, now).len(),
        1
    );
    assert_eq!(seq.id_cache_len(), 0);
}

#[test]
fn recover_forgets_last_ids_so_the_next_item_is_not_parked() {
    let mut seq = Sequencer::new(SequencerConfig::DEFAULT);
    let now = Instant::now();
    assert_eq!(
        ids(&seq.on_publish(item("c", "1", "", false), true, now)),
        ["c:1"]
    );
    assert_eq!(seq.last_id_len(), 1);

    seq.forget_last_ids();

    assert_eq!(seq.last_id_len(), 0);
    assert_eq!(
        ids(&seq.on_publish(item("c", "5", "4", false), true, now)),
        ["c:5"]
    );
}
