//! Subscribers that stop reading or vanish (DESIGN.md §1 "Backpressure"): a bounded queue per
//! connection, the `--slow-client close|drop` policy applied to the slow one only, and every
//! other subscriber still getting every message, in order.
//!
//! How much a client that never reads can absorb is mostly the kernel's business: on Linux
//! loopback the proxy-side send buffer autotunes up to `net.ipv4.tcp_wmem` max (4 MiB by
//! default; about 4.3 MB was measured on the development machine before `send` returned
//! EAGAIN). The queue bound only bites after that, so these tests publish until the policy's
//! counter moves (at most `PUBLISHES_MAX` items, far beyond any default buffer) instead of a
//! fixed count. The healthy subscriber is read in lockstep with the publishes, so its own queue
//! never holds more than one item and only the slow client can trip the policy.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{
    metric, preview, publish_ok, stream_item, wait_metric, wait_subscribed, Backend,
    BackendResponse, Proxy, StreamClient, DEADLINE,
};

const CHANNEL: &str = "firehose";
/// Size of each published item in the slow-client tests.
const ITEM_BYTES: usize = 8 * 1024;
/// 3,000 items of 8 KiB = 24 MiB: several times any default loopback socket buffering.
const PUBLISHES_MAX: usize = 3_000;
/// Publishes between two reads of `/metrics`.
const METRIC_CHECK_EVERY: usize = 16;
const QUEUE_FLAGS: [&str; 2] = ["--outbound-bytes-max", "65536"];

/// Item `seq`: `"NNNNN "`, filler, `\n`; exactly `ITEM_BYTES` long.
fn big_message(seq: usize) -> String {
    let mut message = format!("{seq:05} ");
    message.push_str(&"x".repeat(ITEM_BYTES - message.len() - 1));
    message.push('\n');
    message
}

fn stream_backend() -> Backend {
    Backend::start(|_| BackendResponse::stream_hold(CHANNEL, "start\n"))
}

fn subscribe(proxy: &Proxy) -> StreamClient {
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.head().status, 200, "{:?}", client.head());
    assert_eq!(client.read_until("start\n"), "start\n");
    client
}

fn publish_and_read(proxy: &Proxy, reader: &mut StreamClient, seq: usize) {
    let message = big_message(seq);
    publish_ok(proxy, &stream_item(CHANNEL, &message));
    let got = reader.read_body_bytes(ITEM_BYTES);
    assert!(
        got == message.as_bytes(),
        "healthy subscriber, item {seq}: got {}",
        preview(&got)
    );
}

/// Publishes items in lockstep with `healthy` until the counter `policy_metric` is non-zero;
/// returns how many items were published.
fn publish_until_policy_applies(
    proxy: &Proxy,
    healthy: &mut StreamClient,
    policy_metric: &str,
) -> usize {
    let mut value = None;
    for seq in 0..PUBLISHES_MAX {
        publish_and_read(proxy, healthy, seq);
        if (seq + 1) % METRIC_CHECK_EVERY == 0 {
            value = metric(proxy, policy_metric);
            if value.is_some_and(|v| v > 0.0) {
                return seq + 1;
            }
        }
    }
    panic!(
        "{policy_metric} is {value:?} after {PUBLISHES_MAX} items of {ITEM_BYTES} bytes to a \
         client that never reads, with --outbound-bytes-max 65536"
    );
}

#[test]
fn vanished_subscriber_does_not_disturb_another_on_the_same_channel() {
    let backend = stream_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let mut survivor = subscribe(&proxy);
    let mut leaver = subscribe(&proxy);
    wait_subscribed(&proxy, 2);
    publish_ok(&proxy, &stream_item(CHANNEL, "one\n"));
    assert_eq!(survivor.read_until("one\n"), "one\n");
    assert_eq!(leaver.read_until("one\n"), "one\n");

    // The leaver vanishes with a message unread, so its socket may be reset rather than closed.
    publish_ok(&proxy, &stream_item(CHANNEL, "two\n"));
    assert_eq!(survivor.read_until("two\n"), "two\n");
    drop(leaver);

    for seq in 3..=8 {
        let message = format!("message {seq}\n");
        publish_ok(&proxy, &stream_item(CHANNEL, &message));
        assert_eq!(survivor.read_until(&message), message);
    }
    wait_metric(
        &proxy,
        "ringpin_subscriptions",
        "1 once the leaver is gone",
        |v| v == 1.0,
    );
}

