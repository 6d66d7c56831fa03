//! Acting on an origin's WebSocket messages: GRIP mode or a plain relay.
//!
//! Owns: `OriginMessages`, which turns each whole message from an origin (WebSocket-over-HTTP
//! event or passthrough frame) into frames for the client, and in GRIP mode acts on the
//! `GripSession`'s actions: subscriptions with the route's `prefix`, the per-connection
//! subscription limit, detach, and the timed sends of `keep-alive` / `send-delayed`.
//! Must not: read the client socket or talk to the origin; the two session loops do.
//! Invariants: without the `grip` extension nothing is interpreted (`c:` text reaches the
//! client untouched) and messages are only re-framed at 16 KiB; implicit `sub=` channels
//! cannot be unsubscribed (Pushpin 1.36).

use crate::flow::ws::client::WsClient;
use crate::limits::WS_SERVER_FRAME_PAYLOAD_BYTES_MAX;
use crate::shard::random::random_u64;
use crate::shard::subscribe::SubscribeOutcome;
use crate::shard::ShardContext;
use crate::ws::{split_message, GripAction, GripExtension, GripSession, MessageKind};
use std::time::Instant;

/// What the session loop must do after an origin message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AfterMessage {
    /// Carry on.
    Continue,
    /// The origin asked to detach: close the origin side, keep the client.
    Detach,
}

/// The origin-to-client half of one WebSocket connection.
#[derive(Debug)]
pub struct OriginMessages {
    grip: Option<GripSession>,
    prefix: String,
    implicit: Vec<String>,
}

impl OriginMessages {
    /// GRIP mode when `extension` is set; `prefix` is the route's channel prefix and
    /// `implicit` the target's `sub=` channels (prefixed), which stay subscribed.
    pub fn new(extension: Option<GripExtension>, prefix: &str, implicit: Vec<String>) -> Self {
        OriginMessages {
            grip: extension
                .map(|e| GripSession::new(e, WS_SERVER_FRAME_PAYLOAD_BYTES_MAX, random_u64() | 1)),
            prefix: prefix.to_owned(),
            implicit,
        }
    }

    /// True in GRIP mode.
    pub fn is_grip(&self) -> bool {
        self.grip.is_some()
    }

    /// One whole message from the origin.
    pub fn on_message(
        &mut self,
        ctx: &ShardContext,
        client: &WsClient<'_>,
        kind: MessageKind,
        payload: &[u8],
    ) -> AfterMessage {
        let Some(grip) = self.grip.as_mut() else {
            client.send_all(split_message(
                kind,
                payload,
                WS_SERVER_FRAME_PAYLOAD_BYTES_MAX,
            ));
            return AfterMessage::Continue;
        };
        let mut after = AfterMessage::Continue;
        let actions = grip.on_origin_message(kind, payload, Instant::now());
        let message_prefix = grip.message_prefix().to_owned();
        for action in actions {
            match action {
                GripAction::Send(frames) => client.send_all(frames),
                GripAction::Subscribe { channel, filters } => {
                    subscribe(ctx, client, &self.prefix, &channel, &filters, grip.meta());
                }
                GripAction::Unsubscribe(channel) => {
                    let channel = format!("{}{channel}", self.prefix);
                    if !self.implicit.contains(&channel)
                        && ctx.unsubscribe_held(client.key(), &channel)
                    {
                        super::filters::on_unsubscribe(ctx, client.key(), &channel);
                    }
                }
                GripAction::MetaChanged => super::filters::on_meta(ctx, client.key(), grip.meta()),
                GripAction::Detach => after = AfterMessage::Detach,
                GripAction::Dropped => {
                    log::debug!(
                        "shard={} dropped an origin message without the prefix {:?}",
                        ctx.id.0,
                        message_prefix
                    );
                }
                GripAction::BadControl(err) => {
                    log::debug!("shard={} ignored a control message: {err}", ctx.id.0);
                }
            }
        }
        after
    }

    /// When the next timed send is due.
    pub fn next_deadline(&self, client: &WsClient<'_>) -> Option<Instant> {
        self.grip.as_ref()?.next_deadline(client.last_sent())
    }

    /// Sends what is due at `now`.
    pub fn on_timeout(&mut self, client: &WsClient<'_>, now: Instant) {
        if let Some(grip) = self.grip.as_mut() {
            for frame in grip.on_timeout(now, client.last_sent()) {
                if !client.send_droppable(frame) {
                    log::debug!(
                        "shard={} timed websocket message dropped: the client's queue is full",
                        client.shard()
                    );
                }
            }
        }
    }
}

/// Subscribes the connection to the route-prefixed `channel`, with its filters.
fn subscribe(
    ctx: &ShardContext,
    client: &WsClient<'_>,
    prefix: &str,
    channel: &str,
    filters: &[String],
    meta: &[(String, String)],
) {
    let channel = format!("{prefix}{channel}");
    match ctx.subscribe_held(client.key(), &channel) {
        SubscribeOutcome::OverLimit => crate::log_limited!(
            Warn,
            "shard={} subscription to {channel:?} ignored: over the limit of {}",
            ctx.id.0,
            ctx.config.connection_subscriptions_max
        ),
        // A repeated subscribe may change the channel's filters, as in Pushpin.
        SubscribeOutcome::Added | SubscribeOutcome::AlreadySubscribed => {
            super::filters::on_subscribe(ctx, client.key(), &channel, filters, meta);
        }
        SubscribeOutcome::Gone => {}
    }
}
