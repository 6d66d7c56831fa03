//! Filtered delivery: the slow path of `ChunkWriter::deliver`, for subscribers with filters.
//!
//! Owns: asking the subscriber's `SubscriberFilters` about an item, and turning the verdict
//! into the same actions the shared path takes: the item's shared bytes, bytes encoded for
//! this subscriber alone, nothing, or the end of the session.
//! Must not: await, write to sockets or read the clock; it runs inside the delivery loop.
//! Invariants: only connections whose `Sink::filters` is set come here, so a rewrite (one
//! allocation per subscriber, DESIGN.md §1) never touches an unfiltered channel; an item the
//! filters leave unchanged still goes out as the shared `Bytes`.

use super::{action_for, Action, ChunkWriter, DeliveryReport, Sink, Transport, EMPTY, LAST_CHUNK};
use crate::fanout::subscriptions::ConnKey;
use crate::grip::filter::{FilterError, ItemView, Verdict};
use crate::http::encode_chunk;
use crate::http::Headers;
use crate::publish::format::{EncodedItem, EncodedStream, EncodedWs};
use crate::publish::item::{HttpResponseFormat, ResponseBody};
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// The body a long-poll gets when its filters fail (Pushpin's generic 502 text).
const FILTER_ERROR_TEXT: &str = "Error while proxying to origin.\n";

impl ChunkWriter {
    /// Delivers `item` to one filtered subscriber.
    pub(super) fn deliver_filtered(
        &self,
        key: ConnKey,
        sink: &mut Sink,
        item: &Arc<EncodedItem>,
        now: Instant,
        report: &mut DeliveryReport,
    ) {
        let action = action_for(sink.transport, sink.deflate, item);
        if matches!(action, Action::Nothing) {
            return;
        }
        let (content, content_filters) = filtered_content(sink.transport, item);
        let Some(filters) = sink.filters.as_deref_mut() else {
            return;
        };
        let verdict = filters.on_item(ItemView {
            channel: &item.channel,
            id: item.id.as_deref(),
            meta: &item.meta,
            content_filters,
            content,
        });
        match verdict {
            Verdict::Deliver => self.apply(key, sink, action, item, now, report),
            Verdict::Drop => {}
            Verdict::Rewrite(content) => {
                self.apply_rewritten(key, sink, item, content, now, report)
            }
            Verdict::Fail(err) => self.fail(key, sink, item, &err, now, report),
        }
    }

    /// Queues `content`, encoded for this subscriber's transport, in place of the item's.
    fn apply_rewritten(
        &self,
        key: ConnKey,
        sink: &mut Sink,
        item: &Arc<EncodedItem>,
        content: Vec<u8>,
        now: Instant,
        report: &mut DeliveryReport,
    ) {
        let form = match (sink.transport, &item.ws) {
            (Transport::HttpResponse, _) => {
                let Some(rewritten) = with_response_body(item, Bytes::from(content)) else {
                    return;
                };
                return self.apply(key, sink, Action::Respond, &rewritten, now, report);
            }
            (Transport::WebSocket, Some(EncodedWs::Frame(message))) => {
                WireForm::Frame(message.first_byte())
            }
            (Transport::WebSocket, _) => return,
            (Transport::HttpStreamChunked, _) => WireForm::Chunk,
            (Transport::HttpStreamRaw, _) => WireForm::Raw,
        };
        let bytes = report.rewritten.encode(form, content);
        self.apply(key, sink, Action::Queue(&bytes), item, now, report);
    }

    /// Ends the session after a filter error: a stream ends cleanly, a long-poll gets a
    /// 502, and a WebSocket skips the item (PUSHPIN.md §2.5).
    fn fail(
        &self,
        key: ConnKey,
        sink: &mut Sink,
        item: &Arc<EncodedItem>,
        err: &FilterError,
        now: Instant,
        report: &mut DeliveryReport,
    ) {
        // Debug, not info: one bad publish fails every subscriber of its channel.
        log::debug!(
            "channel {:?}: subscriber filter failed: {err}",
            item.channel
        );
        let action = match sink.transport {
            Transport::HttpStreamChunked => Action::QueueThenClose(&LAST_CHUNK),
            Transport::HttpStreamRaw => Action::QueueThenClose(&EMPTY),
            Transport::WebSocket => return,
            Transport::HttpResponse => {
                let failed = filter_error_item(item);
                return self.apply(key, sink, Action::Respond, &failed, now, report);
            }
        };
        self.apply(key, sink, action, item, now, report);
    }
}

