//! ChunkWriter: hands one published item to every local subscriber of its channel.
//!
//! Owns: the per-delivery decision (which encoded form a subscriber gets, queue or drop) and
//! the report of which connections must now be written to or woken.
//! Must not: await, write to sockets, allocate per delivery, or read the clock (`now` is passed in).
//!
//! The rule that is easy to break: this loop runs once per publish over every subscriber of
//! a channel, so its per-subscriber body is a handle clone (`Bytes::clone` is a refcount bump)
//! and a queue push. One slow subscriber costs one refused push; it never delays the next.
//! Socket writes happen afterwards, in `shard::direct_send`, for the connections listed in
//! `DeliveryReport::ready`. A subscriber with filters (`Sink::filters`) takes the slow path in
//! `filtered.rs` instead; the only cost to everyone else is one `is_some` test.

use super::outbound::{OutboundQueue, PushOutcome};
use super::recovery::{Recovery, Verdict};
use super::subscriptions::ConnKey;
pub use super::transport::Transport;
use crate::grip::filter::SubscriberFilters;
use crate::publish::format::{EncodedItem, EncodedStream, EncodedWs};
use crate::publish::item::HttpResponseFormat;
use bytes::Bytes;
use std::sync::Arc;
use std::time::Instant;

/// The terminating chunk of a chunked body.
static LAST_CHUNK: Bytes = Bytes::from_static(b"0\r\n\r\n");

/// What ringpin does with a subscriber whose outbound queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OverflowPolicy {
    /// Drop the item for that subscriber only; the connection stays.
    Drop,
    /// Close the connection.
    Close,
}

/// The delivery state of one held connection.
#[derive(Debug)]
pub struct Sink {
    /// How items reach this connection.
    pub transport: Transport,
    /// Bytes waiting for the socket.
    pub queue: OutboundQueue,
    /// For response holds: the item that completes the hold, once one arrived.
    pub pending_response: Option<Arc<EncodedItem>>,
    /// A close was published: finish writing the queue, then close.
    pub close_after_flush: bool,
    /// The queue overflowed under `OverflowPolicy::Close`: close now.
    pub overflowed: bool,
    /// A `refresh` (published, or the command socket's) named this connection; its task
    /// clears it when it acts (for WebSocket-over-HTTP: a request to the origin now).
    pub refresh: bool,
    /// A WebSocket client that negotiated permessage-deflate: it gets an item's compressed
    /// frame when there is one.
    pub deflate: bool,
    /// When an item was last queued; keep-alive timers restart from it.
    pub last_queued: Option<Instant>,
    /// Metadata and per-channel filters, only for subscribers with filters (PUSHPIN.md
    /// §2.5); `None` keeps the connection on the shared-bytes path.
    pub filters: Option<Box<SubscriberFilters>>,
    /// Id tracking and refetch state, only for holds that can go back to their origin
    /// (response holds, stream holds with a next link); `None` keeps delivery on the plain
    /// path.
    pub recovery: Option<Box<Recovery>>,
}

impl Sink {
    /// A sink with an empty queue of the given bounds.
    pub fn new(transport: Transport, bytes_max: usize, items_max: usize) -> Sink {
        Sink {
            transport,
            queue: OutboundQueue::new(bytes_max, items_max),
            pending_response: None,
            close_after_flush: false,
            overflowed: false,
            refresh: false,
            deflate: false,
            last_queued: None,
            filters: None,
            recovery: None,
        }
    }

    /// True once the connection is finishing and takes no more items.
    pub fn is_closing(&self) -> bool {
        self.close_after_flush || self.overflowed || self.pending_response.is_some()
    }
}

/// Lookup of sinks by connection key; implemented by the shard's connection table.
pub trait SinkTable {
    /// The sink of `key`, if that connection still exists and is held.
    fn sink_mut(&mut self, key: ConnKey) -> Option<&mut Sink>;
}

/// What one delivery pass did. Reused across passes so the hot path does not allocate.
#[derive(Debug, Default)]
pub struct DeliveryReport {
    /// Items queued (or handed over, for response holds).
    pub delivered: u64,
    /// Items refused by a full queue.
    pub dropped: u64,
    /// Connections whose queue went from empty to non-empty: write now.
    pub ready: Vec<ConnKey>,
    /// Connections whose task must run: a response arrived, a close, an overflow.
    pub wake: Vec<ConnKey>,
    /// Connections newly closed for overflowing (`OverflowPolicy::Close`).
    pub overflow_closed: u64,
    /// The last content a filter rewrote, so equal rewrites share one encoding.
    rewritten: filtered::RewriteMemo,
}

impl DeliveryReport {
    /// Empties the report, keeping its allocations.
    pub fn clear(&mut self) {
        self.delivered = 0;
        self.dropped = 0;
        self.overflow_closed = 0;
        self.ready.clear();
        self.wake.clear();
        self.rewritten = filtered::RewriteMemo::default();
    }
}

