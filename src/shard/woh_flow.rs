//! The loop of one WebSocket-over-HTTP connection after its OPEN was accepted.
//!
//! Owns: `run`, which races the client socket, the one request in flight, and the timers
//! (`Keep-Alive-Interval`, retry backoff, GRIP timed sends, the close wait), and `Flow`, the
//! loop's state: client events waiting for the next request, the phase of the close
//! handshake, retries.
//! Must not: build requests (`ws_over_http::Woh`) or parse control messages (`ws_grip`).
//!
//! The rules (PUSHPIN.md §6.3) that are easy to break:
//! - only one request is outstanding; client events queue in `pending` meanwhile, and the
//!   client is not read while `pending` holds more than `WOH_PENDING_BYTES_MAX`;
//! - a client close is sent as CLOSE, and the origin's answer decides the close code the
//!   client gets back (its CLOSE, else the client's own code echoed);
//! - a client lost without a close handshake (or closed for a protocol error) gets a final
//!   DISCONNECT request, sent even though the client is gone;
//! - a request that failed before reaching the origin is retried 5 times (1, 2, 4, 8, 16 s
//!   plus up to 1 s of jitter); then, or on any other failure, the client is dropped;
//! - no new request starts while the client's queue holds over `WOH_CLIENT_QUEUE_BYTES_MAX`
//!   (Pushpin's 200,000-byte outbound buffer), so a slow client slows its origin down.

use super::client_ws::{control_frame, ClientEvent, WsClient, WS_CLOSE_TIMEOUT};
use super::hold::sleep_or_never;
use super::woh_exchange::{WohFail, WohReply};
use super::ws_grip::{AfterMessage, OriginMessages};
use super::ws_over_http::{random_u64, InFlight, Woh};
use crate::limits::WOH_BODY_BYTES_MAX;
use crate::origin::ws_request::is_woh_events_response;
use crate::ws::{parse_events_bytes, MessageKind, WohEvent, WsEvent};
use futures_lite::future::{or, pending};
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::Control;

/// Client event bytes queued for the origin before ringpin stops reading the client.
const WOH_PENDING_BYTES_MAX: usize = WOH_BODY_BYTES_MAX / 2;
/// Bytes queued for the client before ringpin stops asking the origin for more.
const WOH_CLIENT_QUEUE_BYTES_MAX: usize = 200_000;
/// How often a loop held back by a full client queue looks again.
const BACKPRESSURE_RECHECK: Duration = Duration::from_millis(50);
/// Retries of a request that failed before reaching the origin.
const RETRIES_MAX: u32 = 5;

/// Where the connection is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    Open,
    /// A published close was written; the client's close reply is awaited until then.
    PublishedClosing(Instant),
    /// The client sent a close; it is sent on as CLOSE, and the answer ends the connection.
    ClientClosing(Option<u16>, String),
    /// The client is gone; what is pending (ending in DISCONNECT) is still sent.
    Gone,
}

struct Flow {
    phase: Phase,
    pending: Vec<WohEvent>,
    pending_bytes: usize,
    in_flight: Option<InFlight>,
    /// Events of the request in flight, kept for a retry.
    sent: Vec<WohEvent>,
    retries: u32,
    retry_at: Option<Instant>,
    last_request: Instant,
    close_sent_to_origin: bool,
    detached: bool,
}

enum Event {
    Client(ClientEvent),
    Reply(Result<WohReply, WohFail>),
    Timer,
}

/// How handling an event left the connection.
enum Step {
    Continue,
    /// Close the client socket now (after writing what is queued).
    End,
}

/// Runs the connection until it ends; `first` holds the events after OPEN in the OPEN response.
pub async fn run(
    woh: &mut Woh<'_>,
    client: &mut WsClient<'_>,
    messages: &mut OriginMessages,
    first: Vec<WohEvent>,
) {
    let mut flow = Flow {
        phase: Phase::Open,
        pending: Vec::new(),
        pending_bytes: 0,
        in_flight: None,
        sent: Vec::new(),
        retries: 0,
        retry_at: None,
        last_request: Instant::now(),
        close_sent_to_origin: false,
        detached: false,
    };
    if let Step::End = on_events(&mut flow, woh, client, messages, first).await {
        return;
    }
    loop {
        let now = Instant::now();
        flow.maybe_start(woh, client, now);
        if flow.is_done() {
            return;
        }
        let deadline = flow.next_deadline(woh, client, messages, now);
        let read = flow.reads_client(client);
        let event = {
            let in_flight = flow.in_flight.as_mut();
            let reply = async {
                match in_flight {
                    Some(request) => Event::Reply(request.await),
                    None => pending().await,
                }
            };
            let timer = async {
                sleep_or_never(deadline.map(|at| at.saturating_duration_since(now))).await;
                Event::Timer
            };
            let from_client = async { Event::Client(client.next_event(read).await) };
            or(from_client, or(reply, timer)).await
        };
        let step = match event {
            Event::Client(event) => on_client(&mut flow, woh, client, event).await,
            Event::Reply(result) => {
                flow.in_flight = None;
                on_reply(&mut flow, woh, client, messages, result).await
            }
            Event::Timer => {
                on_timer(&mut flow, client, messages);
                Step::Continue
            }
        };
        if let Step::End = step {
            return;
        }
    }
}

