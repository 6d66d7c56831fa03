//! Forwarding a client request to its route's origin and relaying or accepting the answer.
//!
//! Owns: target failover (next target only when connecting fails, PUSHPIN.md §1.3), the retry
//! of a reused keep-alive connection that the origin had closed, request bodies larger than
//! the buffer (streamed), the `--origin-timeout` deadline on the response head (`504`), and
//! dropping the exchange when the client leaves while the origin is asked (`client_watch`).
//! Ordinary responses are handed to `relay`, which passes them on as they arrive (§1.6).
//! Must not: interpret GRIP instructions (`client_http::accept_grip` does).

use super::client_watch::{while_client_stays, ClientGone};
use super::relay::relay;
use super::request::respond_failure;
use crate::config::{HttpTarget, Route};
use crate::http::{
    encode_chunk_into, encode_request_head, BodyDecoder, BodyKind, RequestHead, ResponseHead,
    LAST_CHUNK,
};
use crate::http::{ClientRequest, Next};
use crate::limits::STREAM_HOLD_INITIAL_BYTES_MAX;
use crate::limits::{GRIP_RESPONSE_BODY_BYTES_MAX, ORIGIN_INACTIVITY_TIMEOUT};
use crate::netio::Conn;
use crate::origin::endpoint::Endpoint;
use crate::origin::failover::{with_failover, Connection, FailoverError};
use crate::origin::pool::{head_error_text, read_final_head, OriginConn};
use crate::origin::request::{build_origin_request, BodyFraming, ForwardContext};
use crate::origin::response::GripAnswer;
use crate::origin::response::{classify, OriginReply};
use crate::origin::OriginError;
use crate::reply::{capitalized, ORIGIN_ERROR_TEXT};
use crate::shard::ShardContext;
use bytes::Bytes;
use futures_lite::future::or;
use std::rc::Rc;
use std::time::Duration;

/// What asking the origin gave.
#[derive(Debug)]
pub enum Asked {
    /// The client has been answered (relayed, or an error).
    Done(Next),
    /// A GRIP answer, for `accept_grip`.
    Grip(GripAnswer),
}

/// Sends `req` along `route`, with a `Grip-Last` header for each of `grip_last` (a
/// long-poll's re-request, PUSHPIN.md §3.8); relays an ordinary answer, returns a GRIP one.
pub async fn ask_origin(
    ctx: &Rc<ShardContext>,
    client: &mut Conn,
    route: &Route,
    req: &mut ClientRequest,
    grip_last: &[String],
) -> Asked {
    let exchanged = exchange_with_failover(ctx, client, route, req, grip_last).await;
    let (mut origin, target, response) = match exchanged {
        Ok(found) => found,
        Err(Failed::ClientGone) => return Asked::Done(client_left(ctx, req)),
        Err(Failed::Origin(err)) => {
            return Asked::Done(origin_failed(ctx, client, route, req, err).await);
        }
    };
    let target_name = format!("{}:{}", target.host, target.port);
    match classify(&response, route) {
        OriginReply::Relay => {
            Asked::Done(relay(ctx, client, route, origin, &target, req, response).await)
        }
        OriginReply::Grip => {
            let limit = if is_header_stream_hold(&response) {
                STREAM_HOLD_INITIAL_BYTES_MAX
            } else {
                GRIP_RESPONSE_BODY_BYTES_MAX
            };
            let read = read_grip_body(&mut origin, &response, &req.head.method, limit);
            let timeout = ctx.config.origin_timeout;
            let idle = ctx.config.client_idle_timeout;
            let body = match while_client_stays(client, idle, or(read, timed_out(timeout))).await {
                Err(ClientGone) => return Asked::Done(client_left(ctx, req)),
                Ok(Ok(body)) => body,
                Ok(Err(None)) => {
                    let err = OriginError::Timeout {
                        target: target_name,
                        after: timeout,
                    };
                    return Asked::Done(origin_failed(ctx, client, route, req, err).await);
                }
                Ok(Err(Some(reason))) => {
                    let err = OriginError::BadResponse {
                        target: target_name,
                        reason: format!("GRIP instruct response: {reason}"),
                    };
                    return Asked::Done(origin_failed(ctx, client, route, req, err).await);
                }
            };
            if response.is_keep_alive() {
                ctx.pool
                    .put(&Endpoint::of(route, &target, &req.host), origin);
            }
            Asked::Grip(GripAnswer {
                target: target_name,
                status: response.status,
                reason: response.reason,
                headers: response.headers,
                body,
            })
        }
    }
}

