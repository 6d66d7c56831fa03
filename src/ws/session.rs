//! GripSession: the GRIP-mode state of one WebSocket connection, pure.
//!
//! Owns: what a GRIP-mode origin's messages amount to (`on_origin_message`): data frames for
//! the client, control messages turned into `GripAction`s, and the timed sends of the
//! `keep-alive` and `send-delayed` control messages (`next_deadline`, `on_timeout(now)`).
//! Must not: subscribe, write to sockets or read the clock; `shard/ws_grip.rs` acts on the
//! actions, and time is passed in (quinn's `handle_timeout(now)` / `poll_timeout`).
//! Invariants: a `c:` message never reaches the client; at most one delayed message is
//! pending, and a newer `send-delayed` releases the older one first (Pushpin 1.36); the
//! keep-alive deadline never moves backwards within one period.

use std::time::{Duration, Instant};

use bytes::Bytes;
use tungstenite::protocol::frame::coding::{Control, OpCode};

use super::control::{
    classify_backend_message, parse_control, BackendMessage, ContentKind, ControlError,
    ControlMessage, DelayedContent, GripExtension, KeepAliveMode,
};
use super::frame::{encode_frame, split_message, MessageKind, CONTROL_PAYLOAD_BYTES_MAX};
use crate::limits::{
    KEEP_ALIVE_JITTER_MAX, KEEP_ALIVE_TIMEOUT_MIN, WS_META_FIELDS_MAX, WS_META_FIELD_BYTES_MAX,
};

/// What the shard must do for the client after an origin message or a timer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GripAction {
    /// Write these frames to the client, in order (one message, possibly fragmented).
    Send(Vec<Bytes>),
    /// Subscribe to `channel` (the route's prefix is not yet applied) with these filter
    /// names (PUSHPIN.md §2.5; unknown names are ignored later, as in Pushpin).
    Subscribe {
        /// The channel, without the route's prefix.
        channel: String,
        /// Filter names from the control message, empty when it had none.
        filters: Vec<String>,
    },
    /// Unsubscribe from this channel (the route's prefix is not yet applied).
    Unsubscribe(String),
    /// Close the origin side and keep the client; later client messages are discarded.
    Detach,
    /// The subscription meta changed (`set-meta`): filters must see `GripSession::meta`.
    MetaChanged,
    /// A message without the prefix was dropped (Pushpin 1.36); the shard counts or logs it.
    Dropped,
    /// A control message that could not be parsed; ignored, logged at debug.
    BadControl(ControlError),
}

/// A `keep-alive` control message in force.
#[derive(Clone, Debug)]
struct KeepAlive {
    frame: Bytes,
    timeout: Duration,
    mode: KeepAliveMode,
    /// Start of the current period: when it was set or last sent.
    from: Instant,
    /// This period's length: `timeout` shortened by up to `KEEP_ALIVE_JITTER_MAX`, drawn
    /// once per period so a recomputed deadline never moves backwards.
    period: Duration,
}

/// GRIP-mode state of one connection.
#[derive(Debug)]
pub struct GripSession {
    message_prefix: String,
    frame_payload_bytes_max: usize,
    keep_alive: Option<KeepAlive>,
    delayed: Option<(Bytes, Instant)>,
    /// Subscription meta set by `set-meta` (for filters), name -> value.
    meta: Vec<(String, String)>,
    /// xorshift state for keep-alive jitter; 0 means no jitter.
    random: u64,
}

impl GripSession {
    /// A session for an origin that accepted `extension`; data messages to the client are cut
    /// into frames of at most `frame_payload_bytes_max` bytes. `seed` drives the keep-alive
    /// jitter (Pushpin shortens each period by up to a second); 0 turns jitter off.
    pub fn new(extension: GripExtension, frame_payload_bytes_max: usize, seed: u64) -> Self {
        GripSession {
            message_prefix: extension.message_prefix,
            frame_payload_bytes_max,
            keep_alive: None,
            delayed: None,
            meta: Vec::new(),
            random: seed,
        }
    }

    /// `timeout` (at least `KEEP_ALIVE_TIMEOUT_MIN`) shortened by a random amount below
    /// `KEEP_ALIVE_JITTER_MAX` and never below half of it, so no keep-alive can fire in a loop.
    fn jittered(&mut self, timeout: Duration) -> Duration {
        let timeout = timeout.max(KEEP_ALIVE_TIMEOUT_MIN);
        let mut x = self.random;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.random = x;
        let jitter_ms_max = KEEP_ALIVE_JITTER_MAX.as_millis() as u64;
        let period = timeout.saturating_sub(Duration::from_millis(x % jitter_ms_max));
        period.max(timeout / 2)
    }

    /// The message prefix data messages must carry.
    pub fn message_prefix(&self) -> &str {
        &self.message_prefix
    }

    /// Subscription meta set so far by `set-meta`.
    pub fn meta(&self) -> &[(String, String)] {
        &self.meta
    }

