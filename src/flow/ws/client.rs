//! The client side of one WebSocket connection: the upgrade, the route, and the socket.
//!
//! Owns: `serve`, which validates the upgrade (`ws::parse_client_handshake`), selects a
//! `proto=ws` route and hands over to `ws_over_http` or `ws_passthrough`; and `WsClient`, the
//! client socket once upgraded: frames read and decoded within `FrameLimits`, frames written
//! only through the connection's `Sink` queue (published items arrive in the same queue from
//! `ShardContext::deliver_batch`, so there is one writer order), and the close handshake.
//! Must not: interpret origin messages (`ws_grip`), or answer pings: Pushpin 1.36 relays
//! them to the origin.
//! Invariants: `WsClient` owns the `HeldGuard`, and borrows the caller's `Conn`, so the guard
//! always drops before the socket closes (ARCHITECTURE.md, `HeldGuard`).

use crate::config::{Proto, Target};
use crate::fanout::{ConnKey, PushOutcome, Transport};
use crate::grip::ClientResponse;
use crate::http::Next;
use crate::http::{Headers, RequestHead};
use crate::limits::WS_CLOSE_TIMEOUT;
use crate::limits::WS_READ_BUSY_BYTES;
use crate::limits::WS_READ_IDLE_BYTES;
use crate::netio::Conn;
use crate::reply::{capitalized, encode_full_response};
use crate::shard::connections::Held;
use crate::shard::direct_send::FlushOutcome;
use crate::shard::respond::respond_error;
use crate::shard::HeldGuard;
use crate::shard::ShardContext;
use crate::ws::deflate::accepts_deflate_offer;
use crate::ws::frame::{is_sendable_close_code, CONTROL_PAYLOAD_BYTES_MAX};
use crate::ws::{
    encode_close, encode_frame, parse_client_handshake, Frame, FrameDecoder, FrameError,
    FrameLimits, WsEvent,
};
use bytes::Bytes;
use futures_lite::future::{or, pending};
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use glommio::timer::Timer;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;
use tungstenite::protocol::frame::coding::{Control, OpCode};

/// A validated upgrade request.
#[derive(Debug)]
pub struct WsRequest {
    /// The client's handshake.
    pub head: RequestHead,
    /// `Host` without port, lower-cased.
    pub host: String,
    /// The client's address.
    pub peer: SocketAddr,
    /// The client connection is TLS: `X-Forwarded-Proto: wss` to the origin.
    pub tls: bool,
    /// The `Sec-WebSocket-Accept` value for the 101.
    pub accept: String,
    /// permessage-deflate is on for this client (`allow_compression`, and it offered it).
    pub deflate: bool,
}

impl WsRequest {
    /// The `X-Forwarded-Proto` ringpin sets: `wss` for a TLS client, as Pushpin does for both
    /// WebSocket passthrough and WebSocket-over-HTTP.
    pub fn forwarded_proto(&self) -> Option<&'static str> {
        self.tls.then_some("wss")
    }
}

/// True for any request that asks to upgrade to WebSocket, valid or not.
pub fn is_upgrade(head: &RequestHead) -> bool {
    head.headers.has_token("upgrade", "websocket")
}

/// Serves one upgrade request; the connection closes afterwards.
pub async fn serve(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    head: RequestHead,
    peer: SocketAddr,
) -> Next {
    let handshake = match parse_client_handshake(&head) {
        Ok(handshake) => handshake,
        Err(err) => {
            log::info!(
                "shard={} peer={peer} bad websocket upgrade: {err}",
                ctx.id.0
            );
            ctx.counters.requests_failed.add(1);
            let mut headers = err.response_headers();
            headers.push("Content-Type", &b"text/plain"[..]);
            let text = format!("{}\n", capitalized(&err.to_string()));
            let response = response(err.status(), headers, text.into_bytes());
            let _ = conn
                .write_all(&encode_full_response(&response, head.version, false))
                .await;
            return Next::Close;
        }
    };
    let host = head.host().unwrap_or_default();
    let routes = ctx.current_routes();
    let tls = conn.stream.is_tls();
    let Some(route) = routes.select(&host, head.path(), Proto::Ws, tls) else {
        let text = format!("No route for host: {host}\n");
        return respond_error(ctx, conn, &head, 502, &text, false).await;
    };
    let deflate = ctx.config.allow_compression && accepts_deflate_offer(&head.headers);
    let req = WsRequest {
        accept: handshake.accept_key(),
        deflate,
        head,
        host,
        peer,
        tls,
    };
    match route.targets.first() {
        Some(Target::Http(target)) if target.over_http => {
            super::over_http::serve(ctx, conn, &req, route).await
        }
        Some(Target::Http(_)) => super::passthrough::serve(ctx, conn, &req, route).await,
        Some(Target::Test) | None => {
            let text = "The test target does not speak WebSocket.\n";
            respond_error(ctx, conn, &req.head, 501, text, false).await
        }
    }
}

