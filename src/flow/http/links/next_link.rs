//! GRIP Next links on a client connection, and the long-poll re-request (PUSHPIN.md §3.8,
//! §4, §5.3).
//!
//! Owns: the stream whose answer carries `Grip-Link: <url>; rel=next` (with or without a
//! stream hold): its registration, the periodic refresh task, fetching the link when the
//! connection's `Recovery` wants it (a gap, a `hint`, `/recover`, the first-subscription
//! update, the refresh, or a no-hold answer), appending each link answer's body and taking on
//! its channels, keep-alive and next link; and `refetch_request`, the long-poll's replay of
//! the client request with `Grip-Last`.
//! Must not: hold a `RefCell` borrow across an await, or let a failing origin keep a
//! connection forever: a fetch that still fails after its retries ends the stream.
//! Invariants: the refresh task is dropped (cancelled) before the `HeldGuard`, so it never
//! sees a reused `ConnKey`; bytes of a link answer are queued after everything delivered
//! before it, and items that arrived meanwhile are judged again after them.

use crate::config::Route;
use crate::fanout::{ConnKey, RefetchReason, Sink, Transport};
use crate::flow::http::links::link_fetch::fetch_with_retries;
use crate::grip::{
    encode_grip_last, request_url_on, resolve_link, HoldMode, Instruction, KeepAlive, LinkError,
    LinkUrl, NextLink, SubscriberFilters,
};
use crate::http::{encode_chunk, LAST_CHUNK};
use crate::http::{ClientRequest, Next};
use crate::limits::HELD_READ_BYTES_MAX;
use crate::limits::LINK_REFRESH_PERIOD_MIN;
use crate::limits::REFETCH_ASIDE_ITEMS_MAX;
use crate::netio::Conn;
use crate::origin::link::LinkResult;
use crate::reply::stream_start;
use crate::shard::hold::{stream_loop, HoldEnd};
use crate::shard::recovery::recovery_for;
use crate::shard::ShardContext;
use bytes::Bytes;
use futures_lite::future::or;
use futures_lite::AsyncReadExt;
use std::rc::Rc;

/// The `Grip-Last` header values for `last_ids`; an entry that cannot travel in a header is
/// left out and logged.
pub fn grip_last_values(ctx: &ShardContext, last_ids: &[(String, String)]) -> Vec<String> {
    let mut values = Vec::with_capacity(last_ids.len());
    for (channel, id) in last_ids {
        match encode_grip_last(channel, id) {
            Ok(value) => values.push(value),
            Err(err) => {
                crate::log_limited!(Warn, "shard={} {err}; Grip-Last entry left out", ctx.id.0)
            }
        }
    }
    values
}

/// A stream hold with a `prev-id` but no next link could never recover a gap: as Pushpin
/// does, the client gets the initial response and the stream ends at once.
pub async fn end_unlinked(
    ctx: &ShardContext,
    conn: &mut Conn,
    transport: Transport,
    initial: Vec<Bytes>,
    channel: &str,
    keep_alive: bool,
) -> Next {
    crate::log_limited!(
        Warn,
        "shard={} channel {channel:?} specifies prev-id, but no next link found",
        ctx.id.0
    );
    let mut bytes = Vec::new();
    for piece in initial {
        bytes.extend_from_slice(&piece);
    }
    let chunked = transport == Transport::HttpStreamChunked;
    if chunked {
        bytes.extend_from_slice(LAST_CHUNK);
    }
    match conn.write_all(&bytes).await {
        Ok(()) if chunked && keep_alive => Next::KeepAlive,
        _ => Next::Close,
    }
}

/// What the stream currently follows: the newest instruction's link and keep-alive.
struct Following {
    link: Option<NextLink>,
    keep_alive: Option<KeepAlive>,
}

