//! Response holds, i.e. long-polling (`Grip-Hold: response`, PUSHPIN.md §2.3, §4): nothing is
//! sent until an `http-response` publish or the timeout; a publish is merged with the origin's
//! headers; the timeout sends the origin's own response; the JSON `grip-instruct` form.

use std::time::Duration;

use serde_json::json;

use crate::support::{
    get_request, metric, publish_ok, response_item, stream_item, wait_metric, wait_subscribed,
    Backend, BackendResponse, Conn, Proxy, Response,
};

/// Sends a long-poll request and returns the connection, whose response is still pending.
fn start_long_poll(proxy: &Proxy) -> Conn {
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll"));
    conn
}

fn assert_no_grip_headers(response: &Response) {
    assert_eq!(response.grip_headers(), Vec::<&str>::new(), "{response:?}");
}

/// The instruct body of PUSHPIN.md §2.3: hold `j` for 5 s, timeout body `timeout body\n`.
fn json_instruct_backend() -> Backend {
    let instruct = json!({
        "hold": { "mode": "response", "channels": [ { "name": "j" } ], "timeout": 5 },
        "response": { "body": "timeout body\n" }
    });
    Backend::start(move |_| BackendResponse::grip_instruct(&instruct))
}

#[test]
fn long_poll_gets_the_published_response_merged_with_origin_headers() {
    let backend = Backend::start(|_| {
        BackendResponse::response_hold("lp", "nothing yet\n")
            .header("X-Orig", "kept")
            .header("X-Replace", "old")
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    let format = json!({
        "code": 201, "reason": "Made",
        "headers": { "X-Replace": "new", "X-Pub": "yes" },
        "body": "published\n"
    });
    publish_ok(&proxy, &response_item("lp", format));
    let response = conn.read_response();

    assert_eq!((response.status, response.reason.as_str()), (201, "Made"));
    assert_eq!(response.body_text(), "published\n");
    assert_eq!(response.header("X-Orig"), Some("kept"));
    assert_eq!(response.headers_named("X-Replace"), ["new"]);
    assert_eq!(response.header("X-Pub"), Some("yes"));
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
    assert_no_grip_headers(&response);
}

#[test]
fn two_long_polls_on_one_channel_both_get_the_publish() {
    let backend = Backend::start(|_| BackendResponse::response_hold("both", "timeout\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut first = start_long_poll(&proxy);
    let mut second = start_long_poll(&proxy);
    wait_subscribed(&proxy, 2);

    publish_ok(&proxy, &response_item("both", json!({ "body": "news\n" })));

    for conn in [&mut first, &mut second] {
        let response = conn.read_response();
        assert_eq!(response.status, 200);
        assert_eq!(response.body_text(), "news\n");
    }
    wait_metric(&proxy, "ringpin_subscriptions", "0 once answered", |v| {
        v == 0.0
    });
}

#[test]
fn long_poll_ignores_items_without_an_http_response_format() {
    let backend = Backend::start(|_| BackendResponse::response_hold("lp", "timeout\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("lp", "stream only\n"));
    publish_ok(
        &proxy,
        &response_item("lp", json!({ "body": "response\n" })),
    );

    assert_eq!(conn.read_response().body_text(), "response\n");
}

#[test]
fn a_published_close_leaves_a_long_poll_held_as_in_pushpin() {
    // Pushpin's httpsession: "http-response mode doesn't support a close action since it's
    // better to send a real response"; the publish is accepted and the hold stays.
    let backend = Backend::start(|_| BackendResponse::response_hold("lp", "timeout\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &response_item("lp", json!({ "action": "close" })));
    conn.expect_nothing_for(Duration::from_millis(300));
    assert_eq!(metric(&proxy, "ringpin_held_responses"), Some(1.0));
    publish_ok(&proxy, &response_item("lp", json!({ "body": "after\n" })));

    let response = conn.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "after\n");
}

#[test]
fn long_poll_timeout_sends_the_origin_response_with_recomputed_length() {
    let backend = Backend::start(|_| {
        BackendResponse::response_hold("quiet", "nothing new\n")
            .header("Grip-Timeout", "5")
            .header("X-Orig", "kept")
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);

    // Nothing is published: after Grip-Timeout (5 s) the held origin response is released.
    let response = conn.read_response();

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "nothing new\n");
    assert_eq!(response.header("Content-Length"), Some("12"));
    assert_eq!(response.header("X-Orig"), Some("kept"));
    assert_no_grip_headers(&response);
}

#[test]
fn grip_instruct_json_hold_delivers_the_published_response() {
    let backend = json_instruct_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    publish_ok(
        &proxy,
        &response_item("j", json!({ "body": "published\n" })),
    );
    let response = conn.read_response();

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "published\n");
    assert_ne!(
        response.header("Content-Type"),
        Some("application/grip-instruct")
    );
    assert_no_grip_headers(&response);
}

#[test]
fn grip_instruct_json_hold_times_out_with_its_response_body() {
    let backend = json_instruct_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);

    // Nothing is published: after the instruct's 5 s timeout its "response" object is sent.
    let response = conn.read_response();

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "timeout body\n");
    assert_ne!(
        response.header("Content-Type"),
        Some("application/grip-instruct")
    );
    assert_no_grip_headers(&response);
}

#[test]
fn body_patch_is_applied_to_the_original_json_body() {
    let backend =
        Backend::start(|_| BackendResponse::response_hold("patch", "{\"a\":1,\"b\":[1,2]}\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    let format = json!({ "body-patch": [
        { "op": "replace", "path": "/a", "value": 2 },
        { "op": "add", "path": "/b/-", "value": 3 }
    ] });
    publish_ok(&proxy, &response_item("patch", format));
    let response = conn.read_response();

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "{\"a\":2,\"b\":[1,2,3]}\n");
    assert_eq!(response.header("Content-Length"), Some("20"));
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
    assert_no_grip_headers(&response);
}

#[test]
fn a_failing_body_patch_gets_a_502() {
    let backend = Backend::start(|_| BackendResponse::response_hold("patch", "{\"a\":1}\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = start_long_poll(&proxy);
    wait_subscribed(&proxy, 1);

    let format = json!({ "body-patch": [ { "op": "test", "path": "/a", "value": 2 } ] });
    publish_ok(&proxy, &response_item("patch", format));
    let response = conn.read_response();

    assert_eq!(response.status, 502);
    assert_eq!(response.body_text(), "Error while proxying to origin.\n");
    assert_no_grip_headers(&response);
}