/// One access-log line per upgrade, in the shape of the HTTP ones.
pub fn access_log(ctx: &ShardContext, req: &WsRequest, target: &str, code: u16) {
    log::info!(
        "shard={} {} http://{}{} -> {target} code={code} from={}",
        ctx.id.0,
        req.head.method,
        req.host,
        req.head.path(),
        req.peer.ip()
    );
}

/// A ping or pong frame for the client, its payload cut to what a control frame may carry.
pub fn control_frame(control: Control, data: &[u8]) -> Bytes {
    let cut = data.len().min(CONTROL_PAYLOAD_BYTES_MAX);
    encode_frame(OpCode::Control(control), &data[..cut])
}

/// A response ringpin writes itself or relays from an origin.
pub fn response(status: u16, headers: Headers, body: Vec<u8>) -> ClientResponse {
    ClientResponse {
        status,
        reason: crate::http::reason_phrase(status).to_owned(),
        headers,
        body: Bytes::from(body),
    }
}

/// What happened on the client side.
#[derive(Debug)]
pub enum ClientEvent {
    /// A whole message or control frame.
    Message(WsEvent),
    /// The client broke the protocol; the close code is `FrameError::close_code`.
    Invalid(FrameError),
    /// The socket closed or failed without a close handshake.
    Gone,
    /// The outbound queue overflowed under `--slow-client close`.
    SlowClosed,
    /// A published `close` was written (or shutdown began); the client's close reply follows.
    ClosePublished,
    /// A `refresh` command named this connection (`ShardContext::name_session`).
    Refresh,
}

enum Wait {
    Woken,
    Read(std::io::Result<usize>),
    Wrote(std::io::Result<usize>),
}

enum State {
    Gone,
    Refresh,
    SlowClosed,
    Write(Bytes),
    ClosePublished,
    Idle,
}

/// An upgraded client connection, registered as a held connection.
#[derive(Debug)]
pub struct WsClient<'c> {
    ctx: Rc<ShardContext>,
    conn: &'c mut Conn,
    decoder: FrameDecoder,
    guard: HeldGuard,
    read_buf: Vec<u8>,
    close_published_seen: bool,
    gone: bool,
    /// A close frame was queued for the client.
    pub close_sent: bool,
}

impl<'c> WsClient<'c> {
    /// Registers the connection (after its 101 was written) on `channels`; `deflate` when
    /// the 101 accepted permessage-deflate.
    pub fn register(
        ctx: &Rc<ShardContext>,
        conn: &'c mut Conn,
        channels: Vec<String>,
        deflate: bool,
    ) -> Self {
        conn.shrink();
        // As in `StreamHold::start`: glommio keeps a dropped read's timer armed, and this loop drops
        // reads on every wake, so the read timeout is off while the connection is held.
        let _ = conn.set_read_timeout(None);
        let mut sink = ctx.new_sink(Transport::WebSocket);
        sink.deflate = deflate;
        let guard = ctx.register_hold(&conn.stream, sink, channels);
        ctx.counters.held_websockets.add(1);
        let mut decoder = FrameDecoder::new(frame_limits(&ctx.config));
        decoder.set_inflate(deflate);
        WsClient {
            ctx: Rc::clone(ctx),
            conn,
            decoder,
            guard,
            read_buf: Vec::new(),
            close_published_seen: false,
            gone: false,
            close_sent: false,
        }
    }

    /// The shard this connection lives on.
    pub fn shard(&self) -> u16 {
        self.ctx.id.0
    }

    /// The connection's key in the shard's tables.
    pub fn key(&self) -> ConnKey {
        self.guard.key
    }

    /// Names the connection `id` for the control commands (`conncheck`, `refresh`).
    pub fn name_session(&self, id: &str) {
        self.ctx.name_session(self.guard.key, id);
    }

