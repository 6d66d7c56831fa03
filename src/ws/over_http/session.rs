//! WohSession: the decisions of one WebSocket-over-HTTP connection after its OPEN, with no
//! sockets and no clock (quinn-proto's shape: events and `now` in, actions out).
//!
//! Owns: the phase of the connection (open, closing either way, gone), the client events
//! waiting for the next request, the one request in flight, retries and their backoff, the
//! `Keep-Alive-Interval` schedule and the close handshake's bookkeeping.
//! Must not: build or send requests, read the client, or parse origin bodies
//! (`shard::woh_flow` drives this type and does all three).
//!
//! The rules (PUSHPIN.md §6.3) that are easy to break, each checked by the simulation test:
//! - at most one request is outstanding; client events queue in `pending` meanwhile, and the
//!   client is not read while `pending` holds `WOH_PENDING_BYTES_MAX` or more;
//! - a client close is sent as CLOSE, and the origin's answer decides the close code the
//!   client gets back (its CLOSE, else the client's own code echoed);
//! - an origin CLOSE is passed to the client, and the client's close reply goes back to the
//!   origin as a CLOSE carrying the client's code (Pushpin's `in_peerClosed`), after which
//!   the session ends; a client that does not reply in time is lost (DISCONNECT);
//! - a client lost without a close handshake gets a final DISCONNECT request, sent even
//!   though the client is gone, and nothing after it;
//! - a request that failed before reaching the origin is retried `WOH_RETRIES_MAX` times
//!   (1, 2, 4, 8, 16 s plus the caller's jitter) with the same events; then, or on any other
//!   failure, the client is dropped;
//! - no new request starts while the client's queue holds over `WOH_CLIENT_QUEUE_BYTES_MAX`,
//!   so a slow client slows its origin down;
//! - an answer's `Content-Bytes-Accepted` (Pushpin 1.41) keeps back the content it did not
//!   accept: those bytes go out again, first, with the next request that carries something
//!   new (or a keep-alive or refresh), counted in its `Content-Bytes-Replayed`; accepting
//!   more than was sent, a CLOSE without its content, or nothing while the client's events
//!   are at their bound drops the client.

use std::time::{Duration, Instant};

use super::super::frame::WsEvent;
use super::WohEvent;
use crate::limits::{
    WOH_BACKPRESSURE_RECHECK, WOH_CLIENT_QUEUE_BYTES_MAX, WOH_PENDING_BYTES_MAX, WOH_RETRIES_MAX,
    WOH_RETRY_DELAY_FIRST,
};

/// Where the connection is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Messages flow both ways.
    Open,
    /// A published close was written; the client's close reply is awaited until then.
    PublishedClosing(Instant),
    /// The client sent a close; it is sent on as CLOSE, and the answer ends the connection.
    ClientClosing(Option<u16>, String),
    /// The origin sent CLOSE, which was passed to the client; the client's close reply is
    /// awaited until then, and goes back to the origin as CLOSE.
    OriginClosing(Instant),
    /// The client is gone; what is pending (ending in DISCONNECT) is still sent.
    Gone,
}

/// What the driver does after a client event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientStep {
    /// Carry on.
    Continue,
    /// Echo this close to the client and end the connection (a detached connection's close
    /// never reaches the origin).
    CloseClient(Option<u16>, String),
}

/// What the driver does with a CLOSE from the origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginCloseStep {
    /// Pass the close to the client (unless one was already sent) and keep going: the
    /// client's close reply is sent to the origin. Later events of the same answer are
    /// dropped.
    AwaitClientReply,
    /// The CLOSE answers the client's own close: give the client its code and end.
    End,
}

/// What the driver does after a failed request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureStep {
    /// Send the same events again at this time (`next_request` returns them).
    RetryAt(Instant),
    /// Drop the client connection.
    End,
}

