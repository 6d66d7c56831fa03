use super::*;
use crate::http::Headers;
use crate::publish::format::{StreamContent, WsFrame};
use crate::publish::item::ResponseBody;
use crate::ws::deflate::encode_deflated_frame;
use crate::ws::encode_frame;
use std::collections::HashMap;
use tungstenite::protocol::frame::coding::{Data, OpCode};

struct Table(HashMap<ConnKey, Sink>);

impl SinkTable for Table {
    fn sink_mut(&mut self, key: ConnKey) -> Option<&mut Sink> {
        self.0.get_mut(&key)
    }
}

fn item(stream: Option<EncodedStream>, response: Option<HttpResponseFormat>) -> Arc<EncodedItem> {
    Arc::new(EncodedItem {
        channel: "c".into(),
        id: None,
        prev_id: None,
        meta: Vec::new(),
        no_seq: false,
        stream,
        response,
        ws: None,
        routed_at: None,
    })
}

fn content(text: &'static str) -> Arc<EncodedItem> {
    let raw = Bytes::from_static(text.as_bytes());
    item(
        Some(EncodedStream::Content(StreamContent::new(raw, None))),
        None,
    )
}

fn table(sinks: &[(u32, Transport, usize)]) -> Table {
    Table(
        sinks
            .iter()
            .map(|&(k, t, bytes_max)| (ConnKey(k), Sink::new(t, bytes_max, 100)))
            .collect(),
    )
}

fn queued(t: &Table, k: u32) -> Vec<u8> {
    t.0[&ConnKey(k)]
        .queue
        .front_slices(usize::MAX)
        .flatten()
        .copied()
        .collect()
}

#[test]
fn every_transport_gets_its_own_encoding_of_one_item() {
    let mut t = table(&[
        (1, Transport::HttpStreamChunked, 1000),
        (2, Transport::HttpStreamRaw, 1000),
        (3, Transport::HttpResponse, 1000),
    ]);
    let keys = [ConnKey(1), ConnKey(2), ConnKey(3), ConnKey(9)];
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    writer.deliver(&content("hi\n"), &keys, &mut t, Instant::now(), &mut report);
    assert_eq!(queued(&t, 1), b"3\r\nhi\n\r\n");
    assert_eq!(queued(&t, 2), b"hi\n");
    assert!(t.0[&ConnKey(3)].queue.is_empty(), "no http-response format");
    assert_eq!(report.ready, vec![ConnKey(1), ConnKey(2)]);
    assert_eq!(report.delivered, 2);
}

#[test]
fn a_second_item_queues_behind_the_first_without_a_new_ready_entry() {
    let mut t = table(&[(1, Transport::HttpStreamChunked, 1000)]);
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    writer.deliver(
        &content("a"),
        &[ConnKey(1)],
        &mut t,
        Instant::now(),
        &mut report,
    );
    report.clear();
    writer.deliver(
        &content("b"),
        &[ConnKey(1)],
        &mut t,
        Instant::now(),
        &mut report,
    );
    assert!(report.ready.is_empty());
    assert_eq!(queued(&t, 1), b"1\r\na\r\n1\r\nb\r\n");
}

#[test]
fn overflow_drops_for_that_subscriber_only_under_drop_policy() {
    let mut t = table(&[
        (1, Transport::HttpStreamChunked, 8),
        (2, Transport::HttpStreamChunked, 1000),
    ]);
    let keys = [ConnKey(1), ConnKey(2)];
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    for text in ["aaaa", "bbbb", "cccc"] {
        writer.deliver(&content(text), &keys, &mut t, Instant::now(), &mut report);
    }
    assert_eq!(report.dropped, 2);
    assert_eq!(report.overflow_closed, 0);
    assert_eq!(queued(&t, 2).len(), 3 * 9);
    assert!(!t.0[&ConnKey(1)].overflowed);
}

#[test]
fn overflow_marks_the_connection_for_closing_under_close_policy() {
    let mut t = table(&[(1, Transport::HttpStreamChunked, 8)]);
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Close);
    for text in ["aaaa", "bbbb", "cccc"] {
        writer.deliver(
            &content(text),
            &[ConnKey(1)],
            &mut t,
            Instant::now(),
            &mut report,
        );
    }
    assert!(t.0[&ConnKey(1)].overflowed);
    assert_eq!(report.overflow_closed, 1, "counted once, then skipped");
    assert_eq!(report.wake, vec![ConnKey(1)]);
}

#[test]
fn close_queues_the_last_chunk_and_stops_further_items() {
    let mut t = table(&[(1, Transport::HttpStreamChunked, 1000)]);
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    let close = item(Some(EncodedStream::Close), None);
    writer.deliver(&close, &[ConnKey(1)], &mut t, Instant::now(), &mut report);
    writer.deliver(
        &content("late"),
        &[ConnKey(1)],
        &mut t,
        Instant::now(),
        &mut report,
    );
    assert_eq!(queued(&t, 1), b"0\r\n\r\n");
    assert!(t.0[&ConnKey(1)].close_after_flush);
}