impl Flow {
    fn push(&mut self, event: WohEvent) {
        self.pending_bytes += event_bytes(&event);
        self.pending.push(event);
    }

    /// Starts the next request when one is due and none is in flight.
    fn maybe_start(&mut self, woh: &Woh<'_>, client: &WsClient<'_>, now: Instant) {
        if self.in_flight.is_some() || self.detached {
            return;
        }
        if let Some(at) = self.retry_at {
            if now >= at {
                self.retry_at = None;
                self.in_flight = Some(woh.request(&self.sent));
            }
            return;
        }
        if self.phase != Phase::Gone && client.queued_bytes() > WOH_CLIENT_QUEUE_BYTES_MAX {
            return;
        }
        let keep_alive_due = self.phase == Phase::Open
            && woh
                .keep_alive_interval
                .is_some_and(|interval| now >= self.last_request + interval);
        if self.pending.is_empty() && !keep_alive_due {
            return;
        }
        self.sent = if woh.is_one_event() && !self.pending.is_empty() {
            vec![self.pending.remove(0)]
        } else {
            std::mem::take(&mut self.pending)
        };
        self.pending_bytes = self.pending.iter().map(event_bytes).sum();
        if self.sent.iter().any(|e| matches!(e, WohEvent::Close(_))) {
            self.close_sent_to_origin = true;
        }
        self.last_request = now;
        self.in_flight = Some(woh.request(&self.sent));
    }

    fn is_done(&self) -> bool {
        let idle = self.in_flight.is_none() && self.retry_at.is_none();
        self.phase == Phase::Gone && idle && (self.pending.is_empty() || self.detached)
    }

    fn reads_client(&self, client: &WsClient<'_>) -> bool {
        let reading = matches!(self.phase, Phase::Open | Phase::PublishedClosing(_));
        reading && !client.is_gone() && self.pending_bytes < WOH_PENDING_BYTES_MAX
    }

    fn next_deadline(
        &self,
        woh: &Woh<'_>,
        client: &WsClient<'_>,
        messages: &OriginMessages,
        now: Instant,
    ) -> Option<Instant> {
        // While the client's queue is full no request starts, so a due keep-alive or pending
        // events are looked at again later rather than at once (which would spin).
        let held_back = self.in_flight.is_none()
            && self.phase != Phase::Gone
            && client.queued_bytes() > WOH_CLIENT_QUEUE_BYTES_MAX;
        let recheck = now + BACKPRESSURE_RECHECK;
        let keep_alive = (self.in_flight.is_none() && self.phase == Phase::Open)
            .then(|| woh.keep_alive_interval.map(|i| self.last_request + i))
            .flatten()
            .map(|at| if held_back { at.max(recheck) } else { at });
        let closing = match self.phase {
            Phase::PublishedClosing(at) => Some(at),
            _ => None,
        };
        let held_back = (held_back && !self.pending.is_empty()).then_some(recheck);
        let grip = if client.is_gone() {
            None
        } else {
            messages.next_deadline(client)
        };
        [keep_alive, closing, held_back, self.retry_at, grip]
            .into_iter()
            .flatten()
            .min()
    }

    /// The client is gone (or was closed by ringpin): tell the origin, then end.
    fn disconnect(&mut self) {
        self.phase = Phase::Gone;
        if !self.detached {
            self.push(WohEvent::Disconnect);
        }
    }
}

async fn on_client(
    flow: &mut Flow,
    woh: &Woh<'_>,
    client: &mut WsClient<'_>,
    event: ClientEvent,
) -> Step {
    let shard = woh.ctx().id.0;
    let forward = !flow.detached && matches!(flow.phase, Phase::Open | Phase::PublishedClosing(_));
    match event {
        ClientEvent::Message(message) => match message {
            WsEvent::Close { code, reason } => {
                if flow.detached {
                    client.close(code, &reason);
                    client.finish(false).await;
                    return Step::End;
                }
                if forward {
                    flow.push(WohEvent::Close(code.map(|c| (c, reason.clone()))));
                    flow.phase = Phase::ClientClosing(code, reason);
                }
            }
            _ if !forward => {}
            WsEvent::Text(text) => flow.push(WohEvent::Text(text)),
            WsEvent::Binary(data) => flow.push(WohEvent::Binary(data)),
            WsEvent::Ping(data) => flow.push(WohEvent::Ping(data)),
            WsEvent::Pong(data) => flow.push(WohEvent::Pong(data)),
        },
        ClientEvent::Invalid(err) => {
            log::info!("shard={shard} closing a websocket client: {err}");
            client.close(Some(err.close_code()), "");
            client.finish(false).await;
            flow.disconnect();
        }
        ClientEvent::Gone => flow.disconnect(),
        ClientEvent::SlowClosed => {
            crate::log_limited!(
                Info,
                "shard={shard} closing a slow websocket client (outbound queue full)"
            );
            flow.disconnect();
        }
        ClientEvent::ClosePublished => {
            flow.phase = Phase::PublishedClosing(Instant::now() + WS_CLOSE_TIMEOUT);
        }
    }
    Step::Continue
}

