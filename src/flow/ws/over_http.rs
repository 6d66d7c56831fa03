//! A client WebSocket carried to an `over_http` origin as WebSocket-over-HTTP requests.
//!
//! Owns: the OPEN exchange (target failover on connect failures, the rejection relay: the
//! origin's status, headers and up to 100,000 bytes of body reach the client), the 101, and
//! `Woh`, the per-connection request state every later request is built from: the replayed
//! handshake, `Connection-Id`, meta from `Set-Meta-*`, `Keep-Alive-Interval`.
//! Must not: run the connection's loop (`woh_flow.rs`) or interpret origin messages
//! (`ws_grip.rs`).
//! Invariants: the 101 is written before the connection is registered, so no published
//! frame can precede it; OPEN is never retried (PUSHPIN.md §6.3).

use crate::config::{HttpTarget, Route};
use crate::flow::ws::client::{access_log, response, WsClient, WsRequest};
use crate::flow::ws::grip::OriginMessages;
use crate::flow::ws::over_http_exchange::{exchange, WohFail, WohReply, WohRequest};
use crate::http::Next;
use crate::http::{encode_request_head, RequestHead};
use crate::limits::REJECTION_BODY_BYTES_MAX;
use crate::netio::Conn;
use crate::origin::endpoint::Endpoint;
use crate::origin::request::{BodyFraming, ForwardContext};
use crate::origin::response::relay_headers;
use crate::origin::ws_request::{
    apply_set_meta, build_woh_request, grip_extension, is_woh_events_response, keep_alive_interval,
    set_meta_fields, switching_headers, woh_base_head,
};
use crate::reply::encode_full_response;
use crate::shard::random::random_u64;
use crate::shard::respond::respond_error;
use crate::shard::ShardContext;
use crate::ws::deflate::DEFLATE_RESPONSE;
use crate::ws::{encode_events, encode_switching_response, parse_events_bytes, WohEvent};
use futures_lite::future::{BoxedLocal, FutureExt};
use std::rc::Rc;
use std::time::Duration;

/// What every request of one connection is built from.
#[derive(Debug)]
pub struct Woh<'r> {
    ctx: Rc<ShardContext>,
    route: &'r Route,
    target: HttpTarget,
    base: RequestHead,
    peer: std::net::IpAddr,
    forwarded_proto: Option<&'static str>,
    /// The client's `Host` without port (the TLS name of an `ssl` target).
    client_host: String,
    connection_id: String,
    meta: Vec<(String, String)>,
    /// Send an empty request after this long without one (`Keep-Alive-Interval`).
    pub keep_alive_interval: Option<Duration>,
}

/// A request in flight.
pub type InFlight = BoxedLocal<Result<WohReply, WohFail>>;

impl Woh<'_> {
    /// Starts a request carrying `events`, `replayed` content bytes of which were kept back
    /// by an earlier answer; it runs when polled.
    pub fn request(&self, events: &[WohEvent], replayed: usize) -> InFlight {
        let body = encode_events(events);
        let token = self.ctx.route_grip_sig(self.route);
        let forward = ForwardContext {
            route: self.route,
            target: &self.target,
            peer_ip: self.peer,
            grip_sig: token.as_deref(),
            xff: &self.ctx.config.x_forwarded_for,
            body: BodyFraming::None,
            forwarded_proto: self.forwarded_proto,
        };
        let head = build_woh_request(
            &self.base,
            &forward,
            &self.connection_id,
            &self.meta,
            body.len(),
            replayed,
        );
        let mut bytes = Vec::with_capacity(512 + body.len());
        encode_request_head(&head, &mut bytes);
        bytes.extend_from_slice(&body);
        let request = WohRequest {
            endpoint: Endpoint::of(self.route, &self.target, &self.client_host),
            bytes,
        };
        exchange(Rc::clone(&self.ctx), request).boxed_local()
    }

    /// Takes `Set-Meta-*` and `Keep-Alive-Interval` from a response.
    pub fn on_response_headers(&mut self, reply: &WohReply) {
        let refused = apply_set_meta(&mut self.meta, set_meta_fields(&reply.headers));
        if refused > 0 {
            crate::log_limited!(
                Warn,
                "shard={} {refused} Set-Meta fields from {} ignored: over the meta limits",
                self.ctx.id.0,
                self.target_name()
            );
        }
        if let Some(interval) = keep_alive_interval(&reply.headers) {
            self.keep_alive_interval = interval;
        }
    }

    /// The shard this connection lives on.
    pub fn ctx(&self) -> &ShardContext {
        &self.ctx
    }

    /// True when the target asked for one event per request.
    pub fn is_one_event(&self) -> bool {
        self.target.one_event
    }

    /// `host:port` of the target.
    pub fn target_name(&self) -> String {
        format!("{}:{}", self.target.host, self.target.port)
    }
}

