//! GRIP accept: turning an origin's instructions into a stream hold, a response hold, a
//! linked stream or a plain answer, and the long-poll re-requests recovery asks for.
//!
//! Owns: parsing the answer into an `Instruction` (502 when it does not parse), the initial
//! response's filters, and the loop of long-poll re-requests (PUSHPIN.md §3.8).
//! Must not: hold or write published items itself (the core's hold loops do) or follow next
//! links (`links/` does).

use super::links::gone_link;
use super::links::next_link;
use super::links::next_link::grip_last_values;
use super::proxy::{ask_origin, Asked};
use super::request::access_log;
use super::request::respond_failure;
use super::test_target;
use crate::config::{Route, Target};
use crate::cross_origin::add_cors;
use crate::fanout::Transport;
use crate::grip::{parse_instruction, ClientResponse, HoldMode, Instruction, SubscriberFilters};
use crate::http::{ClientRequest, Next};
use crate::netio::Conn;
use crate::origin::response::GripAnswer;
use crate::reply::{encode_response, stream_start, ORIGIN_ERROR_TEXT};
use crate::shard::hold::{hold_response, HoldEnd, ResponseHold, StreamHold};
use crate::shard::{HeldGuard, ShardContext};
use bytes::Bytes;
use std::rc::Rc;

/// What a request's GRIP answers led to.
pub(super) enum Outcome {
    /// The request is finished.
    Done(Next),
    /// A stream hold, registered, for the connection's task to run once the request's state
    /// is freed; with the session's gone link, to notify once the stream ends.
    Stream(StreamHold, Option<String>),
}

/// What one GRIP answer led to.
enum Accepted {
    /// The request is finished.
    Done(Next),
    /// A stream hold, registered and not yet run.
    Stream(StreamHold),
    /// A long-poll must be re-requested with these `(channel, last id)` for `Grip-Last`;
    /// its registration is kept meanwhile.
    Refetch(Vec<(String, String)>, Option<HeldGuard>),
    /// Like `Refetch`, before holding: a `prev-id` was already stale.
    Stale(Vec<(String, String)>),
}

/// Acts on a GRIP answer, and on the answers to the re-requests a long-poll makes when it
/// must recover (a `prev-id` gap, a `hint`, `/recover`, the first-subscription update:
/// PUSHPIN.md §3.4, §3.8, §4). Each re-request is caused by one event, so this loop is
/// bounded by what is published. Once the session ends, its first answer's gone link, if
/// any, is notified (Pushpin 1.41): here, or by the caller after a stream hold it returns.
pub(super) async fn accept_grip(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &mut ClientRequest,
    route: &Route,
    mut answer: GripAnswer,
) -> Outcome {
    // One immediate re-request per request and event: an origin that keeps answering with
    // a stale prev-id is then held anyway, and the next item's gap recovers it.
    let mut check_stale = true;
    let mut kept = None;
    let mut gone = None;
    let mut first = true;
    let next = loop {
        let gone_slot = std::mem::take(&mut first).then_some(&mut gone);
        let once = accept_once(
            ctx,
            conn,
            req,
            route,
            answer,
            check_stale,
            kept.take(),
            gone_slot,
        );
        let last_ids = match once.await {
            Accepted::Done(next) => break next,
            Accepted::Stream(hold) => return Outcome::Stream(hold, gone),
            Accepted::Refetch(last_ids, guard) => {
                check_stale = true;
                kept = guard;
                last_ids
            }
            Accepted::Stale(last_ids) => {
                check_stale = false;
                last_ids
            }
        };
        // Boxed for the same reason as a linked stream: rare, and large.
        let refetch = Box::pin(refetch_request(ctx, conn, req, route, &last_ids));
        answer = match refetch.await {
            Ok(answer) => answer,
            Err(next) => break next,
        };
    };
    if let Some(link) = gone {
        gone_link::notify(ctx, route, req, &link);
    }
    Outcome::Done(next)
}

