//! Stream holds (`Grip-Hold: stream`, PUSHPIN.md §2.4, §5.1): the initial response goes out at
//! once, chunked; every `http-stream` publish on a held channel is appended verbatim; `close`
//! ends the response with the terminating chunk; fan-out reaches every subscriber in order.

use std::thread;

use crate::support::{
    publish_ok, stream_close_item, stream_item, wait_metric, wait_subscribed, Backend,
    BackendResponse, Proxy, StreamClient,
};

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

#[test]
fn stream_hold_sends_initial_body_then_each_publish_as_its_own_chunk() {
    let backend = stream_backend("news");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/stream");

    let head = client.head().clone();
    assert_eq!(head.status, 200);
    assert!(
        head.is_chunked(),
        "Transfer-Encoding: chunked expected: {head:?}"
    );
    assert_eq!(head.header("Content-Length"), None);
    assert_eq!(head.grip_headers(), Vec::<&str>::new());
    assert_eq!(head.header("Content-Type"), Some("text/plain"));
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("news", "hello\n"));
    client.expect_raw(b"6\r\nhello\n\r\n");

    let content = "a second, longer message\n";
    publish_ok(&proxy, &stream_item("news", content));
    assert_eq!(client.next_chunk().as_deref(), Some(content.as_bytes()));
}

#[test]
fn publish_to_another_channel_is_not_delivered() {
    let backend = stream_backend("mine");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = subscribe(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("other", "not for you\n"));
    publish_ok(&proxy, &stream_item("mine", "for you\n"));

    assert_eq!(client.read_until("for you\n"), "for you\n");
}

#[test]
fn hold_on_two_channels_receives_publishes_to_either() {
    let backend = stream_backend("a, b");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = subscribe(&proxy);
    wait_subscribed(&proxy, 2);

    publish_ok(&proxy, &stream_item("a", "from a\n"));
    assert_eq!(client.read_until("from a\n"), "from a\n");
    publish_ok(&proxy, &stream_item("b", "from b\n"));
    assert_eq!(client.read_until("from b\n"), "from b\n");
}

#[test]
fn two_subscribers_on_one_channel_both_receive_a_publish() {
    let backend = stream_backend("shared");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut first = subscribe(&proxy);
    let mut second = subscribe(&proxy);
    wait_subscribed(&proxy, 2);

    publish_ok(&proxy, &stream_item("shared", "to both\n"));

    assert_eq!(first.read_until("to both\n"), "to both\n");
    assert_eq!(second.read_until("to both\n"), "to both\n");
}

#[test]
fn close_action_ends_the_stream_with_the_terminating_chunk() {
    let backend = stream_backend("closing");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = subscribe(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("closing", "last words\n"));
    assert_eq!(client.read_until("last words\n"), "last words\n");
    publish_ok(&proxy, &stream_close_item("closing"));

    client.expect_end();
    wait_metric(
        &proxy,
        "ringpin_subscriptions",
        "0 once the stream ended",
        |v| v == 0.0,
    );
}

#[test]
fn hundred_subscribers_each_get_fifty_messages_in_order() {
    hundred_subscribers_fifty_messages(&[]); // the default: batched io_uring sends
}

#[test]
fn hundred_subscribers_each_get_fifty_messages_in_order_with_sendmsg() {
    hundred_subscribers_fifty_messages(&["--send-mode", "sendmsg"]);
}

#[test]
fn hundred_subscribers_each_get_fifty_messages_in_order_with_small_send_buffers() {
    hundred_subscribers_fifty_messages(&["--socket-send-buffer", "4096"]);
}

fn hundred_subscribers_fifty_messages(extra: &[&str]) {
    const SUBSCRIBERS: usize = 100;
    const MESSAGES: usize = 50;
    let message = |seq: usize| format!("message {seq:03}\n");
    let backend = stream_backend("fan");
    let proxy = Proxy::start(backend.port(), extra);
    let clients: Vec<StreamClient> = (0..SUBSCRIBERS).map(|_| subscribe(&proxy)).collect();
    wait_subscribed(&proxy, SUBSCRIBERS);

    let readers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            thread::Builder::new()
                .name(format!("subscriber-{i}"))
                .spawn(move || {
                    for seq in 0..MESSAGES {
                        let want = message(seq);
                        let got = client.read_body_bytes(want.len());
                        assert_eq!(String::from_utf8_lossy(&got), want, "subscriber {i}");
                    }
                })
                .expect("spawn reader")
        })
        .collect();
    for seq in 0..MESSAGES {
        publish_ok(&proxy, &stream_item("fan", &message(seq)));
    }

    let failed: Vec<usize> = readers
        .into_iter()
        .enumerate()
        .filter_map(|(i, reader)| reader.join().err().map(|_| i))
        .collect();
    assert!(
        failed.is_empty(),
        "subscribers {failed:?} did not get all {MESSAGES} messages in order (panics above)"
    );
    let deliveries = (SUBSCRIBERS * MESSAGES) as f64;
    wait_metric(
        &proxy,
        "ringpin_deliveries_total",
        &format!(">= {deliveries}"),
        |v| v >= deliveries,
    );
}
