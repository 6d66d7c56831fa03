//! Forwarding a client request to its route's origin and relaying or accepting the answer.
//!
//! Owns: target failover (next target only when connecting fails, PUSHPIN.md §1.3), the retry
//! of a reused keep-alive connection that the origin had closed, request bodies larger than
//! the buffer (streamed), and relaying ordinary responses with re-done framing (§1.6).
//! Must not: interpret GRIP instructions (`client_http::accept_grip` does).

use super::client_http::{
    accept_grip, access_log, capitalized, respond_error, ClientRequest, GripAnswer, Next,
    ORIGIN_ERROR_TEXT,
};
use super::ShardContext;
use crate::config::{HttpTarget, Route, Target};
use crate::grip::sig;
use crate::http::{
    encode_chunk_into, encode_request_head, encode_response_head, BodyDecoder, BodyKind,
    RequestHead, ResponseHead, Version, LAST_CHUNK,
};
use crate::limits::{GRIP_RESPONSE_BODY_BYTES_MAX, ORIGIN_INACTIVITY_TIMEOUT};
use crate::netio::{BodyError, Conn};
use crate::origin::pool::{head_error_text, read_final_head, OriginConn};
use crate::origin::request::{build_origin_request, BodyFraming, ForwardContext};
use crate::origin::response::{classify, relay_headers, OriginReply};
use crate::origin::OriginError;
use bytes::Bytes;
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest initial body of a stream hold ringpin buffers before handing off.
const STREAM_HOLD_INITIAL_BYTES_MAX: usize = 4 * 1024 * 1024;

/// Bodies up to this size are relayed with `Content-Length` even when the origin chunked them.
const RELAY_BUFFER_BYTES_MAX: usize = 100_000;

