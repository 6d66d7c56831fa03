//! PublishService: the router and its connections to every shard, owned by the router's
//! executor.
//!
//! Owns: handing accepted items to the `Router`, which sequences them and encodes each once,
//! and queueing what it releases into the interested shards' inboxes, in release order;
//! `/recover`; the Prometheus rendering of every shard's counters.
//! Must not: touch client connections; everything reaches shards through inboxes.

use crate::limits::{CONTROL_TICK, PUBLISH_FLUSH_INTERVAL, PUBLISH_OUTBOX_ITEMS_MAX};
use crate::publish::format::EncodedItem;
use crate::publish::item::PublishItem;
use crate::router::inbox::{
    InboxSendError, InputInboxReceiver, RouterInboxReceiver, ShardInboxSender, SubscriptionSender,
};
use crate::router::msg::{InputMsg, SessionQuery, SubscriptionChange};
use crate::router::Edge;
use crate::router::{Routed, Router, SequencerConfig, ShardMsg};
use crate::stats::{prometheus, RouterCounters, ShardCounters};
use glommio::sync::Semaphore;
use std::cell::{Cell, RefCell};
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
    pub(super) status_streams: Cell<usize>,
    /// Released items not yet in the shards' inboxes, one batch per shard (indexed by shard
    /// id), in release order. A publish routes into it, the publisher is answered, and then
    /// the outbox is flushed (`after_publish`); the publishes that arrive meanwhile go with
    /// the same flush. So a stream of one-item POSTs, like one 2,500-item POST, costs each
    /// shard one inbox message and at most one wake-up per flush, and the shards start
    /// delivering after the publisher is answered, not while the router still competes with
    /// them for the cores.
    outbox: RefCell<Vec<Vec<Arc<EncodedItem>>>>,
    /// When the outbox was last flushed, and whether a flush task is waiting to run.
    last_flush: Cell<Instant>,
    flush_scheduled: Cell<bool>,
    /// One permit: flushes (and `/recover`, session queries and the tick, which flush first)
    /// run under it one at a time, each taking the whole outbox, so the order the sequencer
    /// releases items in is the order they enter the inboxes, even when a full inbox makes
    /// one flush wait while publishes stage more.
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
        let shard_count = shards.len();
        PublishService {
            router: RefCell::new(Router::new(sequencing)),
            interest,
            shards,
            shard_counters,
            counters,
            subscription_outs: RefCell::new(Vec::new()),
            top_channels: RefCell::default(),
            status_streams: Cell::new(0),
            outbox: RefCell::new(vec![Vec::new(); shard_count]),
            last_flush: Cell::new(Instant::now()),
            flush_scheduled: Cell::new(false),
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

    /// Routes `items` in order through the sequencer into the outbox; `after_publish` then
    /// hands them to the shards. Interest is drained first, so a subscription whose initial
    /// response a client has already received is known here.
    ///
    /// Ordering across shards holds because this one router thread releases every channel's
    /// items in one order and appends them to each interested shard's outbox batch in that
    /// order; flushes take the whole outbox and queue it to FIFO inboxes one flush at a time;
    /// each shard then delivers its inbox in order. A publish routed here is therefore
    /// ordered before any routed after it, flushed or not.
    pub fn publish(&self, items: Vec<PublishItem>) {
        self.drain_interest();
        self.counters.items_published.add(items.len() as u64);
        let mut router = self.router.borrow_mut();
        let mut top_channels = self.top_channels.borrow_mut();
        let mut routed = Vec::new();
        let now = Instant::now();
        for item in items {
            top_channels.add(&item.channel);
            router.on_publish(item, now, &mut routed);
            self.stage(&mut routed);
        }
        router.on_timeout(now, &mut routed);
        self.stage(&mut routed);
    }

    /// Gets what a publish staged on its way to the shards, before its caller takes more
    /// input (the next request on a connection, the next batch from a ZeroMQ input): a large
    /// outbox is flushed now (waiting while an inbox is full: backpressure); a small one by a
    /// flush task, at once after a quiet spell, else `PUBLISH_FLUSH_INTERVAL` after the last
    /// flush, so a stream of one-item POSTs wakes each shard once per interval.
    pub async fn after_publish(self: &Rc<Self>) {
        let staged = self.outbox_len();
        if staged >= PUBLISH_OUTBOX_ITEMS_MAX {
            self.flush().await;
        } else if staged > 0 {
            self.schedule_flush();
        }
    }

    /// Starts the flush task unless one is waiting already.
    fn schedule_flush(self: &Rc<Self>) {
        if self.flush_scheduled.replace(true) {
            return;
        }
        let due = self.last_flush.get() + PUBLISH_FLUSH_INTERVAL;
        let service = Rc::clone(self);
        let flushing = async move {
            match due.checked_duration_since(Instant::now()) {
                Some(wait) => glommio::timer::sleep(wait).await,
                // Let the publishes that are ready in this turn stage into the same batches.
                None => futures_lite::future::yield_now().await,
            }
            service.flush_scheduled.set(false);
            service.flush().await;
        };
        glommio::spawn_local(flushing).detach();
    }

    /// Queues the outbox into the shards' inboxes now, waiting while an inbox is full. A
    /// flush that finds the outbox already taken by another returns at once.
    pub async fn flush(&self) {
        if self.outbox_len() == 0 {
            return;
        }
        let _permit = self.send_order.acquire_permit(1).await;
        self.flush_outbox().await;
    }

    /// The router executor's timer: drains interest and releases parked items whose
    /// `message_wait` has passed.
    pub async fn on_tick(&self) {
        let _permit = self.send_order.acquire_permit(1).await;
        self.drain_interest();
        let mut expired = Vec::new();
        self.router
            .borrow_mut()
            .on_timeout(Instant::now(), &mut expired);
        self.stage(&mut expired);
        self.flush_outbox().await;
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

    /// Entries in the outbox, over all shards.
    fn outbox_len(&self) -> usize {
        self.outbox.borrow().iter().map(Vec::len).sum()
    }

    /// Appends released items to the outbox batches of the shards that must receive them.
    fn stage(&self, routed: &mut Vec<Routed>) {
        let mut outbox = self.outbox.borrow_mut();
        for (encoded, shards) in routed.drain(..) {
            log::debug!(
                "publish channel={} shards={}",
                encoded.channel,
                shards.len()
            );
            for shard in shards.iter() {
                if let Some(batch) = outbox.get_mut(shard.0 as usize) {
                    batch.push(Arc::clone(&encoded));
                }
            }
        }
    }

    /// Queues every outbox batch into its shard's inbox, one message each. Call under the
    /// `send_order` permit: the batches are taken at once, so whatever is staged while this
    /// waits on a full inbox goes with the next flush, after these.
    async fn flush_outbox(&self) {
        // An empty flush (a tick, `/recover`) sends nothing, so it must not hold the next
        // publish back as if it had.
        if self.outbox_len() == 0 {
            return;
        }
        let batches: Vec<_> = self
            .outbox
            .borrow_mut()
            .iter_mut()
            .map(std::mem::take)
            .collect();
        self.last_flush.set(Instant::now());
        for (inbox, batch) in self.shards.iter().zip(batches) {
            if !batch.is_empty() {
                send_waiting(inbox, ShardMsg::Deliver(batch)).await;
            }
        }
    }

    /// `/recover`: the router forgets every last id, and every shard is told, in order with
    /// the items already queued, to make its holds refetch.
    pub async fn recover(&self) {
        let _permit = self.send_order.acquire_permit(1).await;
        self.flush_outbox().await;
        self.router.borrow_mut().on_recover();
        for inbox in &self.shards {
            send_waiting(inbox, ShardMsg::Recover).await;
        }
    }

    /// `conncheck` and `refresh`: every shard is asked, in order with the items already
    /// queued (a refresh after a publish follows it), and answers on the query's channel.
    pub async fn ask_sessions(&self, query: SessionQuery) {
        let _permit = self.send_order.acquire_permit(1).await;
        self.flush_outbox().await;
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
                InputMsg::Publish(items) => {
                    service.publish(items);
                    service.after_publish().await;
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::inbox::{router_inbox, shard_inbox, ShardInboxReceiver};
    use crate::router::{RouterMsg, ShardId};
    use glommio::{LocalExecutorBuilder, Placement};

    /// Runs `test` on a throw-away executor with a service over `shards` inboxes, after
    /// channel `c<i>` gained a subscriber on shard `i % shards` for each of `channels`.
    fn with_service<F, Fut>(shards: usize, channels: usize, test: F)
    where
        F: FnOnce(Rc<PublishService>, Vec<ShardInboxReceiver>) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + 'static,
    {
        LocalExecutorBuilder::new(Placement::Unbound)
            .io_memory(512 * 1024)
            .spawn(move || async move {
                let (router_tx, router_rx) = router_inbox().expect("socket pair");
                let (senders, receivers): (Vec<_>, Vec<_>) = (0..shards)
                    .map(|_| shard_inbox().expect("socket pair"))
                    .unzip();
                let counters = (0..shards).map(|_| Arc::default()).collect();
                let service = Rc::new(PublishService::new(
                    router_rx,
                    senders,
                    counters,
                    SequencerConfig::DEFAULT,
                    RouterCounters::default(),
                ));
                for i in 0..channels {
                    let interest = RouterMsg::Interest {
                        shard: ShardId((i % shards) as u16),
                        channel: format!("c{i}"),
                        subscribed: true,
                    };
                    router_tx.send(interest).expect("router inbox open");
                }
                test(service, receivers).await;
            })
            .expect("executor")
            .join()
            .expect("test ran");
    }

    /// One `http-stream` item per channel named, in order.
    fn items(channels: &[&str]) -> Vec<PublishItem> {
        let items: Vec<String> = (channels.iter())
            .map(|c| {
                format!(r#"{{"channel":"{c}","formats":{{"http-stream":{{"content":"x"}}}}}}"#)
            })
            .collect();
        let body = format!(r#"{{"items":[{}]}}"#, items.join(","));
        crate::publish::parse_items(body.as_bytes()).expect("valid")
    }

    /// Every message queued in `inbox` now: `Deliver` batches as their channels, `Recover`
    /// as `["recover"]`.
    fn drain(inbox: &ShardInboxReceiver) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        while let Some(msg) = inbox.try_recv() {
            out.push(match msg {
                ShardMsg::Deliver(batch) => batch.iter().map(|i| i.channel.clone()).collect(),
                ShardMsg::Recover => vec!["recover".to_owned()],
                ShardMsg::Sessions(_) => vec!["sessions".to_owned()],
            });
        }
        out
    }

    #[test]
    fn a_many_item_publish_reaches_each_shard_as_one_batch_in_publish_order() {
        with_service(2, 4, |service, inboxes| async move {
            service.publish(items(&["c0", "c1", "c2", "c3", "c0", "nobody"]));
            assert!(drain(&inboxes[0]).is_empty(), "routed, not yet flushed");
            service.flush().await;
            assert_eq!(drain(&inboxes[0]), [["c0", "c2", "c0"]]);
            assert_eq!(drain(&inboxes[1]), [["c1", "c3"]]);
        });
    }

    #[test]
    fn publishes_routed_before_a_flush_share_its_batch_and_recover_comes_after_them() {
        with_service(2, 2, |service, inboxes| async move {
            service.publish(items(&["c0"]));
            service.publish(items(&["c1", "c0"]));
            service.recover().await;
            service.flush().await;
            assert_eq!(drain(&inboxes[0]), [vec!["c0", "c0"], vec!["recover"]]);
            assert_eq!(drain(&inboxes[1]), [vec!["c1"], vec!["recover"]]);
        });
    }

    #[test]
    fn small_publishes_in_quick_succession_share_one_flush_and_a_large_one_goes_at_once() {
        with_service(1, 1, |service, inboxes| async move {
            service.publish(items(&["c0"]));
            service.after_publish().await;
            service.publish(items(&["c0"]));
            service.after_publish().await;
            assert!(drain(&inboxes[0]).is_empty(), "left to the flush task");
            glommio::timer::sleep(PUBLISH_FLUSH_INTERVAL * 4).await;
            assert_eq!(drain(&inboxes[0]), [["c0", "c0"]]);

            let many = vec!["c0"; PUBLISH_OUTBOX_ITEMS_MAX];
            service.publish(items(&many));
            service.after_publish().await;
            let queued = drain(&inboxes[0]);
            assert_eq!(queued.len(), 1, "flushed before the publisher reads on");
            assert_eq!(queued[0].len(), PUBLISH_OUTBOX_ITEMS_MAX);
        });
    }

    #[test]
    fn a_publish_after_a_quiet_spell_is_flushed_at_once_even_right_after_an_empty_tick() {
        with_service(1, 1, |service, inboxes| async move {
            glommio::timer::sleep(PUBLISH_FLUSH_INTERVAL * 4).await;
            service.on_tick().await;
            service.publish(items(&["c0"]));
            service.after_publish().await;
            // The flush task only yields once; a few turns of this task suffice, no timer.
            let mut queued = Vec::new();
            for _ in 0..10 {
                futures_lite::future::yield_now().await;
                queued = drain(&inboxes[0]);
                if !queued.is_empty() {
                    break;
                }
            }
            assert_eq!(
                queued,
                [["c0"]],
                "an empty tick is not a flush to wait after"
            );
        });
    }

    #[test]
    fn a_full_inbox_holds_the_flush_back_until_the_shard_drains_and_loses_nothing() {
        with_service(1, 1, |service, inboxes| async move {
            for _ in 0..crate::limits::SHARD_INBOX_MESSAGES_MAX {
                service.publish(items(&["c0"]));
                service.flush().await;
            }
            service.publish(items(&["c0", "c0"]));
            let done = Rc::new(std::cell::Cell::new(false));
            let flushing = glommio::spawn_local({
                let (service, done) = (Rc::clone(&service), Rc::clone(&done));
                async move {
                    service.flush().await;
                    done.set(true);
                }
            });
            glommio::timer::sleep(Duration::from_millis(20)).await;
            assert!(!done.get(), "waits while the inbox is full");
            assert_eq!(inboxes[0].try_recv().map(|_| ()), Some(()));
            flushing.await;
            let queued = drain(&inboxes[0]);
            assert_eq!(queued.len(), crate::limits::SHARD_INBOX_MESSAGES_MAX);
            assert_eq!(queued.last().expect("the last flush"), &["c0", "c0"]);
        });
    }
}
