//! Hold loops: what a connection's task does while it is subscribed.
//!
//! Owns: the stream-hold loop (initial response, queued items, keep-alives, close) and the
//! response-hold loop (wait for one `http-response` item or the timeout).
//! Must not: write to the socket except from the connection's `Sink` queue while the
//! connection is registered (the delivery loop writes from the same queue; one writer order).

use super::direct_send::FlushOutcome;
use super::random::random_u64;
use super::{HeldGuard, ShardContext};
use crate::cross_origin::finish_held;
use crate::fanout::Transport;
use crate::grip::{
    merge_published, ChannelSub, ClientResponse, KeepAlive, KeepAliveSchedule, SubscriberFilters,
};
use crate::http::{encode_chunk, CrossOrigin, Version};
use crate::limits::RESPONSE_ASIDE_ITEMS_MAX;
use crate::limits::{HELD_READ_BYTES_MAX, HELD_READ_CHUNK_BYTES};
use crate::netio::Conn;
use bytes::Bytes;
use futures_lite::future::{or, pending};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::timer::Timer;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// How a hold ended.
#[derive(Debug)]
pub enum HoldEnd {
    /// The response is complete; the connection may serve another request.
    Complete,
    /// The response ended and the connection must close (raw stream, shutdown, overflow).
    Close,
    /// The client went away or the socket failed.
    Gone,
    /// The hold's `Recovery` wants the origin asked again (a gap, a hint, `/recover`, a
    /// refresh). A long-poll carries its `(channel, last id)` pairs for `Grip-Last` and its
    /// registration, kept while the request is replayed so nothing published meanwhile is
    /// missed; a stream carries neither (its driver still holds both).
    Refetch(Vec<(String, String)>, Option<HeldGuard>),
}

enum Event {
    Woken,
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
    Timer,
}

async fn timer_or_never(after: Option<Duration>) -> Event {
    sleep_or_never(after).await;
    Event::Timer
}

/// Sleeps for `after`, or forever without a deadline: the timer branch of an `or` race.
pub(crate) async fn sleep_or_never(after: Option<Duration>) {
    match after {
        Some(after) => {
            Timer::new(after).await;
        }
        None => pending().await,
    }
}

/// What the hold loop must do next, read from the connection's entry.
enum Next {
    Failed,
    Overflowed,
    Refetch,
    Closed,
    Write(Bytes),
    Idle,
}

fn next_step(ctx: &ShardContext, guard: &HeldGuard) -> Next {
    let mut held = ctx.held.borrow_mut();
    let Some(entry) = held.get_mut(guard.key) else {
        return Next::Failed;
    };
    if entry.failed {
        Next::Failed
    } else if entry.sink.overflowed {
        Next::Overflowed
    } else if let Some(front) = entry.sink.queue.front_bytes() {
        Next::Write(front)
    } else if entry.sink.close_after_flush {
        Next::Closed
    } else if entry
        .sink
        .recovery
        .as_ref()
        .is_some_and(|r| r.wanted.is_some())
    {
        // After the queue is written: a link answer is appended to what came before it.
        Next::Refetch
    } else {
        Next::Idle
    }
}

/// A registered stream hold, ready to run: what its loop needs and nothing of the request
/// that produced it, so the connection's task can free the request's state (its largest)
/// before the hold begins, and a held stream costs only this and its socket. Dropping it
/// unregisters the hold; `finish` also restores the connection's read timeout.
#[derive(Debug)]
pub struct StreamHold {
    guard: HeldGuard,
    transport: Transport,
    keep_alive: Option<KeepAlive>,
}

impl StreamHold {
    /// Registers a stream hold on `channels`: `initial` (head and first body bytes) is queued
    /// first, then every item published to them; `filters` apply per item. Nothing is
    /// written until `run`.
    pub fn start(
        ctx: &Rc<ShardContext>,
        conn: &mut Conn,
        transport: Transport,
        initial: Vec<Bytes>,
        channels: Vec<String>,
        keep_alive: Option<KeepAlive>,
        filters: Option<Box<SubscriberFilters>>,
    ) -> StreamHold {
        let mut sink = ctx.new_sink(transport);
        sink.filters = filters;
        for bytes in initial {
            sink.queue.push_unbounded(bytes);
        }
        conn.shrink();
        // A held connection may be silent for longer than the idle timeout. glommio arms a
        // read timer on every pending read and keeps it armed when the read future is
        // dropped, so the timeout is switched off for the hold (the request's last read
        // completed, which disarmed it) and restored by `finish`.
        let _ = conn.set_read_timeout(None);
        let guard = ctx.register_hold(&conn.stream, sink, channels);
        ctx.counters.held_streams.add(1);
        StreamHold {
            guard,
            transport,
            keep_alive,
        }
    }

