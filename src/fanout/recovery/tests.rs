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
