//! The client side of one HTTP connection: read requests, route them, answer.
//!
//! Owns: the keep-alive request loop, ringpin's own error responses, GRIP accept (turning an
//! origin's instructions into a stream hold, a response hold or a plain answer), access logs.
//! Must not: parse wire formats itself (`http`, `grip` do) or hold a `RefCell` borrow across
//! an await.

use super::hold::{hold_response, hold_stream, HoldEnd};
use super::respond::respond_error;
use super::{next_link, proxy, test_target, HeldGuard, ShardContext};
use crate::config::{Proto, Route, Target};
use crate::fanout::Transport;
use crate::grip::{parse_instruction, ClientResponse, HoldMode, Instruction, SubscriberFilters};
use crate::http::{
    parse_request, BodyDecoder, BodyKind, ClientRequest, HeadLimits, Next, RequestHead, Version,
};
use crate::limits::REQUEST_BODY_BUFFER_BYTES_MAX;
use crate::netio::{Conn, HeadError};
use crate::origin::response::GripAnswer;
use crate::reply::{capitalized, encode_response, error_bytes, stream_start, ORIGIN_ERROR_TEXT};
use bytes::Bytes;
use glommio::net::TcpStream;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

/// What one GRIP answer led to.
enum Accepted {
    /// The request is finished.
    Done(Next),
    /// A long-poll must be re-requested with these `(channel, last id)` for `Grip-Last`;
    /// its registration is kept meanwhile.
    Refetch(Vec<(String, String)>, Option<HeldGuard>),
    /// Like `Refetch`, before holding: a `prev-id` was already stale.
    Stale(Vec<(String, String)>),
}

/// Serves one client connection until it closes.
pub async fn serve(ctx: Rc<ShardContext>, stream: TcpStream) {
    let peer = match stream.peer_addr() {
        Ok(peer) => peer,
        Err(_) => return,
    };
    let _ = stream.set_nodelay(true);
    let mut conn = Conn::new(stream);
    let _ = conn.set_read_timeout(Some(ctx.config.client_idle_timeout));
    // The first head must be whole within the head timeout of accept.
    let mut head_deadline = Instant::now() + ctx.config.client_head_timeout;
    loop {
        let head = match conn
            .read_head_by(|b| parse_request(b, &HeadLimits::CLIENT), head_deadline)
            .await
        {
            Ok(head) => head,
            Err(HeadError::TimedOut) => {
                time_out_head(&ctx, &mut conn, peer).await;
                break;
            }
            Err(HeadError::Parse(err)) => {
                log::info!("shard={} peer={peer} bad request: {err}", ctx.id.0);
                ctx.counters.requests_failed.add(1);
                let text = format!("{}\n", capitalized(&err.to_string()));
                let _ = conn
                    .write_all(&error_bytes(err.status(), &text, Version::Http11, false))
                    .await;
                super::linger::linger_close(&mut conn).await;
                break;
            }
            Err(err) => {
                log::debug!("shard={} peer={peer} connection ended: {err}", ctx.id.0);
                break;
            }
        };
        ctx.busy.set(ctx.busy.get() + 1);
        let next = handle_request(&ctx, &mut conn, head, peer).await;
        ctx.busy.set(ctx.busy.get() - 1);
        if next == Next::Close || ctx.control.is_shutting_down() {
            break;
        }
        conn.shrink();
        match next_head_deadline(&ctx, &mut conn).await {
            Some(deadline) => head_deadline = deadline,
            None => break,
        }
    }
}

/// Between keep-alive requests: waits (under the idle timeout, with no read buffer) for the
/// first byte of the next request, and returns the deadline of its head, the head timeout
/// from that byte. `None` when the client closed or stayed idle: the connection then closes
/// without a response, since the client may be sending a request at that very moment.
async fn next_head_deadline(ctx: &ShardContext, conn: &mut Conn) -> Option<Instant> {
    if conn.buffered().is_empty() {
        match conn.fill().await {
            Ok(0) | Err(_) => return None,
            Ok(_) => {}
        }
    }
    Some(Instant::now() + ctx.config.client_head_timeout)
}

/// A head that did not arrive in time: `408`, then the write side is shut and what the client
/// still sends is read and dropped for a moment (a close with unread bytes would send a reset
/// that can destroy the 408 before the client reads it); the caller closes.
async fn time_out_head(ctx: &ShardContext, conn: &mut Conn, peer: SocketAddr) {
    ctx.counters.requests_failed.add(1);
    crate::log_limited!(
        Info,
        "shard={} peer={peer} request head not received within {:?}; 408",
        ctx.id.0,
        ctx.config.client_head_timeout
    );
    let bytes = error_bytes(408, "Request timeout.\n", Version::Http11, false);
    if conn.write_all(&bytes).await.is_ok() {
        super::linger::linger_close(conn).await;
    }
}

