//! Unit tests for filtered delivery: verdicts become the right bytes, and unfiltered
//! subscribers keep the shared ones.

use super::*;
use crate::fanout::chunk_writer::{OverflowPolicy, SinkTable};
use crate::grip::filter::SubscriberFilters;
use crate::publish::format::StreamContent;
use std::collections::HashMap;

struct Table(HashMap<u32, Sink>);

impl SinkTable for Table {
    fn sink_mut(&mut self, key: ConnKey) -> Option<&mut Sink> {
        self.0.get_mut(&key.0)
    }
}

/// An item on channel `c` with id `id`, publish meta, and the given formats.
fn item(
    id: &str,
    meta: &[(&str, &str)],
    stream: Option<EncodedStream>,
    response: Option<HttpResponseFormat>,
) -> Arc<EncodedItem> {
    Arc::new(EncodedItem {
        channel: "c".into(),
        id: Some(id.into()),
        prev_id: None,
        meta: meta
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        no_seq: false,
        stream,
        response,
        ws: None,
        routed_at: None,
    })
}

fn stream(text: &str, content_filters: Option<&[&str]>) -> Option<EncodedStream> {
    Some(EncodedStream::Content(StreamContent::new(
        Bytes::copy_from_slice(text.as_bytes()),
        content_filters.map(|l| l.iter().map(|f| f.to_string()).collect()),
    )))
}

fn response(body: &str) -> Option<HttpResponseFormat> {
    Some(HttpResponseFormat::Send {
        code: 200,
        reason: None,
        headers: Headers::new(),
        body: ResponseBody::Bytes(Bytes::copy_from_slice(body.as_bytes())),
    })
}

/// Sink 1: unfiltered; sink 2: user `u`, `skip-users` + `build-id` with id_format `c:%(c)s`.
fn table(transport: Transport) -> Table {
    let mut filters = SubscriberFilters::new(vec![
        ("user".into(), "u".into()),
        ("id_format".into(), "c:%(c)s".into()),
    ]);
    let names = ["build-id".to_string(), "skip-users".to_string()];
    filters.subscribe("c", Some("0".into()), &names);
    let mut filtered = Sink::new(transport, 10_000, 100);
    filtered.filters = Some(Box::new(filters));
    Table(HashMap::from([
        (1, Sink::new(transport, 10_000, 100)),
        (2, filtered),
    ]))
}

fn deliver(t: &mut Table, item: &Arc<EncodedItem>) -> DeliveryReport {
    let mut report = DeliveryReport::default();
    let keys = [ConnKey(1), ConnKey(2)];
    ChunkWriter::new(OverflowPolicy::Drop).deliver(item, &keys, t, Instant::now(), &mut report);
    report
}

fn queued(t: &Table, key: u32) -> Vec<u8> {
    let queue = &t.0[&key].queue;
    queue.front_slices(usize::MAX).flatten().copied().collect()
}

#[test]
fn build_id_rewrites_for_the_filtered_subscriber_only() {
    let mut t = table(Transport::HttpStreamChunked);
    let published = item("1", &[], stream("id: %I\n", Some(&["build-id"])), None);
    let report = deliver(&mut t, &published);
    assert_eq!(report.delivered, 2);
    assert_eq!(queued(&t, 1), b"7\r\nid: %I\n\r\n");
    assert_eq!(queued(&t, 2), b"8\r\nid: c:1\n\r\n");
    // The unfiltered subscriber holds the item's own bytes, not a copy.
    let Some(EncodedStream::Content(content)) = &published.stream else {
        panic!("stream item");
    };
    let chunk = content.chunk();
    let front = t.0[&1].queue.front_bytes().map(|b| b.as_ptr());
    assert_eq!(front, Some(chunk.as_ptr()));
}

#[test]
fn equal_rewrites_share_one_encoding() {
    let mut t = table(Transport::HttpStreamChunked);
    let mut second = SubscriberFilters::new(vec![("id_format".into(), "c:%(c)s".into())]);
    second.subscribe("c", Some("0".into()), &["build-id".to_string()]);
    let mut sink = Sink::new(Transport::HttpStreamChunked, 10_000, 100);
    sink.filters = Some(Box::new(second));
    t.0.insert(3, sink);
    let mut report = DeliveryReport::default();
    let keys = [ConnKey(2), ConnKey(3)];
    let published = item("1", &[], stream("id: %I\n", None), None);
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    writer.deliver(&published, &keys, &mut t, Instant::now(), &mut report);
    let front = |key| t.0[&key].queue.front_bytes().map(|b| b.as_ptr());
    assert_eq!(queued(&t, 3), b"8\r\nid: c:1\n\r\n");
    assert_eq!(front(2), front(3));
    // A different rendering, or another framing, is encoded afresh.
    let mut memo = RewriteMemo::default();
    let a = memo.encode(WireForm::Chunk, b"a".to_vec());
    let again = memo.encode(WireForm::Chunk, b"a".to_vec());
    let raw = memo.encode(WireForm::Raw, b"a".to_vec());
    let b = memo.encode(WireForm::Raw, b"b".to_vec());
    assert_eq!(a.as_ptr(), again.as_ptr());
    assert_eq!(
        (a.as_ref(), raw.as_ref(), b.as_ref()),
        (&b"1\r\na\r\n"[..], &b"a"[..], &b"b"[..])
    );
    assert_eq!(
        memo.encode(WireForm::Frame(0x82), b"b".to_vec()).as_ref(),
        b"\x82\x01b"
    );
}

