//! Server-Sent Events (PUSHPIN.md §5.1): an SSE stream is a stream hold whose origin answers
//! `text/event-stream`; ringpin adds `Grip-Keep-Alive` data during silence and appends published
//! event blocks verbatim (it knows nothing about SSE framing).

use crate::support::{
    publish_ok, stream_item, wait_subscribed, Backend, BackendResponse, Proxy, SseClient,
};

/// The keep-alive SSE comment, as `Grip-Keep-Alive: :\n\n; format=cstring` decodes it.
const KEEP_ALIVE: &str = ":\n\n";

/// An origin opening an SSE stream on `channel` with a 2 s keep-alive and an initial comment.
fn sse_backend(channel: &str) -> Backend {
    let channel = channel.to_string();
    Backend::start(move |_| {
        BackendResponse::new(200, "text/event-stream", ":ok\n\n")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", &channel)
            .header("Grip-Keep-Alive", ":\\n\\n; format=cstring; timeout=2")
    })
}

fn open_events(proxy: &Proxy) -> SseClient {
    let mut client = SseClient::open(proxy.addr, "/events");
    let head = client.head();
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("Content-Type"), Some("text/event-stream"));
    assert!(head.is_chunked(), "{head:?}");
    assert_eq!(head.grip_headers(), Vec::<&str>::new());
    assert_eq!(client.next_event(), ":ok\n\n");
    client
}

#[test]
fn sse_stream_gets_keep_alive_during_silence_then_published_event() {
    let backend = sse_backend("ev");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = open_events(&proxy);

    // timeout=2 s of silence (minus jitter); only its arrival before the deadline is asserted.
    assert_eq!(client.next_event(), KEEP_ALIVE);

    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &stream_item("ev", "event: x\ndata: y\n\n"));
    assert_eq!(
        client.next_event_skipping(KEEP_ALIVE),
        "event: x\ndata: y\n\n"
    );
}

#[test]
fn sse_events_published_in_sequence_arrive_verbatim_in_order() {
    let backend = sse_backend("seq");
    let proxy = Proxy::start(backend.port(), &[]);
    let mut client = open_events(&proxy);
    wait_subscribed(&proxy, 1);
    let events: Vec<String> = (1..=3)
        .map(|id| format!("id: {id}\nevent: tick\ndata: {{\"n\":{id}}}\n\n"))
        .collect();

    for event in &events {
        publish_ok(&proxy, &stream_item("seq", event));
    }

    for event in &events {
        assert_eq!(&client.next_event_skipping(KEEP_ALIVE), event);
    }
}
