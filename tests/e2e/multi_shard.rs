//! More than one shard (DESIGN.md §1): each shard has its own `SO_REUSEPORT` listener, the
//! kernel spreads client connections over them, and a publish reaches subscribers on every
//! shard through the router.

use std::thread;

use crate::support::{
    metric, publish_ok, stream_item, wait_metric, wait_subscribed, Backend, BackendResponse, Conn,
    Proxy, StreamClient,
};

const SUBSCRIBERS: usize = 40;

#[test]
fn forty_subscribers_spread_over_two_shards_all_get_every_publish_in_order() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("wide", "start\n"));
    let proxy = Proxy::start(backend.port(), &["--shards", "2"]);
    assert_eq!(metric(&proxy, "ringpin_shards"), Some(2.0));
    let clients: Vec<StreamClient> = (0..SUBSCRIBERS)
        .map(|_| {
            let mut client = StreamClient::open(proxy.addr, "/stream");
            assert_eq!(client.head().status, 200, "{:?}", client.head());
            assert_eq!(client.read_until("start\n"), "start\n");
            client
        })
        .collect();
    wait_subscribed(&proxy, SUBSCRIBERS);
    wait_metric(
        &proxy,
        "ringpin_connections",
        &format!("{SUBSCRIBERS} open stream connections"),
        |v| v == SUBSCRIBERS as f64,
    );

    publish_ok(&proxy, &stream_item("wide", "first\n"));
    publish_ok(&proxy, &stream_item("wide", "second\n"));

    let readers: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(i, mut client)| {
            thread::spawn(move || {
                assert_eq!(client.read_until("\n"), "first\n", "subscriber {i}");
                assert_eq!(client.read_until("\n"), "second\n", "subscriber {i}");
            })
        })
        .collect();
    let failed: Vec<usize> = readers
        .into_iter()
        .enumerate()
        .filter_map(|(i, reader)| reader.join().err().map(|_| i))
        .collect();
    assert!(
        failed.is_empty(),
        "subscribers {failed:?} did not get both publishes in order (panics above)"
    );
    assert_eq!(metric(&proxy, "ringpin_shards"), Some(2.0));
}

#[test]
fn one_item_publishes_alternating_over_two_keep_alive_connections_arrive_in_publish_order() {
    // Each publish is answered before its items reach the shards, which get them in batches
    // at most every 250 µs; a publish whose reply was seen must still come before the next
    // one, even when that one arrives on the other connection.
    const ITEMS: usize = 200;
    let backend = Backend::start(|_| BackendResponse::stream_hold("order", "start\n"));
    let proxy = Proxy::start(backend.port(), &["--shards", "2"]);
    let clients: Vec<StreamClient> = (0..8)
        .map(|_| {
            let mut client = StreamClient::open(proxy.addr, "/stream");
            assert_eq!(client.read_until("start\n"), "start\n");
            client
        })
        .collect();
    wait_subscribed(&proxy, clients.len());

    let mut publishers = [
        Conn::connect(proxy.publish_addr),
        Conn::connect(proxy.publish_addr),
    ];
    for n in 0..ITEMS {
        let body = stream_item("order", &format!("{n}\n"));
        let request = format!(
            "POST /publish/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let publisher = &mut publishers[n % 2];
        publisher.send(request.as_bytes());
        let reply = publisher.read_response();
        assert_eq!(
            (reply.status, reply.body_text().as_str()),
            (200, "Published\n")
        );
    }

    let readers: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            thread::spawn(move || {
                (0..ITEMS)
                    .map(|_| client.read_until("\n"))
                    .collect::<Vec<String>>()
            })
        })
        .collect();
    let want: Vec<String> = (0..ITEMS).map(|n| format!("{n}\n")).collect();
    for (i, reader) in readers.into_iter().enumerate() {
        let got = reader.join().expect("reader thread");
        assert_eq!(got, want, "subscriber {i}");
    }
}