#[test]
fn unchanged_content_keeps_the_shared_bytes_for_filtered_subscribers_too() {
    let mut t = table(Transport::HttpStreamChunked);
    let published = item("1", &[], stream("no directive\n", None), None);
    deliver(&mut t, &published);
    let Some(EncodedStream::Content(content)) = &published.stream else {
        panic!("stream item");
    };
    let chunk = content.chunk();
    let front = t.0[&2].queue.front_bytes().map(|b| b.as_ptr());
    assert_eq!(front, Some(chunk.as_ptr()));
}

#[test]
fn a_skipped_user_gets_nothing_and_others_get_the_item() {
    let mut t = table(Transport::HttpStreamRaw);
    let published = item("1", &[("skip_users", "u")], stream("x", None), None);
    let report = deliver(&mut t, &published);
    assert_eq!(report.delivered, 1);
    assert_eq!(report.ready, vec![ConnKey(1)]);
    assert_eq!(queued(&t, 1), b"x");
    assert!(t.0[&2].queue.is_empty());
    // A withheld close leaves the filtered stream open.
    let close = item(
        "2",
        &[("skip_users", "u")],
        Some(EncodedStream::Close),
        None,
    );
    deliver(&mut t, &close);
    assert!(t.0[&1].close_after_flush);
    assert!(!t.0[&2].close_after_flush);
}

#[test]
fn a_filter_error_ends_a_stream_cleanly() {
    let mut t = table(Transport::HttpStreamChunked);
    let mismatch = item("1", &[], stream("x", Some(&["var-subst"])), None);
    let report = deliver(&mut t, &mismatch);
    assert_eq!(queued(&t, 1), b"1\r\nx\r\n");
    assert_eq!(queued(&t, 2), b"0\r\n\r\n");
    assert!(t.0[&2].close_after_flush);
    assert!(report.wake.contains(&ConnKey(2)));
    let mut raw = table(Transport::HttpStreamRaw);
    deliver(&mut raw, &item("1", &[], stream("%q", None), None));
    assert!(raw.0[&2].close_after_flush && raw.0[&2].queue.is_empty());
}

#[test]
fn a_long_poll_gets_its_rewritten_body_or_a_502() {
    let mut t = table(Transport::HttpResponse);
    let published = item("5", &[], None, response("id=%I"));
    deliver(&mut t, &published);
    let body = |t: &Table, key| match t.0[&key].pending_response.as_deref() {
        Some(EncodedItem {
            response: Some(HttpResponseFormat::Send { code, body, .. }),
            ..
        }) => (*code, body.clone()),
        other => panic!("{other:?}"),
    };
    let text = |b: &str| ResponseBody::Bytes(Bytes::copy_from_slice(b.as_bytes()));
    assert_eq!(body(&t, 1), (200, text("id=%I")));
    assert_eq!(body(&t, 2), (200, text("id=c:5")));
    let mut failing = table(Transport::HttpResponse);
    deliver(&mut failing, &item("5", &[], None, response("%z")));
    assert_eq!(body(&failing, 2), (502, text(FILTER_ERROR_TEXT)));
}

#[test]
fn websocket_frames_are_rebuilt_around_the_new_payload() {
    for len in [0usize, 5, 125, 126, 200, 65_535, 65_536, 70_000] {
        let payload = vec![b'p'; len];
        let text_frame = reframe(&[0x81], &payload);
        assert_eq!(text_frame[0], 0x81);
        let header_bytes = match len {
            0..=125 => 2,
            126..=65_535 => 4,
            _ => 10,
        };
        assert_eq!(text_frame.len() - len, header_bytes, "len {len}");
        assert_eq!(&text_frame[header_bytes..], payload.as_slice(), "len {len}");
    }
    assert_eq!(reframe(b"\x82\x03abc", b"xy").as_ref(), b"\x82\x02xy");
}