/// Why an answer's `Content-Bytes-Accepted` ends the connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeepBackError {
    /// More than the request's content (and close) was accepted.
    #[error("Content-Bytes-Accepted {accepted} is more than the {sent} bytes sent")]
    MoreThanSent {
        /// The header's value.
        accepted: usize,
        /// Content bytes in the request, its CLOSE's included.
        sent: usize,
    },
    /// All content was accepted but not the CLOSE after it.
    #[error("Content-Bytes-Accepted took the content but not the close")]
    CloseNotAccepted,
    /// Nothing was accepted while the client's events are at their bound, so nothing new can
    /// arrive to carry the next request.
    #[error("Content-Bytes-Accepted 0 with {pending} bytes of client events waiting")]
    NoProgress {
        /// The bytes waiting.
        pending: usize,
    },
}

/// One WebSocket-over-HTTP connection's request state.
#[derive(Debug)]
pub struct WohSession {
    phase: Phase,
    pending: Vec<WohEvent>,
    pending_bytes: usize,
    in_flight: bool,
    /// Events of the request in flight, kept for a retry.
    sent: Vec<WohEvent>,
    retries: u32,
    retry_at: Option<Instant>,
    last_request: Instant,
    close_sent_to_origin: bool,
    detached: bool,
    /// A `refresh` command asked for a request now, events or not.
    refresh_due: bool,
    /// The target's `one_event` prop: each request carries one event.
    one_event: bool,
    /// How many events at the front of `pending` were kept back by `Content-Bytes-Accepted`
    /// (they do not start a request by themselves), and their content bytes.
    replay_events: usize,
    replay_bytes: usize,
    /// Kept-back content bytes in the request in flight (`Content-Bytes-Replayed`).
    sent_replayed: usize,
}

impl WohSession {
    /// A session whose OPEN exchange completed at `now`.
    pub fn new(now: Instant, one_event: bool) -> WohSession {
        WohSession {
            phase: Phase::Open,
            pending: Vec::new(),
            pending_bytes: 0,
            in_flight: false,
            sent: Vec::new(),
            retries: 0,
            retry_at: None,
            last_request: now,
            close_sent_to_origin: false,
            detached: false,
            refresh_due: false,
            one_event,
            replay_events: 0,
            replay_bytes: 0,
            sent_replayed: 0,
        }
    }

    /// The phase, for logs and tests.
    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// True after a `detach` control message: client messages stay with ringpin.
    pub fn is_detached(&self) -> bool {
        self.detached
    }