/// Acts on one GRIP answer; `gone`, when given, gets the answer's gone link.
#[allow(clippy::too_many_arguments)]
async fn accept_once(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &ClientRequest,
    route: &Route,
    answer: GripAnswer,
    check_stale: bool,
    kept: Option<HeldGuard>,
    gone: Option<&mut Option<String>>,
) -> Accepted {
    let target = answer.target.clone();
    let instruction = match parse_answer(ctx, conn, req, route, answer).await {
        Ok(instruction) => instruction,
        Err(next) => return Accepted::Done(next),
    };
    if let Some(gone) = gone {
        gone.clone_from(&instruction.gone_link);
    }
    // A registration kept through a replay serves only a new long-poll.
    let kept = kept.filter(|_| instruction.hold == Some(HoldMode::Response));
    let is_head = req.head.method == "HEAD";
    let streams = instruction.hold == Some(HoldMode::Stream)
        || (instruction.hold.is_none() && instruction.next_link.is_some());
    if is_head && streams {
        return Accepted::Done(head_only_stream(conn, req, &instruction.response).await);
    }
    if instruction.next_link.is_some() && instruction.hold != Some(HoldMode::Response) {
        return Accepted::Done(accept_linked(ctx, conn, req, route, &target, instruction).await);
    }
    let filters =
        SubscriberFilters::for_hold(&instruction.meta, &instruction.channels).map(Box::new);
    let end = match instruction.hold {
        None => {
            // Content filters apply to a relayed GRIP response too (PUSHPIN.md §2.2); on an
            // error its body is empty, as Pushpin ends it at once.
            let (response, _) =
                filter_initial_body(ctx, &target, instruction.response, filters.as_deref());
            let bytes = encode_response(&response, req.head.version, req.keep_alive, !is_head);
            return Accepted::Done(match conn.write_all(&bytes).await {
                Ok(()) if req.keep_alive => Next::KeepAlive,
                _ => Next::Close,
            });
        }
        Some(HoldMode::Stream) => {
            return match accept_stream(ctx, conn, req, &target, instruction, filters).await {
                Ok(hold) => Accepted::Stream(hold),
                Err(next) => Accepted::Done(next),
            };
        }
        Some(HoldMode::Response) => {
            // With a kept registration, what was published during the replay is judged
            // against the new prev-ids instead (`ShardContext::adopt_hold`).
            if let Some(last_ids) = (check_stale && kept.is_none())
                .then(|| ctx.stale_prev_ids(&instruction.channels))
                .flatten()
            {
                return Accepted::Stale(last_ids);
            }
            let hold = ResponseHold {
                original: &instruction.response,
                channels: &instruction.channels,
                timeout: instruction.timeout,
                version: req.head.version,
                keep_alive: req.keep_alive,
                with_body: !is_head,
                cross: req.cross_origin.as_deref(),
            };
            hold_response(ctx, conn, hold, filters, kept).await
        }
    };
    match end {
        HoldEnd::Complete if req.keep_alive => Accepted::Done(Next::KeepAlive),
        HoldEnd::Refetch(last_ids, guard) => Accepted::Refetch(last_ids, guard),
        _ => Accepted::Done(Next::Close),
    }
}

/// Turns a GRIP answer into an `Instruction`, answering the client itself (400 for a request
/// body too large to have been forwarded whole, 502 for instructions that do not parse) when
/// it cannot; adds the CORS fields a response that is not a long-poll's gets; logs the accept.
async fn parse_answer(
    ctx: &ShardContext,
    conn: &mut Conn,
    req: &ClientRequest,
    route: &Route,
    answer: GripAnswer,
) -> Result<Instruction, Next> {
    let GripAnswer {
        target,
        status,
        reason,
        headers,
        body,
    } = answer;
    if !req.body_complete {
        let text = "Request too large to accept GRIP instruct.\n";
        return Err(respond_failure(ctx, conn, req, 400, text, false).await);
    }
    let subscriptions_max = ctx.config.connection_subscriptions_max;
    let parsed = parse_instruction(
        status,
        &reason,
        &headers,
        body,
        &route.prefix,
        subscriptions_max,
    );
    let mut instruction = match parsed {
        Ok(instruction) => instruction,
        Err(err) => {
            crate::log_limited!(
                Warn,
                "shard={} {target}: failed to parse accept instructions: {err}",
                ctx.id.0
            );
            let text = if ctx.config.debug || route.debug {
                format!("Failed to parse accept instructions: {err}\n")
            } else {
                ORIGIN_ERROR_TEXT.to_owned()
            };
            return Err(respond_failure(ctx, conn, req, 502, &text, req.keep_alive).await);
        }
    };
    if instruction.channels_dropped > 0 {
        crate::log_limited!(
            Warn,
            "shard={} {target}: {} channels over the limit of {subscriptions_max} ignored",
            ctx.id.0,
            instruction.channels_dropped
        );
    }
    if let Some(cross) = req.cross_origin.as_deref() {
        // A stream's head and a plain GRIP answer get CORS fields (JSONP or not, as Pushpin's
        // handler does); a long-poll's final response is decorated when it is written.
        if instruction.hold != Some(HoldMode::Response) {
            add_cors(cross, &mut instruction.response.headers);
        }
    }
    access_log(
        ctx,
        req,
        &format!("{target} accept"),
        instruction.response.status,
        instruction.response.body.len(),
    );
    Ok(instruction)
}

