//! Filters and subscription metadata (PUSHPIN.md §2.5): `Grip-Set-Meta` on a hold, publish
//! `meta`, and the filters `skip-self`, `skip-users`, `require-sub`, `build-id` and
//! `var-subst`, each delivering or withholding exactly as Pushpin does; `content-filters`
//! must match the subscription; a failing filter ends the stream cleanly.

use serde_json::{json, Value};

use crate::support::{
    get_request, publish_ok, Backend, BackendResponse, Conn, Proxy, StreamClient,
};

/// An origin holding `GET /<user>?<grip-channel>` as a stream with `Grip-Set-Meta:
/// user="<user>"` plus `extra_meta`, on the `Grip-Channel` value given as the query.
fn filtered_backend(extra_meta: &'static str) -> Backend {
    Backend::start(move |request| {
        let (user, channel) = request.path[1..]
            .split_once('?')
            .unwrap_or((&request.path[1..], "c"));
        let channel = channel.replace("%20", " ");
        let mut meta = format!("user=\"{user}\"");
        if !extra_meta.is_empty() {
            meta.push_str(", ");
            meta.push_str(extra_meta);
        }
        let response =
            BackendResponse::stream_hold(&channel, "start 100%%\n").header("Grip-Set-Meta", &meta);
        with_link_if_sequenced(response, &channel)
    })
}

/// A stream hold with a `prev-id` must carry a next link, or it ends after its initial body
/// (PUSHPIN.md §3.8). The link is never fetched in these tests: their ids follow on, and
/// they run with `NO_REFRESH`.
fn with_link_if_sequenced(response: BackendResponse, channel: &str) -> BackendResponse {
    if channel.contains("prev-id") {
        response.header("Grip-Link", "</next>; rel=next")
    } else {
        response
    }
}

/// Proxy flags for the tests whose holds have next links: no first-subscription refresh.
const NO_REFRESH: [&str; 2] = ["--update-on-first-subscription", "no"];

/// Opens a stream as `user` on the `Grip-Channel` value `channel` and reads the initial body.
fn open(proxy: &Proxy, user: &str, channel: &str) -> StreamClient {
    let mut client = StreamClient::open(
        proxy.addr,
        &format!("/{user}?{}", channel.replace(' ', "%20")),
    );
    assert_eq!(client.head().status, 200, "{:?}", client.head());
    client.read_until("\n");
    client
}

/// A publish body with one `http-stream` item: `content`, optional id/prev-id, publish
/// `meta`, and `content-filters` when given.
fn item(
    channel: &str,
    content: &str,
    ids: (Option<&str>, Option<&str>),
    meta: Value,
    filters: Option<&[&str]>,
) -> String {
    let mut format = json!({ "content": content });
    if let Some(filters) = filters {
        format["content-filters"] = json!(filters);
    }
    let mut item =
        json!({ "channel": channel, "meta": meta, "formats": { "http-stream": format } });
    if let Some(id) = ids.0 {
        item["id"] = json!(id);
    }
    if let Some(prev) = ids.1 {
        item["prev-id"] = json!(prev);
    }
    json!({ "items": [item] }).to_string()
}

fn plain(channel: &str, content: &str, meta: Value) -> String {
    item(channel, content, (None, None), meta, None)
}

/// Waits until the proxy reports `total` subscriptions.
fn subscribed(proxy: &Proxy, total: usize) {
    crate::support::wait_subscribed(proxy, total);
}

#[test]
fn skip_self_withholds_only_the_senders_own_publish() {
    let backend = filtered_backend("");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut alice = open(&proxy, "alice", "room; filter=skip-self");
    let mut bob = open(&proxy, "bob", "room; filter=skip-self");
    subscribed(&proxy, 2);

    publish_ok(
        &proxy,
        &plain("room", "alice says hi\n", json!({ "sender": "alice" })),
    );
    publish_ok(&proxy, &plain("room", "news\n", json!({})));

    assert_eq!(alice.read_until("news\n"), "news\n");
    assert_eq!(bob.read_until("news\n"), "alice says hi\nnews\n");
}

#[test]
fn skip_users_withholds_every_listed_user() {
    let backend = filtered_backend("");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut clients: Vec<StreamClient> = ["a", "b", "c"]
        .iter()
        .map(|user| open(&proxy, user, "room; filter=skip-users"))
        .collect();
    subscribed(&proxy, 3);

    publish_ok(
        &proxy,
        &plain("room", "not for a or c\n", json!({ "skip_users": "a, c" })),
    );
    publish_ok(&proxy, &plain("room", "all\n", json!({})));

    let got: Vec<String> = clients.iter_mut().map(|c| c.read_until("all\n")).collect();
    assert_eq!(got, ["all\n", "not for a or c\nall\n", "all\n"]);
}

