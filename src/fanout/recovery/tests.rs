//! Tests of the per-connection recovery verdicts.

use super::*;
use crate::publish::format::encode_item;

fn item(channel: &str, id: Option<&str>, prev: Option<&str>, action: &str) -> Arc<EncodedItem> {
    let mut value = serde_json::json!({
        "channel": channel,
        "formats": {
            "http-stream": if action == "hint" { serde_json::json!({"action": "hint"}) } else { serde_json::json!({"content": "x"}) },
            "http-response": if action == "hint" { serde_json::json!({"action": "hint"}) } else { serde_json::json!({"body": "x"}) },
        }
    });
    if let Some(id) = id {
        value["id"] = id.into();
    }
    if let Some(prev) = prev {
        value["prev-id"] = prev.into();
    }
    if action == "no-seq" {
        value["no-seq"] = true.into();
    }
    let body = serde_json::json!({ "items": [value] }).to_string();
    let parsed = crate::publish::parse_items(body.as_bytes()).expect("valid item");
    Arc::new(encode_item(parsed.into_iter().next().expect("one item")))
}

fn send(channel: &str, id: &str, prev: &str) -> Arc<EncodedItem> {
    item(channel, Some(id), Some(prev), "send")
}

const STREAM: Transport = Transport::HttpStreamChunked;

#[test]
fn items_that_follow_are_delivered_and_advance_the_last_id() {
    let mut r = Recovery::new(vec![("c".into(), Some("1".into()))], 10);
    assert_eq!(r.on_item(STREAM, &send("c", "2", "1")), Verdict::Deliver);
    assert_eq!(r.on_item(STREAM, &send("c", "3", "2")), Verdict::Deliver);
    assert_eq!(r.last_ids(), vec![("c".to_owned(), "3".to_owned())]);
}

#[test]
fn a_gap_wants_a_refetch_and_keeps_later_items_aside_in_order() {
    let mut r = Recovery::new(vec![("c".into(), Some("1".into()))], 10);
    assert_eq!(r.on_item(STREAM, &send("c", "4", "3")), Verdict::Wake);
    assert_eq!(r.wanted, Some(RefetchReason::Gap));
    assert_eq!(r.on_item(STREAM, &send("c", "5", "4")), Verdict::Held);
    assert_eq!(r.last_ids(), vec![("c".to_owned(), "1".to_owned())]);
    assert_eq!(r.start_fetch(), Some(RefetchReason::Gap));
    assert_eq!(r.on_item(STREAM, &send("c", "6", "5")), Verdict::Held);
    let aside = r.finish_fetch(Some(vec![("c".into(), Some("3".into()))]));
    let ids: Vec<_> = aside
        .iter()
        .map(|i| i.id.clone().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["4", "5", "6"]);
    for item in &aside {
        assert_eq!(r.on_item(STREAM, item), Verdict::Deliver);
    }
    assert_eq!(r.last_ids(), vec![("c".to_owned(), "6".to_owned())]);
}

#[test]
fn set_aside_items_the_answer_already_covered_are_discarded_without_a_new_refetch() {
    let mut r = Recovery::new(vec![("c".into(), Some("2".into()))], 10);
    assert_eq!(r.on_item(STREAM, &send("c", "4", "3")), Verdict::Wake);
    assert_eq!(r.on_item(STREAM, &send("c", "5", "4")), Verdict::Held);
    assert_eq!(r.start_fetch(), Some(RefetchReason::Gap));
    // The origin's answer contained 3 and 4 and says it is at 4: only 5 still follows.
    let aside = r.finish_fetch(Some(vec![("c".into(), Some("4".into()))]));
    let ids: Vec<_> = aside
        .iter()
        .map(|i| i.id.clone().unwrap_or_default())
        .collect();
    assert_eq!(ids, ["5"]);
    for item in &aside {
        assert_eq!(r.on_item(STREAM, item), Verdict::Deliver);
    }
    assert_eq!(r.wanted, None);
    // An answer that is still behind drops what does not follow; the next live item
    // finds the gap again.
    r.want(RefetchReason::Hint);
    r.start_fetch();
    assert_eq!(r.on_item(STREAM, &send("c", "7", "6")), Verdict::Held);
    assert!(r.finish_fetch(None).is_empty());
    assert_eq!(r.on_item(STREAM, &send("c", "8", "7")), Verdict::Wake);
}

#[test]
fn unchecked_channels_no_seq_items_and_items_without_prev_id_pass() {
    let mut r = Recovery::new(vec![("a".into(), None), ("b".into(), Some("1".into()))], 10);
    assert_eq!(r.on_item(STREAM, &send("a", "9", "7")), Verdict::Deliver);
    assert_eq!(
        r.on_item(STREAM, &item("b", Some("5"), None, "send")),
        Verdict::Deliver
    );
    assert_eq!(
        r.on_item(STREAM, &item("b", Some("8"), Some("7"), "no-seq")),
        Verdict::Deliver
    );
    assert_eq!(r.last_ids(), vec![("b".to_owned(), "5".to_owned())]);
}

#[test]
fn hints_want_a_refetch_once_for_the_transport_they_name() {
    let mut r = Recovery::new(vec![("c".into(), None)], 10);
    let hint = item("c", None, None, "hint");
    assert_eq!(r.on_item(Transport::HttpResponse, &hint), Verdict::Wake);
    assert_eq!(r.on_item(Transport::HttpResponse, &hint), Verdict::Held);
    assert_eq!(r.wanted, Some(RefetchReason::Hint));
    let mut ws = Recovery::new(vec![("c".into(), None)], 10);
    assert_eq!(ws.on_item(Transport::WebSocket, &hint), Verdict::Deliver);
}