/// Serves an upgrade along an `over_http` route.
pub async fn serve(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &WsRequest,
    route: &Route,
) -> Next {
    let mut woh = Woh {
        ctx: Rc::clone(ctx),
        route,
        target: HttpTarget::new("", 0),
        base: woh_base_head(&req.head),
        peer: req.peer.ip(),
        forwarded_proto: req.forwarded_proto(),
        client_host: req.host.clone(),
        connection_id: connection_id(),
        meta: Vec::new(),
        keep_alive_interval: None,
    };
    let reply = match open(&mut woh).await {
        Ok(reply) => reply,
        Err(err) => {
            crate::log_limited!(
                Warn,
                "shard={} websocket open {}: {err}",
                ctx.id.0,
                req.head.target
            );
            let text = if ctx.config.debug || route.debug {
                format!("{}\n", crate::reply::capitalized(&err.to_string()))
            } else {
                crate::reply::ORIGIN_ERROR_TEXT.to_owned()
            };
            return respond_error(ctx, conn, &req.head, 502, &text, false).await;
        }
    };
    let target_name = woh.target_name();
    if !is_woh_events_response(reply.status, &reply.headers) {
        return relay_rejection(ctx, conn, req, &target_name, reply).await;
    }
    let events = match parse_events_bytes(&reply.body) {
        Ok(events) => events,
        Err(err) => return bad_open(ctx, conn, req, &format!("bad event body: {err}")).await,
    };
    let opened = matches!(events.first(), Some(WohEvent::Open(_)))
        || (events.is_empty() && reply.headers.contains("keep-alive-interval"));
    if !opened {
        return bad_open(ctx, conn, req, "first event is not OPEN").await;
    }
    woh.on_response_headers(&reply);
    let head = encode_switching_response(
        &req.accept,
        &switching_headers(&reply.headers),
        req.deflate.then_some(DEFLATE_RESPONSE),
    );
    if conn.write_all(&head).await.is_err() {
        return Next::Close;
    }
    access_log(ctx, req, &format!("{target_name} ws accept"), 101);
    let implicit: Vec<String> = (woh.target.subs.iter())
        .map(|s| format!("{}{s}", route.prefix))
        .collect();
    let mut messages = OriginMessages::new(
        grip_extension(&reply.headers),
        &route.prefix,
        implicit.clone(),
    );
    let mut client = WsClient::register(ctx, conn, implicit, req.deflate);
    client.name_session(&woh.connection_id);
    let rest = events.into_iter().skip(1).collect();
    super::over_http_flow::run(&mut woh, &mut client, &mut messages, rest).await;
    Next::Close
}

/// Sends OPEN to each `over_http` target in turn, moving on only when connecting fails.
async fn open(woh: &mut Woh<'_>) -> Result<WohReply, WohFail> {
    let mut last = None;
    for target in woh.route.http_targets() {
        woh.target = target.clone();
        match woh.request(&[WohEvent::Open(Default::default())], 0).await {
            Err(fail @ WohFail::Connect { .. }) => {
                log::debug!("shard={} {fail}", woh.ctx.id.0);
                last = Some(fail);
            }
            other => return other,
        }
    }
    Err(last.unwrap_or(WohFail::Connect {
        target: "none".to_owned(),
        reason: "no http target".to_owned(),
    }))
}

/// The origin refused: its status, headers and (cut) body go to the client.
async fn relay_rejection(
    ctx: &ShardContext,
    conn: &mut Conn,
    req: &WsRequest,
    target_name: &str,
    reply: WohReply,
) -> Next {
    access_log(ctx, req, &format!("{target_name} ws reject"), reply.status);
    let cut = reply.body.len().min(REJECTION_BODY_BYTES_MAX);
    let mut rejection = response(
        reply.status,
        relay_headers(&reply.headers),
        reply.body[..cut].to_vec(),
    );
    rejection.reason = reply.reason;
    let _ = conn
        .write_all(&encode_full_response(&rejection, req.head.version, false))
        .await;
    Next::Close
}

async fn bad_open(ctx: &ShardContext, conn: &mut Conn, req: &WsRequest, why: &str) -> Next {
    crate::log_limited!(
        Warn,
        "shard={} websocket open {}: origin {why}",
        ctx.id.0,
        req.head.target
    );
    let text = crate::reply::ORIGIN_ERROR_TEXT;
    respond_error(ctx, conn, &req.head, 502, text, false).await
}

/// A random version-4 UUID, stable for the connection's life (`Connection-Id`).
fn connection_id() -> String {
    let high = random_u64();
    let low = random_u64();
    let high = (high & !0xf000) | 0x4000;
    let low = (low & !(0xc << 60)) | (0x8 << 60);
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xffff,
        high & 0xffff,
        low >> 48,
        low & 0xffff_ffff_ffff
    )
}