    /// Queues `frame` and writes what the socket takes now.
    pub fn send(&self, frame: Bytes) {
        self.ctx.with_held(self.guard.key, |entry| {
            entry.sink.last_queued = Some(Instant::now());
            if entry.sink.queue.push_unbounded(frame) == PushOutcome::BecameReady {
                flush_or_fail(entry);
            }
        });
    }

    /// Queues `frame` within the connection's queue bounds, as published items are: a frame
    /// ringpin may skip (a keep-alive, a timed message) is dropped rather than grow the
    /// queue of a client that does not read. False when it was dropped.
    pub fn send_droppable(&self, frame: Bytes) -> bool {
        self.ctx
            .with_held(self.guard.key, |entry| match entry.sink.queue.push(frame) {
                PushOutcome::Overflow => false,
                outcome => {
                    entry.sink.last_queued = Some(Instant::now());
                    if outcome == PushOutcome::BecameReady {
                        flush_or_fail(entry);
                    }
                    true
                }
            })
            .unwrap_or(false)
    }

    /// Queues every frame of `frames`, in order.
    pub fn send_all(&self, frames: impl IntoIterator<Item = Bytes>) {
        for frame in frames {
            self.send(frame);
        }
    }

    /// Queues a close frame, once. A code that may not appear on the wire (an origin's 1005,
    /// say) is left out, so the client never sees an invalid close frame.
    pub fn close(&mut self, code: Option<u16>, reason: &str) {
        if !self.close_sent && !self.gone {
            self.close_sent = true;
            let code = code.filter(|&c| is_sendable_close_code(c));
            self.send(encode_close(code, reason));
        }
    }

    /// Bytes queued for the client and not yet written.
    pub fn queued_bytes(&self) -> usize {
        self.ctx
            .with_held(self.guard.key, |e| e.sink.queue.bytes_pending())
            .unwrap_or(0)
    }

    /// When anything was last queued for the client (by this task or by a publish).
    pub fn last_sent(&self) -> Option<Instant> {
        self.ctx
            .with_held(self.guard.key, |e| e.sink.last_queued)
            .flatten()
    }

    /// True once the socket is known to be closed or failed.
    pub fn is_gone(&self) -> bool {
        self.gone
    }

    fn state(&mut self) -> State {
        let seen = self.close_published_seen;
        let state = self.ctx.with_held(self.guard.key, |entry| {
            if entry.failed {
                State::Gone
            } else if entry.sink.overflowed {
                State::SlowClosed
            } else if std::mem::take(&mut entry.sink.refresh) {
                State::Refresh
            } else if let Some(front) = entry.sink.queue.front_bytes() {
                State::Write(front)
            } else if entry.sink.close_after_flush && !seen {
                State::ClosePublished
            } else {
                State::Idle
            }
        });
        let state = state.unwrap_or(State::Gone);
        if matches!(state, State::ClosePublished) {
            self.close_published_seen = true;
        }
        state
    }

    /// Waits for the next client event, writing queued frames meanwhile. With `read` false
    /// no client bytes are read (backpressure while the origin side is busy). Cancel-safe:
    /// a dropped call loses nothing, because decoded frames leave the buffer only when
    /// returned.
    pub async fn next_event(&mut self, read: bool) -> ClientEvent {
        loop {
            if self.gone {
                return pending().await;
            }
            if read && !self.conn.buffered().is_empty() {
                match self.decoder.decode(self.conn.buffered()) {
                    Err(err) => return self.fail(ClientEvent::Invalid(err)),
                    Ok(Some((frame, used))) => {
                        self.conn.consume(used);
                        if let Frame::Event(event) = frame {
                            return ClientEvent::Message(event);
                        }
                        continue;
                    }
                    Ok(None) => {}
                }
            }
            let wait = match self.state() {
                State::Gone => return self.fail(ClientEvent::Gone),
                State::SlowClosed => return self.fail(ClientEvent::SlowClosed),
                State::Refresh => return ClientEvent::Refresh,
                State::ClosePublished if self.ctx.control.is_shutting_down() => {
                    self.close(Some(1001), "");
                    continue;
                }
                State::ClosePublished => {
                    self.close_sent = true;
                    return ClientEvent::ClosePublished;
                }
                State::Write(front) => self.wait_write(front).await,
                State::Idle => self.wait_read(read).await,
            };
            match wait {
                Wait::Woken => {}
                Wait::Read(Ok(0)) | Wait::Read(Err(_)) | Wait::Wrote(Err(_)) => {
                    return self.fail(ClientEvent::Gone)
                }
                Wait::Read(Ok(n)) => self.conn.extend_buffered(&self.read_buf[..n]),
                Wait::Wrote(Ok(n)) => self.advance_and_flush(n),
            }
        }
    }