/// The per-shard delivery loop.
#[derive(Clone, Copy, Debug)]
pub struct ChunkWriter {
    policy: OverflowPolicy,
}

/// What one subscriber gets for one item.
enum Action<'a> {
    Queue(&'a Bytes),
    QueueThenClose(&'a Bytes),
    Respond,
    Refresh,
    Nothing,
}

impl ChunkWriter {
    /// A writer applying `policy` to subscribers that cannot keep up.
    pub fn new(policy: OverflowPolicy) -> ChunkWriter {
        ChunkWriter { policy }
    }

    /// Delivers `item` to each of `subscribers`, appending to `report`.
    pub fn deliver(
        &self,
        item: &Arc<EncodedItem>,
        subscribers: &[ConnKey],
        table: &mut impl SinkTable,
        now: Instant,
        report: &mut DeliveryReport,
    ) {
        for &key in subscribers {
            let Some(sink) = table.sink_mut(key) else {
                continue;
            };
            if sink.is_closing() {
                continue;
            }
            if let Some(recovery) = sink.recovery.as_deref_mut() {
                let verdict = recovery.on_item(sink.transport, item);
                report.dropped += std::mem::take(&mut recovery.refused);
                match verdict {
                    Verdict::Deliver => {}
                    Verdict::Held => continue,
                    Verdict::Wake => {
                        report.wake.push(key);
                        continue;
                    }
                }
            }
            if sink.filters.is_some() {
                self.deliver_filtered(key, sink, item, now, report);
                continue;
            }
            self.apply(
                key,
                sink,
                action_for(sink.transport, sink.deflate, item),
                item,
                now,
                report,
            );
        }
    }

    /// Carries out `action` for one subscriber; a long-poll is handed `item`.
    #[inline]
    fn apply(
        &self,
        key: ConnKey,
        sink: &mut Sink,
        action: Action<'_>,
        item: &Arc<EncodedItem>,
        now: Instant,
        report: &mut DeliveryReport,
    ) {
        match action {
            Action::Queue(bytes) => self.queue(key, sink, bytes, now, report),
            Action::QueueThenClose(bytes) => {
                sink.close_after_flush = true;
                if sink.queue.push_unbounded(bytes.clone()) == PushOutcome::BecameReady {
                    report.ready.push(key);
                }
                report.wake.push(key);
                report.delivered += 1;
            }
            Action::Respond => {
                sink.pending_response = Some(Arc::clone(item));
                report.wake.push(key);
                report.delivered += 1;
            }
            Action::Refresh => {
                sink.refresh = true;
                report.wake.push(key);
            }
            Action::Nothing => {}
        }
    }

    fn queue(
        &self,
        key: ConnKey,
        sink: &mut Sink,
        bytes: &Bytes,
        now: Instant,
        report: &mut DeliveryReport,
    ) {
        match sink.queue.push(bytes.clone()) {
            PushOutcome::BecameReady => {
                sink.last_queued = Some(now);
                report.ready.push(key);
                report.delivered += 1;
            }
            PushOutcome::Queued => {
                sink.last_queued = Some(now);
                report.delivered += 1;
            }
            PushOutcome::Overflow => {
                report.dropped += 1;
                if self.policy == OverflowPolicy::Close {
                    sink.overflowed = true;
                    report.overflow_closed += 1;
                    report.wake.push(key);
                }
            }
        }
    }
}

/// Which encoded form of `item` a connection of `transport` gets; `deflate` for a WebSocket
/// client with permessage-deflate.
fn action_for(transport: Transport, deflate: bool, item: &EncodedItem) -> Action<'_> {
    match transport {
        Transport::HttpStreamChunked | Transport::HttpStreamRaw => match &item.stream {
            Some(EncodedStream::Content(content)) => {
                if transport == Transport::HttpStreamChunked {
                    Action::Queue(content.chunk())
                } else {
                    Action::Queue(content.raw())
                }
            }
            Some(EncodedStream::Close) if transport == Transport::HttpStreamChunked => {
                Action::QueueThenClose(&LAST_CHUNK)
            }
            Some(EncodedStream::Close) => Action::QueueThenClose(&EMPTY),
            Some(EncodedStream::Hint | EncodedStream::Refresh) | None => Action::Nothing,
        },
        Transport::HttpResponse => match &item.response {
            Some(HttpResponseFormat::Send { .. }) => Action::Respond,
            _ => Action::Nothing,
        },
        Transport::WebSocket => match &item.ws {
            Some(EncodedWs::Frame(message)) => match message.deflated() {
                Some(deflated) if deflate => Action::Queue(deflated),
                _ => Action::Queue(message.frame()),
            },
            Some(EncodedWs::Close { frame, .. }) => Action::QueueThenClose(frame),
            Some(EncodedWs::Refresh) => Action::Refresh,
            Some(EncodedWs::Hint) | None => Action::Nothing,
        },
    }
}

static EMPTY: Bytes = Bytes::new();

mod filtered;

#[cfg(test)]
mod tests;
