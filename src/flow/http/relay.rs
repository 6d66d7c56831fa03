//! Relaying an ordinary (non-GRIP) origin response to its client as the origin produces it.
//!
//! Owns: the client's framing (PUSHPIN.md §1.6, decided by `origin::response::relay_framing`):
//! `Content-Length` when the body came whole with the origin's head, else each piece passed
//! on as it arrives: re-chunked for HTTP/1.1, close-delimited for HTTP/1.0, or under the
//! origin's own `Content-Length`. Also: returning the origin connection to the pool after a
//! clean end only, and the log line for an origin that fails mid-body.
//! Must not: buffer a body. A relay holds one origin read (at most `READ_CHUNK_BYTES` of the
//! wire, or what arrived with the head) and its framed copy, and reads the origin again only
//! once the client's socket has taken the previous piece, so a slow client slows the origin
//! read and a fast origin cannot grow memory.
//! Invariants: a body that ends early (the origin closes or breaks its framing) closes the
//! client's connection without a terminating chunk, so the client sees the truncation; a
//! client that leaves while the origin is read (`client_watch`) drops the origin connection.
//! A client that stops reading stalls the relay (backpressure) for at most
//! `--client-idle-timeout` per write, then the relay ends as if it had left.
//! What bounds a stalled body: `--origin-timeout` covers only the head; a body may pause up to
//! `ORIGIN_INACTIVITY_TIMEOUT` (600 s, zurl's inactivity timeout) between reads, set on the
//! origin socket by the exchange, and nothing bounds its total length in time (a streamed
//! response may run for as long as it keeps sending, as in Pushpin).

use super::client_watch::{while_client_stays, ClientGone};
use super::proxy::{client_left, origin_failed};
use super::request::access_log;
use crate::config::{HttpTarget, Route};
use crate::cross_origin::{cors_fields, JsonpRelay};
use crate::http::{encode_chunk_into, encode_response_head, BodyDecoder, BodyKind};
use crate::http::{ClientRequest, Next, ResponseHead, Version, LAST_CHUNK};
use crate::http::{Headers, Jsonp};
use crate::netio::{BodyError, Conn};
use crate::origin::endpoint::Endpoint;
use crate::origin::pool::OriginConn;
use crate::origin::response::{relay_framing, relay_headers, RelayFraming};
use crate::origin::OriginError;
use crate::shard::ShardContext;
use std::rc::Rc;
use std::time::Duration;

/// Why a relay stopped before the body's end.
#[derive(Debug)]
enum RelayCut {
    /// The client left while the origin was read.
    ClientGone,
    /// Writing to the client failed.
    ClientWrite(std::io::Error),
    /// The origin closed early, broke its framing, or went silent for
    /// `ORIGIN_INACTIVITY_TIMEOUT`.
    Origin(BodyError),
}

/// Relays an ordinary response: its head at once, with the body bytes that came with it, then
/// each piece as the origin sends it.
pub(super) async fn relay(
    ctx: &Rc<ShardContext>,
    client: &mut Conn,
    route: &Route,
    mut origin: OriginConn,
    target: &HttpTarget,
    req: &ClientRequest,
    response: ResponseHead,
) -> Next {
    let target_name = format!("{}:{}", target.host, target.port);
    let kind = match response.body_kind(&req.head.method) {
        Ok(kind) => kind,
        Err(err) => {
            let reason = format!("response framing: {err}");
            let err = OriginError::BadResponse {
                target: target_name,
                reason,
            };
            return origin_failed(ctx, client, route, req, err).await;
        }
    };
    let mut decoder = BodyDecoder::new(kind);
    let mut piece = Vec::new();
    // The first read is the one that completed the head: a body whole in it goes out with a
    // `Content-Length`, whatever the origin's framing.
    let complete = match origin.decode_buffered(&mut decoder, &mut piece) {
        Ok(complete) => complete,
        Err(err) => {
            let reason = format!("response body: {err}");
            let err = OriginError::BadResponse {
                target: target_name,
                reason,
            };
            return origin_failed(ctx, client, route, req, err).await;
        }
    };
    let buffered = matches!(kind, BodyKind::Chunked | BodyKind::CloseDelimited)
        .then_some((complete, piece.len()));
    let mut out = Vec::with_capacity(512 + piece.len());
    let (framing, keep_alive, mut wrap) = client_start(
        &response,
        req,
        (kind, complete),
        buffered,
        &mut piece,
        &mut out,
    );
    let idle = ctx.config.client_idle_timeout;
    // A client that stops reading would otherwise hold this relay and its origin connection
    // for good: a write that makes no progress for the idle timeout ends it.
    let _ = client.set_write_timeout(Some(idle));
    let body = Body {
        decoder: &mut decoder,
        framing,
        wrap: wrap.as_mut(),
    };
    let piped = pipe_body(client, &mut origin, body, out, piece, idle).await;
    let _ = client.set_write_timeout(None);
    let sent = match piped {
        Ok(sent) => sent,
        Err(cut) => return relay_cut(ctx, req, &target_name, cut),
    };
    access_log(ctx, req, &target_name, response.status, sent);
    if response.is_keep_alive() && kind != BodyKind::CloseDelimited {
        ctx.pool
            .put(&Endpoint::of(route, target, &req.host), origin);
    }
    if keep_alive {
        Next::KeepAlive
    } else {
        Next::Close
    }
}