/// Forwards `req` along `route` and answers the client.
pub async fn forward(
    ctx: &Rc<ShardContext>,
    client: &mut Conn,
    route: &Route,
    req: &mut ClientRequest,
) -> Next {
    match ask_origin(ctx, client, route, req, &[]).await {
        Asked::Done(next) => next,
        Asked::Grip(answer) => accept_grip(ctx, client, req, route, answer).await,
    }
}

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
    let generic = ORIGIN_ERROR_TEXT;
    let exchanged = exchange_with_failover(ctx, client, route, req, grip_last).await;
    let (mut origin, target, response) = match exchanged {
        Ok(found) => found,
        Err(err) => {
            log::warn!(
                "shard={} {} {}: {err}",
                ctx.id.0,
                req.head.method,
                req.head.target
            );
            let text = if ctx.config.debug || route.debug {
                format!("{}\n", capitalized(&err.to_string()))
            } else {
                generic.to_owned()
            };
            let next = respond_error(ctx, client, &req.head, 502, &text, req.keep_alive).await;
            return Asked::Done(next);
        }
    };
    let target_name = format!("{}:{}", target.host, target.port);
    match classify(&response, route) {
        OriginReply::Relay => Asked::Done(relay(ctx, client, origin, &target, req, response).await),
        OriginReply::Grip => {
            let limit = if is_header_stream_hold(&response) {
                STREAM_HOLD_INITIAL_BYTES_MAX
            } else {
                GRIP_RESPONSE_BODY_BYTES_MAX
            };
            let body = match read_grip_body(&mut origin, &response, &req.head.method, limit).await {
                Ok(body) => body,
                Err(reason) => {
                    log::warn!(
                        "shard={} GRIP response from {target_name}: {reason}",
                        ctx.id.0
                    );
                    let text = if ctx.config.debug || route.debug {
                        format!("GRIP instruct response too large from {target_name}\n")
                    } else {
                        generic.to_owned()
                    };
                    let keep_alive = req.keep_alive;
                    let next = respond_error(ctx, client, &req.head, 502, &text, keep_alive).await;
                    return Asked::Done(next);
                }
            };
            if response.is_keep_alive() {
                ctx.pool.put(&target.host, target.port, origin.conn);
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

fn is_header_stream_hold(response: &ResponseHead) -> bool {
    response
        .headers
        .get_str("grip-hold")
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("stream"))
}

async fn read_grip_body(
    origin: &mut OriginConn,
    response: &ResponseHead,
    method: &str,
    limit: usize,
) -> Result<Bytes, String> {
    let kind = response.body_kind(method).map_err(|e| e.to_string())?;
    let mut decoder = BodyDecoder::new(kind);
    let mut body = Vec::new();
    match origin
        .conn
        .read_body(&mut decoder, &mut body, limit + 1)
        .await
    {
        Ok(true) if body.len() <= limit => Ok(Bytes::from(body)),
        Ok(_) => Err(format!("body over {limit} bytes")),
        Err(err) => Err(err.to_string()),
    }
}

/// Tries each target in order; the next one only when connecting fails.
async fn exchange_with_failover(
    ctx: &Rc<ShardContext>,
    client: &mut Conn,
    route: &Route,
    req: &mut ClientRequest,
    grip_last: &[String],
) -> Result<(OriginConn, HttpTarget, ResponseHead), OriginError> {
    let mut tried = Vec::new();
    for target in &route.targets {
        let Target::Http(target) = target else {
            continue;
        };
        let name = format!("{}:{}", target.host, target.port);
        let mut origin = match ctx.pool.get(&target.host, target.port).await {
            Ok(origin) => origin,
            Err(err) => {
                log::debug!("shard={} connect to {name} failed: {err}", ctx.id.0);
                tried.push(name);
                continue;
            }
        };
        let mut request = origin_request(ctx, route, target, req);
        for value in grip_last {
            request.headers.push("Grip-Last", value.as_bytes());
        }
        let mut result = exchange(&mut origin, client, &request, req).await;
        if result.is_err() && origin.reused && req.body_complete {
            // The origin closed an idle pooled connection; nothing was received, so a
            // fresh connection may safely carry the same request.
            origin = match ctx.pool.connect_fresh(&target.host, target.port).await {
                Ok(origin) => origin,
                Err(_) => {
                    tried.push(name);
                    continue;
                }
            };
            result = exchange(&mut origin, client, &request, req).await;
        }
        return match result {
            Ok(response) => Ok((origin, target.clone(), response)),
            Err(reason) => Err(OriginError::BadResponse {
                target: name,
                reason,
            }),
        };
    }
    Err(OriginError::ConnectFailed {
        tried: tried.join(", "),
    })
}

/// The `Grip-Sig` token for a request along `route`, or `None` for a `no_grip` route.
pub(super) fn route_grip_sig(ctx: &ShardContext, route: &Route) -> Option<String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    (!route.no_grip).then(|| match (&route.sig_key, &route.sig_iss) {
        // Pushpin uses a route's own key only when both sig_key and sig_iss are set.
        (Some(key), Some(iss)) => {
            let key = crate::config::parse_sig_key(key).unwrap_or_else(|_| key.as_bytes().to_vec());
            sig::sign(&key, iss, now)
        }
        _ => ctx.default_grip_sig(now),
    })
}

fn origin_request(
    ctx: &ShardContext,
    route: &Route,
    target: &HttpTarget,
    req: &ClientRequest,
) -> RequestHead {
    let token = route_grip_sig(ctx, route);
    let body = if req.body_complete {
        if req.body.is_empty() {
            BodyFraming::None
        } else {
            BodyFraming::Length(req.body.len() as u64)
        }
    } else {
        match req.body_kind {
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
    };
    build_origin_request(&req.head, &forward)
}

/// Sends the request (head and body) and reads the final response head.
async fn exchange(
    origin: &mut OriginConn,
    client: &mut Conn,
    request: &RequestHead,
    req: &mut ClientRequest,
) -> Result<ResponseHead, String> {
    let mut out = Vec::with_capacity(512 + req.body.len());
    encode_request_head(request, &mut out);
    if req.body_complete {
        out.extend_from_slice(&req.body);
        origin
            .conn
            .write_all(&out)
            .await
            .map_err(|e| e.to_string())?;
    } else {
        stream_request_body(origin, client, req, out).await?;
    }
    let _ = origin
        .conn
        .set_read_timeout(Some(ORIGIN_INACTIVITY_TIMEOUT));
    read_final_head(&mut origin.conn, true)
        .await
        .map_err(head_error_text)
}

/// Sends a body larger than the buffer: what was buffered, then the rest as it arrives.
async fn stream_request_body(
    origin: &mut OriginConn,
    client: &mut Conn,
    req: &mut ClientRequest,
    mut out: Vec<u8>,
) -> Result<(), String> {
    let chunked = !matches!(req.body_kind, BodyKind::Length(_));
    let mut piece = std::mem::take(&mut req.body);
    loop {
        if chunked {
            encode_chunk_into(&piece, &mut out);
        } else {
            out.extend_from_slice(&piece);
        }
        origin
            .conn
            .write_all(&out)
            .await
            .map_err(|e| e.to_string())?;
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
            .conn
            .write_all(LAST_CHUNK)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Relays an ordinary response, re-framing the body for the client.
async fn relay(
    ctx: &Rc<ShardContext>,
    client: &mut Conn,
    mut origin: OriginConn,
    target: &HttpTarget,
    req: &ClientRequest,
    response: ResponseHead,
) -> Next {
    let kind = match response.body_kind(&req.head.method) {
        Ok(kind) => kind,
        Err(err) => {
            log::warn!("shard={} bad response framing from origin: {err}", ctx.id.0);
            return respond_error(ctx, client, &req.head, 502, ORIGIN_ERROR_TEXT, false).await;
        }
    };
    let is_head = req.head.method == "HEAD";
    let mut headers = relay_headers(&response.headers);
    let mut decoder = BodyDecoder::new(kind);
    let mut body = Vec::new();
    let framing = match kind {
        BodyKind::Length(n) => {
            headers.push("Content-Length", n.to_string());
            Framing::Raw
        }
        BodyKind::Empty => {
            if is_head {
                if let Some(length) = response.headers.get("content-length") {
                    headers.push("Content-Length", length.to_vec());
                }
            } else if response.status >= 200 && response.status != 204 && response.status != 304 {
                headers.push("Content-Length", &b"0"[..]);
            }
            Framing::Raw
        }
        BodyKind::Chunked | BodyKind::CloseDelimited => {
            let complete = match origin
                .conn
                .read_body(&mut decoder, &mut body, RELAY_BUFFER_BYTES_MAX)
                .await
            {
                Ok(complete) => complete,
                Err(err) => {
                    log::warn!("shard={} origin body error: {err}", ctx.id.0);
                    return respond_error(ctx, client, &req.head, 502, ORIGIN_ERROR_TEXT, false)
                        .await;
                }
            };
            if complete {
                headers.push("Content-Length", body.len().to_string());
                Framing::Raw
            } else if req.head.version == Version::Http11 {
                headers.push("Transfer-Encoding", &b"chunked"[..]);
                headers.push("Connection", &b"Transfer-Encoding"[..]);
                Framing::Chunked
            } else {
                Framing::CloseDelimited
            }
        }
    };
    let keep_alive = req.keep_alive && framing != Framing::CloseDelimited;
    match (req.head.version, keep_alive) {
        (Version::Http11, false) => headers.push("Connection", &b"close"[..]),
        (Version::Http10, true) => headers.push("Connection", &b"keep-alive"[..]),
        _ => {}
    }
    let head = ResponseHead {
        version: req.head.version,
        status: response.status,
        reason: response.reason.clone(),
        headers,
    };
    let mut out = Vec::with_capacity(512 + body.len());
    encode_response_head(&head, &mut out);
    let status = response.status;
    let sent = match pipe_body(client, &mut origin, &mut decoder, out, body, framing).await {
        Ok(sent) => sent,
        Err(err) => {
            log::info!(
                "shard={} relay from {}:{} ended early: {err}",
                ctx.id.0,
                target.host,
                target.port
            );
            return Next::Close;
        }
    };
    access_log(
        ctx,
        req,
        &format!("{}:{}", target.host, target.port),
        status,
        sent,
    );
    if response.is_keep_alive() && kind != BodyKind::CloseDelimited {
        ctx.pool.put(&target.host, target.port, origin.conn);
    }
    if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Framing {
    Raw,
    Chunked,
    CloseDelimited,
}

/// Writes `out` (head and buffered body), then the rest of the origin body as it arrives.
/// Returns the body bytes sent.
async fn pipe_body(
    client: &mut Conn,
    origin: &mut OriginConn,
    decoder: &mut BodyDecoder,
    mut out: Vec<u8>,
    mut piece: Vec<u8>,
    framing: Framing,
) -> Result<usize, BodyError> {
    let mut sent = 0;
    let mut done = false;
    loop {
        sent += piece.len();
        if framing == Framing::Chunked {
            encode_chunk_into(&piece, &mut out);
        } else {
            out.extend_from_slice(&piece);
        }
        if done || decoder.is_done() {
            if framing == Framing::Chunked {
                out.extend_from_slice(LAST_CHUNK);
            }
            client.write_all(&out).await?;
            return Ok(sent);
        }
        client.write_all(&out).await?;
        out.clear();
        piece.clear();
        done = origin
            .conn
            .read_body(decoder, &mut piece, 64 * 1024)
            .await?;
    }
}