    /// One whole message from the origin, at `now`.
    pub fn on_origin_message(
        &mut self,
        kind: MessageKind,
        payload: &[u8],
        now: Instant,
    ) -> Vec<GripAction> {
        match classify_backend_message(kind, payload, &self.message_prefix) {
            BackendMessage::Data(data) => vec![GripAction::Send(split_message(
                kind,
                data,
                self.frame_payload_bytes_max,
            ))],
            BackendMessage::Dropped => vec![GripAction::Dropped],
            BackendMessage::Control(json) => match parse_control(json) {
                Ok(message) => self.on_control(message, now),
                Err(err) => vec![GripAction::BadControl(err)],
            },
        }
    }

    fn on_control(&mut self, message: ControlMessage, now: Instant) -> Vec<GripAction> {
        match message {
            ControlMessage::Subscribe { channel, filters } => {
                vec![GripAction::Subscribe { channel, filters }]
            }
            ControlMessage::Unsubscribe { channel } => vec![GripAction::Unsubscribe(channel)],
            ControlMessage::Detach => vec![GripAction::Detach],
            ControlMessage::SetMeta { name, value } => {
                // Even a refused value has removed the old one: the meta changed either way.
                set_meta_field(&mut self.meta, &name, value);
                vec![GripAction::MetaChanged]
            }
            ControlMessage::KeepAlive {
                content,
                timeout,
                mode,
            } => {
                let period = self.jittered(timeout);
                self.keep_alive = content.map(|content| KeepAlive {
                    frame: content_frame(&content),
                    timeout,
                    mode,
                    from: now,
                    period,
                });
                Vec::new()
            }
            ControlMessage::SendDelayed { content, timeout } => {
                let older = self.take_delayed();
                self.delayed = content.map(|c| (content_frame(&c), now + timeout));
                older
            }
            ControlMessage::FlushDelayed => self.take_delayed(),
            ControlMessage::Session { .. } => Vec::new(),
        }
    }

    fn take_delayed(&mut self) -> Vec<GripAction> {
        match self.delayed.take() {
            Some((frame, _)) => vec![GripAction::Send(vec![frame])],
            None => Vec::new(),
        }
    }

    /// When `on_timeout` is next due. `last_sent` is when anything was last queued for the
    /// client (an idle keep-alive restarts from it).
    pub fn next_deadline(&self, last_sent: Option<Instant>) -> Option<Instant> {
        let keep_alive = self.keep_alive.as_ref().map(|k| k.due(last_sent));
        let delayed = self.delayed.as_ref().map(|(_, at)| *at);
        match (keep_alive, delayed) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Frames due at `now`: the delayed message once its time came, the keep-alive message
    /// once its period passed (the period then restarts at `now`).
    pub fn on_timeout(&mut self, now: Instant, last_sent: Option<Instant>) -> Vec<Bytes> {
        let mut out = Vec::new();
        if self.delayed.as_ref().is_some_and(|(_, at)| *at <= now) {
            if let Some((frame, _)) = self.delayed.take() {
                out.push(frame);
            }
        }
        let due = (self.keep_alive.as_ref()).is_some_and(|k| k.due(last_sent) <= now);
        if due {
            let timeout = self
                .keep_alive
                .as_ref()
                .map_or(Duration::ZERO, |k| k.timeout);
            let period = self.jittered(timeout);
            if let Some(keep_alive) = self.keep_alive.as_mut() {
                keep_alive.from = now;
                keep_alive.period = period;
                out.push(keep_alive.frame.clone());
            }
        }
        out
    }
}

impl KeepAlive {
    fn due(&self, last_sent: Option<Instant>) -> Instant {
        let base = match (self.mode, last_sent) {
            (KeepAliveMode::Idle, Some(sent)) => self.from.max(sent),
            _ => self.from,
        };
        base + self.period
    }
}

/// Sets (`Some`) or deletes (`None`) the meta field `name` (compared without case), within
/// `WS_META_FIELDS_MAX` fields of at most `WS_META_FIELD_BYTES_MAX` bytes each. Returns false
/// when the change was refused for a limit.
pub fn set_meta_field(meta: &mut Vec<(String, String)>, name: &str, value: Option<String>) -> bool {
    meta.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    let Some(value) = value else {
        return true;
    };
    if meta.len() >= WS_META_FIELDS_MAX || name.len() + value.len() > WS_META_FIELD_BYTES_MAX {
        return false;
    }
    meta.push((name.to_owned(), value));
    true
}

/// The one frame a `keep-alive` or `send-delayed` content is sent as; a ping or pong payload
/// is cut to the 125 bytes a control frame may carry.
fn content_frame(content: &DelayedContent) -> Bytes {
    let control = |control: Control| {
        let cut = content.content.len().min(CONTROL_PAYLOAD_BYTES_MAX);
        encode_frame(OpCode::Control(control), &content.content[..cut])
    };
    match content.kind {
        ContentKind::Text => encode_frame(MessageKind::Text.opcode(), &content.content),
        ContentKind::Binary => encode_frame(MessageKind::Binary.opcode(), &content.content),
        ContentKind::Ping => control(Control::Ping),
        ContentKind::Pong => control(Control::Pong),
    }
}

#[cfg(test)]
mod tests;
