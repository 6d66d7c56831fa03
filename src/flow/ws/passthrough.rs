//! A client WebSocket relayed to a plain WebSocket origin (a target without `over_http`).
//!
//! Owns: the origin handshake (target failover on connect failures, `Sec-WebSocket-Extensions:
//! grip` asked for, a non-101 answer relayed to the client with its status, headers and up
//! to 100,000 bytes of body), and the relay loop: client messages re-sent masked to the
//! origin, origin messages through `OriginMessages` (GRIP mode or a pure relay), pings,
//! pongs and closes passed both ways (PUSHPIN.md §6.2).
//! Must not: answer pings itself or interpret `c:` messages outside GRIP mode.
//! Invariants: the origin's frames are decoded within `ORIGIN_FRAME_LIMITS`; the origin is not
//! read while the client's queue holds over `WS_ORIGIN_READ_PAUSE_BYTES`, so a slow client slows
//! its origin instead of growing memory.

use crate::config::{HttpTarget, Route, Target};
use crate::flow::ws::client::{
    access_log, control_frame, response, size_read_buf, ClientEvent, WsClient, WsRequest,
};
use crate::flow::ws::grip::{AfterMessage, OriginMessages};
use crate::http::Next;
use crate::http::{encode_request_head, BodyDecoder, ResponseHead};
use crate::limits::REJECTION_BODY_BYTES_MAX;
use crate::limits::WS_ORIGIN_PAUSE_RECHECK;
use crate::limits::WS_ORIGIN_READ_PAUSE_BYTES;
use crate::limits::{WOH_BODY_BYTES_MAX, WS_CLOSE_TIMEOUT};
use crate::netio::{Conn, HeadError};
use crate::origin::endpoint::Endpoint;
use crate::origin::failover::{with_failover, Connection, FailoverError};
use crate::origin::pool::{read_final_head, OriginConn};
use crate::origin::request::{BodyFraming, ForwardContext};
use crate::origin::response::relay_headers;
use crate::origin::ws_request::{build_ws_handshake, grip_extension};
use crate::origin::OriginError;
use crate::reply::{capitalized, encode_full_response, ORIGIN_ERROR_TEXT};
use crate::shard::hold::sleep_or_never;
use crate::shard::random::random_u64;
use crate::shard::respond::respond_error;
use crate::shard::ShardContext;
use crate::ws::deflate::DEFLATE_RESPONSE;
use crate::ws::{
    accept_key, encode_masked_frame, encode_switching_response, Frame, FrameDecoder, FrameError,
    FrameLimits, MessageKind, WsEvent,
};
use futures_lite::future::{or, pending};
use futures_lite::AsyncReadExt;
use glommio::timer::Timer;
use std::rc::Rc;
use std::time::Instant;
use tungstenite::protocol::frame::coding::{Control, OpCode};

/// Bounds on what a WebSocket origin may make ringpin buffer: a WebSocket-over-HTTP body's.
const ORIGIN_FRAME_LIMITS: FrameLimits = FrameLimits {
    message_bytes_max: WOH_BODY_BYTES_MAX,
    frame_payload_bytes_max: WOH_BODY_BYTES_MAX,
};

/// Serves an upgrade along a route to a plain WebSocket origin.
pub async fn serve(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    req: &WsRequest,
    route: &Route,
) -> Next {
    let (mut origin, target_name, head) = match handshake(ctx, req, route).await {
        Ok(found) => found,
        Err(err) => {
            crate::log_limited!(
                Warn,
                "shard={} websocket {}: {err}",
                ctx.id.0,
                req.head.target
            );
            let text = if ctx.config.debug || route.debug {
                format!("{}\n", capitalized(&err.to_string()))
            } else {
                ORIGIN_ERROR_TEXT.to_owned()
            };
            return respond_error(ctx, conn, &req.head, err.status(), &text, false).await;
        }
    };
    if head.status != 101 {
        return relay_rejection(ctx, conn, req, &target_name, &mut origin, head).await;
    }
    let expected = accept_key(
        req.head
            .headers
            .get_str("sec-websocket-key")
            .unwrap_or("")
            .trim(),
    );
    if head.headers.get_str("sec-websocket-accept").map(str::trim) != Some(expected.as_str()) {
        crate::log_limited!(
            Warn,
            "shard={} websocket origin {target_name} answered 101 with a wrong \
             Sec-WebSocket-Accept",
            ctx.id.0
        );
        return respond_error(ctx, conn, &req.head, 502, ORIGIN_ERROR_TEXT, false).await;
    }
    let extensions = req.deflate.then_some(DEFLATE_RESPONSE);
    let switching = encode_switching_response(&req.accept, &head.headers, extensions);
    if conn.write_all(&switching).await.is_err() {
        return Next::Close;
    }
    access_log(ctx, req, &format!("{target_name} ws accept"), 101);
    let implicit: Vec<String> = route
        .targets
        .iter()
        .filter_map(|t| match t {
            Target::Http(t) if format!("{}:{}", t.host, t.port) == target_name => Some(t),
            _ => None,
        })
        .flat_map(|t| t.subs.iter().map(|s| format!("{}{s}", route.prefix)))
        .collect();
    let mut messages = OriginMessages::new(
        grip_extension(&head.headers),
        &route.prefix,
        implicit.clone(),
    );
    let _ = origin.set_read_timeout(None);
    let mut client = WsClient::register(ctx, conn, implicit, req.deflate);
    let mut relay = Relay {
        ctx: Rc::clone(ctx),
        origin: Some(origin),
        decoder: FrameDecoder::for_origin(ORIGIN_FRAME_LIMITS),
        read_buf: Vec::new(),
        published_close_at: None,
    };
    relay.run(&mut client, &mut messages).await;
    Next::Close
}