/// The client left while its request was with the origin: nothing to answer, and the origin
/// connection is dropped with the exchange.
pub(super) fn client_left(ctx: &ShardContext, req: &ClientRequest) -> Next {
    log::debug!(
        "shard={} {} {}: client left while the origin was asked; exchange dropped",
        ctx.id.0,
        req.head.method,
        req.head.target
    );
    Next::Close
}

/// Answers an origin failure with its status (`OriginError::status`: 502, 503 or 504), with
/// the detail only under `--debug` or the route's `debug`.
pub(super) async fn origin_failed(
    ctx: &ShardContext,
    client: &mut Conn,
    route: &Route,
    req: &ClientRequest,
    err: OriginError,
) -> Next {
    crate::log_limited!(
        Warn,
        "shard={} {} {}: {err}",
        ctx.id.0,
        req.head.method,
        req.head.target
    );
    let text = if ctx.config.debug || route.debug {
        format!("{}\n", capitalized(&err.to_string()))
    } else {
        ORIGIN_ERROR_TEXT.to_owned()
    };
    respond_failure(ctx, client, req, err.status(), &text, req.keep_alive).await
}

/// Fails with `Err(None)` after `after`: the deadline branch of an `or` race.
async fn timed_out<T>(after: Duration) -> Result<T, Option<String>> {
    glommio::timer::sleep(after).await;
    Err(None)
}

fn is_header_stream_hold(response: &ResponseHead) -> bool {
    response
        .headers
        .get_str("grip-hold")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("stream"))
}

/// The whole body of a GRIP answer; `Err(Some(reason))` when it is broken or too large.
async fn read_grip_body(
    origin: &mut OriginConn,
    response: &ResponseHead,
    method: &str,
    limit: usize,
) -> Result<Bytes, Option<String>> {
    let kind = response
        .body_kind(method)
        .map_err(|e| Some(e.to_string()))?;
    let mut decoder = BodyDecoder::new(kind);
    let mut body = Vec::new();
    match origin.read_body(&mut decoder, &mut body, limit + 1).await {
        Ok(true) if body.len() <= limit => Ok(Bytes::from(body)),
        Ok(_) => Err(Some(format!("body over {limit} bytes"))),
        Err(err) => Err(Some(err.to_string())),
    }
}

/// Why no origin response head was had.
#[derive(Debug)]
enum Failed {
    /// The origin failed, timed out, or no socket was free: answer the client.
    Origin(OriginError),
    /// The client left meanwhile: answer nobody.
    ClientGone,
}

/// Why one exchange on one connection failed.
#[derive(Debug)]
enum ExchangeError {
    /// Sending or reading failed (the text says how); may be retried on a reused connection.
    Origin(String),
    /// No response head within `--origin-timeout`.
    Timeout,
    /// The client left.
    ClientGone,
}

/// Sends the request along `route`'s targets (`origin::failover`): the next target only when
/// connecting fails, and one fresh retry when a reused connection turns out dead.
async fn exchange_with_failover(
    ctx: &Rc<ShardContext>,
    client: &mut Conn,
    route: &Route,
    req: &mut ClientRequest,
    grip_last: &[String],
) -> Result<(OriginConn, HttpTarget, ResponseHead), Failed> {
    let targets = route.http_targets();
    let addresses: Vec<Endpoint> = (targets.iter())
        .map(|t| Endpoint::of(route, t, &req.host))
        .collect();
    // Only a request whose body was buffered whole can be sent a second time.
    let body_complete = req.body_complete;
    let may_retry = |err: &ExchangeError| matches!(err, ExchangeError::Origin(_)) && body_complete;
    let exchanged = with_failover(
        &ctx.pool,
        &addresses,
        Connection::Pooled,
        may_retry,
        async |origin, index| {
            let mut request = origin_request(ctx, route, targets[index], req);
            for value in grip_last {
                request.headers.push("Grip-Last", value.as_bytes());
            }
            exchange(ctx, origin, client, &request, req).await
        },
    )
    .await;
    match exchanged {
        Ok((response, origin, index)) => Ok((origin, targets[index].clone(), response)),
        Err(FailoverError::Exhausted { open_max }) => {
            Err(Failed::Origin(OriginError::Exhausted { open_max }))
        }
        Err(FailoverError::ConnectFailed { tried }) => {
            Err(Failed::Origin(OriginError::ConnectFailed { tried }))
        }
        Err(FailoverError::Exchange { target, error }) => Err(match error {
            ExchangeError::Origin(reason) => {
                Failed::Origin(OriginError::BadResponse { target, reason })
            }
            ExchangeError::Timeout => Failed::Origin(OriginError::Timeout {
                target,
                after: ctx.config.origin_timeout,
            }),
            ExchangeError::ClientGone => Failed::ClientGone,
        }),
    }
}