#[test]
fn the_aside_list_is_bounded_and_counts_what_it_refuses() {
    let mut r = Recovery::new(vec![("c".into(), Some("0".into()))], 2);
    assert_eq!(r.want(RefetchReason::Recover), Verdict::Wake);
    for n in 1..=5 {
        let id = n.to_string();
        let prev = (n - 1).to_string();
        assert_eq!(r.on_item(STREAM, &send("c", &id, &prev)), Verdict::Held);
    }
    assert_eq!(r.refused, 3);
    assert_eq!(r.finish_fetch(None).len(), 2);
    let mut long_poll = Recovery::new(vec![("c".into(), Some("0".into()))], 1);
    let poll = Transport::HttpResponse;
    assert_eq!(long_poll.on_item(poll, &send("c", "2", "1")), Verdict::Wake);
    assert_eq!(long_poll.on_item(poll, &send("c", "1", "0")), Verdict::Held);
    assert_eq!(long_poll.on_item(poll, &send("c", "3", "2")), Verdict::Held);
    assert_eq!(long_poll.refused, 0, "a long-poll counts no drops");
    let kept = long_poll.finish_fetch(None);
    let ids: Vec<_> = kept
        .iter()
        .map(|i| i.id.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        ids,
        ["1"],
        "not the gap item: the first one that came during the replay"
    );
}

#[test]
fn refresh_is_skipped_only_when_every_channel_received_an_item() {
    let mut r = Recovery::new(vec![("a".into(), None), ("b".into(), None)], 10);
    r.on_item(STREAM, &item("a", None, None, "send"));
    assert!(!r.take_all_received());
    r.on_item(STREAM, &item("a", None, None, "send"));
    r.on_item(STREAM, &item("b", None, None, "send"));
    assert!(r.take_all_received());
    assert!(!r.take_all_received(), "reset after each check");
}

/// A seeded xorshift step.
fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

/// One random life of a linked stream: items published in order, some lost before they reach
/// the shard, hints, refetches that start and end at random, and origin answers that cover
/// the items up to a random point at or after what the client has.
/// The items a simulation publishes, built once: parsing JSON per step would take minutes.
struct SimItems {
    /// `sends[n - 1]` has id n and prev-id n - 1.
    sends: Vec<Arc<EncodedItem>>,
    hint: Arc<EncodedItem>,
    /// An item on the channel that follows nothing.
    stray: Arc<EncodedItem>,
}

const SIM_STEPS: u64 = 300;

fn sim_items() -> SimItems {
    let sends = (1..=SIM_STEPS)
        .map(|n| send("c", &n.to_string(), &(n - 1).to_string()))
        .collect();
    SimItems {
        sends,
        hint: item("c", None, None, "hint"),
        stray: send("c", "x", "y"),
    }
}

fn simulate_stream(seed: u64, items: &SimItems) {
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let aside_max = 1 + (xorshift(&mut rng) % 8) as usize;
    let mut r = Recovery::new(vec![("c".into(), Some("0".into()))], aside_max);
    // The highest id the client has, from a delivery or from an answer's body.
    let mut seen = 0u64;
    let mut published = 0u64;
    let mut seen_at_start = 0u64;
    let delivered = |id: u64, seen: &mut u64| {
        assert_eq!(
            id,
            *seen + 1,
            "seed {seed}: {id} after {seen}: a gap, twice or reordered"
        );
        *seen = id;
    };
    for _ in 0..SIM_STEPS {
        match xorshift(&mut rng) % 8 {
            0..=3 => {
                published += 1;
                if xorshift(&mut rng) % 6 == 0 {
                    continue; // lost on the way: the next item shows the gap
                }
                let idle = r.wanted.is_none() && !r.fetching;
                let next = &items.sends[published as usize - 1];
                let verdict = r.on_item(STREAM, next);
                if verdict == Verdict::Deliver {
                    delivered(published, &mut seen);
                } else if idle && published == seen + 1 {
                    panic!("seed {seed}: {published} follows {seen} but got {verdict:?}");
                }
            }
            4 => {
                assert_ne!(
                    r.on_item(STREAM, &items.hint),
                    Verdict::Deliver,
                    "seed {seed}"
                );
            }
            5 if !r.fetching => {
                seen_at_start = seen;
                let wanted = r.wanted;
                assert_eq!(r.start_fetch(), wanted, "seed {seed}");
                assert_eq!(r.fetching, wanted.is_some(), "seed {seed}");
            }
            _ if r.fetching => {
                // The answer's body is appended after what the client already has, so
                // nothing may have been delivered while the fetch ran.
                assert_eq!(
                    seen, seen_at_start,
                    "seed {seed}: delivered during a refetch"
                );
                let answered_to = seen + xorshift(&mut rng) % (published - seen + 1);
                seen = answered_to;
                let last = Some(answered_to.to_string());
                let aside = r.finish_fetch(Some(vec![("c".into(), last)]));
                assert!(aside.len() <= aside_max, "seed {seed}");
                assert!(!r.fetching && r.wanted.is_none(), "seed {seed}");
                for item in &aside {
                    let id: u64 = item.id.as_deref().unwrap_or("0").parse().unwrap_or(0);
                    if r.on_item(STREAM, item) == Verdict::Deliver {
                        delivered(id, &mut seen);
                    }
                }
            }
            _ => {}
        }
        if r.wanted.is_some() || r.fetching {
            assert_eq!(
                r.on_item(STREAM, &items.stray),
                Verdict::Held,
                "seed {seed}: delivered during a refetch"
            );
        }
    }
}

#[test]
fn random_publishes_losses_and_refetches_give_the_client_every_id_once_and_in_order() {
    let items = sim_items();
    for seed in 1..3000 {
        simulate_stream(seed, &items);
    }
}