#[test]
fn require_sub_reaches_only_sessions_subscribed_to_the_named_channel() {
    let backend = filtered_backend("");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut member = open(&proxy, "1", "user-1; filter=require-sub, events-a");
    let mut other = open(&proxy, "1", "user-1; filter=require-sub, events-b");
    subscribed(&proxy, 4);

    // django-eventstream's kick: an error event, then a close, both requiring events-a.
    let meta = json!({ "require_sub": "events-a" });
    publish_ok(&proxy, &plain("user-1", "kicked\n", meta.clone()));
    let close = json!({ "items": [ {
        "channel": "user-1", "meta": meta, "formats": { "http-stream": { "action": "close" } }
    } ] });
    publish_ok(&proxy, &close.to_string());
    assert_eq!(member.read_until("kicked\n"), "kicked\n");
    member.expect_end();

    publish_ok(&proxy, &plain("user-1", "still here\n", json!({})));
    assert_eq!(other.read_until("still here\n"), "still here\n");
}

#[test]
fn build_id_writes_each_subscribers_own_id_and_leaves_others_alone() {
    let backend = Backend::start(|request| {
        let channel = "events-a; prev-id=3; filter=build-id; filter=skip-users";
        let meta = match request.path.as_str() {
            "/hex" => r#"user="h", id_format="a:%(events-a)s", id_encoding="hex""#,
            _ => r#"user="u", id_format="a:%(events-a)s""#,
        };
        let response = with_link_if_sequenced(
            BackendResponse::stream_hold(channel, "start 100%%\n"),
            channel,
        );
        if request.path == "/plain" {
            return BackendResponse::stream_hold("events-a", "start 100%%\n");
        }
        response.header("Grip-Set-Meta", meta)
    });
    let proxy = Proxy::start(backend.port(), &NO_REFRESH);
    let mut text = StreamClient::open(proxy.addr, "/text");
    let mut hex = StreamClient::open(proxy.addr, "/hex");
    let mut plain_client = StreamClient::open(proxy.addr, "/plain");
    // The initial body goes through build-id too: `%%` is a literal `%`.
    assert_eq!(text.read_until("\n"), "start 100%\n");
    assert_eq!(hex.read_until("\n"), "start 100%\n");
    assert_eq!(plain_client.read_until("\n"), "start 100%%\n");
    subscribed(&proxy, 3);

    let event = "event: message\nid: %I\ndata: 5%% of %(x)I\n\n";
    let body = item(
        "events-a",
        event,
        (Some("4"), Some("3")),
        json!({}),
        Some(&["build-id"]),
    );
    publish_ok(&proxy, &body);
    assert_eq!(
        text.read_until("\n\n"),
        "event: message\nid: a:4\ndata: 5% of x\n\n"
    );
    assert_eq!(
        hex.read_until("\n\n"),
        "event: message\nid: 613a34\ndata: 5% of 78\n\n"
    );
    assert_eq!(plain_client.read_until("\n\n"), event);

    // The id follows the channel: the next item names itself.
    let body = item(
        "events-a",
        "id: %I\n",
        (Some("5"), Some("4")),
        json!({}),
        Some(&["build-id"]),
    );
    publish_ok(&proxy, &body);
    assert_eq!(text.read_until("\n"), "id: a:5\n");
}

