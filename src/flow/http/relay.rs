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
use crate::http::{encode_chunk_into, encode_response_head, BodyDecoder, BodyKind};
use crate::http::{ClientRequest, Next, ResponseHead, Version, LAST_CHUNK};
use crate::netio::{BodyError, Conn};
use crate::origin::endpoint::Endpoint;
use crate::origin::pool::OriginConn;
use crate::origin::response::{relay_framing, RelayFraming};
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
    let (head, framing, keep_alive) = client_head(&response, req, kind, buffered);
    let mut out = Vec::with_capacity(512 + piece.len());
    encode_response_head(&head, &mut out);
    let idle = ctx.config.client_idle_timeout;
    // A client that stops reading would otherwise hold this relay and its origin connection
    // for good: a write that makes no progress for the idle timeout ends it.
    let _ = client.set_write_timeout(Some(idle));
    let piped = pipe_body(client, &mut origin, &mut decoder, out, piece, framing, idle).await;
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
    let keep_alive = req.keep_alive && framing != RelayFraming::CloseDelimited;
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
    (head, framing, keep_alive)
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

/// Writes `out` (the head) and `piece` (the body bytes that came with it), then each later
/// piece as the origin sends it, watching the client while the origin is read (`idle`: the
/// client's read timeout to restore). The origin is read only after the client's socket took
/// the previous write. Returns the body bytes sent.
async fn pipe_body(
    client: &mut Conn,
    origin: &mut OriginConn,
    decoder: &mut BodyDecoder,
    mut out: Vec<u8>,
    mut piece: Vec<u8>,
    framing: RelayFraming,
    idle: Duration,
) -> Result<usize, RelayCut> {
    let mut sent = 0;
    loop {
        sent += piece.len();
        if framing == RelayFraming::Chunked {
            encode_chunk_into(&piece, &mut out);
        } else {
            out.extend_from_slice(&piece);
        }
        let done = decoder.is_done();
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