/// An answer with a next link and no response hold: its initial body is filtered as a
/// stream's, then `next_link::hold_linked_stream` follows the chain.
async fn accept_linked(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &ClientRequest,
    route: &Route,
    target: &str,
    mut instruction: Instruction,
) -> Next {
    let filters =
        SubscriberFilters::for_hold(&instruction.meta, &instruction.channels).map(Box::new);
    let response = instruction.response.clone(); // a Bytes body: no copy
    let (response, failed) = filter_initial_body(ctx, target, response, filters.as_deref());
    if failed {
        let (transport, initial) = stream_start(&response, req.head.version);
        return write_failed_stream(conn, transport, initial).await;
    }
    instruction.response = response;
    // Boxed: a linked stream's future is large and rare; inline, it would size every
    // connection's task (STYLE.md: memory per held connection is a budget).
    let linked = Box::pin(next_link::hold_linked_stream(
        ctx,
        conn,
        req,
        route,
        instruction,
        filters,
    ));
    match linked.await {
        HoldEnd::Complete if req.keep_alive => Next::KeepAlive,
        _ => Next::Close,
    }
}

/// A stream hold without a next link: the filtered initial response, and the hold
/// registered for the connection's task to run. `Err` when the stream ended at once (a
/// failed filter, or a `prev-id` without a link).
async fn accept_stream(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &ClientRequest,
    target: &str,
    instruction: Instruction,
    filters: Option<Box<SubscriberFilters>>,
) -> Result<StreamHold, Next> {
    let (transport, initial, failed, channels, keep_alive) = {
        let i = instruction;
        let (response, failed) = filter_initial_body(ctx, target, i.response, filters.as_deref());
        let (transport, initial) = stream_start(&response, req.head.version);
        (transport, initial, failed, i.channels, i.keep_alive)
    };
    if failed {
        // Pushpin sends the head, then ends the body at once.
        return Err(write_failed_stream(conn, transport, initial).await);
    }
    if let Some(c) = channels.iter().find(|c| c.prev_id.is_some()) {
        let keep_alive = req.keep_alive;
        return Err(
            next_link::end_unlinked(ctx, conn, transport, initial, &c.name, keep_alive).await,
        );
    }
    let names = channels.into_iter().map(|c| c.name).collect();
    Ok(StreamHold::start(
        ctx, conn, transport, initial, names, keep_alive, filters,
    ))
}

/// A stream hold (or a next-link chain) answering a `HEAD`: the head a `GET` would get, and
/// no body, so nothing is held or fetched.
async fn head_only_stream(conn: &mut Conn, req: &ClientRequest, response: &ClientResponse) -> Next {
    let (transport, initial) = stream_start(response, req.head.version);
    let head = initial.first().map_or(&[][..], |head| &head[..]);
    match conn.write_all(head).await {
        Ok(()) if transport == Transport::HttpStreamChunked && req.keep_alive => Next::KeepAlive,
        _ => Next::Close,
    }
}

/// The initial response of a stream (or the whole of a relayed GRIP response) with its
/// response filters (`build-id`) applied, and whether they failed (then the body is empty).
pub(crate) fn filter_initial_body(
    ctx: &ShardContext,
    target: &str,
    mut response: ClientResponse,
    filters: Option<&SubscriberFilters>,
) -> (ClientResponse, bool) {
    match filters.map(|f| f.on_response_body(&response.body)) {
        Some(Ok(Some(body))) => response.body = Bytes::from(body),
        Some(Err(err)) => {
            log::info!("shard={} {target}: filter error: {err}", ctx.id.0);
            response.body = Bytes::new();
            return (response, true);
        }
        Some(Ok(None)) | None => {}
    }
    (response, false)
}

/// Writes a stream's head and ends its body at once (its initial body failed a filter).
pub(crate) async fn write_failed_stream(
    conn: &mut Conn,
    transport: Transport,
    initial: Vec<Bytes>,
) -> Next {
    let mut bytes: Vec<u8> = initial.concat();
    if transport == Transport::HttpStreamChunked {
        bytes.extend_from_slice(crate::http::LAST_CHUNK);
    }
    let _ = conn.write_all(&bytes).await;
    Next::Close
}

/// Replays a long-poll's request to its route with `Grip-Last` for `last_ids` (Pushpin's
/// "accept retry"); `Err` when the client has been answered already.
async fn refetch_request(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &mut ClientRequest,
    route: &Route,
    last_ids: &[(String, String)],
) -> Result<GripAnswer, Next> {
    let grip_last = grip_last_values(ctx, last_ids);
    log::info!(
        "shard={} {} http://{}{} accept retry grip-last={}",
        ctx.id.0,
        req.head.method,
        req.host,
        req.head.path(),
        grip_last.len()
    );
    if let Some(Target::Test) = route.targets.first() {
        return Ok(test_target::answer(&req.head));
    }
    let _permit = ctx.refetch_permit().await;
    match ask_origin(ctx, conn, route, req, &grip_last).await {
        Asked::Done(next) => Err(next),
        Asked::Grip(answer) => Ok(answer),
    }
}