/// Holds a stream whose answer has a next link: the initial response, then published items
/// and link answers in order, until the chain ends, the client goes, or a fetch fails.
pub async fn hold_linked_stream(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &ClientRequest,
    route: &Route,
    instruction: Instruction,
    filters: Option<Box<SubscriberFilters>>,
) -> HoldEnd {
    let (transport, initial) = stream_start(&instruction.response, req.head.version);
    let client_url = request_url_on(&req.head.target, req.head.headers.get_str("host"), req.tls);
    // Each link is relative to the URL of the answer that gave it (the client's at first).
    let mut current = client_url.clone();
    let mut sink = linked_sink(ctx, transport, initial, &instruction);
    sink.filters = filters;
    let names = instruction
        .channels
        .iter()
        .map(|c| c.name.clone())
        .collect();
    let mut following = Following {
        link: instruction.next_link,
        keep_alive: instruction.keep_alive,
    };
    conn.shrink();
    let _ = conn.set_read_timeout(None);
    let guard = ctx.register_hold(&conn.stream, sink, names);
    ctx.counters.held_streams.add(1);
    let mut refresh = spawn_refresh(ctx, guard.key, following.link.as_ref());
    let end = loop {
        let keep_alive = following.keep_alive.as_ref();
        let end = stream_loop(ctx, conn, &guard, transport, keep_alive).await;
        if !matches!(end, HoldEnd::Refetch(..)) {
            break end;
        }
        let urls = (&client_url, &current);
        let result = match fetch_link(ctx, conn, req, route, urls, &following, guard.key).await {
            Fetched::Answer(result, url) => {
                if let (Ok(_), Some(url)) = (result.as_ref(), url) {
                    current = Ok(url);
                }
                result
            }
            Fetched::Unchanged => {
                finish_unchanged(ctx, guard.key);
                continue;
            }
            Fetched::Gone => break HoldEnd::Gone,
        };
        drop(refresh);
        let debug = ctx.config.debug || route.debug;
        apply(ctx, guard.key, transport, &mut following, &result, debug);
        refresh = spawn_refresh(ctx, guard.key, following.link.as_ref());
    };
    drop(refresh);
    ctx.counters.held_streams.add(-1);
    drop(guard);
    let _ = conn.set_read_timeout(Some(ctx.config.client_idle_timeout));
    end
}

/// The sink of a linked stream: its initial bytes queued and a `Recovery` for its channels,
/// wanting the link at once when the answer has no hold.
fn linked_sink(
    ctx: &ShardContext,
    transport: Transport,
    initial: Vec<Bytes>,
    instruction: &Instruction,
) -> Sink {
    let mut sink = ctx.new_sink(transport);
    for bytes in initial {
        sink.queue.push_unbounded(bytes);
    }
    let mut recovery = recovery_for(&instruction.channels, REFETCH_ASIDE_ITEMS_MAX);
    if instruction.hold.is_none() {
        recovery.want(RefetchReason::NextLink);
    } else if ctx.stale_prev_ids(&instruction.channels).is_some() {
        // The channel is already past the origin's prev-id: recover at once (first hold
        // only, as Pushpin: later answers may be followed by set-aside items).
        recovery.want(RefetchReason::Gap);
    }
    sink.recovery = Some(Box::new(recovery));
    sink
}

/// What a wanted refetch of a linked stream came to.
enum Fetched {
    /// The link was fetched (or failed for good), from this URL when it could be resolved.
    Answer(LinkResult, Option<LinkUrl>),
    /// Nothing was fetched; the stream carries on with its channels.
    Unchanged,
    /// The client left while the link was fetched.
    Gone,
}

