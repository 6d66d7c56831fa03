//! The publish listener (PUSHPIN.md §3.1): Pushpin's replies and error texts byte for byte,
//! content negotiation, and ringpin's `/metrics` (the contract in `support/mod.rs`). After every
//! error the endpoint must still accept a good publish.

use crate::support::{
    metrics, parse_metric, publish, publish_ok, publish_request, stream_item, wait_metric,
    wait_subscribed, Backend, BackendResponse, Proxy, StreamClient, METRIC_NAMES,
};

fn proxy_with_stream_origin() -> (Backend, Proxy) {
    let backend = Backend::start(|_| BackendResponse::stream_hold("c", "start\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    (backend, proxy)
}

fn assert_still_publishes(proxy: &Proxy) {
    publish_ok(proxy, &stream_item("probe", "still here\n"));
}

#[test]
fn publish_to_a_channel_without_subscribers_is_still_published() {
    let (_backend, proxy) = proxy_with_stream_origin();

    let (status, body) = publish(&proxy, &stream_item("nobody-listens", "hello\n"));

    assert_eq!((status, body.as_str()), (200, "Published\n"));
}

#[test]
fn publish_with_invalid_json_gets_400_and_the_endpoint_keeps_working() {
    let (_backend, proxy) = proxy_with_stream_origin();

    let (status, body) = publish(&proxy, r#"{"items": ["#);

    assert_eq!((status, body.as_str()), (400, "Body is not valid JSON.\n"));
    assert_still_publishes(&proxy);
}

#[test]
fn publish_item_without_channel_gets_400_and_the_endpoint_keeps_working() {
    let (_backend, proxy) = proxy_with_stream_origin();

    let (status, body) = publish(
        &proxy,
        r#"{"items":[{"formats":{"http-stream":{"content":"x"}}}]}"#,
    );

    assert_eq!(status, 400);
    assert_eq!(
        body,
        "Invalid format: publish item object does not contain 'channel'\n"
    );
    assert_still_publishes(&proxy);
}

#[test]
fn get_on_the_publish_path_gets_405_with_allow_post() {
    let (_backend, proxy) = proxy_with_stream_origin();

    let response = publish_request(&proxy, "GET", "/publish/", &[], b"");

    assert_eq!(response.status, 405);
    assert_eq!(response.header("Allow"), Some("POST"));
    assert_eq!(response.body_text(), "Method not allowed: GET.\n");
    assert_still_publishes(&proxy);
}

#[test]
fn unknown_path_on_the_publish_listener_gets_404() {
    let (_backend, proxy) = proxy_with_stream_origin();

    let response = publish_request(&proxy, "POST", "/nope/", &[], b"{}");

    assert_eq!(response.status, 404);
    assert_eq!(response.body_text(), "Not Found\n");
    assert_still_publishes(&proxy);
}

#[test]
fn accept_json_gets_the_reply_as_json() {
    let (_backend, proxy) = proxy_with_stream_origin();
    let item = stream_item("c", "hello\n");
    let headers = [("Accept", "application/json")];

    let response = publish_request(&proxy, "POST", "/publish/", &headers, item.as_bytes());

    assert_eq!(response.status, 200);
    let content_type = response.header("Content-Type").unwrap_or("");
    assert!(
        content_type.starts_with("application/json"),
        "{content_type:?}"
    );
    let reply: serde_json::Value = serde_json::from_slice(&response.body)
        .unwrap_or_else(|e| panic!("reply is not JSON ({e}): {:?}", response.body_text()));
    assert_eq!(reply, serde_json::json!({ "message": "Published" }));
}

#[test]
fn get_root_answers_pushpin_api() {
    let (_backend, proxy) = proxy_with_stream_origin();

    let response = publish_request(&proxy, "GET", "/", &[], b"");

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "Pushpin API\n");
}

#[test]
fn metrics_expose_every_documented_name_and_track_a_subscriber() {
    let (_backend, proxy) = proxy_with_stream_origin();
    let text = metrics(&proxy);
    for name in METRIC_NAMES {
        assert!(
            parse_metric(&text, name).is_some(),
            "/metrics lacks {name}:\n{text}"
        );
    }

    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    wait_metric(&proxy, "ringpin_connections", ">= 1", |v| v >= 1.0);

    drop(client);
    wait_metric(
        &proxy,
        "ringpin_subscriptions",
        "0 after the client left",
        |v| v == 0.0,
    );
    wait_metric(
        &proxy,
        "ringpin_connections",
        "0 after the client left",
        |v| v == 0.0,
    );
}