#[test]
fn a_response_hold_takes_the_first_response_item_only() {
    let mut t = table(&[(1, Transport::HttpResponse, 1000)]);
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    let send = |body: &'static str| {
        item(
            None,
            Some(HttpResponseFormat::Send {
                code: 200,
                reason: None,
                headers: Headers::new(),
                body: ResponseBody::Bytes(Bytes::from_static(body.as_bytes())),
            }),
        )
    };
    let first = send("one");
    writer.deliver(&first, &[ConnKey(1)], &mut t, Instant::now(), &mut report);
    writer.deliver(
        &send("two"),
        &[ConnKey(1)],
        &mut t,
        Instant::now(),
        &mut report,
    );
    let got = t.0[&ConnKey(1)].pending_response.as_ref().map(Arc::as_ptr);
    assert_eq!(got, Some(Arc::as_ptr(&first)));
    assert_eq!(report.wake, vec![ConnKey(1)]);
}

#[test]
fn a_refresh_flags_and_wakes_websockets_and_leaves_holds_alone() {
    let mut t = table(&[
        (1, Transport::WebSocket, 1000),
        (2, Transport::HttpStreamChunked, 1000),
        (3, Transport::HttpResponse, 1000),
    ]);
    let mut refresh = item(
        Some(EncodedStream::Refresh),
        Some(HttpResponseFormat::Refresh),
    );
    if let Some(item) = Arc::get_mut(&mut refresh) {
        item.ws = Some(EncodedWs::Refresh);
    }
    let keys = [ConnKey(1), ConnKey(2), ConnKey(3)];
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    writer.deliver(&refresh, &keys, &mut t, Instant::now(), &mut report);
    assert!(t.0[&ConnKey(1)].refresh);
    assert!(!t.0[&ConnKey(2)].refresh && !t.0[&ConnKey(3)].refresh);
    assert_eq!(report.wake, vec![ConnKey(1)]);
    assert!(report.ready.is_empty());
    assert!(t
        .0
        .values()
        .all(|sink| sink.queue.is_empty() && !sink.is_closing()));
}

#[test]
fn a_websocket_with_deflate_gets_the_compressed_frame_when_there_is_one() {
    let mut t = table(&[
        (1, Transport::WebSocket, 1000),
        (2, Transport::WebSocket, 1000),
    ]);
    if let Some(sink) = t.0.get_mut(&ConnKey(2)) {
        sink.deflate = true;
    }
    // Compressible, so it has a deflated form; then a byte, which deflate cannot shrink.
    let (long, short) = (Bytes::from(vec![b'a'; 200]), Bytes::from_static(b"x"));
    let text = OpCode::Data(Data::Text);
    let frames = |payload: &Bytes| {
        let mut item = item(None, None);
        if let Some(inner) = Arc::get_mut(&mut item) {
            inner.ws = Some(EncodedWs::Frame(WsFrame::new(
                text,
                payload.clone(),
                true,
                None,
            )));
        }
        item
    };
    let keys = [ConnKey(1), ConnKey(2)];
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    for payload in [&long, &short] {
        writer.deliver(&frames(payload), &keys, &mut t, Instant::now(), &mut report);
    }
    let plain = |p: &Bytes| encode_frame(text, p).to_vec();
    let deflated = encode_deflated_frame(text, &long).expect("compressible");
    assert!(encode_deflated_frame(text, &short).is_none());
    assert_eq!(queued(&t, 1), [plain(&long), plain(&short)].concat());
    assert_eq!(queued(&t, 2), [deflated.to_vec(), plain(&short)].concat());
}

#[test]
fn only_the_forms_a_subscriber_needs_are_built() {
    let mut t = table(&[(1, Transport::HttpStreamChunked, 1000)]);
    let mut published = content("s");
    if let Some(inner) = Arc::get_mut(&mut published) {
        let payload = Bytes::from_static(b"w");
        let frame = WsFrame::new(OpCode::Data(Data::Text), payload, true, None);
        inner.ws = Some(EncodedWs::Frame(frame));
    }
    let mut report = DeliveryReport::default();
    let writer = ChunkWriter::new(OverflowPolicy::Drop);
    writer.deliver(
        &published,
        &[ConnKey(1)],
        &mut t,
        Instant::now(),
        &mut report,
    );
    assert_eq!(queued(&t, 1), b"1\r\ns\r\n");
    let Some(EncodedWs::Frame(frame)) = &published.ws else {
        panic!("ws item");
    };
    assert_eq!(
        frame.built(),
        (false, false),
        "no WebSocket subscriber: no frame"
    );
}
