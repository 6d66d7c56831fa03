//! The live status page on the publish listener: `GET /status` is one self-contained HTML
//! page, `GET /status/events` ringpin's own SSE stream of its counters; both sit behind the
//! publish credential (the page may carry it as `?access_token=`, since `EventSource` cannot
//! send headers), and the number of open event streams is bounded. Also the latency
//! histograms in `/metrics`.

use crate::support::{
    metrics, parse_metric, publish_ok, publish_request, stream_item, wait_subscribed, Backend,
    BackendResponse, Proxy, SseClient, StreamClient,
};

/// The JSON of the next `counters` event.
fn next_snapshot(events: &mut SseClient) -> serde_json::Value {
    let event = events.next_event();
    let data = event
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .unwrap_or_else(|| panic!("no data line in {event:?}"));
    assert!(event.starts_with("event: counters\n"), "{event:?}");
    serde_json::from_str(data).expect("the data is JSON")
}

#[test]
fn the_page_is_self_contained_and_its_events_follow_the_counters() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("live", "start\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let page = publish_request(&proxy, "GET", "/status", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page
        .header("Content-Type")
        .unwrap_or("")
        .starts_with("text/html"));
    let html = page.body_text();
    assert!(
        html.contains("<canvas") && html.contains("/status/events"),
        "a chart fed by SSE"
    );
    for external in ["http://", "https://", " src=", "@import"] {
        assert!(
            !html.contains(external),
            "the page loads nothing from elsewhere: {external}"
        );
    }

    let mut events = SseClient::open(proxy.publish_addr, "/status/events");
    assert_eq!(
        events.head().header("Content-Type"),
        Some("text/event-stream")
    );
    let before = next_snapshot(&mut events);
    assert_eq!(before["deliveries"], 0);
    assert_eq!(before["shards"].as_array().map(Vec::len), Some(2));
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    for n in 0..3 {
        publish_ok(&proxy, &stream_item("live", &format!("m{n}\n")));
    }
    assert_eq!(client.read_until("m2\n"), "m0\nm1\nm2\n");
    let after = loop {
        let snapshot = next_snapshot(&mut events);
        if snapshot["deliveries"] == 3 {
            break snapshot;
        }
    };
    assert_eq!(after["held_streams"], 1);
    assert_eq!(after["items_published"], 3);
    assert_eq!(after["busiest_channels"][0]["channel"], "live");
    assert_eq!(after["busiest_channels"][0]["items"], 3);
    assert!(after["unix_ms"].as_u64() > before["unix_ms"].as_u64());

    let text = metrics(&proxy);
    let count = |name| parse_metric(&text, name).unwrap_or(-1.0);
    assert_eq!(
        count("ringpin_publish_latency_seconds_count"),
        3.0,
        "{text}"
    );
    assert!(
        count("ringpin_delivery_latency_seconds_count") >= 3.0,
        "{text}"
    );
    assert!(text.contains("ringpin_delivery_latency_seconds_bucket{le=\"+Inf\"}"));
}

#[test]
fn with_a_publish_token_the_page_needs_it_in_a_header_or_its_query() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let proxy = Proxy::start(backend.port(), &["--publish-token", "s3cret"]);
    for path in ["/status", "/status/events", "/status?access_token=wrong"] {
        assert_eq!(
            publish_request(&proxy, "GET", path, &[], b"").status,
            401,
            "{path}"
        );
    }
    let bearer = [("Authorization", "Bearer s3cret")];
    assert_eq!(
        publish_request(&proxy, "GET", "/status", &bearer, b"").status,
        200
    );
    let page = publish_request(&proxy, "GET", "/status?access_token=s3cret", &[], b"");
    assert_eq!(page.status, 200);
    let mut events = SseClient::open(proxy.publish_addr, "/status/events?access_token=s3cret");
    assert_eq!(next_snapshot(&mut events)["connections"], 0);
    // A publish credential in a URL is accepted for the status page only.
    let publish = publish_request(&proxy, "POST", "/publish/?access_token=s3cret", &[], b"{}");
    assert_eq!(publish.status, 401);
}

#[test]
fn event_streams_beyond_the_bound_get_503_and_a_closed_one_frees_its_place() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut open: Vec<SseClient> = (0..16)
        .map(|_| SseClient::open(proxy.publish_addr, "/status/events"))
        .collect();
    for events in &mut open {
        next_snapshot(events);
    }
    let refused = publish_request(&proxy, "GET", "/status/events", &[], b"");
    assert_eq!(refused.status, 503);
    drop(open.pop());
    // The stream notices its client left at its next write, within a second or so.
    let deadline = std::time::Instant::now() + crate::support::DEADLINE;
    loop {
        let mut events = SseClient::open(proxy.publish_addr, "/status/events");
        if events.head().status == 200 {
            next_snapshot(&mut events);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the place never freed"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}