/// Writes the client's head (and a JSONP wrapper's start) to `out`; returns the body's
/// framing, whether the connection stays open after it, and the JSONP wrap of later pieces.
/// A JSONP body that came whole (`complete`) is wrapped here, out of `piece`.
fn client_start(
    response: &ResponseHead,
    req: &ClientRequest,
    (kind, complete): (BodyKind, bool),
    buffered: Option<(bool, usize)>,
    piece: &mut Vec<u8>,
    out: &mut Vec<u8>,
) -> (RelayFraming, bool, Option<JsonpRelay>) {
    match req.cross_origin.as_ref().and_then(|c| c.jsonp.clone()) {
        None => {
            let (head, framing, keep_alive) = client_head(response, req, kind, buffered);
            encode_response_head(&head, out);
            (framing, keep_alive, None)
        }
        Some(jsonp) if complete => {
            let whole = std::mem::take(piece);
            let keep_alive = jsonp_whole(response, req, &jsonp, &whole, out);
            (RelayFraming::Raw, keep_alive, None)
        }
        Some(jsonp) => {
            let wrap = JsonpRelay::new(jsonp);
            let (framing, keep_alive) = jsonp_streamed(response, req, &wrap, out);
            (framing, keep_alive, Some(wrap))
        }
    }
}

/// The head the client gets, the body's framing, and whether the client's connection stays
/// open after it (`buffered`: as for `relay_framing`).
fn client_head(
    response: &ResponseHead,
    req: &ClientRequest,
    kind: BodyKind,
    buffered: Option<(bool, usize)>,
) -> (ResponseHead, RelayFraming, bool) {
    let is_head = req.head.method == "HEAD";
    let (mut headers, framing) = relay_framing(response, kind, is_head, req.head.version, buffered);
    if let Some(cross) = &req.cross_origin {
        // Over the origin's relayed fields, not the framing ringpin adds.
        let relayed = relay_headers(&response.headers);
        for field in cors_fields(&cross.request_fields, &relayed) {
            headers.push(field.name, field.value);
        }
    }
    let keep_alive = req.keep_alive && framing != RelayFraming::CloseDelimited;
    let head = head_with(req, response.status, &response.reason, headers, keep_alive);
    (head, framing, keep_alive)
}

/// A response head to `req`, with the `Connection` field its version and `keep_alive` need.
fn head_with(
    req: &ClientRequest,
    status: u16,
    reason: &str,
    mut headers: Headers,
    keep_alive: bool,
) -> ResponseHead {
    match (req.head.version, keep_alive) {
        (Version::Http11, false) => headers.push("Connection", &b"close"[..]),
        (Version::Http10, true) => headers.push("Connection", &b"keep-alive"[..]),
        _ => {}
    }
    ResponseHead {
        version: req.head.version,
        status,
        reason: reason.to_owned(),
        headers,
    }
}