/// Connects through `origin::failover` (next target only when connecting fails; always a
/// fresh connection, which the relay keeps), sends the handshake, reads the answer.
async fn handshake(
    ctx: &Rc<ShardContext>,
    req: &WsRequest,
    route: &Route,
) -> Result<(OriginConn, String, ResponseHead), OriginError> {
    let targets = route.http_targets();
    let addresses: Vec<Endpoint> = (targets.iter())
        .map(|t| Endpoint::of(route, t, &req.host))
        .collect();
    let exchanged = with_failover(
        &ctx.pool,
        &addresses,
        Connection::Fresh,
        |_: &OriginError| false,
        async |origin, index| send_handshake(ctx, req, route, targets[index], origin).await,
    )
    .await;
    match exchanged {
        Ok((head, origin, index)) => {
            let target = targets[index];
            Ok((origin, format!("{}:{}", target.host, target.port), head))
        }
        Err(FailoverError::Exhausted { open_max }) => Err(OriginError::Exhausted { open_max }),
        Err(FailoverError::ConnectFailed { tried }) => Err(OriginError::ConnectFailed { tried }),
        Err(FailoverError::Exchange { error, .. }) => Err(error),
    }
}

/// Writes the handshake for `target` and reads the origin's final answer head.
async fn send_handshake(
    ctx: &ShardContext,
    req: &WsRequest,
    route: &Route,
    target: &HttpTarget,
    origin: &mut OriginConn,
) -> Result<ResponseHead, OriginError> {
    let name = format!("{}:{}", target.host, target.port);
    let token = ctx.route_grip_sig(route);
    let forward = ForwardContext {
        route,
        target,
        peer_ip: req.peer.ip(),
        grip_sig: token.as_deref(),
        xff: &ctx.config.x_forwarded_for,
        body: BodyFraming::None,
        forwarded_proto: req.forwarded_proto(),
    };
    let mut bytes = Vec::with_capacity(512);
    encode_request_head(&build_ws_handshake(&req.head, &forward), &mut bytes);
    if let Err(source) = origin.write_all(&bytes).await {
        return Err(OriginError::Send {
            target: name,
            source,
        });
    }
    let timeout = ctx.config.origin_timeout;
    let _ = origin.set_read_timeout(Some(timeout));
    // An interim 1xx before the 101 is skipped, as for any origin answer.
    match read_final_head(origin, true).await {
        Ok(head) => Ok(head),
        Err(HeadError::Io(err)) if err.kind() == std::io::ErrorKind::TimedOut => {
            Err(OriginError::Timeout {
                target: name,
                after: timeout,
            })
        }
        Err(err) => Err(OriginError::BadResponse {
            target: name,
            reason: err.to_string(),
        }),
    }
}

/// The origin refused the upgrade: its status, headers and (cut) body go to the client.
async fn relay_rejection(
    ctx: &ShardContext,
    conn: &mut Conn,
    req: &WsRequest,
    target_name: &str,
    origin: &mut Conn,
    head: ResponseHead,
) -> Next {
    access_log(ctx, req, &format!("{target_name} ws reject"), head.status);
    let mut body = Vec::new();
    if let Ok(kind) = head.body_kind("GET") {
        let mut decoder = BodyDecoder::new(kind);
        let _ = origin
            .read_body(&mut decoder, &mut body, REJECTION_BODY_BYTES_MAX)
            .await;
    }
    body.truncate(REJECTION_BODY_BYTES_MAX);
    let mut rejection = response(head.status, relay_headers(&head.headers), body);
    rejection.reason = head.reason;
    let _ = conn
        .write_all(&encode_full_response(&rejection, req.head.version, false))
        .await;
    Next::Close
}