async fn on_reply(
    flow: &mut Flow,
    woh: &mut Woh<'_>,
    client: &mut WsClient<'_>,
    messages: &mut OriginMessages,
    result: Result<WohReply, WohFail>,
) -> Step {
    let reply = match result {
        Ok(reply) => reply,
        Err(fail) => return on_failure(flow, woh.ctx().id.0, fail),
    };
    flow.retries = 0;
    flow.sent.clear();
    if flow.phase == Phase::Gone {
        return Step::Continue;
    }
    if !is_woh_events_response(reply.status, &reply.headers) {
        log::info!(
            "shard={} websocket origin {} answered {} mid-connection; dropping the client",
            woh.ctx().id.0,
            woh.target_name(),
            reply.status
        );
        return Step::End;
    }
    let events = match parse_events_bytes(&reply.body) {
        Ok(events) => events,
        Err(err) => {
            log::info!(
                "shard={} websocket origin {} sent a bad event body: {err}",
                woh.ctx().id.0,
                woh.target_name()
            );
            return Step::End;
        }
    };
    woh.on_response_headers(&reply);
    if let Step::End = on_events(flow, woh, client, messages, events).await {
        return Step::End;
    }
    if let Phase::ClientClosing(code, reason) = &flow.phase {
        if flow.close_sent_to_origin {
            let (code, reason) = (*code, reason.clone());
            client.close(code, &reason);
            client.finish(false).await;
            return Step::End;
        }
    }
    Step::Continue
}

fn on_failure(flow: &mut Flow, shard: u16, fail: WohFail) -> Step {
    if flow.phase == Phase::Gone {
        log::debug!("shard={shard} websocket origin request after the client left failed: {fail}");
        flow.pending.clear();
        return Step::End;
    }
    if fail.is_retryable() && flow.retries < RETRIES_MAX {
        let backoff = Duration::from_secs(1 << flow.retries);
        let jitter = Duration::from_millis(random_u64() % 1000);
        flow.retries += 1;
        flow.retry_at = Some(Instant::now() + backoff + jitter);
        log::info!(
            "websocket origin request failed, retry {}: {fail}",
            flow.retries
        );
        return Step::Continue;
    }
    log::info!("shard={shard} websocket origin request failed; dropping the client: {fail}");
    Step::End
}

/// Acts on the events of one response, in order.
async fn on_events(
    flow: &mut Flow,
    woh: &Woh<'_>,
    client: &mut WsClient<'_>,
    messages: &mut OriginMessages,
    events: Vec<WohEvent>,
) -> Step {
    for event in events {
        let after = match event {
            WohEvent::Open(_) => AfterMessage::Continue,
            WohEvent::Text(text) if std::str::from_utf8(&text).is_err() => {
                log::info!(
                    "shard={} websocket origin {} sent invalid utf-8",
                    woh.ctx().id.0,
                    woh.target_name()
                );
                AfterMessage::Continue
            }
            WohEvent::Text(text) => {
                messages.on_message(woh.ctx(), client, MessageKind::Text, &text)
            }
            WohEvent::Binary(data) => {
                messages.on_message(woh.ctx(), client, MessageKind::Binary, &data)
            }
            WohEvent::Ping(data) => {
                client.send(control_frame(Control::Ping, &data));
                AfterMessage::Continue
            }
            WohEvent::Pong(data) => {
                client.send(control_frame(Control::Pong, &data));
                AfterMessage::Continue
            }
            WohEvent::Close(close) => {
                let (code, reason) = close.map_or((None, String::new()), |(c, r)| (Some(c), r));
                let wait_for_reply = !matches!(flow.phase, Phase::ClientClosing(..));
                client.close(code, &reason);
                client.finish(wait_for_reply).await;
                return Step::End;
            }
            WohEvent::Disconnect => return Step::End,
        };
        if after == AfterMessage::Detach {
            flow.detached = true;
            flow.pending.clear();
            flow.pending_bytes = 0;
        }
    }
    Step::Continue
}

fn on_timer(flow: &mut Flow, client: &mut WsClient<'_>, messages: &mut OriginMessages) {
    let now = Instant::now();
    if let Phase::PublishedClosing(at) = flow.phase {
        if now >= at {
            flow.disconnect();
        }
    }
    if !client.is_gone() {
        messages.on_timeout(client, now);
    }
}

fn event_bytes(event: &WohEvent) -> usize {
    16 + match event {
        WohEvent::Open(c)
        | WohEvent::Text(c)
        | WohEvent::Binary(c)
        | WohEvent::Ping(c)
        | WohEvent::Pong(c) => c.len(),
        WohEvent::Close(Some((_, reason))) => reason.len(),
        WohEvent::Close(None) | WohEvent::Disconnect => 0,
    }
}