/// Fetches the stream's link for the refetch its `Recovery` wants, while watching the client.
/// `urls` are the client's URL (a link to its host and port goes through the route) and the
/// URL the link is relative to.
async fn fetch_link(
    ctx: &ShardContext,
    conn: &mut Conn,
    req: &ClientRequest,
    route: &Route,
    urls: (&Result<LinkUrl, LinkError>, &Result<LinkUrl, LinkError>),
    following: &Following,
    key: ConnKey,
) -> Fetched {
    let (client_url, current) = urls;
    let Some((reason, last_ids)) = start_fetch(ctx, key) else {
        return Fetched::Unchanged;
    };
    let Some(link) = &following.link else {
        // No link to fetch any more: carry on with the channels we have.
        return Fetched::Unchanged;
    };
    let target = match (client_url, current) {
        (Ok(client_url), Ok(current)) => {
            resolve_link(current, &link.url).map(|url| (client_url, url))
        }
        (Err(err), _) | (_, Err(err)) => Err(err.clone()),
    };
    let (client_url, url) = match target {
        Ok(found) => found,
        Err(err) if reason != RefetchReason::NextLink => {
            // A held stream keeps its channels when its link cannot be fetched at all (a
            // foreign scheme, a request without Host); a chain without a hold ends.
            crate::log_limited!(Warn, "shard={} next link unusable: {err}", ctx.id.0);
            return Fetched::Unchanged;
        }
        Err(err) => return Fetched::Answer(Rc::new(Err(err.into())), None),
    };
    log::debug!(
        "shard={} next link {reason:?} {}://{}{}",
        ctx.id.0,
        if url.tls { "https" } else { "http" },
        url.host_header(),
        url.path_and_query
    );
    let grip_last = grip_last_values(ctx, &last_ids);
    let fetch = fetch_with_retries(ctx, route, req, client_url, &url, &grip_last);
    let fetched = async { Fetched::Answer(fetch.await, Some(url.clone())) };
    let gone = async {
        client_gone(conn).await;
        Fetched::Gone
    };
    or(fetched, gone).await
}

/// Returns once the client has closed its side or failed (or sent more than a held
/// connection may buffer), keeping what it pipelined meanwhile.
async fn client_gone(conn: &mut Conn) {
    let mut read_buf = [0u8; 256];
    loop {
        match conn.stream.read(&mut read_buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) if conn.buffered().len() + n > HELD_READ_BYTES_MAX => return,
            Ok(n) => conn.extend_buffered(&read_buf[..n]),
        }
    }
}

/// Takes the wanted refetch of `key`, with the `(channel, last id)` pairs for `Grip-Last`.
fn start_fetch(ctx: &ShardContext, key: ConnKey) -> Option<(RefetchReason, Vec<(String, String)>)> {
    ctx.with_held(key, |entry| {
        let recovery = entry.sink.recovery.as_deref_mut()?;
        let reason = recovery.start_fetch()?;
        Some((reason, recovery.last_ids()))
    })
    .flatten()
}

/// Ends a refetch that fetched nothing: the items set aside are judged again.
fn finish_unchanged(ctx: &ShardContext, key: ConnKey) {
    let aside = ctx
        .with_held(key, |entry| {
            let recovery = entry.sink.recovery.as_deref_mut();
            recovery.map(|r| r.finish_fetch(None)).unwrap_or_default()
        })
        .unwrap_or_default();
    ctx.redeliver(key, aside);
}

/// Takes on a link answer: its body is queued, then its channels, keep-alive and next link
/// replace the old ones. A failure, a chain that ends, or a refused answer ends the stream.
fn apply(
    ctx: &Rc<ShardContext>,
    key: ConnKey,
    transport: Transport,
    following: &mut Following,
    result: &LinkResult,
    debug: bool,
) {
    let closing = ctx
        .with_held(key, |entry| {
            entry.sink.close_after_flush || entry.sink.overflowed
        })
        .unwrap_or(true);
    if closing {
        // Shutdown or a slow client ended the stream while the link was fetched: its
        // terminating chunk may already be queued, so nothing more is appended.
        finish_unchanged(ctx, key);
        return;
    }
    let instruction = match result.as_ref() {
        Ok(instruction) => instruction,
        Err(err) => {
            crate::log_limited!(
                Warn,
                "shard={} next link failed, ending the stream: {err}",
                ctx.id.0
            );
            if debug {
                // As Pushpin in debug mode: the reason, after a blank line, ends the body.
                let text = Bytes::from(format!("\n\n{err}\n"));
                queue_body(ctx, key, transport, &text);
            }
            end_stream(ctx, key, transport);
            return;
        }
    };
    // The answer's meta and filters replace the old ones, and apply to its own body first
    // (django-eventstream pages stored events through next links, with `%%` escapes).
    let filters =
        SubscriberFilters::for_hold(&instruction.meta, &instruction.channels).map(Box::new);
    let body = match filters
        .as_deref()
        .map(|f| f.on_response_body(&instruction.response.body))
    {
        Some(Ok(Some(body))) => Bytes::from(body),
        Some(Err(err)) => {
            log::info!("shard={} next link answer: filter error: {err}", ctx.id.0);
            end_stream(ctx, key, transport);
            return;
        }
        Some(Ok(None)) | None => instruction.response.body.clone(),
    };
    queue_body(ctx, key, transport, &body);
    ctx.with_held(key, |entry| entry.sink.filters = filters);
    take_on(ctx, key, transport, following, instruction);
}

