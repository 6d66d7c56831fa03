//! More than one shard (DESIGN.md §1): each shard has its own `SO_REUSEPORT` listener, the
//! kernel spreads client connections over them, and a publish reaches subscribers on every
//! shard through the router.

use std::thread;

use crate::support::{
    metric, publish_ok, stream_item, wait_metric, wait_subscribed, Backend, BackendResponse, Proxy,
    StreamClient,
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