/// How rewritten content is framed on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WireForm {
    /// An HTTP chunk.
    Chunk,
    /// As is (HTTP/1.0 close-delimited).
    Raw,
    /// A WebSocket frame with this first byte (FIN and opcode).
    Frame(u8),
}

/// The last rewritten content and its encoding. Subscribers whose filters produce the same
/// content (django-eventstream's subscribers of one channel all render the same id) then
/// share one `Bytes`, in memory and in the encoding work, as unfiltered subscribers do.
#[derive(Debug, Default)]
pub(super) struct RewriteMemo {
    last: Option<(WireForm, Vec<u8>, Bytes)>,
}

impl RewriteMemo {
    /// `content` encoded as `form`, reusing the last encoding when both are equal.
    fn encode(&mut self, form: WireForm, content: Vec<u8>) -> Bytes {
        if let Some((last_form, last_content, bytes)) = &self.last {
            if *last_form == form && *last_content == content {
                return bytes.clone();
            }
        }
        let bytes = match form {
            WireForm::Chunk => encode_chunk(&content),
            WireForm::Raw => Bytes::copy_from_slice(&content),
            WireForm::Frame(first) => reframe(&[first], &content),
        };
        self.last = Some((form, content, bytes.clone()));
        bytes
    }
}

/// The content filters may rewrite for `transport`, and the item's `content-filters`.
fn filtered_content(
    transport: Transport,
    item: &EncodedItem,
) -> (Option<&[u8]>, Option<&[String]>) {
    match transport {
        Transport::HttpStreamChunked | Transport::HttpStreamRaw => match &item.stream {
            Some(EncodedStream::Content(content)) => {
                (Some(content.raw()), content.content_filters())
            }
            _ => (None, None),
        },
        // A `body-patch` is applied to the held body later, so it is not rewritten here.
        Transport::HttpResponse => match &item.response {
            Some(HttpResponseFormat::Send {
                body: ResponseBody::Bytes(body),
                ..
            }) => (Some(body), None),
            _ => (None, None),
        },
        Transport::WebSocket => match &item.ws {
            Some(EncodedWs::Frame(message)) => (Some(message.payload()), message.content_filters()),
            _ => (None, None),
        },
    }
}

/// A copy of `item` for one long-poll, with only its `http-response` and `body` replaced.
fn with_response_body(item: &EncodedItem, body: Bytes) -> Option<Arc<EncodedItem>> {
    let Some(HttpResponseFormat::Send {
        code,
        reason,
        headers,
        ..
    }) = &item.response
    else {
        return None;
    };
    let response = HttpResponseFormat::Send {
        code: *code,
        reason: reason.clone(),
        headers: headers.clone(),
        body: ResponseBody::Bytes(body),
    };
    Some(Arc::new(response_only(item, response)))
}

/// The 502 a long-poll gets when its filters fail.
fn filter_error_item(item: &EncodedItem) -> Arc<EncodedItem> {
    let mut headers = Headers::new();
    headers.push("Content-Type", &b"text/plain"[..]);
    let response = HttpResponseFormat::Send {
        code: 502,
        reason: None,
        headers,
        body: ResponseBody::Bytes(Bytes::from_static(FILTER_ERROR_TEXT.as_bytes())),
    };
    Arc::new(response_only(item, response))
}

fn response_only(item: &EncodedItem, response: HttpResponseFormat) -> EncodedItem {
    EncodedItem {
        channel: item.channel.clone(),
        id: item.id.clone(),
        prev_id: item.prev_id.clone(),
        meta: Vec::new(),
        no_seq: item.no_seq,
        stream: None,
        response: Some(response),
        ws: None,
        routed_at: item.routed_at,
    }
}

/// `frame`'s first byte (FIN and opcode) with a new, unmasked payload.
fn reframe(frame: &[u8], payload: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(payload.len() + 10);
    out.push(frame.first().copied().unwrap_or(0x81));
    match payload.len() {
        len @ 0..=125 => out.push(len as u8),
        len @ 126..=0xffff => {
            out.push(126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        len => {
            out.push(127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    Bytes::from(out)
}

#[cfg(test)]
mod tests;