/// A JSONP answer whose origin body came whole with the head: `200 OK` with the wrapped body
/// and its `Content-Length`, written to `out`. Returns whether the connection stays open.
fn jsonp_whole(
    response: &ResponseHead,
    req: &ClientRequest,
    jsonp: &Jsonp,
    body: &[u8],
    out: &mut Vec<u8>,
) -> bool {
    let relayed = relay_headers(&response.headers);
    let (mut headers, wrapped) =
        JsonpRelay::whole(jsonp, response.status, &response.reason, &relayed, body);
    headers.push("Content-Length", wrapped.len().to_string());
    let head = head_with(req, 200, "OK", headers, req.keep_alive);
    encode_response_head(&head, out);
    out.extend_from_slice(&wrapped);
    req.keep_alive
}

/// A JSONP answer whose origin body is still coming: `200 OK`, chunked (close-delimited for
/// HTTP/1.0), and the wrapper's start written to `out` as the first body bytes.
fn jsonp_streamed(
    response: &ResponseHead,
    req: &ClientRequest,
    wrap: &JsonpRelay,
    out: &mut Vec<u8>,
) -> (RelayFraming, bool) {
    let mut headers = JsonpRelay::streamed_fields();
    let framing = if req.head.version == Version::Http11 {
        headers.push("Transfer-Encoding", &b"chunked"[..]);
        headers.push("Connection", &b"Transfer-Encoding"[..]);
        RelayFraming::Chunked
    } else {
        RelayFraming::CloseDelimited
    };
    let keep_alive = req.keep_alive && framing != RelayFraming::CloseDelimited;
    let head = head_with(req, 200, "OK", headers, keep_alive);
    encode_response_head(&head, out);
    let start = wrap.start(
        response.status,
        &response.reason,
        &relay_headers(&response.headers),
    );
    if framing == RelayFraming::Chunked {
        encode_chunk_into(&start, out);
    } else {
        out.extend_from_slice(&start);
    }
    (framing, keep_alive)
}

/// Logs why a relay stopped early; the client's connection closes without more bytes (no
/// terminating chunk), and the origin connection is dropped, not pooled.
fn relay_cut(ctx: &ShardContext, req: &ClientRequest, target: &str, cut: RelayCut) -> Next {
    match cut {
        RelayCut::ClientGone => return client_left(ctx, req),
        RelayCut::ClientWrite(err) => log::debug!(
            "shard={} {} {}: client write failed during the relay from {target}: {err}",
            ctx.id.0,
            req.head.method,
            req.head.target
        ),
        RelayCut::Origin(err) => crate::log_limited!(
            Warn,
            "shard={} {} {}: body from {target} ended early, client response truncated: {err}",
            ctx.id.0,
            req.head.method,
            req.head.target
        ),
    }
    Next::Close
}

/// The origin body being relayed: its decoder, the client's framing, and the JSONP wrap of
/// each piece, if any.
struct Body<'a> {
    decoder: &'a mut BodyDecoder,
    framing: RelayFraming,
    wrap: Option<&'a mut JsonpRelay>,
}

/// Writes `out` (the head) and `piece` (the body bytes that came with it), then each later
/// piece as the origin sends it, watching the client while the origin is read (`idle`: the
/// client's read timeout to restore). The origin is read only after the client's socket took
/// the previous write. Returns the origin body bytes relayed.
async fn pipe_body(
    client: &mut Conn,
    origin: &mut OriginConn,
    body: Body<'_>,
    mut out: Vec<u8>,
    mut piece: Vec<u8>,
    idle: Duration,
) -> Result<usize, RelayCut> {
    let Body {
        decoder,
        framing,
        mut wrap,
    } = body;
    let mut sent = 0;
    loop {
        sent += piece.len();
        let done = decoder.is_done();
        if let Some(wrap) = wrap.as_deref_mut() {
            let mut wrapped = wrap.piece(&piece);
            if done {
                wrapped.extend_from_slice(&wrap.end());
            }
            piece = wrapped;
        }
        if framing == RelayFraming::Chunked {
            encode_chunk_into(&piece, &mut out);
        } else {
            out.extend_from_slice(&piece);
        }
        if done && framing == RelayFraming::Chunked {
            out.extend_from_slice(LAST_CHUNK);
        }
        client
            .write_all(&out)
            .await
            .map_err(RelayCut::ClientWrite)?;
        if done {
            return Ok(sent);
        }
        out.clear();
        piece.clear();
        let read = origin.read_body_some(decoder, &mut piece);
        match while_client_stays(client, idle, read).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => return Err(RelayCut::Origin(err)),
            Err(ClientGone) => return Err(RelayCut::ClientGone),
        }
    }
}
