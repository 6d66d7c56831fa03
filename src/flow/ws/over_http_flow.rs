//! The loop of one WebSocket-over-HTTP connection after its OPEN was accepted.
//!
//! Owns: `run`, which races the client socket, the one request in flight, and the timers
//! (`Keep-Alive-Interval`, retry backoff, GRIP timed sends, the close wait), and acts on what
//! the origin answers (messages to the client, control messages, the close handshake).
//! Must not: decide when a request is sent, retried or given up, or when the connection is
//! done: `ws::over_http::WohSession` holds those rules (one request in flight, DISCONNECT
//! last, bounded backoff) and is tested without sockets. Nor build requests
//! (`ws_over_http::Woh`) or parse control messages (`ws_grip`).

use crate::flow::ws::client::{control_frame, ClientEvent, WsClient};
use crate::flow::ws::grip::{AfterMessage, OriginMessages};
use crate::flow::ws::over_http::Woh;
use crate::flow::ws::over_http_exchange::{WohFail, WohReply};
use crate::limits::WS_CLOSE_TIMEOUT;
use crate::origin::ws_request::{content_bytes_accepted, is_woh_events_response};
use crate::shard::hold::sleep_or_never;
use crate::shard::random::random_u64;
use crate::ws::over_http::{ClientStep, FailureStep, OriginCloseStep, Phase, WohSession};
use crate::ws::{parse_events_bytes, MessageKind, WohEvent};
use futures_lite::future::{or, pending};
use std::time::{Duration, Instant};
use tungstenite::protocol::frame::coding::Control;

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
    let mut session = WohSession::new(Instant::now(), woh.is_one_event());
    if let Step::End = on_events(&mut session, woh, client, messages, first).await {
        return;
    }
    let mut in_flight = None;
    loop {
        let now = Instant::now();
        let queued = client.queued_bytes();
        if in_flight.is_none() {
            let started = session
                .next_request(now, queued, woh.keep_alive_interval)
                .map(<[WohEvent]>::to_vec);
            in_flight = started.map(|events| woh.request(&events, session.replayed_bytes()));
        }
        if session.is_done() {
            return;
        }
        let grip = (!client.is_gone())
            .then(|| messages.next_deadline(client))
            .flatten();
        let deadline = session
            .next_deadline(now, queued, woh.keep_alive_interval)
            .into_iter()
            .chain(grip)
            .min();
        let read = session.reads_client(client.is_gone());
        let event = {
            let reply = async {
                match in_flight.as_mut() {
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
            Event::Client(event) => on_client(&mut session, woh, client, event).await,
            Event::Reply(result) => {
                in_flight = None;
                on_reply(&mut session, woh, client, messages, result).await
            }
            Event::Timer => {
                let now = Instant::now();
                session.on_timer(now);
                if !client.is_gone() {
                    messages.on_timeout(client, now);
                }
                Step::Continue
            }
        };
        if let Step::End = step {
            return;
        }
    }
}

async fn on_client(
    session: &mut WohSession,
    woh: &Woh<'_>,
    client: &mut WsClient<'_>,
    event: ClientEvent,
) -> Step {
    let shard = woh.ctx().id.0;
    match event {
        ClientEvent::Message(message) => {
            if let ClientStep::CloseClient(code, reason) = session.on_client_message(message) {
                client.close(code, &reason);
                client.finish(false).await;
                return Step::End;
            }
        }
        ClientEvent::Invalid(err) => {
            log::info!("shard={shard} closing a websocket client: {err}");
            client.close(Some(err.close_code()), "");
            client.finish(false).await;
            session.on_client_lost();
        }
        ClientEvent::Gone => session.on_client_lost(),
        ClientEvent::SlowClosed => {
            crate::log_limited!(
                Info,
                "shard={shard} closing a slow websocket client (outbound queue full)"
            );
            session.on_client_lost();
        }
        ClientEvent::ClosePublished => session.on_close_published(Instant::now(), WS_CLOSE_TIMEOUT),
        ClientEvent::Refresh => session.on_refresh(),
    }
    Step::Continue
}

async fn on_reply(
    session: &mut WohSession,
    woh: &mut Woh<'_>,
    client: &mut WsClient<'_>,
    messages: &mut OriginMessages,
    result: Result<WohReply, WohFail>,
) -> Step {
    let reply = match result {
        Ok(reply) => reply,
        Err(fail) => return on_failure(session, woh.ctx().id.0, fail),
    };
    match session.on_reply_accepting(content_bytes_accepted(&reply.headers)) {
        Ok(true) => {}
        Ok(false) => return Step::Continue,
        Err(err) => {
            log::info!(
                "shard={} websocket origin {}: {err}; dropping the client",
                woh.ctx().id.0,
                woh.target_name()
            );
            return Step::End;
        }
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
    if let Step::End = on_events(session, woh, client, messages, events).await {
        return Step::End;
    }
    if let Some((code, reason)) = session.close_echo_due() {
        client.close(code, &reason);
        client.finish(false).await;
        return Step::End;
    }
    Step::Continue
}

fn on_failure(session: &mut WohSession, shard: u16, fail: WohFail) -> Step {
    let jitter = Duration::from_millis(random_u64() % 1000);
    match session.on_failure(Instant::now(), fail.is_retryable(), jitter) {
        FailureStep::RetryAt(_) => {
            log::info!(
                "shard={shard} websocket origin request failed, retry {}: {fail}",
                session.retries()
            );
            Step::Continue
        }
        FailureStep::End if session.phase() == &Phase::Gone => {
            log::debug!(
                "shard={shard} websocket origin request after the client left failed: {fail}"
            );
            Step::End
        }
        FailureStep::End => {
            log::info!(
                "shard={shard} websocket origin request failed; dropping the client: {fail}"
            );
            Step::End
        }
    }
}

/// Acts on the events of one response, in order.
async fn on_events(
    session: &mut WohSession,
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
                client.close(code, &reason);
                return match session.on_origin_close(Instant::now(), WS_CLOSE_TIMEOUT) {
                    // The client's reply goes back to the origin as CLOSE (Pushpin's
                    // `in_peerClosed`); events after a CLOSE are dropped, as in Pushpin.
                    OriginCloseStep::AwaitClientReply => Step::Continue,
                    OriginCloseStep::End => {
                        client.finish(false).await;
                        Step::End
                    }
                };
            }
            WohEvent::Disconnect => return Step::End,
        };
        if after == AfterMessage::Detach {
            session.on_detach();
        }
    }
    Step::Continue
}
