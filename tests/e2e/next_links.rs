//! GRIP Next links (PUSHPIN.md §5.3): a chain of no-hold answers is one client response; a
//! link is resolved against the client's URL and fetched through the route with no client
//! headers; a stream with a gap fetches its link with `Grip-Last` and appends the answer; a
//! `hint` makes a stream fetch its link; the link's `timeout` refreshes it.

use serde_json::json;

use crate::support::{publish_ok, wait_subscribed, Backend, BackendResponse, Proxy, StreamClient};

/// Waits until the origin has received a request whose path starts with `prefix`.
fn wait_for_request(backend: &Backend, prefix: &str) -> crate::support::BackendRequest {
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    loop {
        if let Some(found) = backend
            .requests()
            .into_iter()
            .find(|r| r.path.starts_with(prefix))
        {
            return found;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no request for {prefix}; got {:?}",
            backend
                .requests()
                .iter()
                .map(|r| r.path.clone())
                .collect::<Vec<_>>()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One `http-stream` item with `id`, `prev-id` and `content`.
fn seq_item(channel: &str, id: &str, prev_id: &str, content: &str) -> String {
    json!({ "items": [ {
        "channel": channel, "id": id, "prev-id": prev_id,
        "formats": { "http-stream": { "content": content } },
    } ] })
    .to_string()
}

#[test]
fn a_chain_of_next_links_a_b_c_is_one_concatenated_response() {
    let backend = Backend::start(|req| match req.path.as_str() {
        "/dir/a" => {
            BackendResponse::text(200, "part1\n").header("Grip-Link", "</other/b?x=1>; rel=next")
        }
        // Relative to the link that gave it, not to the client's /dir/a.
        "/other/b?x=1" => BackendResponse::text(200, "part2\n")
            .header("Grip-Link", "<c#frag>; rel=next")
            .chunked(),
        "/other/c" => BackendResponse::text(200, "part3\n"),
        _ => BackendResponse::text(404, "unexpected\n"),
    });
    let proxy = Proxy::start(backend.port(), &[]);

    let mut client = StreamClient::open_with(proxy.addr, "/dir/a", &[("X-Client", "secret")]);

    assert_eq!(client.head().status, 200);
    assert!(
        client.head().grip_headers().is_empty(),
        "{:?}",
        client.head()
    );
    assert_eq!(client.read_until("part3\n"), "part1\npart2\npart3\n");
    client.expect_end();
    let paths: Vec<String> = backend.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/dir/a", "/other/b?x=1", "/other/c"]);
    let link_request = &backend.requests()[1];
    assert_eq!(link_request.method, "GET");
    assert_eq!(
        link_request.header("X-Client"),
        None,
        "no client headers on a link"
    );
    assert!(
        link_request.header("Grip-Sig").is_some(),
        "routed internally, signed"
    );
    let features = link_request.header("Grip-Feature").unwrap_or_default();
    assert!(features.contains("link:next"), "{features}");
}

/// A stream on `channel` that started at id 1 (body `start`) and has received item 2, through
/// a ringpin that releases a waiting item after 100 ms and does not refresh a channel on its
/// first subscription. The stream's `Grip-Link` is `/next`, where the origin answers
/// `prev-id=NEXT_PREV_ID` with `next_body`.
fn stream_at_two(
    channel: &'static str,
    next_prev_id: u32,
    next_body: &'static str,
) -> (Backend, Proxy, StreamClient) {
    let backend = Backend::start(move |req| {
        let (prev_id, body) = match req.path.as_str() {
            "/next" => (next_prev_id, next_body),
            _ => (1, "start\n"),
        };
        BackendResponse::stream_hold(&format!("{channel}; prev-id={prev_id}"), body)
            .header("Grip-Link", "</next>; rel=next")
    });
    let args = [
        "--message-wait",
        "100",
        "--update-on-first-subscription",
        "false",
    ];
    let proxy = Proxy::start(backend.port(), &args);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &seq_item(channel, "2", "1", "two\n"));
    assert_eq!(client.read_until("two\n"), "two\n");
    (backend, proxy, client)
}

#[test]
fn a_stream_gap_fetches_the_next_link_with_grip_last_and_appends_its_body() {
    let (backend, proxy, mut client) = stream_at_two("g", 3, "recovered three\n");
    // Id 3 is never published: 4 is released after message_wait and is a gap for the stream.
    publish_ok(&proxy, &seq_item("g", "4", "3", "four\n"));

    assert_eq!(client.read_until("four\n"), "recovered three\nfour\n");
    let link = wait_for_request(&backend, "/next");
    assert_eq!(link.headers_named("Grip-Last"), ["g; last-id=2"]);
    publish_ok(&proxy, &seq_item("g", "5", "4", "five\n"));
    assert_eq!(client.read_until("five\n"), "five\n");
}

#[test]
fn a_hint_makes_a_stream_fetch_its_next_link() {
    let backend = Backend::start(|req| match req.path.as_str() {
        "/more" => {
            BackendResponse::stream_hold("h", "hinted\n").header("Grip-Link", "</more>; rel=next")
        }
        _ => BackendResponse::stream_hold("h", "start\n").header("Grip-Link", "</more>; rel=next"),
    });
    let proxy = Proxy::start(backend.port(), &["--update-on-first-subscription", "false"]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);

    let hint = json!({ "items": [ { "channel": "h", "formats": { "http-stream": { "action": "hint" } } } ] });
    publish_ok(&proxy, &hint.to_string());

    assert_eq!(client.read_until("hinted\n"), "hinted\n");
    assert_eq!(wait_for_request(&backend, "/more").method, "GET");
}

#[test]
fn a_link_timeout_refreshes_the_stream_from_its_link() {
    let backend = Backend::start(|req| match req.path.as_str() {
        "/refresh" => BackendResponse::stream_hold("r", "refreshed\n"),
        _ => BackendResponse::stream_hold("r", "start\n")
            .header("Grip-Link", "</refresh>; rel=next; timeout=1"),
    });
    let proxy = Proxy::start(backend.port(), &["--update-on-first-subscription", "false"]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");

    assert_eq!(client.read_until("refreshed\n"), "refreshed\n");
    // The refreshed answer has no link: the stream stays subscribed to r.
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &crate::support::stream_item("r", "still here\n"));
    assert_eq!(client.read_until("still here\n"), "still here\n");
}

#[test]
fn a_failing_link_fetch_is_retried_after_a_backoff() {
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let backend = Backend::start(move |req| match req.path.as_str() {
        "/a" => BackendResponse::text(200, "first\n").header("Grip-Link", "</b>; rel=next"),
        _ if failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 => {
            BackendResponse::text(500, "down\n")
        }
        _ => BackendResponse::text(200, "second\n"),
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/a");

    assert_eq!(client.read_until("second\n"), "first\nsecond\n");
    client.expect_end();
    let paths: Vec<String> = backend.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/a", "/b", "/b"]);
    let failed = crate::support::metric(&proxy, "ringpin_link_fetches_failed_total");
    assert_eq!(failed, Some(1.0));
}

#[test]
fn only_identical_concurrent_link_fetches_are_collapsed() {
    let port = crate::support::free_port();
    let backend = Backend::start_on(port, move |req| {
        if req.path == "/l" {
            std::thread::sleep(std::time::Duration::from_millis(300));
            return BackendResponse::stream_hold("k", "linked\n");
        }
        let prev = if req.path == "/s?odd" { "7" } else { "1" };
        // An absolute link to another authority is fetched directly, unsigned, so identical
        // streams send byte-identical requests.
        BackendResponse::stream_hold(&format!("k; prev-id={prev}"), "open\n").header(
            "Grip-Link",
            &format!("<http://127.0.0.1:{port}/l>; rel=next"),
        )
    });
    let args = ["--shards", "1", "--update-on-first-subscription", "false"];
    let proxy = Proxy::start(backend.port(), &args);
    let mut clients: Vec<StreamClient> = ["/s", "/s", "/s?odd"]
        .iter()
        .map(|path| StreamClient::open(proxy.addr, path))
        .collect();
    for client in &mut clients {
        assert_eq!(client.read_until("open\n"), "open\n");
    }
    wait_subscribed(&proxy, 3);

    let reply = crate::support::publish_request(&proxy, "POST", "/recover", &[], b"");
    assert_eq!(reply.status, 200);

    for client in &mut clients {
        assert_eq!(client.read_until("linked\n"), "linked\n");
    }
    let links: Vec<_> = backend
        .requests()
        .into_iter()
        .filter(|r| r.path == "/l")
        .collect();
    let mut grip_last: Vec<Vec<&str>> =
        links.iter().map(|r| r.headers_named("Grip-Last")).collect();
    grip_last.sort();
    assert_eq!(grip_last, [["k; last-id=1"], ["k; last-id=7"]]);
    assert!(
        links.iter().all(|r| r.header("Grip-Sig").is_none()),
        "not signed"
    );
}

#[test]
fn a_client_that_leaves_during_a_slow_link_fetch_is_unsubscribed_at_once() {
    let release = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let released = std::sync::Arc::clone(&release);
    let backend = Backend::start(move |req| {
        if req.path == "/slow" {
            // Longer than the metric wait below: only leaving can end the hold in time.
            let deadline = std::time::Instant::now() + 2 * crate::support::DEADLINE;
            while !released.load(std::sync::atomic::Ordering::SeqCst)
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            return BackendResponse::stream_hold("slow", "late\n");
        }
        BackendResponse::stream_hold("slow", "start\n").header("Grip-Link", "</slow>; rel=next")
    });
    let proxy = Proxy::start(backend.port(), &["--update-on-first-subscription", "false"]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    let hint = json!({ "items": [ { "channel": "slow",
        "formats": { "http-stream": { "action": "hint" } } } ] });
    publish_ok(&proxy, &hint.to_string());
    wait_for_request(&backend, "/slow");

    drop(client);

    crate::support::wait_metric(&proxy, "ringpin_subscriptions", "0 while fetching", |v| {
        v == 0.0
    });
    release.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn a_gap_answer_that_covers_the_waiting_item_delivers_it_once_and_fetches_once() {
    let (backend, proxy, mut client) = stream_at_two("cov", 4, "three\nfour\n");

    publish_ok(&proxy, &seq_item("cov", "4", "3", "four\n"));
    publish_ok(&proxy, &seq_item("cov", "5", "4", "five\n"));

    assert_eq!(client.read_until("five\n"), "three\nfour\nfive\n");
    let fetches = backend
        .requests()
        .iter()
        .filter(|r| r.path == "/next")
        .count();
    assert_eq!(fetches, 1);
}

#[test]
fn a_stream_hold_with_a_prev_id_but_no_next_link_ends_after_its_initial_body() {
    let backend =
        Backend::start(|_| BackendResponse::stream_hold("nolink; prev-id=3", "only this\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/stream");

    assert_eq!(client.read_until("only this\n"), "only this\n");
    client.expect_end();
}

#[test]
fn a_new_stream_whose_prev_id_is_already_stale_fetches_its_link_at_once() {
    let backend = Backend::start(|req| match req.path.as_str() {
        "/keep" => BackendResponse::stream_hold("late", "keeper\n"),
        "/next" => BackendResponse::stream_hold("late; prev-id=2", "caught up\n")
            .header("Grip-Link", "</next>; rel=next"),
        _ => BackendResponse::stream_hold("late; prev-id=1", "start\n")
            .header("Grip-Link", "</next>; rel=next"),
    });
    let args = ["--shards", "1", "--update-on-first-subscription", "false"];
    let proxy = Proxy::start(backend.port(), &args);
    let mut keeper = StreamClient::open(proxy.addr, "/keep");
    assert_eq!(keeper.read_until("keeper\n"), "keeper\n");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &seq_item("late", "2", "1", "two\n"));
    assert_eq!(keeper.read_until("two\n"), "two\n");

    // The origin answers prev-id=1, but the channel is at 2 on this shard.
    let mut client = StreamClient::open(proxy.addr, "/stream");

    assert_eq!(client.read_until("caught up\n"), "start\ncaught up\n");
    let link = wait_for_request(&backend, "/next");
    assert_eq!(link.headers_named("Grip-Last"), ["late; last-id=1"]);
}

#[test]
fn an_http_1_0_client_gets_a_link_chain_close_delimited() {
    let backend = Backend::start(|req| match req.path.as_str() {
        "/a" => BackendResponse::text(200, "part1\n").header("Grip-Link", "</b>; rel=next"),
        _ => BackendResponse::text(200, "part2\n"),
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = crate::support::Conn::connect(proxy.addr);
    conn.send(b"GET /a HTTP/1.0\r\nHost: example.com\r\n\r\n");

    let raw = String::from_utf8_lossy(&conn.read_to_end()).into_owned();

    assert!(raw.starts_with("HTTP/1.0 200"), "{raw}");
    assert!(!raw.contains("chunked"), "{raw}");
    assert!(raw.ends_with("\r\n\r\npart1\npart2\n"), "{raw}");
}

#[test]
fn a_link_answering_with_a_response_hold_ends_the_stream_with_the_reason_in_debug_mode() {
    let backend = Backend::start(|req| match req.path.as_str() {
        "/a" => BackendResponse::text(200, "part1\n").header("Grip-Link", "</b>; rel=next"),
        _ => BackendResponse::response_hold("x", "held\n"),
    });
    let proxy = Proxy::start(backend.port(), &["--debug"]);
    let mut client = StreamClient::open(proxy.addr, "/a");

    let text = client.read_until("hold.\n");

    assert_eq!(text, "part1\n\n\nNext link returned non-stream hold.\n");
    client.expect_end();
    assert_eq!(
        backend.requests().len(),
        2,
        "a refused answer is not retried"
    );
}

#[test]
fn a_gone_link_is_posted_when_the_client_leaves_and_link_gone_is_advertised() {
    // Pushpin 1.41: "Add support for gone links".
    let backend = Backend::start(|req| match req.path.as_str() {
        "/feed" => BackendResponse::stream_hold("feed", "open\n")
            .header("Grip-Link", "</gone?who=me>; rel=gone"),
        _ => BackendResponse::new(200, "text/plain", ""),
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/feed");
    assert_eq!(client.read_until("open\n"), "open\n");
    wait_subscribed(&proxy, 1);
    let features = backend.requests()[0]
        .header("Grip-Feature")
        .unwrap_or_default()
        .to_owned();
    assert!(features.contains("link:next, link:gone"), "{features}");
    assert!(
        !backend
            .requests()
            .iter()
            .any(|r| r.path.starts_with("/gone")),
        "nothing while the client stays"
    );

    drop(client);
    let gone = wait_for_request(&backend, "/gone");
    assert_eq!(gone.method, "POST");
    assert_eq!(gone.path, "/gone?who=me");
    assert!(gone.body.is_empty());
    assert!(
        gone.header("Grip-Sig").is_some(),
        "routed internally, signed"
    );
}

#[test]
fn a_long_poll_answered_by_a_publish_also_posts_its_gone_link() {
    let backend = Backend::start(|req| match req.path.as_str() {
        "/poll" => BackendResponse::response_hold("lp", "timeout\n")
            .header("Grip-Link", "</bye>; rel=gone"),
        _ => BackendResponse::new(200, "text/plain", ""),
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = crate::support::Conn::connect(proxy.addr);
    conn.send(&crate::support::get_request("/poll"));
    wait_subscribed(&proxy, 1);
    let item = crate::support::response_item("lp", json!({ "body": "news\n" }));
    publish_ok(&proxy, &item);
    assert_eq!(conn.read_response().body_text(), "news\n");
    let gone = wait_for_request(&backend, "/bye");
    assert_eq!(gone.method, "POST");
}
