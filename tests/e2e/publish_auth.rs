//! Authenticated publishing (`--publish-key`/`--publish-iss`, `--publish-token`): without a
//! valid credential `/publish/`, `/recover` and `/metrics` answer 401 with a Bearer challenge
//! and nothing is delivered; gripcontrol and pubcontrol, configured as an application would
//! (`control_iss` + `key`, or `key` alone), publish through it unmodified.

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::{
    parse_metric, publish_request, stream_item, Backend, BackendResponse, Proxy, Publisher,
    StreamClient, DEADLINE,
};

const TOKEN: &str = "Bearer s3cret-token";

fn start(flags: &[&str]) -> (Backend, Proxy, StreamClient) {
    let backend = Backend::start(|_| BackendResponse::stream_hold("auth", "start\n"));
    let proxy = Proxy::start(backend.port(), flags);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    (backend, proxy, client)
}

/// `/metrics` read with `authorization`.
fn metric_with(proxy: &Proxy, authorization: &str, name: &str) -> Option<f64> {
    let headers = [("Authorization", authorization)];
    let response = publish_request(proxy, "GET", "/metrics", &headers, b"");
    assert_eq!(response.status, 200, "{}", response.body_text());
    parse_metric(&response.body_text(), name)
}

/// Waits until the stream's subscription is live, reading `/metrics` with `authorization`.
pub fn wait_subscribed_with(proxy: &Proxy, authorization: &str) {
    let deadline = Instant::now() + DEADLINE;
    while metric_with(proxy, authorization, "ringpin_subscriptions") != Some(1.0) {
        assert!(Instant::now() < deadline, "the stream never subscribed");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_the_token_publish_recover_and_metrics_get_401_and_nothing_is_delivered() {
    let (_backend, proxy, mut client) = start(&["--publish-token", "s3cret-token"]);
    wait_subscribed_with(&proxy, TOKEN);
    let body = stream_item("auth", "forged\n");
    let refused = [
        ("POST", "/publish/", vec![]),
        ("POST", "/publish/", vec![("Authorization", "Bearer wrong")]),
        (
            "POST",
            "/publish/",
            vec![("Authorization", "Basic czNjcmV0LXRva2Vu")],
        ),
        (
            "POST",
            "/publish/",
            vec![("Authorization", "Bearer s3cret-token-longer")],
        ),
        ("POST", "/recover", vec![]),
        ("GET", "/metrics", vec![]),
    ];
    for (method, path, headers) in &refused {
        let body = if *method == "POST" {
            body.as_bytes()
        } else {
            b""
        };
        let response = publish_request(&proxy, method, path, headers, body);
        assert_eq!(response.status, 401, "{method} {path} {headers:?}");
        let challenge = response.header("WWW-Authenticate").unwrap_or("");
        assert!(
            challenge.starts_with("Bearer realm=\"ringpin\""),
            "{challenge}"
        );
        assert_eq!(
            challenge.contains("invalid_token"),
            !headers.is_empty(),
            "{challenge}"
        );
        assert!(!response.body_text().contains("s3cret"));
    }
    // The liveness reply stays open.
    assert_eq!(publish_request(&proxy, "GET", "/", &[], b"").status, 200);

    let headers = [("Authorization", TOKEN)];
    let body = stream_item("auth", "genuine\n");
    let response = publish_request(&proxy, "POST", "/publish/", &headers, body.as_bytes());
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert_eq!(
        client.read_until("genuine\n"),
        "genuine\n",
        "no forged item came first"
    );
    let refusals = metric_with(&proxy, TOKEN, "ringpin_publish_unauthorized_total");
    assert_eq!(refusals, Some(refused.len() as f64));
    // The first refusal is logged with its reason; the rest of that second only counted.
    assert!(proxy.log().contains("refused: no Authorization header"));
}

#[test]
fn gripcontrol_with_control_iss_and_key_publishes_and_a_wrong_key_is_refused() {
    let flags = ["--publish-key", "jwt-key", "--publish-iss", "backend"];
    let (_backend, proxy, mut client) = start(&flags);
    let uri = format!("http://{}", proxy.publish_addr);
    let good = json!({"control_uri": uri, "control_iss": "backend", "key": "jwt-key"});
    let token = crate::support::sign_jwt(b"jwt-key", "backend");
    wait_subscribed_with(&proxy, &format!("Bearer {token}"));
    let mut publisher = Publisher::gripcontrol(&good);
    publisher.publish("auth", 1, 2);
    assert_eq!(client.read_until("auth 2\n"), "auth 1\nauth 2\n");

    for config in [
        json!({"control_uri": uri, "control_iss": "backend", "key": "not-the-key"}),
        json!({"control_uri": uri, "control_iss": "someone-else", "key": "jwt-key"}),
        json!({"control_uri": uri}),
    ] {
        let mut wrong = Publisher::gripcontrol(&config);
        let failure = wrong.try_publish("auth", 3, 3).expect_err("refused");
        assert!(failure.contains("401"), "{config}: {failure}");
    }
    publisher.publish("auth", 4, 4);
    assert_eq!(
        client.read_until("auth 4\n"),
        "auth 4\n",
        "nothing refused got through"
    );
}

#[test]
fn pubcontrol_with_only_a_key_sends_it_as_the_bearer_token() {
    let (_backend, proxy, mut client) = start(&["--publish-token", "s3cret-token"]);
    wait_subscribed_with(&proxy, TOKEN);
    let uri = format!("http://{}", proxy.publish_addr);
    let mut publisher = Publisher::pubcontrol(&json!({"uri": uri, "key": "s3cret-token"}));
    publisher.publish("auth", 1, 1);
    assert_eq!(client.read_until("auth 1\n"), "auth 1\n");
}