fn origin_request(
    ctx: &ShardContext,
    route: &Route,
    target: &HttpTarget,
    req: &ClientRequest,
) -> RequestHead {
    let token = ctx.route_grip_sig(route);
    let body = if req.body_complete {
        if req.body.is_empty() {
            BodyFraming::None
        } else {
            BodyFraming::Length(req.body.len() as u64)
        }
    } else {
        match req.body_kind() {
            BodyKind::Length(n) => BodyFraming::Length(n),
            _ => BodyFraming::Chunked,
        }
    };
    let forward = ForwardContext {
        route,
        target,
        peer_ip: req.peer.ip(),
        grip_sig: token.as_deref(),
        xff: &ctx.config.x_forwarded_for,
        body,
        forwarded_proto: req.forwarded_proto(),
    };
    build_origin_request(&req.head, &forward)
}

/// Sends the request (head and body) and reads the final response head, within
/// `--origin-timeout` and while the client stays. A streamed body is sent first, unwatched:
/// reading it notices a client that leaves.
async fn exchange(
    ctx: &ShardContext,
    origin: &mut OriginConn,
    client: &mut Conn,
    request: &RequestHead,
    req: &mut ClientRequest,
) -> Result<ResponseHead, ExchangeError> {
    let mut out = Vec::with_capacity(512 + req.body.len());
    encode_request_head(request, &mut out);
    if req.body_complete {
        out.extend_from_slice(&req.body);
    } else {
        stream_request_body(origin, client, req, out)
            .await
            .map_err(ExchangeError::Origin)?;
        out = Vec::new();
    }
    let _ = origin.set_read_timeout(Some(ORIGIN_INACTIVITY_TIMEOUT));
    let send_and_read = async {
        if !out.is_empty() {
            let sent = origin.write_all(&out).await;
            sent.map_err(|e| ExchangeError::Origin(e.to_string()))?;
        }
        read_final_head(origin, true)
            .await
            .map_err(|e| ExchangeError::Origin(head_error_text(e)))
    };
    let deadline = async {
        glommio::timer::sleep(ctx.config.origin_timeout).await;
        Err(ExchangeError::Timeout)
    };
    let idle = ctx.config.client_idle_timeout;
    match while_client_stays(client, idle, or(send_and_read, deadline)).await {
        Ok(result) => result,
        Err(ClientGone) => Err(ExchangeError::ClientGone),
    }
}

/// Sends a body larger than the buffer: what was buffered, then the rest as it arrives.
async fn stream_request_body(
    origin: &mut OriginConn,
    client: &mut Conn,
    req: &mut ClientRequest,
    mut out: Vec<u8>,
) -> Result<(), String> {
    let chunked = !matches!(req.body_kind(), BodyKind::Length(_));
    let mut piece = std::mem::take(&mut req.body);
    loop {
        if chunked {
            encode_chunk_into(&piece, &mut out);
        } else {
            out.extend_from_slice(&piece);
        }
        origin.write_all(&out).await.map_err(|e| e.to_string())?;
        out.clear();
        piece.clear();
        if req.decoder.is_done() {
            break;
        }
        match client
            .read_body(&mut req.decoder, &mut piece, 64 * 1024)
            .await
        {
            Ok(_) => {}
            Err(err) => return Err(format!("client body: {err}")),
        }
        if piece.is_empty() && req.decoder.is_done() {
            break;
        }
    }
    if chunked {
        origin
            .write_all(LAST_CHUNK)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}