    /// Writes the queued and published items, with keep-alives in between, until the stream
    /// ends; then `finish` it. Borrows the hold, so the caller's task keeps it only once.
    pub fn run<'a>(
        &'a self,
        ctx: &'a Rc<ShardContext>,
        conn: &'a mut Conn,
    ) -> impl std::future::Future<Output = HoldEnd> + 'a {
        let keep_alive = self.keep_alive.as_ref();
        stream_loop(ctx, conn, &self.guard, self.transport, keep_alive)
    }

    /// Unregisters the hold and restores the connection's read timeout: it may serve its
    /// next request.
    pub fn finish(self, ctx: &ShardContext, conn: &Conn) {
        drop(self);
        let _ = conn.set_read_timeout(Some(ctx.config.client_idle_timeout));
    }
}

impl Drop for StreamHold {
    fn drop(&mut self) {
        // Here rather than in `finish`, so a hold dropped unfinished (its task panicked or
        // was cancelled) is counted out too.
        self.guard.ctx.counters.held_streams.add(-1);
    }
}

/// Runs a registered stream hold until it ends or its `Recovery` wants a refetch.
/// Not an `async fn` (which would keep its arguments twice): this future is most of every
/// held stream's task.
#[allow(clippy::manual_async_fn)]
pub(crate) fn stream_loop<'a>(
    ctx: &'a Rc<ShardContext>,
    conn: &'a mut Conn,
    guard: &'a HeldGuard,
    transport: Transport,
    keep_alive: Option<&'a KeepAlive>,
) -> impl std::future::Future<Output = HoldEnd> + 'a {
    async move {
        let mut schedule =
            keep_alive.map(|k| KeepAliveSchedule::new(k, Instant::now(), random_u64()));
        // Small: it is part of every held stream's task. A client rarely sends anything
        // while its stream is held, and what it may send is bounded by `HELD_READ_BYTES_MAX`.
        let mut read_buf = [0u8; HELD_READ_CHUNK_BYTES];
        loop {
            let front = match next_step(ctx, guard) {
                Next::Write(front) => Some(front),
                Next::Idle => None,
                step => match end_of_stream(ctx, &step, transport) {
                    Some(end) => return end,
                    None => None,
                },
            };
            let wake = async {
                ctx.woken(guard.key).await;
                Event::Woken
            };
            let event = match &front {
                Some(front) => {
                    let write = async { Event::Wrote(conn.stream.write(front).await) };
                    or(wake, write).await
                }
                None => {
                    let keep_alive_in = schedule.map(|s| {
                        let at = s.next_deadline(last_write(ctx, guard));
                        at.saturating_duration_since(Instant::now())
                    });
                    let read = async { Event::Read(conn.stream.read(&mut read_buf).await) };
                    or(wake, or(read, timer_or_never(keep_alive_in))).await
                }
            };
            let keep_alive = keep_alive.map(|k| (k, transport));
            let read = &read_buf[..];
            if let Some(end) =
                on_stream_event(ctx, conn, guard, event, read, &mut schedule, keep_alive)
            {
                return end;
            }
        }
    }
}

/// Acts on what the stream loop waited for; `Some` when the stream ends.
fn on_stream_event(
    ctx: &ShardContext,
    conn: &mut Conn,
    guard: &HeldGuard,
    event: Event,
    read_buf: &[u8],
    schedule: &mut Option<KeepAliveSchedule>,
    keep_alive: Option<(&KeepAlive, Transport)>,
) -> Option<HoldEnd> {
    match event {
        Event::Woken => {}
        Event::Wrote(Ok(n)) => {
            if !advance_and_flush(ctx, guard, n) {
                return Some(HoldEnd::Gone);
            }
        }
        Event::Read(Ok(0)) | Event::Read(Err(_)) | Event::Wrote(Err(_)) => {
            return Some(HoldEnd::Gone)
        }
        Event::Read(Ok(n)) => {
            if conn.buffered().len() + n > HELD_READ_BYTES_MAX {
                return Some(HoldEnd::Close);
            }
            conn.extend_buffered(&read_buf[..n]);
        }
        Event::Timer => {
            // Items are written by the delivery loop without waking this task, so in idle
            // mode a write may have moved the deadline since the timer was armed: then the
            // loop simply re-arms (PUSHPIN.md §2.2: the timer restarts on writes).
            let last = last_write(ctx, guard);
            let due = schedule
                .as_mut()
                .is_some_and(|s| s.on_timer(Instant::now(), last, random_u64()));
            // Encoded when due rather than kept: the bytes would be part of every held
            // stream's task, for one write every 20 s or so.
            if let Some((k, transport)) = keep_alive.filter(|_| due) {
                let bytes = match transport {
                    Transport::HttpStreamChunked => encode_chunk(&k.data),
                    _ => k.data.clone(),
                };
                queue_and_flush(ctx, guard, bytes);
            }
        }
    }
    None
}