/// The origin side of one relayed connection.
struct Relay {
    ctx: Rc<ShardContext>,
    /// `None` once detached or closed.
    origin: Option<OriginConn>,
    decoder: FrameDecoder,
    read_buf: Vec<u8>,
    /// A published close was written; the client's reply is awaited until then.
    published_close_at: Option<Instant>,
}

enum Event {
    Client(ClientEvent),
    Origin(std::io::Result<usize>),
    Timer,
}

/// What the relay does after an event.
enum Step {
    Continue,
    End,
}

impl Relay {
    async fn run(&mut self, client: &mut WsClient<'_>, messages: &mut OriginMessages) {
        loop {
            if let Step::End = self.on_origin_frames(client, messages).await {
                return;
            }
            let paused = client.queued_bytes() > WS_ORIGIN_READ_PAUSE_BYTES;
            let now = Instant::now();
            let deadline = [
                messages.next_deadline(client),
                self.published_close_at,
                paused.then_some(now + WS_ORIGIN_PAUSE_RECHECK),
            ]
            .into_iter()
            .flatten()
            .min();
            if let Some(origin) = self.origin.as_ref() {
                size_read_buf(&mut self.read_buf, origin.buffered().is_empty());
            }
            let event = {
                let origin = self.origin.as_mut().filter(|_| !paused);
                let buf = &mut self.read_buf;
                let from_origin = async {
                    match origin {
                        Some(origin) => Event::Origin(origin.stream.read(buf).await),
                        None => pending().await,
                    }
                };
                let timer = async {
                    sleep_or_never(deadline.map(|at| at.saturating_duration_since(now))).await;
                    Event::Timer
                };
                let from_client = async { Event::Client(client.next_event(true).await) };
                or(from_client, or(from_origin, timer)).await
            };
            let step = match event {
                Event::Client(event) => self.on_client(client, event).await,
                Event::Origin(Ok(0)) | Event::Origin(Err(_)) => self.on_origin_gone(),
                Event::Origin(Ok(n)) => {
                    if let Some(origin) = self.origin.as_mut() {
                        origin.extend_buffered(&self.read_buf[..n]);
                    }
                    Step::Continue
                }
                Event::Timer => {
                    if self
                        .published_close_at
                        .is_some_and(|at| at <= Instant::now())
                    {
                        return;
                    }
                    messages.on_timeout(client, Instant::now());
                    Step::Continue
                }
            };
            if let Step::End = step {
                return;
            }
        }
    }

    /// Sends one masked frame to the origin; a failure drops the origin side.
    async fn send_to_origin(&mut self, opcode: OpCode, payload: &[u8]) -> bool {
        let Some(origin) = self.origin.as_mut() else {
            return false;
        };
        let mask = random_u64().to_be_bytes();
        let frame =
            encode_masked_frame(opcode, true, payload, [mask[0], mask[1], mask[2], mask[3]]);
        if origin.write_all(&frame).await.is_err() {
            self.origin = None;
            return false;
        }
        true
    }

    async fn on_client(&mut self, client: &mut WsClient<'_>, event: ClientEvent) -> Step {
        let shard = self.ctx.id.0;
        match event {
            ClientEvent::Message(WsEvent::Text(text)) => {
                self.send_to_origin(MessageKind::Text.opcode(), &text).await;
            }
            ClientEvent::Message(WsEvent::Binary(data)) => {
                self.send_to_origin(MessageKind::Binary.opcode(), &data)
                    .await;
            }
            ClientEvent::Message(WsEvent::Ping(data)) => {
                self.send_to_origin(OpCode::Control(Control::Ping), &data)
                    .await;
            }
            ClientEvent::Message(WsEvent::Pong(data)) => {
                self.send_to_origin(OpCode::Control(Control::Pong), &data)
                    .await;
            }
            ClientEvent::Message(WsEvent::Close { code, reason }) => {
                return self.on_client_close(client, code, reason).await;
            }
            ClientEvent::Invalid(err) => {
                log::info!("shard={shard} closing a websocket client: {err}");
                client.close(Some(err.close_code()), "");
                client.finish(false).await;
                return Step::End;
            }
            ClientEvent::Gone => return Step::End,
            ClientEvent::SlowClosed => {
                crate::log_limited!(
                    Info,
                    "shard={shard} closing a slow websocket client (outbound queue full)"
                );
                return Step::End;
            }
            ClientEvent::ClosePublished => {
                self.published_close_at = Some(Instant::now() + WS_CLOSE_TIMEOUT);
            }
            // Only WebSocket-over-HTTP connections are named, so none is refreshed.
            ClientEvent::Refresh => {}
        }
        Step::Continue
    }

