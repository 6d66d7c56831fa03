//! django-eventstream end to end (PUSHPIN.md §5.4): the real `django-eventstream` and
//! `django-grip` packages (the project in `tests/django/`, in a venv made by
//! `tests/django/bootstrap.sh`) run behind the real ringpin.
//!
//! What it relies on from ringpin: stream holds with a cstring keep-alive, `Grip-Set-Meta`
//! with quoted values, the `build-id` filter (`id: %I` in every published event, `%%` in the
//! initial body), `skip-users`, `require-sub`, `content-filters` matching, and the `close`
//! action. django-eventstream also sends a `Grip-Link` next link and `prev-id`s; this test
//! passes without next links, and keeps passing once they are followed (their responses
//! add nothing here).

use crate::support::{
    free_port, get, wait_metric, wait_subscribed, Django, DjangoSite, Proxy, StreamClient,
};

/// The event stream of channel `test`, as a browser's `EventSource` would open it.
const EVENTS: &str = "/events/?channel=test";

/// django-eventstream's opening: a 2 KiB comment (for old browsers), then `stream-open`.
const STREAM_OPEN: &str = "event: stream-open\ndata:\n\n";

/// Calls `send_event("test", "message", {"text": text})` in Django (directly, not through
/// ringpin); it stores the event and publishes it to ringpin before answering.
fn send(django: &Django, text: &str) {
    let response = get(django.addr, &format!("/send/?channel=test&text={text}"));
    assert_eq!(response.status, 200, "{}", response.body_text());
}

/// The SSE text a client gets for stored event `id` whose data is `{"text": text}`.
fn message(id: u32, text: &str) -> String {
    format!("event: message\nid: test:{id}\ndata: {{\"text\": \"{text}\"}}\n\n")
}

/// Opens the event stream through ringpin, optionally resuming after `last_event_id`, and
/// reads its opening.
fn open(proxy: &Proxy, last_event_id: Option<&str>) -> StreamClient {
    let headers: Vec<(&str, &str)> = last_event_id
        .map(|id| vec![("Last-Event-ID", id)])
        .unwrap_or_default();
    let mut client = StreamClient::open_with(proxy.addr, EVENTS, &headers);
    let head = client.head().clone();
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    assert_eq!(head.grip_headers(), Vec::<&str>::new());
    let opening = client.read_until(STREAM_OPEN);
    assert!(opening.starts_with(":   "), "{opening:.40}");
    client
}

#[test]
fn django_eventstream_events_arrive_resume_after_a_gap_and_a_kick_closes_the_stream() {
    let site = DjangoSite::prepare();
    let django_port = free_port();
    let proxy = Proxy::start(django_port, &[]);
    let django = site.serve(django_port, proxy.publish_addr);

    // Live events: the id is written by ringpin's build-id filter from the stored event id.
    let mut client = open(&proxy, None);
    wait_subscribed(&proxy, 2); // events-test and user-anonymous
    send(&django, "one");
    assert_eq!(client.read_until("\n\n"), message(1, "one"));

    // Events sent while the client is away are stored, and replayed on reconnect.
    drop(client);
    wait_metric(&proxy, "ringpin_subscriptions", "0", |v| v == 0.0);
    send(&django, "two");
    send(&django, "50%25"); // "50%": django-eventstream escapes it, build-id unescapes it
    let mut client = open(&proxy, Some("test:1"));
    assert_eq!(client.read_until("\n\n"), message(2, "two"));
    assert_eq!(client.read_until("\n\n"), message(3, "50%"));
    wait_subscribed(&proxy, 2);
    send(&django, "four");
    assert_eq!(client.read_until("\n\n"), message(4, "four"));

    // Revoking the channel kicks the user: a stream-error event, then the end of the stream.
    let response = get(django.addr, "/kick/?channel=test");
    assert_eq!(response.status, 200, "{}", response.body_text());
    let error = client.read_until("\n\n");
    assert!(
        error.starts_with("event: stream-error\nid: error\ndata: ") && error.contains("forbidden"),
        "{error}"
    );
    client.expect_end();
}