#[test]
fn var_subst_fills_in_subscription_meta() {
    let backend = filtered_backend(r#"name="Ann Lee""#);
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = open(&proxy, "ann", "room; filter=var-subst");
    subscribed(&proxy, 1);

    publish_ok(
        &proxy,
        &plain("room", "hello %(name)s (%(user)s), 1%%\n", json!({})),
    );
    assert_eq!(client.read_until("\n"), "hello Ann Lee (ann), 1%\n");
}

#[test]
fn a_content_filter_mismatch_ends_the_stream_and_spares_matching_ones() {
    let backend = filtered_backend(r#"id_format="%(room)s""#);
    let proxy = Proxy::start(backend.port(), &NO_REFRESH);
    let mut mismatched = open(&proxy, "m", "room; filter=skip-self");
    let mut matching = open(&proxy, "ok", "room; prev-id=1; filter=build-id");
    subscribed(&proxy, 2);

    let body = item(
        "room",
        "id=%I\n",
        (Some("2"), Some("1")),
        json!({}),
        Some(&["build-id"]),
    );
    publish_ok(&proxy, &body);
    mismatched.expect_end();
    assert_eq!(matching.read_until("\n"), "id=2\n");
}

#[test]
fn a_filter_error_ends_the_stream_cleanly() {
    let backend = filtered_backend("");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = open(&proxy, "u", "room; filter=var-subst");
    subscribed(&proxy, 1);

    publish_ok(&proxy, &plain("room", "hello %(nobody)s\n", json!({})));
    client.expect_end();
}

#[test]
fn a_stream_whose_initial_body_fails_build_id_gets_its_head_and_an_empty_body() {
    let backend = Backend::start(|_| {
        BackendResponse::stream_hold("c; filter=build-id", "id: %I\n")
            .header("Grip-Set-Meta", r#"id_format="%(c)s""#)
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/");
    assert_eq!(client.head().status, 200);
    client.expect_end();
}

#[test]
fn a_grip_response_without_a_hold_is_relayed_with_build_id_applied() {
    let backend = Backend::start(|_| {
        BackendResponse::text(200, "id: %(a:1)I, 100%%\n")
            .header("Grip-Channel", "a; prev-id=1; filter=build-id")
            .header("Grip-Set-Meta", r#"id_format="a:%(a)s""#)
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let response = crate::support::get(proxy.addr, "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Length"), Some("14"));
    assert_eq!(response.body_text(), "id: a:1, 100%\n");
}

#[test]
fn a_long_poll_skips_its_own_publish_and_gets_var_subst_applied() {
    let backend = Backend::start(|_| {
        BackendResponse::response_hold("lp; filter=skip-self; filter=var-subst", "timeout\n")
            .header("Grip-Set-Meta", "user=me")
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll"));
    subscribed(&proxy, 1);

    let own = json!({ "items": [ {
        "channel": "lp", "meta": { "sender": "me" },
        "formats": { "http-response": { "body": "mine\n" } }
    } ] });
    publish_ok(&proxy, &own.to_string());
    let other = json!({ "items": [ {
        "channel": "lp", "meta": { "sender": "you" },
        "formats": { "http-response": { "body": "hi %(user)s\n" } }
    } ] });
    publish_ok(&proxy, &other.to_string());
    let response = conn.read_response();
    assert_eq!(
        (response.status, response.body_text().as_str()),
        (200, "hi me\n")
    );
}

#[test]
fn the_json_instruct_form_carries_meta_and_filters_too() {
    let backend = Backend::start(|request| {
        let user = &request.path[1..];
        BackendResponse::grip_instruct(&json!({
            "hold": {
                "mode": "stream",
                "channels": [ { "name": "room", "filters": ["skip-self", "var-subst"] } ],
                "meta": { "user": user }
            },
            "response": { "body": "start\n" }
        }))
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut alice = StreamClient::open(proxy.addr, "/alice");
    let mut bob = StreamClient::open(proxy.addr, "/bob");
    alice.read_until("start\n");
    bob.read_until("start\n");
    subscribed(&proxy, 2);

    let from_alice = json!({ "sender": "alice" });
    publish_ok(
        &proxy,
        &plain("room", "from alice to %(user)s\n", from_alice),
    );
    publish_ok(&proxy, &plain("room", "bye %(user)s\n", json!({})));
    assert_eq!(alice.read_until("bye alice\n"), "bye alice\n");
    assert_eq!(bob.read_until("bye bob\n"), "from alice to bob\nbye bob\n");
}

#[test]
fn the_origin_is_told_which_filters_ringpin_supports() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    crate::support::get(proxy.addr, "/");
    let features = backend
        .last_request()
        .header("Grip-Feature")
        .map(str::to_string);
    let features = features.unwrap_or_default();
    for filter in [
        "skip-self",
        "skip-users",
        "require-sub",
        "build-id",
        "var-subst",
    ] {
        assert!(features.contains(&format!("filter:{filter}")), "{features}");
    }
}

#[test]
fn a_linked_stream_applies_each_answers_build_id_to_its_body_and_later_items() {
    // django-eventstream's paging: a no-hold answer with a next link, then a stream hold,
    // each with `%%` escapes in its body and `build-id` on its channel.
    let backend = Backend::start(|request| match request.path.as_str() {
        "/page1" => BackendResponse::text(200, "page one 10%%\n")
            .header("Grip-Channel", "p; filter=build-id")
            .header("Grip-Set-Meta", r#"id_format="p:%(p)s""#)
            .header("Grip-Link", "</page2>; rel=next"),
        "/page2" => {
            BackendResponse::stream_hold("p; prev-id=7; filter=build-id", "page two 20%%\n")
                .header("Grip-Set-Meta", r#"id_format="p:%(p)s""#)
                .header("Grip-Link", "</page3>; rel=next")
        }
        _ => BackendResponse::text(404, "unexpected\n"),
    });
    let proxy = Proxy::start(backend.port(), &NO_REFRESH);
    let mut client = StreamClient::open(proxy.addr, "/page1");
    assert_eq!(
        client.read_until("page two 20%\n"),
        "page one 10%\npage two 20%\n"
    );
    subscribed(&proxy, 1);
    let body = item(
        "p",
        "id: %I\n",
        (Some("8"), Some("7")),
        json!({}),
        Some(&["build-id"]),
    );
    publish_ok(&proxy, &body);
    assert_eq!(client.read_until("\n"), "id: p:8\n");
}
