//! PublishService: the router and its connections to every shard, owned by the router's
//! executor.
//!
//! Owns: handing accepted items to the `Router`, which sequences them and encodes each once,
//! and queueing what it releases into the interested shards' inboxes, in release order;
//! `/recover`; the Prometheus rendering of every shard's counters.
//! Must not: touch client connections; everything reaches shards through inboxes.

use crate::limits::CONTROL_TICK;
use crate::publish::item::PublishItem;
use crate::router::inbox::{
    InboxSendError, InputInboxReceiver, RouterInboxReceiver, ShardInboxSender, SubscriptionSender,
};
use crate::router::msg::{InputMsg, SessionQuery, SubscriptionChange};
use crate::router::Edge;
use crate::router::{Routed, Router, SequencerConfig, ShardMsg};
use crate::stats::{prometheus, RouterCounters, ShardCounters};
use glommio::sync::Semaphore;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The router and its connections to every shard, owned by the router's executor.
#[derive(Debug)]
pub struct PublishService {
    router: RefCell<Router>,
    interest: RouterInboxReceiver,
    shards: Vec<ShardInboxSender>,
    shard_counters: Vec<Arc<ShardCounters>>,
    pub(super) counters: RouterCounters,
    /// Where process-wide channel edges go: the ZeroMQ SUB inputs' threads, if any.
    subscription_outs: RefCell<Vec<SubscriptionSender>>,
    /// Items published per channel, bounded, for the status page.
    pub(super) top_channels: RefCell<super::top_channels::TopChannels>,
    /// `/status/events` streams open now (at most `STATUS_STREAMS_MAX`).
    pub(super) status_streams: std::cell::Cell<usize>,
    /// One permit: routing and queueing happen under it, so the order the sequencer releases
    /// items in is the order they enter the inboxes, even when a full inbox makes one task
    /// wait while another publishes.
    send_order: Semaphore,
}

impl PublishService {
    /// A service routing to `shards` (indexed by shard id), sequencing with `sequencing`.
    pub fn new(
        interest: RouterInboxReceiver,
        shards: Vec<ShardInboxSender>,
        shard_counters: Vec<Arc<ShardCounters>>,
        sequencing: SequencerConfig,
        counters: RouterCounters,
    ) -> PublishService {
        PublishService {
            router: RefCell::new(Router::new(sequencing)),
            interest,
            shards,
            shard_counters,
            counters,
            subscription_outs: RefCell::new(Vec::new()),
            top_channels: RefCell::default(),
            status_streams: std::cell::Cell::new(0),
            send_order: Semaphore::new(1),
        }
    }

    /// Compresses published `ws-message` items as well, once each, for WebSocket clients
    /// that negotiated permessage-deflate (`allow_compression`).
    pub fn set_ws_deflate(&self, deflate: bool) {
        self.router.borrow_mut().ws_deflate = deflate;
    }

    /// Sends every later channel edge (first subscriber in the process, last one gone) to
    /// `out`, after the channels subscribed already.
    pub fn forward_subscriptions(&self, out: SubscriptionSender) {
        for channel in self.router.borrow().subscribed_channels() {
            let change = SubscriptionChange {
                channel: channel.to_owned(),
                subscribed: true,
            };
            // Unbounded: only a SUB thread that is gone refuses, and then nobody listens.
            let _ = out.send(change);
        }
        self.subscription_outs.borrow_mut().push(out);
    }

    /// Applies every pending interest change from the shards.
    pub fn drain_interest(&self) {
        let mut router = self.router.borrow_mut();
        let outs = self.subscription_outs.borrow();
        // Cleared before draining: an edge queued after this brings a new byte.
        self.interest.clear_wake();
        while let Some(msg) = self.interest.try_recv() {
            let Some((channel, edge)) = router.on_msg(msg) else {
                continue;
            };
            for out in outs.iter() {
                let change = SubscriptionChange {
                    channel: channel.clone(),
                    subscribed: edge == Edge::Gained,
                };
                let _ = out.send(change);
            }
        }
        let channels = router.channel_count() as i64;
        self.counters
            .channels
            .add(channels - self.counters.channels.get());
    }

    /// Routes `items` in order through the sequencer. Interest is drained first, so a
    /// subscription whose initial response a client has already received is known here.
    ///
    /// Ordering across shards holds because this one router thread releases every channel's
    /// items in one order and queues each to every interested shard's FIFO inbox in that
    /// order; each shard then delivers its inbox in order.
    pub async fn publish(&self, items: Vec<PublishItem>) {
        let _permit = self.send_order.acquire_permit(1).await;
        self.drain_interest();
        self.counters.items_published.add(items.len() as u64);
        for item in items {
            self.top_channels.borrow_mut().add(&item.channel);
            let routed = self.router.borrow_mut().on_publish(item, Instant::now());
            self.send_routed(routed).await;
        }
        let expired = self.router.borrow_mut().on_timeout(Instant::now());
        self.send_routed(expired).await;
    }