/// How a stream ends at this step, if it does: the client is gone, it was too slow, a
/// refetch is wanted, or a published close was written (a chunked stream then ends cleanly).
fn end_of_stream(ctx: &ShardContext, step: &Next, transport: Transport) -> Option<HoldEnd> {
    match step {
        Next::Failed => Some(HoldEnd::Gone),
        Next::Overflowed => {
            crate::log_limited!(
                Info,
                "shard={} closing a slow client (outbound queue full)",
                ctx.id.0
            );
            Some(HoldEnd::Close)
        }
        Next::Refetch => Some(HoldEnd::Refetch(Vec::new(), None)),
        Next::Closed if transport == Transport::HttpStreamChunked => Some(HoldEnd::Complete),
        Next::Closed => Some(HoldEnd::Close),
        Next::Write(_) | Next::Idle => None,
    }
}

/// When the hold last had anything but a keep-alive queued, if ever.
fn last_write(ctx: &ShardContext, guard: &HeldGuard) -> Option<Instant> {
    let mut held = ctx.held.borrow_mut();
    held.get_mut(guard.key).and_then(|e| e.sink.last_queued)
}

/// Records `written` bytes and writes what the socket takes now. False if the socket failed.
fn advance_and_flush(ctx: &ShardContext, guard: &HeldGuard, written: usize) -> bool {
    let mut held = ctx.held.borrow_mut();
    let Some(entry) = held.get_mut(guard.key) else {
        return false;
    };
    entry.sink.queue.advance(written);
    !matches!(entry.flush_direct(), FlushOutcome::Failed(_))
}

fn queue_and_flush(ctx: &ShardContext, guard: &HeldGuard, bytes: Bytes) {
    let mut held = ctx.held.borrow_mut();
    let Some(entry) = held.get_mut(guard.key) else {
        return;
    };
    if entry.sink.queue.push(bytes) == crate::fanout::PushOutcome::BecameReady {
        if let FlushOutcome::Failed(_) = entry.flush_direct() {
            entry.failed = true;
        }
    }
}

/// A long-poll to hold: what it waits on, and the answer it writes.
#[derive(Debug)]
pub struct ResponseHold<'a> {
    /// The origin's answer: written as it is at the timeout, or merged with the published
    /// response that ends the hold.
    pub original: &'a ClientResponse,
    /// The channels the hold subscribes to.
    pub channels: &'a [ChannelSub],
    /// How long to wait for a published response before answering with `original`.
    pub timeout: Duration,
    /// The request's HTTP version, which the answer is written in.
    pub version: Version,
    /// Whether the connection stays open after the answer.
    pub keep_alive: bool,
    /// False for a `HEAD`: the answer goes without its body.
    pub with_body: bool,
    /// CORS fields or a JSONP wrap for the answer, as Pushpin's handler gives them
    /// (`cross_origin::finish_held`).
    pub cross: Option<&'a CrossOrigin>,
}

/// Holds a long-poll until an `http-response` item arrives or `hold.timeout` passes, then
/// writes the published response (merged into `hold.original`) or `hold.original` itself.
/// `adopt` is the registration kept from the replay that produced this hold, if any.
pub async fn hold_response(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    hold: ResponseHold<'_>,
    filters: Option<Box<SubscriberFilters>>,
    adopt: Option<HeldGuard>,
) -> HoldEnd {
    conn.shrink();
    let _ = conn.set_read_timeout(None);
    let guard = register_response_hold(ctx, conn, hold.channels, filters, adopt);
    ctx.counters.held_responses.add(1);
    let deadline = Instant::now() + hold.timeout;
    let waited = wait_for_response(ctx, conn, &guard, hold.original, deadline).await;
    ctx.counters.held_responses.add(-1);
    let _ = conn.set_read_timeout(Some(ctx.config.client_idle_timeout));
    let response = match waited {
        ResponseWait::Refetch(last_ids) => return HoldEnd::Refetch(last_ids, Some(guard)),
        ResponseWait::Gone => return HoldEnd::Gone,
        ResponseWait::Answer(response) => response,
    };
    drop(guard);
    let response = match hold.cross {
        Some(cross) => finish_held(cross, response),
        None => response,
    };
    let bytes =
        crate::reply::encode_response(&response, hold.version, hold.keep_alive, hold.with_body);
    match conn.write_all(&bytes).await {
        Ok(()) if hold.keep_alive => HoldEnd::Complete,
        Ok(()) => HoldEnd::Close,
        Err(_) => HoldEnd::Gone,
    }
}