    /// The client closed: pass its close on, wait for the origin's answer, and give the
    /// client the origin's code (its own echoed when the origin sends none).
    async fn on_client_close(
        &mut self,
        client: &mut WsClient<'_>,
        code: Option<u16>,
        reason: String,
    ) -> Step {
        let payload = close_payload(code, &reason);
        let (mut code, mut reason) = (code, reason);
        if self.published_close_at.is_none()
            && self
                .send_to_origin(OpCode::Control(Control::Close), &payload)
                .await
        {
            let answer = or(self.origin_close(), async {
                Timer::new(WS_CLOSE_TIMEOUT).await;
                None
            })
            .await;
            if let Some((origin_code, origin_reason)) = answer {
                (code, reason) = (origin_code, origin_reason);
            }
        } else if self.published_close_at.is_some() {
            self.send_to_origin(OpCode::Control(Control::Close), &payload)
                .await;
        }
        client.close(code, &reason);
        client.finish(false).await;
        Step::End
    }

    /// Reads origin frames until its close frame; `None` if it ends or breaks first.
    async fn origin_close(&mut self) -> Option<(Option<u16>, String)> {
        loop {
            let origin = self.origin.as_mut()?;
            while !origin.buffered().is_empty() {
                match self.decoder.decode(origin.buffered()) {
                    Ok(Some((frame, used))) => {
                        origin.consume(used);
                        if let Frame::Event(WsEvent::Close { code, reason }) = frame {
                            return Some((code, reason));
                        }
                    }
                    Ok(None) => break,
                    Err(_) => return None,
                }
            }
            size_read_buf(&mut self.read_buf, origin.buffered().is_empty());
            match origin.stream.read(&mut self.read_buf).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => origin.extend_buffered(&self.read_buf[..n]),
            }
        }
    }

    /// Acts on every whole frame the origin sent so far.
    async fn on_origin_frames(
        &mut self,
        client: &mut WsClient<'_>,
        messages: &mut OriginMessages,
    ) -> Step {
        loop {
            let Some(origin) = self.origin.as_mut() else {
                return Step::Continue;
            };
            if origin.buffered().is_empty() {
                return Step::Continue;
            }
            let event = match self.decoder.decode(origin.buffered()) {
                Ok(None) => return Step::Continue,
                Ok(Some((frame, used))) => {
                    origin.consume(used);
                    match frame {
                        Frame::Event(event) => event,
                        Frame::Fragment => continue,
                    }
                }
                Err(err) => return self.on_origin_error(client, &err).await,
            };
            if let Step::End = self.on_origin_event(client, messages, event).await {
                return Step::End;
            }
        }
    }

    async fn on_origin_event(
        &mut self,
        client: &mut WsClient<'_>,
        messages: &mut OriginMessages,
        event: WsEvent,
    ) -> Step {
        let after = match event {
            WsEvent::Text(text) => messages.on_message(&self.ctx, client, MessageKind::Text, &text),
            WsEvent::Binary(data) => {
                messages.on_message(&self.ctx, client, MessageKind::Binary, &data)
            }
            WsEvent::Ping(data) => {
                client.send(control_frame(Control::Ping, &data));
                AfterMessage::Continue
            }
            WsEvent::Pong(data) => {
                client.send(control_frame(Control::Pong, &data));
                AfterMessage::Continue
            }
            WsEvent::Close { code, reason } => {
                client.close(code, &reason);
                // The client's close reply goes back to the origin with the client's code, as
                // Pushpin's `in_peerClosed` does, completing the origin's close handshake.
                if let Some((code, reason)) = client.finish(true).await {
                    self.send_to_origin(
                        OpCode::Control(Control::Close),
                        &close_payload(code, &reason),
                    )
                    .await;
                }
                return Step::End;
            }
        };
        if after == AfterMessage::Detach {
            self.send_to_origin(OpCode::Control(Control::Close), &1000u16.to_be_bytes())
                .await;
            self.origin = None;
        }
        Step::Continue
    }

    async fn on_origin_error(&mut self, client: &mut WsClient<'_>, err: &FrameError) -> Step {
        log::info!(
            "shard={} websocket origin broke the protocol: {err}",
            self.ctx.id.0
        );
        self.origin = None;
        client.close(Some(1011), "");
        client.finish(true).await;
        Step::End
    }

    /// The origin closed its socket without a close frame: the client is dropped, unless
    /// the origin had detached (then `origin` is already `None` and this is not called).
    fn on_origin_gone(&mut self) -> Step {
        log::debug!(
            "shard={} websocket origin closed the connection",
            self.ctx.id.0
        );
        Step::End
    }
}

/// A close frame's payload: the code, big-endian, then the reason; empty without a code.
fn close_payload(code: Option<u16>, reason: &str) -> Vec<u8> {
    let mut payload = Vec::new();
    if let Some(code) = code {
        payload.extend_from_slice(&code.to_be_bytes());
        payload.extend_from_slice(reason.as_bytes());
    }
    payload
}