    /// The router executor's timer: drains interest and releases parked items whose
    /// `message_wait` has passed.
    pub async fn on_tick(&self) {
        let _permit = self.send_order.acquire_permit(1).await;
        self.drain_interest();
        let expired = self.router.borrow_mut().on_timeout(Instant::now());
        self.send_routed(expired).await;
    }

    /// How long the timer may sleep: until the next parked item's deadline, at most
    /// `CONTROL_TICK` (interest is drained at least that often).
    pub fn next_sleep(&self) -> Duration {
        let now = Instant::now();
        match self.router.borrow().next_deadline() {
            Some(deadline) => deadline.saturating_duration_since(now).min(CONTROL_TICK),
            None => CONTROL_TICK,
        }
    }

    async fn send_routed(&self, routed: Vec<Routed>) {
        for (encoded, shards) in routed {
            log::debug!(
                "publish channel={} shards={}",
                encoded.channel,
                shards.len()
            );
            for shard in shards.iter() {
                let Some(inbox) = self.shards.get(shard.0 as usize) else {
                    continue;
                };
                send_waiting(inbox, ShardMsg::Deliver(Arc::clone(&encoded))).await;
            }
        }
    }

    /// `/recover`: the router forgets every last id, and every shard is told, in order with
    /// the items already queued, to make its holds refetch.
    pub async fn recover(&self) {
        let _permit = self.send_order.acquire_permit(1).await;
        self.router.borrow_mut().on_recover();
        for inbox in &self.shards {
            send_waiting(inbox, ShardMsg::Recover).await;
        }
    }

    /// `conncheck` and `refresh`: every shard is asked, in order with the items already
    /// queued (a refresh after a publish follows it), and answers on the query's channel.
    pub async fn ask_sessions(&self, query: SessionQuery) {
        let _permit = self.send_order.acquire_permit(1).await;
        for inbox in &self.shards {
            send_waiting(inbox, ShardMsg::Sessions(query.clone())).await;
        }
    }

    /// The status page's snapshot of every counter now.
    pub(super) fn status_snapshot(&self) -> serde_json::Value {
        self.drain_interest();
        let unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        let top = self.top_channels.borrow();
        super::status::snapshot(&self.shard_counters, &self.counters, &top, unix_ms)
    }

    pub(super) fn metrics(&self) -> String {
        self.drain_interest();
        prometheus::render(&self.shard_counters, &self.counters)
    }
}

/// Drains the shards' interest edges whenever their wake-up byte arrives, so a ZeroMQ SUB
/// input subscribes to a channel as soon as its first subscriber appears rather than at the
/// next publish or tick. Run only when there is a SUB input to tell.
pub async fn interest_loop(service: Rc<PublishService>, socket: std::os::unix::net::UnixStream) {
    use futures_lite::AsyncReadExt;
    let mut wake = crate::shard::sys::glommio_unix_stream(socket);
    let mut bytes = [0u8; 64];
    loop {
        service.drain_interest();
        match wake.read(&mut bytes).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Publishes what the publish inputs other than HTTP (the ZeroMQ PULL thread) hand over, in
/// arrival order, whenever the inbox's wake-up byte arrives.
pub async fn input_loop(service: Rc<PublishService>, mut inbox: InputInboxReceiver) {
    use futures_lite::AsyncReadExt;
    let Some(socket) = inbox.take_wake_socket() else {
        return;
    };
    let mut wake = crate::shard::sys::glommio_unix_stream(socket);
    let mut bytes = [0u8; 64];
    loop {
        // Clear before draining: a batch queued after this point brings a new byte.
        inbox.clear_wake();
        while let Some(msg) = inbox.try_recv() {
            match msg {
                InputMsg::Publish(items) => service.publish(items).await,
                InputMsg::Recover => service.recover().await,
                InputMsg::Sessions(query) => service.ask_sessions(query).await,
            }
        }
        match wake.read(&mut bytes).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// Queues `msg`, waiting while the shard's inbox is full: a slow shard slows publishing
/// (backpressure) instead of losing items.
async fn send_waiting(inbox: &ShardInboxSender, mut msg: ShardMsg) {
    loop {
        match inbox.send(msg) {
            Ok(()) => return,
            Err(InboxSendError::Full(back)) => {
                msg = back;
                glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
            }
            Err(InboxSendError::Closed(_)) => {
                log::error!("a shard inbox is closed; an item was lost");
                return;
            }
        }
    }
}