/// A long-poll's registration: a new one, or the one kept from the replay that produced this
/// hold, given the new answer's channels and filters.
fn register_response_hold(
    ctx: &Rc<ShardContext>,
    conn: &Conn,
    channels: &[ChannelSub],
    filters: Option<Box<SubscriberFilters>>,
    adopt: Option<HeldGuard>,
) -> HeldGuard {
    match adopt {
        Some(guard) => {
            // The replay's answer may set other meta or filters: they apply from here on,
            // including to items set aside during the replay.
            if let Some(entry) = ctx.held.borrow_mut().get_mut(guard.key) {
                entry.sink.filters = filters;
            }
            ctx.adopt_hold(guard.key, channels);
            guard
        }
        None => {
            let mut sink = ctx.new_sink(Transport::HttpResponse);
            sink.filters = filters;
            let recovery = super::recovery::recovery_for(channels, RESPONSE_ASIDE_ITEMS_MAX);
            sink.recovery = Some(Box::new(recovery));
            let names = channels.iter().map(|c| c.name.clone()).collect();
            ctx.register_hold(&conn.stream, sink, names)
        }
    }
}

/// How a long-poll's wait ended.
enum ResponseWait {
    /// Answer the client with this.
    Answer(ClientResponse),
    /// Re-request the origin with these `(channel, last id)` for `Grip-Last`.
    Refetch(Vec<(String, String)>),
    /// The client left or the socket failed.
    Gone,
}

/// Waits for a published `http-response` item, a close, a refetch or `deadline` (then the
/// origin's own response); buffers what the client pipelines meanwhile, within bounds.
async fn wait_for_response(
    ctx: &ShardContext,
    conn: &mut Conn,
    guard: &HeldGuard,
    original: &ClientResponse,
    deadline: Instant,
) -> ResponseWait {
    let mut read_buf = [0u8; 256];
    loop {
        let wake = async {
            ctx.woken(guard.key).await;
            Event::Woken
        };
        let read = async { Event::Read(conn.stream.read(&mut read_buf).await) };
        let left = deadline.saturating_duration_since(Instant::now());
        match or(wake, or(read, timer_or_never(Some(left)))).await {
            Event::Woken => {
                if let Some(end) = on_response_woken(ctx, guard, original) {
                    return end;
                }
            }
            Event::Read(Ok(0)) | Event::Read(Err(_)) | Event::Wrote(_) => {
                return ResponseWait::Gone
            }
            Event::Read(Ok(n)) => {
                if conn.buffered().len() + n > HELD_READ_BYTES_MAX {
                    return ResponseWait::Gone;
                }
                conn.extend_buffered(&read_buf[..n]);
            }
            Event::Timer => return ResponseWait::Answer(original.clone()),
        }
    }
}

/// What a wake-up means for a long-poll: an item to answer with, a close, a refetch to start,
/// or nothing yet.
fn on_response_woken(
    ctx: &ShardContext,
    guard: &HeldGuard,
    original: &ClientResponse,
) -> Option<ResponseWait> {
    let mut held = ctx.held.borrow_mut();
    let Some(entry) = held.get_mut(guard.key) else {
        return Some(ResponseWait::Gone);
    };
    if entry.failed {
        return Some(ResponseWait::Gone);
    }
    if let Some(item) = entry.sink.pending_response.take() {
        return Some(ResponseWait::Answer(match &item.response {
            Some(published) => published_or_502(ctx, original, published),
            None => original.clone(),
        }));
    }
    if entry.sink.close_after_flush {
        return Some(ResponseWait::Answer(original.clone()));
    }
    let recovery = entry.sink.recovery.as_deref_mut()?;
    recovery
        .start_fetch()
        .map(|_| ResponseWait::Refetch(recovery.last_ids()))
}

/// The merged published response, or the 502 of PUSHPIN.md §1.7 ("Response hold failed
/// later") when its `body-patch` cannot be applied.
fn published_or_502(
    ctx: &ShardContext,
    original: &ClientResponse,
    published: &crate::publish::item::HttpResponseFormat,
) -> ClientResponse {
    merge_published(original, published).unwrap_or_else(|err| {
        crate::log_limited!(Warn, "shard={} response hold failed: {err}", ctx.id.0);
        ctx.counters.requests_failed.add(1);
        let mut headers = crate::http::headers::Headers::new();
        headers.push("Content-Type", "text/plain");
        ClientResponse {
            status: 502,
            reason: crate::http::reason_phrase(502).to_owned(),
            headers,
            body: Bytes::from_static(crate::reply::ORIGIN_ERROR_TEXT.as_bytes()),
        }
    })
}
