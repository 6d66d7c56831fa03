//! Sequencing in the router (PUSHPIN.md §3.6): items carrying `id`/`prev-id` reach
//! subscribers in `prev-id` order; an item whose predecessor never comes is released after
//! `message_wait`; a repeated (channel, id) is delivered once; a channel nobody subscribes to
//! is never held back.

use std::time::Duration;

use serde_json::json;

use crate::support::{publish_ok, wait_subscribed, Backend, BackendResponse, Proxy, StreamClient};

/// An origin that holds every request as a stream on `channel` with the body `start\n`.
fn stream_backend(channel: &str) -> Backend {
    let channel = channel.to_string();
    Backend::start(move |_| BackendResponse::stream_hold(&channel, "start\n"))
}

/// Opens a stream and consumes its initial body.
fn subscribe(proxy: &Proxy) -> StreamClient {
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.head().status, 200, "{:?}", client.head());
    assert_eq!(client.read_until("start\n"), "start\n");
    client
}

/// One `http-stream` item with `id` and, when not empty, `prev-id`.
fn seq_item(channel: &str, id: &str, prev_id: &str, content: &str) -> String {
    let mut item = json!({
        "channel": channel,
        "id": id,
        "formats": { "http-stream": { "content": content } },
    });
    if !prev_id.is_empty() {
        item["prev-id"] = json!(prev_id);
    }
    json!({ "items": [item] }).to_string()
}

#[test]
fn out_of_order_publishes_reach_every_subscriber_in_prev_id_order() {
    let backend = stream_backend("seq");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut clients: Vec<StreamClient> = (0..2).map(|_| subscribe(&proxy)).collect();
    wait_subscribed(&proxy, 2);

    publish_ok(&proxy, &seq_item("seq", "1", "", "one\n"));
    publish_ok(&proxy, &seq_item("seq", "3", "2", "three\n"));
    publish_ok(&proxy, &seq_item("seq", "2", "1", "two\n"));

    for client in &mut clients {
        assert_eq!(client.read_until("three\n"), "one\ntwo\nthree\n");
    }
}

#[test]
fn an_item_whose_predecessor_never_comes_is_released_after_message_wait() {
    let backend = stream_backend("gap");
    let proxy = Proxy::start(backend.port(), &["--message-wait", "1000"]);
    let mut client = subscribe(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &seq_item("gap", "1", "", "one\n"));
    assert_eq!(client.read_until("one\n"), "one\n");
    publish_ok(&proxy, &seq_item("gap", "3", "2", "three\n"));

    client.expect_nothing_for(Duration::from_millis(500));
    assert_eq!(client.read_until("three\n"), "three\n");
    publish_ok(&proxy, &seq_item("gap", "4", "3", "four\n"));
    assert_eq!(client.read_until("four\n"), "four\n");
}

#[test]
fn a_repeated_id_is_delivered_once() {
    let backend = stream_backend("dup");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = subscribe(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &seq_item("dup", "a", "", "first\n"));
    publish_ok(&proxy, &seq_item("dup", "a", "", "first again\n"));
    publish_ok(&proxy, &seq_item("dup", "b", "a", "second\n"));

    assert_eq!(client.read_until("second\n"), "first\nsecond\n");
}

#[test]
fn items_published_before_anyone_subscribes_are_not_parked() {
    let backend = stream_backend("quiet");
    // A parked item would wait a minute, far past the client's read deadline.
    let proxy = Proxy::start(backend.port(), &["--message-wait", "60000"]);
    publish_ok(&proxy, &seq_item("quiet", "1", "0", "nobody hears this\n"));

    let mut client = subscribe(&proxy);
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &seq_item("quiet", "2", "1", "two\n"));
    assert_eq!(client.read_until("two\n"), "two\n");
}