async fn handle_request(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    mut head: RequestHead,
    peer: SocketAddr,
) -> Next {
    ctx.counters.requests.add(1);
    if let Err(err) = head.normalize_for_proxy() {
        let text = format!("{}\n", capitalized(&err.to_string()));
        return respond_error(ctx, conn, &head, err.status(), &text, false).await;
    }
    let keep_alive = head.is_keep_alive();
    let version = head.version;
    if super::client_ws::is_upgrade(&head) {
        return super::client_ws::serve(ctx, conn, head, peer).await;
    }
    let body_kind = match head.body_kind() {
        Ok(kind) => kind,
        Err(err) => {
            let text = format!("{}\n", capitalized(&err.to_string()));
            return respond_error(ctx, conn, &head, err.status(), &text, false).await;
        }
    };
    let wants_continue = head.expects_continue() && body_kind != BodyKind::Empty;
    if wants_continue
        && conn
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .is_err()
    {
        return Next::Close;
    }
    let mut decoder = BodyDecoder::new(body_kind);
    let mut body = Vec::new();
    let body_complete = match conn
        .read_body(&mut decoder, &mut body, REQUEST_BODY_BUFFER_BYTES_MAX)
        .await
    {
        Ok(complete) => complete,
        Err(err) => {
            log::info!("shard={} peer={peer} bad request body: {err}", ctx.id.0);
            return respond_error(ctx, conn, &head, 400, "Invalid request body.\n", false).await;
        }
    };
    let host = head.host().unwrap_or_default();
    let routes = Rc::new(ctx.routes.borrow().clone());
    let Some(route) = routes.select(&host, head.path(), Proto::Http, false) else {
        let text = format!("No route for host: {host}\n");
        return respond_error(ctx, conn, &head, 502, &text, keep_alive).await;
    };
    let mut req = ClientRequest {
        head,
        host,
        body,
        body_complete,
        decoder,
        body_kind,
        peer,
        keep_alive: keep_alive && !ctx.control.is_shutting_down(),
    };
    let next = match route.targets.first() {
        Some(Target::Test) => {
            let answer = test_target::answer(&req.head);
            accept_grip(ctx, conn, &mut req, route, answer).await
        }
        Some(Target::Http(_)) => proxy::forward(ctx, conn, route, &mut { req }).await,
        None => {
            let text = ORIGIN_ERROR_TEXT;
            respond_error(ctx, conn, &req.head, 502, text, keep_alive).await
        }
    };
    if version == Version::Http10 && next == Next::KeepAlive && !keep_alive {
        return Next::Close;
    }
    next
}

/// Acts on a GRIP answer, and on the answers to the re-requests a long-poll makes when it
/// must recover (a `prev-id` gap, a `hint`, `/recover`, the first-subscription update:
/// PUSHPIN.md §3.4, §3.8, §4). Each re-request is caused by one event, so this loop is
/// bounded by what is published.
pub async fn accept_grip(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &mut ClientRequest,
    route: &Route,
    mut answer: GripAnswer,
) -> Next {
    // One immediate re-request per request and event: an origin that keeps answering with
    // a stale prev-id is then held anyway, and the next item's gap recovers it.
    let mut check_stale = true;
    let mut kept = None;
    loop {
        let once = accept_once(ctx, conn, req, route, answer, check_stale, kept.take());
        let last_ids = match once.await {
            Accepted::Done(next) => return next,
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
        let refetch = Box::pin(next_link::refetch_request(ctx, conn, req, route, &last_ids));
        answer = match refetch.await {
            Ok(answer) => answer,
            Err(next) => return next,
        };
    }
}

/// Acts on one GRIP answer.
async fn accept_once(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &ClientRequest,
    route: &Route,
    answer: GripAnswer,
    check_stale: bool,
    kept: Option<HeldGuard>,
) -> Accepted {
    let target = answer.target.clone();
    let instruction = match parse_answer(ctx, conn, req, route, answer).await {
        Ok(instruction) => instruction,
        Err(next) => return Accepted::Done(next),
    };
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
            match accept_stream(ctx, conn, req, &target, instruction, filters).await {
                Ok(end) => end,
                Err(next) => return Accepted::Done(next),
            }
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
            hold_response(
                ctx,
                conn,
                &instruction.response,
                &instruction.channels,
                instruction.timeout,
                req.head.version,
                req.keep_alive,
                !is_head,
                filters,
                kept,
            )
            .await
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
/// it cannot; logs the accept.
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
        return Err(respond_error(ctx, conn, &req.head, 400, text, false).await);
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
    let instruction = match parsed {
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
            return Err(respond_error(ctx, conn, &req.head, 502, &text, req.keep_alive).await);
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

/// A stream hold without a next link: the filtered initial response, then `hold_stream`.
/// `Err` when the stream ended at once (a failed filter, or a `prev-id` without a link).
async fn accept_stream(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &ClientRequest,
    target: &str,
    instruction: Instruction,
    filters: Option<Box<SubscriberFilters>>,
) -> Result<HoldEnd, Next> {
    // Only what the hold needs stays alive across its await: this future is part of every
    // connection's task.
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
    Ok(hold_stream(ctx, conn, transport, initial, names, keep_alive, filters).await)
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
pub(super) fn filter_initial_body(
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
pub(super) async fn write_failed_stream(
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

/// One access-log line per request, in Pushpin's shape:
/// `GET http://host/path -> target code=200 635`.
pub fn access_log(ctx: &ShardContext, req: &ClientRequest, target: &str, code: u16, bytes: usize) {
    log::info!(
        "shard={} {} http://{}{} -> {target} code={code} {bytes} from={}",
        ctx.id.0,
        req.head.method,
        req.host,
        req.head.path(),
        req.peer.ip()
    );
}
