//! Recovery of held requests (PUSHPIN.md §3.4, §3.8, §4): a long-poll whose `prev-id` does not
//! match a published item is re-requested with `Grip-Last`; a `hint` replays the request with
//! its body; `/recover` re-requests every held long-poll; a channel's first subscriber
//! triggers one re-request about a second later, unless switched off.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    get_request, publish_ok, publish_request, wait_subscribed, Backend, BackendRequest,
    BackendResponse, Conn, Proxy,
};

/// Holds `/poll` on `lp` with `prev-id=1`; a request carrying `Grip-Last` gets a plain answer
/// naming what it carried.
fn recovering_backend() -> Backend {
    Backend::start(|req: &BackendRequest| {
        let last = req.headers_named("Grip-Last");
        if last.is_empty() {
            BackendResponse::response_hold("lp; prev-id=1", "timeout\n")
        } else {
            let body = format!("caught up from {last:?}\n");
            BackendResponse::text(200, body)
        }
    })
}

fn response_item_with_ids(channel: &str, id: &str, prev_id: &str, body: &str) -> String {
    json!({ "items": [ {
        "channel": channel, "id": id, "prev-id": prev_id,
        "formats": { "http-response": { "body": body } },
    } ] })
    .to_string()
}

fn long_poll(proxy: &Proxy) -> Conn {
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll"));
    conn
}

const NO_FIRST_UPDATE: [&str; 2] = ["--update-on-first-subscription", "false"];

#[test]
fn a_long_poll_whose_prev_id_disagrees_is_re_requested_with_grip_last() {
    let backend = recovering_backend();
    let proxy = Proxy::start(backend.port(), &NO_FIRST_UPDATE);
    let mut conn = long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &response_item_with_ids("lp", "3", "2", "three\n"));

    let response = conn.read_response();
    assert_eq!(response.body_text(), "caught up from [\"lp; last-id=1\"]\n");
    let requests = backend.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].path, "/poll");
    assert!(requests[1].header("Grip-Sig").is_some());
}

#[test]
fn a_long_poll_whose_prev_id_matches_gets_the_item() {
    let backend = recovering_backend();
    let proxy = Proxy::start(backend.port(), &NO_FIRST_UPDATE);
    let mut conn = long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &response_item_with_ids("lp", "2", "1", "two\n"));

    assert_eq!(conn.read_response().body_text(), "two\n");
    assert_eq!(backend.requests().len(), 1);
}

#[test]
fn a_hint_replays_a_held_post_with_its_body() {
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let backend = Backend::start(move |req: &BackendRequest| {
        if seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            BackendResponse::response_hold("post", "timeout\n")
        } else {
            let body = String::from_utf8_lossy(&req.body).into_owned();
            BackendResponse::text(200, format!("replayed {} {body}\n", req.method))
        }
    });
    let proxy = Proxy::start(backend.port(), &NO_FIRST_UPDATE);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"POST /poll HTTP/1.1\r\nHost: example.com\r\nContent-Length: 7\r\n\r\npayload");
    wait_subscribed(&proxy, 1);

    let hint = json!({ "items": [ { "channel": "post",
        "formats": { "http-response": { "action": "hint" } } } ] });
    publish_ok(&proxy, &hint.to_string());

    assert_eq!(conn.read_response().body_text(), "replayed POST payload\n");
    let replayed = backend.last_request();
    assert_eq!(
        (replayed.path.as_str(), replayed.body.as_slice()),
        ("/poll", &b"payload"[..])
    );
    assert!(replayed.header("Grip-Sig").is_some());
}