    /// The events of a request to start now, if one is due and none is in flight: a retry
    /// whose time has come, or the pending events (or an empty keep-alive request once
    /// `keep_alive_interval` passed without a request). `client_queued_bytes` is what waits in
    /// the client's outbound queue.
    pub fn next_request(
        &mut self,
        now: Instant,
        client_queued_bytes: usize,
        keep_alive_interval: Option<Duration>,
    ) -> Option<&[WohEvent]> {
        if self.in_flight || self.detached {
            return None;
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return None;
            }
            self.retry_at = None;
            self.in_flight = true;
            return Some(&self.sent);
        }
        if self.phase != Phase::Gone && client_queued_bytes > WOH_CLIENT_QUEUE_BYTES_MAX {
            return None;
        }
        let keep_alive_due = self.phase == Phase::Open
            && keep_alive_interval.is_some_and(|interval| now >= self.last_request + interval);
        let refresh_due = self.refresh_due && self.phase == Phase::Open;
        let has_new = self.pending.len() > self.replay_events;
        if !has_new && !keep_alive_due && !refresh_due {
            return None;
        }
        self.refresh_due = false;
        self.sent = if self.one_event && !self.pending.is_empty() {
            vec![self.pending.remove(0)]
        } else {
            std::mem::take(&mut self.pending)
        };
        self.take_replay(self.sent.len());
        self.pending_bytes = self.pending.iter().map(event_bytes).sum();
        if self.sent.iter().any(|e| matches!(e, WohEvent::Close(_))) {
            self.close_sent_to_origin = true;
        }
        self.last_request = now;
        self.in_flight = true;
        Some(&self.sent)
    }

    /// True once nothing is left to do: the client is gone and every request has been sent.
    pub fn is_done(&self) -> bool {
        let idle = !self.in_flight && self.retry_at.is_none();
        self.phase == Phase::Gone && idle && (self.pending.is_empty() || self.detached)
    }

    /// Whether the driver should read the client now.
    pub fn reads_client(&self, client_gone: bool) -> bool {
        let reading = matches!(
            self.phase,
            Phase::Open | Phase::PublishedClosing(_) | Phase::OriginClosing(_)
        );
        reading && !client_gone && self.pending_bytes < WOH_PENDING_BYTES_MAX
    }

    /// When the session next wants `on_timer`, apart from the GRIP timed sends the driver
    /// keeps itself.
    pub fn next_deadline(
        &self,
        now: Instant,
        client_queued_bytes: usize,
        keep_alive_interval: Option<Duration>,
    ) -> Option<Instant> {
        // While the client's queue is full no request starts, so a due keep-alive or pending
        // events are looked at again later rather than at once (which would spin).
        let held_back = !self.in_flight
            && self.phase != Phase::Gone
            && client_queued_bytes > WOH_CLIENT_QUEUE_BYTES_MAX;
        let recheck = now + WOH_BACKPRESSURE_RECHECK;
        let keep_alive = (!self.in_flight && self.phase == Phase::Open)
            .then(|| keep_alive_interval.map(|i| self.last_request + i))
            .flatten()
            .map(|at| if held_back { at.max(recheck) } else { at });
        let closing = match self.phase {
            Phase::PublishedClosing(at) | Phase::OriginClosing(at) => Some(at),
            _ => None,
        };
        let waiting = !self.pending.is_empty() || self.refresh_due;
        let held_back = (held_back && waiting).then_some(recheck);
        [keep_alive, closing, held_back, self.retry_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// A message or close from the client.
    pub fn on_client_message(&mut self, message: WsEvent) -> ClientStep {
        let forward = !self.detached
            && matches!(
                self.phase,
                Phase::Open | Phase::PublishedClosing(_) | Phase::OriginClosing(_)
            );
        match message {
            WsEvent::Close { code, reason } => {
                if self.detached {
                    return ClientStep::CloseClient(code, reason);
                }
                if forward {
                    self.push(WohEvent::Close(code.map(|c| (c, reason.clone()))));
                    self.phase = if matches!(self.phase, Phase::OriginClosing(_)) {
                        // Both closes are exchanged: what is pending, ending in this CLOSE,
                        // is still sent, and its answer ends the session.
                        Phase::Gone
                    } else {
                        Phase::ClientClosing(code, reason)
                    };
                }
            }
            _ if !forward => {}
            WsEvent::Text(text) => self.push(WohEvent::Text(text)),
            WsEvent::Binary(data) => self.push(WohEvent::Binary(data)),
            WsEvent::Ping(data) => self.push(WohEvent::Ping(data)),
            WsEvent::Pong(data) => self.push(WohEvent::Pong(data)),
        }
        ClientStep::Continue
    }

    /// The client is gone, broke the protocol, or was closed as too slow: the origin is told
    /// with a final DISCONNECT (unless detached), and the session ends once it is sent.
    pub fn on_client_lost(&mut self) {
        if self.phase == Phase::Gone {
            return;
        }
        self.phase = Phase::Gone;
        if !self.detached {
            self.push(WohEvent::Disconnect);
        }
    }

    /// A published close was written to the client at `now`; its reply is awaited until
    /// `now + close_timeout`.
    pub fn on_close_published(&mut self, now: Instant, close_timeout: Duration) {
        if matches!(self.phase, Phase::Open | Phase::PublishedClosing(_)) {
            self.phase = Phase::PublishedClosing(now + close_timeout);
        }
    }

    /// The origin sent CLOSE at `now` in an answer's events; the client's reply is awaited
    /// until `now + close_timeout`.
    pub fn on_origin_close(&mut self, now: Instant, close_timeout: Duration) -> OriginCloseStep {
        match self.phase {
            Phase::ClientClosing(..) => OriginCloseStep::End,
            Phase::Open => {
                self.phase = Phase::OriginClosing(now + close_timeout);
                OriginCloseStep::AwaitClientReply
            }
            // A published close already went out, and its reply is awaited the same way;
            // a second CLOSE changes nothing.
            Phase::PublishedClosing(_) | Phase::OriginClosing(_) | Phase::Gone => {
                OriginCloseStep::AwaitClientReply
            }
        }
    }

    /// Kept-back content bytes in the request just started or in flight: its
    /// `Content-Bytes-Replayed` when not zero.
    pub fn replayed_bytes(&self) -> usize {
        self.sent_replayed
    }

    /// The request in flight was answered and all of it accepted. True when its events
    /// should be acted on; false when the client is already gone and the answer only
    /// completes the session.
    pub fn on_reply(&mut self) -> bool {
        matches!(self.on_reply_accepting(None), Ok(true))
    }

    /// `on_reply` for an answer with `Content-Bytes-Accepted` (`None`: everything). What was
    /// not accepted goes back to the front of the pending events; an error ends the
    /// connection. After the client left, the answer only completes the session.
    pub fn on_reply_accepting(&mut self, accepted: Option<usize>) -> Result<bool, KeepBackError> {
        debug_assert!(self.in_flight, "a reply without a request");
        self.in_flight = false;
        self.retries = 0;
        let sent = std::mem::take(&mut self.sent);
        if self.phase == Phase::Gone {
            return Ok(false);
        }
        if let Some(accepted) = accepted {
            self.keep_back(sent, accepted)?;
        }
        Ok(true)
    }

    /// Puts back the events of `sent` whose content was not among the first `accepted`
    /// bytes, the first one cut where acceptance stopped.
    fn keep_back(&mut self, sent: Vec<WohEvent>, accepted: usize) -> Result<(), KeepBackError> {
        let content: usize = sent.iter().map(content_bytes).sum();
        let close = sent.iter().find_map(|e| match e {
            WohEvent::Close(close) => Some(close.as_ref().map_or(0, |(_, r)| 2 + r.len())),
            _ => None,
        });
        let total = content + close.unwrap_or(0);
        if accepted > total {
            return Err(KeepBackError::MoreThanSent {
                accepted,
                sent: total,
            });
        }
        if close.is_some() && accepted >= content && accepted < total {
            return Err(KeepBackError::CloseNotAccepted);
        }
        if accepted >= content {
            return Ok(());
        }
        let kept = unaccepted(sent, accepted);
        let kept_bytes: usize = kept.iter().map(event_bytes).sum();
        // A CLOSE is sent again at once, so it must come with progress; other kept content
        // waits for something new, which cannot come once the client is not read.
        let stuck = close.is_some() || self.pending_bytes + kept_bytes >= WOH_PENDING_BYTES_MAX;
        if accepted == 0 && stuck {
            return Err(KeepBackError::NoProgress {
                pending: self.pending_bytes + kept_bytes,
            });
        }
        let mut replay: Vec<WohEvent> = Vec::with_capacity(kept.len() + self.pending.len());
        let mut new_events = 0;
        for event in kept {
            if let WohEvent::Close(_) = event {
                // The close goes again after its content; progress was made, so at once.
                self.close_sent_to_origin = false;
                new_events += 1;
            }
            self.pending_bytes += event_bytes(&event);
            replay.push(event);
        }
        self.replay_events = replay.len() - new_events;
        self.replay_bytes = content - accepted;
        replay.append(&mut self.pending);
        self.pending = replay;
        Ok(())
    }

    /// Marks the first `taken` pending events as sent, counting the kept-back ones among them.
    fn take_replay(&mut self, taken: usize) {
        let replayed_events = taken.min(self.replay_events);
        self.sent_replayed = if replayed_events == self.replay_events {
            self.replay_bytes
        } else {
            self.sent[..replayed_events].iter().map(content_bytes).sum()
        };
        self.replay_events -= replayed_events;
        self.replay_bytes -= self.sent_replayed;
    }

    /// After a reply's events were acted on: the close to send the client when this answer
    /// completes the client's close handshake (the origin sent no CLOSE of its own).
    pub fn close_echo_due(&self) -> Option<(Option<u16>, String)> {
        match &self.phase {
            Phase::ClientClosing(code, reason) if self.close_sent_to_origin && !self.in_flight => {
                Some((*code, reason.clone()))
            }
            _ => None,
        }
    }

    /// True while the client's own close waits for the origin: an origin CLOSE then ends the
    /// connection without waiting for another close from the client.
    pub fn is_client_closing(&self) -> bool {
        matches!(self.phase, Phase::ClientClosing(..))
    }

    /// The request in flight failed at `now`; `retryable` when it never reached the origin.
    /// `jitter` is added to the backoff.
    pub fn on_failure(&mut self, now: Instant, retryable: bool, jitter: Duration) -> FailureStep {
        debug_assert!(self.in_flight, "a failure without a request");
        self.in_flight = false;
        if self.phase == Phase::Gone {
            self.pending.clear();
            self.pending_bytes = 0;
            return FailureStep::End;
        }
        if retryable && self.retries < WOH_RETRIES_MAX {
            let at = now + WOH_RETRY_DELAY_FIRST * (1 << self.retries) + jitter;
            self.retries += 1;
            self.retry_at = Some(at);
            return FailureStep::RetryAt(at);
        }
        FailureStep::End
    }

    /// How many retries the current request has had.
    pub fn retries(&self) -> u32 {
        self.retries
    }

    /// The origin sent `detach` (in an answer's events): client messages stay with ringpin
    /// from now on, and no request is sent again.
    pub fn on_detach(&mut self) {
        self.detached = true;
        self.pending.clear();
        self.pending_bytes = 0;
        // Only an answer carries `detach`, so no retry can be waiting; if one were, it would
        // never be sent and the session would never end.
        self.retry_at = None;
    }

    /// A `refresh` command named this connection: the next request starts as soon as none is
    /// in flight, carrying whatever is pending or nothing, as a keep-alive does. Only an open
    /// connection is refreshed (Pushpin refreshes only connected sessions that are not
    /// closing); several refreshes before that request make one.
    pub fn on_refresh(&mut self) {
        if self.phase == Phase::Open && !self.detached {
            self.refresh_due = true;
        }
    }

    /// A deadline passed: a close (published or from the origin) whose reply never came ends
    /// the client.
    pub fn on_timer(&mut self, now: Instant) {
        if let Phase::PublishedClosing(at) | Phase::OriginClosing(at) = self.phase {
            if now >= at {
                self.on_client_lost();
            }
        }
    }

    fn push(&mut self, event: WohEvent) {
        self.pending_bytes += event_bytes(&event);
        self.pending.push(event);
    }
}

/// The bytes of an event that `Content-Bytes-Accepted` counts: a message's or ping's content.
fn content_bytes(event: &WohEvent) -> usize {
    match event {
        WohEvent::Text(c) | WohEvent::Binary(c) | WohEvent::Ping(c) | WohEvent::Pong(c) => c.len(),
        _ => 0,
    }
}

/// The events of `sent` from the `accepted`-th content byte on: events wholly accepted are
/// dropped and the first one partly accepted keeps its tail (Pushpin's
/// `removeContentFromFrames`); everything after it, a CLOSE included, is kept.
fn unaccepted(sent: Vec<WohEvent>, accepted: usize) -> Vec<WohEvent> {
    let mut left = accepted;
    let mut kept = Vec::new();
    for event in sent {
        let len = content_bytes(&event);
        if left == 0 || matches!(event, WohEvent::Close(_)) {
            kept.push(event);
        } else if left >= len && len > 0 {
            left -= len;
        } else if len == 0 {
            // A ping or pong without content, before acceptance stopped: accepted with it.
        } else {
            kept.push(cut_front(event, left));
            left = 0;
        }
    }
    kept
}

/// `event` without its first `n` content bytes.
fn cut_front(event: WohEvent, n: usize) -> WohEvent {
    match event {
        WohEvent::Text(c) => WohEvent::Text(c.slice(n..)),
        WohEvent::Binary(c) => WohEvent::Binary(c.slice(n..)),
        WohEvent::Ping(c) => WohEvent::Ping(c.slice(n..)),
        WohEvent::Pong(c) => WohEvent::Pong(c.slice(n..)),
        other => other,
    }
}

/// An event's share of `WOH_PENDING_BYTES_MAX`: its content plus a line's overhead.
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

#[cfg(test)]
mod tests;