    fn fail(&mut self, event: ClientEvent) -> ClientEvent {
        if matches!(event, ClientEvent::Gone | ClientEvent::SlowClosed) {
            self.gone = true;
        }
        event
    }

    async fn wait_write(&mut self, front: Bytes) -> Wait {
        let (ctx, key, stream) = (&self.ctx, self.guard.key, &mut self.conn.stream);
        let woken = async {
            ctx.woken(key).await;
            Wait::Woken
        };
        or(woken, async { Wait::Wrote(stream.write(&front).await) }).await
    }

    async fn wait_read(&mut self, read: bool) -> Wait {
        if read {
            size_read_buf(&mut self.read_buf, self.conn.buffered().is_empty());
        }
        let (ctx, key) = (&self.ctx, self.guard.key);
        let (stream, buf) = (&mut self.conn.stream, &mut self.read_buf);
        let woken = async {
            ctx.woken(key).await;
            Wait::Woken
        };
        if !read {
            return woken.await;
        }
        or(woken, async { Wait::Read(stream.read(buf).await) }).await
    }

    fn advance_and_flush(&mut self, written: usize) {
        self.ctx.with_held(self.guard.key, |entry| {
            entry.sink.queue.advance(written);
            flush_or_fail(entry);
        });
    }

    /// Ends the connection: writes what is queued and, with `wait_for_close`, reads until
    /// the client's close frame, both within `WS_CLOSE_TIMEOUT`. Other messages are dropped.
    /// Returns the client's close code and reason when its close frame came.
    pub async fn finish(&mut self, wait_for_close: bool) -> Option<(Option<u16>, String)> {
        let timer = Timer::new(WS_CLOSE_TIMEOUT);
        or(self.drain_then_wait(wait_for_close), async {
            timer.await;
            None
        })
        .await
    }

    async fn drain_then_wait(&mut self, wait_for_close: bool) -> Option<(Option<u16>, String)> {
        while !self.gone {
            match self.state() {
                State::Write(front) => match self.wait_write(front).await {
                    Wait::Wrote(Ok(n)) => self.advance_and_flush(n),
                    Wait::Woken => {}
                    _ => return None,
                },
                State::Gone | State::SlowClosed => return None,
                State::Refresh => {}
                State::ClosePublished | State::Idle => break,
            }
        }
        while wait_for_close && !self.gone {
            match self.next_event(true).await {
                ClientEvent::Message(WsEvent::Close { code, reason }) => {
                    return Some((code, reason))
                }
                ClientEvent::Invalid(_) | ClientEvent::Gone | ClientEvent::SlowClosed => {
                    return None
                }
                _ => {}
            }
        }
        None
    }
}

/// Sizes a read buffer for the next read: `WS_READ_IDLE_BYTES` at a frame boundary,
/// `WS_READ_BUSY_BYTES` inside a frame.
pub fn size_read_buf(buf: &mut Vec<u8>, at_frame_boundary: bool) {
    let want = if at_frame_boundary {
        WS_READ_IDLE_BYTES
    } else {
        WS_READ_BUSY_BYTES
    };
    if buf.len() != want {
        *buf = vec![0; want];
    }
}

/// The frame limits for client connections: the configured message size bounds both a
/// message and a single frame (so the read buffer never holds more than one message).
fn frame_limits(config: &crate::config::Config) -> FrameLimits {
    FrameLimits {
        message_bytes_max: config.ws_message_bytes_max,
        frame_payload_bytes_max: config.ws_message_bytes_max,
    }
}

impl Drop for WsClient<'_> {
    fn drop(&mut self) {
        self.ctx.counters.held_websockets.add(-1);
        let _ = self
            .conn
            .set_read_timeout(Some(self.ctx.config.client_idle_timeout));
    }
}

/// Writes what the socket takes now of a held connection's queue; marks it failed if the
/// socket did.
fn flush_or_fail(entry: &mut Held) {
    if let FlushOutcome::Failed(_) = entry.flush_direct() {
        entry.failed = true;
    }
}