/// After an answer's body: its link, keep-alive, channels and `prev-id`s replace the old
/// ones; the items set aside meanwhile that follow them are delivered, and an answer with a
/// link but no hold is followed at once, one with neither ends the stream.
fn take_on(
    ctx: &Rc<ShardContext>,
    key: ConnKey,
    transport: Transport,
    following: &mut Following,
    instruction: &Instruction,
) {
    following.link = instruction.next_link.clone();
    if instruction.hold == Some(HoldMode::Stream) {
        following.keep_alive = instruction.keep_alive.clone();
    }
    let channels = match instruction.hold {
        Some(HoldMode::Stream) => instruction.channels.clone(),
        _ => Vec::new(),
    };
    let names = channels.iter().map(|c| c.name.clone()).collect();
    ctx.set_hold_channels(key, names);
    let fresh = channels
        .iter()
        .map(|c| (c.name.clone(), c.prev_id.clone()))
        .collect();
    let aside = ctx
        .with_held(key, |entry| {
            let recovery = entry.sink.recovery.as_deref_mut();
            recovery
                .map(|r| r.finish_fetch(Some(fresh)))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    match (instruction.hold, &following.link) {
        (Some(_), _) => ctx.redeliver(key, aside),
        (None, Some(_)) => {
            ctx.want_refetch(&[key], RefetchReason::NextLink);
        }
        (None, None) => end_stream(ctx, key, transport),
    }
}

/// Queues a link answer's body, framed for the transport.
fn queue_body(ctx: &ShardContext, key: ConnKey, transport: Transport, body: &Bytes) {
    if body.is_empty() {
        return;
    }
    let bytes = match transport {
        Transport::HttpStreamChunked => encode_chunk(body),
        _ => body.clone(),
    };
    ctx.with_held(key, |entry| entry.sink.queue.push_unbounded(bytes));
}

/// Ends the stream once its queue is written: the terminating chunk, then close.
fn end_stream(ctx: &ShardContext, key: ConnKey, transport: Transport) {
    ctx.with_held(key, |entry| {
        if transport == Transport::HttpStreamChunked && !entry.sink.close_after_flush {
            entry
                .sink
                .queue
                .push_unbounded(Bytes::from_static(LAST_CHUNK));
        }
        entry.sink.close_after_flush = true;
        if let Some(recovery) = entry.sink.recovery.as_deref_mut() {
            recovery.finish_fetch(None);
        }
    });
}

/// The periodic refresh of PUSHPIN.md §5.3: every link `timeout`, fetch the link unless
/// every channel received an item in the period. Dropping the task stops it.
fn spawn_refresh(
    ctx: &Rc<ShardContext>,
    key: ConnKey,
    link: Option<&NextLink>,
) -> Option<glommio::Task<()>> {
    let period = link?.timeout.max(LINK_REFRESH_PERIOD_MIN);
    let ctx = Rc::clone(ctx);
    Some(glommio::spawn_local(async move {
        loop {
            glommio::timer::sleep(period).await;
            let all_received = ctx.with_held(key, |entry| {
                let recovery = entry.sink.recovery.as_deref_mut();
                recovery.map(|r| r.take_all_received())
            });
            let Some(Some(all_received)) = all_received else {
                return;
            };
            if !all_received {
                ctx.want_refetch(&[key], RefetchReason::Refresh);
            }
        }
    }))
}