#[test]
fn recover_re_requests_every_held_long_poll() {
    let backend = recovering_backend();
    let proxy = Proxy::start(backend.port(), &NO_FIRST_UPDATE);
    let mut first = long_poll(&proxy);
    let mut second = long_poll(&proxy);
    wait_subscribed(&proxy, 2);

    let reply = publish_request(&proxy, "POST", "/recover", &[], b"");

    assert_eq!(
        (reply.status, reply.body_text().as_str()),
        (200, "Updated\n")
    );
    for conn in [&mut first, &mut second] {
        let response = conn.read_response();
        assert!(
            response.body_text().starts_with("caught up"),
            "{response:?}"
        );
    }
    assert_eq!(backend.requests().len(), 4);
    crate::support::wait_metric(&proxy, "ringpin_refetches_total", "2", |v| v == 2.0);
}

#[test]
fn a_channels_first_subscriber_makes_its_long_poll_re_request_once() {
    let backend = Backend::start(|_| BackendResponse::response_hold("fresh", "timeout\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    while backend.requests().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no update request");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Re-registering after the update does not trigger another one (the channel lingers).
    conn.expect_nothing_for(Duration::from_millis(1500));
    assert_eq!(backend.requests().len(), 2);
}

#[test]
fn the_first_subscription_update_can_be_switched_off() {
    let backend = Backend::start(|_| BackendResponse::response_hold("quiet", "timeout\n"));
    let proxy = Proxy::start(backend.port(), &NO_FIRST_UPDATE);
    let mut conn = long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    conn.expect_nothing_for(Duration::from_millis(2000));

    assert_eq!(backend.requests().len(), 1);
}

#[test]
fn a_new_long_poll_with_a_stale_prev_id_is_re_requested_at_once() {
    let backend = Backend::start(|req: &BackendRequest| {
        let last = req.headers_named("Grip-Last");
        if req.path == "/stream" {
            BackendResponse::stream_hold("st", "open\n")
        } else if last.is_empty() {
            BackendResponse::response_hold("st; prev-id=1", "timeout\n")
        } else {
            BackendResponse::text(200, format!("caught up from {last:?}\n"))
        }
    });
    let proxy = Proxy::start(
        backend.port(),
        &["--shards", "1", NO_FIRST_UPDATE[0], NO_FIRST_UPDATE[1]],
    );
    // A stream keeps the channel subscribed, so the shard remembers its last id.
    let mut stream = crate::support::StreamClient::open(proxy.addr, "/stream");
    assert_eq!(stream.read_until("open\n"), "open\n");
    let mut first = long_poll(&proxy);
    wait_subscribed(&proxy, 2);
    publish_ok(&proxy, &response_item_with_ids("st", "2", "1", "two\n"));
    assert_eq!(first.read_response().body_text(), "two\n");

    // The origin still answers prev-id=1, but the channel is at 2: no hold, a re-request.
    let mut second = long_poll(&proxy);

    let response = second.read_response();
    assert_eq!(response.body_text(), "caught up from [\"st; last-id=1\"]\n");
}

#[test]
fn an_item_published_while_a_long_poll_is_replayed_is_not_lost() {
    let release = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let released = std::sync::Arc::clone(&release);
    let backend = Backend::start(move |req: &BackendRequest| {
        if !req.headers_named("Grip-Last").is_empty() {
            let deadline = std::time::Instant::now() + crate::support::DEADLINE;
            while !released.load(std::sync::atomic::Ordering::SeqCst)
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        BackendResponse::response_hold("w; prev-id=1", "timeout\n")
    });
    let proxy = Proxy::start(backend.port(), &NO_FIRST_UPDATE);
    let mut conn = long_poll(&proxy);
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &response_item_with_ids("w", "3", "2", "three\n"));
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    while backend.requests().len() < 2 {
        assert!(std::time::Instant::now() < deadline, "no replay");
        std::thread::sleep(Duration::from_millis(10));
    }

    // Published while the origin is still answering the replay.
    let item = json!({ "items": [ { "channel": "w", "id": "2",
        "formats": { "http-response": { "body": "two\n" } } } ] });
    publish_ok(&proxy, &item.to_string());
    std::thread::sleep(Duration::from_millis(200));
    release.store(true, std::sync::atomic::Ordering::SeqCst);

    assert_eq!(conn.read_response().body_text(), "two\n");
}