#[test]
fn slow_client_is_closed_and_others_get_every_message() {
    slow_client_is_closed(&[]); // the default: batched io_uring sends
}

#[test]
fn slow_client_is_closed_and_others_get_every_message_with_sendmsg() {
    slow_client_is_closed(&["--send-mode", "sendmsg"]);
}

fn slow_client_is_closed(send_mode: &[&str]) {
    let backend = stream_backend();
    let mut extra = vec![QUEUE_FLAGS[0], QUEUE_FLAGS[1], "--slow-client", "close"];
    extra.extend_from_slice(send_mode);
    let proxy = Proxy::start(backend.port(), &extra);
    let slow = subscribe(&proxy); // never read again until the end
    let mut healthy = subscribe(&proxy);
    wait_subscribed(&proxy, 2);

    let published =
        publish_until_policy_applies(&proxy, &mut healthy, "ringpin_slow_clients_closed_total");
    for seq in published..published + 5 {
        publish_and_read(&proxy, &mut healthy, seq);
    }

    // What was in flight drains, then the connection ends (FIN or reset), before the deadline.
    slow.read_to_close();
    wait_metric(&proxy, "ringpin_subscriptions", "1 after the close", |v| {
        v == 1.0
    });
}

#[test]
fn slow_client_with_drop_policy_loses_items_but_stays_connected() {
    let backend = stream_backend();
    let extra = [QUEUE_FLAGS[0], QUEUE_FLAGS[1], "--slow-client", "drop"];
    let proxy = Proxy::start(backend.port(), &extra);
    let mut slow = subscribe(&proxy);
    let mut healthy = subscribe(&proxy);
    wait_subscribed(&proxy, 2);

    let published =
        publish_until_policy_applies(&proxy, &mut healthy, "ringpin_deliveries_dropped_total");
    assert_eq!(
        metric(&proxy, "ringpin_slow_clients_closed_total"),
        Some(0.0)
    );

    // The slow client now reads everything; once its queue has room, a new item reaches it.
    let (done_tx, done_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let received = slow.read_until("final\n");
        let _ = done_tx.send(());
        received
    });
    let deadline = Instant::now() + DEADLINE;
    loop {
        publish_ok(&proxy, &stream_item(CHANNEL, "final\n"));
        assert_eq!(healthy.read_until("final\n"), "final\n");
        match done_rx.recv_timeout(Duration::from_millis(200)) {
            Ok(()) => break,
            Err(mpsc::RecvTimeoutError::Timeout) if Instant::now() < deadline => continue,
            Err(e) => panic!("the slow client never got an item published after it caught up: {e}"),
        }
    }
    let received = reader.join().expect("slow reader panicked");
    let kept = assert_whole_items_in_order(&received);
    assert!(
        kept < published,
        "drops were counted, yet the slow client got all {published} items"
    );
}

/// Checks the slow client's stream: whole items, increasing sequence numbers, then `final`.
/// Returns how many items it holds.
fn assert_whole_items_in_order(received: &str) -> usize {
    let mut last = None;
    let mut kept = 0;
    for line in received.lines().filter(|line| *line != "final") {
        assert_eq!(
            line.len() + 1,
            ITEM_BYTES,
            "a cut item: {}",
            preview(line.as_bytes())
        );
        let seq: usize = line[..5].parse().expect("sequence number");
        assert!(last < Some(seq), "item {seq} after {last:?}");
        last = Some(seq);
        kept += 1;
    }
    kept
}
