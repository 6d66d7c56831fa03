//! Shard: one core's executor and everything it owns.
//!
//! Owns: the shard's client sockets (through their tasks), its held connections, its
//! subscription table, its origin pool and its counters. Runs the accept loops, the inbox
//! loop that receives published items from the router, and the control tick.
//! Must not: share any of that with another shard. `ShardContext` lives in an `Rc`, so the
//! compiler keeps it on its thread; only `router::msg` values and `Bytes` cross threads.

pub mod collapse;
pub mod connections;
pub mod direct_send;
pub mod hold;
pub mod listener;
pub mod peer_limit;
pub mod random;
pub mod recovery;
pub mod respond;
pub mod sessions;
pub mod subscribe;
pub mod sys;
pub mod uring_send;

use crate::config::{Config, Routes, SendMode, SlowClientPolicy};
use crate::fanout::{
    ChunkWriter, ConnKey, DeliveryReport, OverflowPolicy, Sink, Subscriptions, Transport,
};
use crate::limits::CONTROL_TICK;
use crate::limits::DELIVERY_BATCH_ITEMS_MAX;
use crate::limits::DELIVERY_PASS_SLOW;
use crate::limits::ORIGIN_SLOT_WAIT_MAX;
use crate::limits::SHUTDOWN_DRAIN_TIMEOUT;
use crate::origin::pool::OriginPool;
use crate::router::inbox::RouterInboxSender;
use crate::router::inbox::ShardInboxReceiver;
use crate::router::{RouterMsg, ShardId, ShardMsg};
use crate::stats::ShardCounters;
use bytes::Bytes;
use connections::{Connections, Held};
use direct_send::FlushOutcome;
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::os::fd::OwnedFd;
use std::os::unix::io::AsRawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::Duration;
use std::time::Instant;
use uring_send::UringSender;

/// Process-wide control state, set by the signal thread and read by every executor's tick.
#[derive(Debug)]
pub struct Control {
    /// Set once on SIGTERM/SIGINT.
    pub shutdown: AtomicBool,
    /// The current routes; replaced on reload.
    pub routes: Mutex<Arc<Routes>>,
    /// Bumped on every reload so shards know to pick up `routes`.
    pub routes_generation: AtomicU64,
    /// Client connections per source address (`--connections-per-ip-max`); `None` = no limit.
    pub peer_limit: Option<Arc<peer_limit::PeerLimit>>,
    /// The TLS client configurations for `ssl` origins and `https` links.
    pub origin_tls: Option<Arc<crate::tls::OriginTls>>,
}

impl Control {
    /// Control state starting with `routes`.
    pub fn new(routes: Routes) -> Control {
        Control {
            shutdown: AtomicBool::new(false),
            routes: Mutex::new(Arc::new(routes)),
            routes_generation: AtomicU64::new(0),
            peer_limit: None,
            origin_tls: None,
        }
    }

    /// The same, reaching `ssl` origins with `tls`.
    pub fn with_origin_tls(mut self, tls: crate::tls::OriginTls) -> Control {
        self.origin_tls = Some(Arc::new(tls));
        self
    }

    /// The same, limiting each source address to `max` client connections.
    pub fn with_peer_limit(mut self, max: Option<u32>) -> Control {
        self.peer_limit = max.map(|max| Arc::new(peer_limit::PeerLimit::new(max)));
        self
    }

    /// The current routes.
    pub fn routes(&self) -> Arc<Routes> {
        match self.routes.lock() {
            Ok(routes) => Arc::clone(&routes),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// True once shutdown was requested.
    pub fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::Relaxed)
    }
}

/// Everything one shard's tasks share.
#[derive(Debug)]
pub struct ShardContext {
    /// This shard's index.
    pub id: ShardId,
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Process-wide control state.
    pub control: Arc<Control>,
    /// The routes this shard currently uses (`current_routes`).
    routes: RefCell<Arc<Routes>>,
    routes_generation: Cell<u64>,
    /// The `Grip-Sig` token for the default key, and the second it was signed in: the claims
    /// only change when the second does, so one HMAC per second serves every request.
    grip_sig: RefCell<Option<(u64, String)>>,
    /// Held connections; flows reach an entry through `with_held`, so no borrow outlives a
    /// call.
    held: RefCell<Connections>,
    /// Channel -> held connections.
    subscriptions: RefCell<Subscriptions>,
    /// Named sessions: id -> held connection (`sessions.rs`).
    sessions: RefCell<std::collections::HashMap<Box<str>, ConnKey>>,
    writer: ChunkWriter,
    report: RefCell<DeliveryReport>,
    /// The batched io_uring writer (`--send-mode uring`); `None` writes with `direct_send`.
    uring: RefCell<Option<UringSender>>,
    router: RouterInboxSender,
    /// Counters read by the metrics endpoint.
    pub counters: Arc<ShardCounters>,
    /// Keep-alive connections to origins.
    pub pool: OriginPool,
    /// Requests being processed (not idle keep-alive connections).
    pub busy: Cell<usize>,
    /// Most client connections this shard accepts.
    pub connections_max: usize,
    /// Recovery state: last ids, linger times, refetch permits, in-flight link fetches.
    recovery: recovery::ShardRecovery,
}

impl ShardContext {
    /// A context for shard `id`.
    pub fn new(
        id: ShardId,
        config: Arc<Config>,
        control: Arc<Control>,
        router: RouterInboxSender,
        counters: Arc<ShardCounters>,
        connections_max: usize,
        origin_sockets_max: usize,
    ) -> ShardContext {
        let policy = match config.slow_client {
            SlowClientPolicy::Drop => OverflowPolicy::Drop,
            SlowClientPolicy::Close => OverflowPolicy::Close,
        };
        let uring = match config.send_mode {
            SendMode::Sendmsg => None,
            SendMode::Uring => match UringSender::new() {
                Ok(sender) => Some(sender),
                Err(err) => {
                    log::warn!(
                        "shard={} io_uring sender unavailable ({err}); using sendmsg",
                        id.0
                    );
                    None
                }
            },
        };
        // Waiting for an origin socket longer than for the origin's answer makes no sense.
        let slot_wait = config.origin_timeout.min(ORIGIN_SLOT_WAIT_MAX);
        let pool = OriginPool::new(origin_sockets_max, control.origin_tls.clone())
            .with_slot_wait(slot_wait);
        ShardContext {
            id,
            uring: RefCell::new(uring),
            routes: RefCell::new(control.routes()),
            routes_generation: Cell::new(control.routes_generation.load(Ordering::Relaxed)),
            grip_sig: RefCell::new(None),
            control,
            config,
            held: RefCell::new(Connections::new()),
            subscriptions: RefCell::new(Subscriptions::new()),
            sessions: RefCell::new(std::collections::HashMap::new()),
            writer: ChunkWriter::new(policy),
            report: RefCell::new(DeliveryReport::default()),
            router,
            counters,
            pool,
            busy: Cell::new(0),
            connections_max,
            recovery: recovery::ShardRecovery::default(),
        }
    }

    /// The `Grip-Sig` token for the configured key and issuer at `now_unix_secs`.
    pub fn default_grip_sig(&self, now_unix_secs: u64) -> String {
        let mut cached = self.grip_sig.borrow_mut();
        match cached.as_ref() {
            Some((secs, token)) if *secs == now_unix_secs => token.clone(),
            _ => {
                let token = crate::grip::sig::sign(
                    &self.config.sig_key,
                    &self.config.sig_iss,
                    now_unix_secs,
                );
                *cached = Some((now_unix_secs, token.clone()));
                token
            }
        }
    }

    /// Runs `f` on the held connection `key`, if it is still registered. The borrow of the
    /// held-connection table ends with `f`, so no flow can hold it across an `.await`.
    pub fn with_held<R>(&self, key: ConnKey, f: impl FnOnce(&mut Held) -> R) -> Option<R> {
        self.held.borrow_mut().get_mut(key).map(f)
    }

    /// The routes this shard uses now (a reload replaces them between requests).
    pub fn current_routes(&self) -> Arc<Routes> {
        Arc::clone(&self.routes.borrow())
    }

    /// The `Grip-Sig` token for a request along `route`, or `None` for a `no_grip` route.
    pub fn route_grip_sig(&self, route: &crate::config::Route) -> Option<String> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        (!route.no_grip).then(|| match (&route.sig_key, &route.sig_iss) {
            // Pushpin uses a route's own key only when both sig_key and sig_iss are set.
            (Some(key), Some(iss)) => {
                let key =
                    crate::config::parse_sig_key(key).unwrap_or_else(|_| key.as_bytes().to_vec());
                crate::grip::sig::sign(&key, iss, now)
            }
            _ => self.default_grip_sig(now),
        })
    }

    /// A sink with the configured queue bounds.
    pub fn new_sink(&self, transport: crate::fanout::Transport) -> Sink {
        Sink::new(
            transport,
            self.config.outbound_bytes_max,
            self.config.outbound_items_max,
        )
    }

    /// Registers a held connection and subscribes it to `channels`.
    /// A TLS `stream` is written by its task only (`Held::direct`).
    pub fn register_hold(
        self: &Rc<Self>,
        stream: &crate::netio::Stream,
        sink: Sink,
        channels: Vec<String>,
    ) -> HeldGuard {
        let key = self.held.borrow_mut().insert(Held {
            fd: stream.as_raw_fd(),
            direct: !stream.is_tls(),
            sink,
            channels: Vec::new(),
            waker: None,
            woken: false,
            failed: false,
            session_id: None,
        });
        let mut gained = Vec::new();
        {
            let mut subs = self.subscriptions.borrow_mut();
            for channel in &channels {
                if subs.contains(channel, key) {
                    continue;
                }
                if subs.add(channel, key).is_some() {
                    self.send_interest(channel, true);
                    gained.push(channel);
                }
                self.counters.subscriptions.add(1);
            }
        }
        for channel in gained {
            self.on_first_subscriber(channel);
        }
        if let Some(held) = self.held.borrow_mut().get_mut(key) {
            held.channels = channels;
        }
        HeldGuard {
            ctx: Rc::clone(self),
            key,
        }
    }

    fn unregister_hold(&self, key: ConnKey) {
        let Some(held) = self.held.borrow_mut().remove(key) else {
            return;
        };
        if let Some(id) = &held.session_id {
            self.sessions.borrow_mut().remove(id);
        }
        let mut subs = self.subscriptions.borrow_mut();
        for channel in &held.channels {
            if subs.contains(channel, key) {
                if subs.remove(channel, key).is_some() {
                    self.send_interest(channel, false);
                    self.on_last_subscriber(channel);
                }
                self.counters.subscriptions.add(-1);
            }
        }
    }

    pub(crate) fn send_interest(&self, channel: &str, subscribed: bool) {
        let msg = RouterMsg::Interest {
            shard: self.id,
            channel: channel.to_owned(),
            subscribed,
        };
        if self.router.send(msg).is_err() {
            log::error!(
                "shard={} router inbox closed; interest in {channel:?} lost",
                self.id.0
            );
        }
    }

    /// Delivers a batch of items taken from the inbox in one go: every item is queued first,
    /// then each connection that became ready is written once. When publishes arrive faster
    /// than one pass over the subscribers, several items then reach a subscriber in one
    /// vectored `sendmsg` instead of one syscall each; a single item costs what it did.
    pub fn deliver_batch(&self, msgs: &mut Vec<ShardMsg>) {
        if msgs.is_empty() {
            return;
        }
        let now = Instant::now();
        let cpu_start = log::log_enabled!(log::Level::Debug)
            .then(sys::thread_cpu_time)
            .flatten();
        let mut items = 0;
        let mut report = self.report.borrow_mut();
        report.clear();
        let mut held = self.held.borrow_mut();
        {
            let subs = self.subscriptions.borrow();
            for msg in msgs.drain(..) {
                let batch = match msg {
                    ShardMsg::Deliver(batch) => batch,
                    ShardMsg::Recover => {
                        drop(held);
                        self.recover_all();
                        held = self.held.borrow_mut();
                        continue;
                    }
                    ShardMsg::Sessions(query) => {
                        self.answer_sessions(query, &subs, &mut held);
                        continue;
                    }
                };
                items += batch.len();
                for item in &batch {
                    let subscribers = subs.subscribers(&item.channel);
                    if !subscribers.is_empty() {
                        self.note_delivered(item);
                        if let Some(routed_at) = item.routed_at {
                            let waited = now.saturating_duration_since(routed_at);
                            self.counters.delivery_latency.observe(waited);
                        }
                    }
                    self.writer
                        .deliver(item, subscribers, &mut *held, now, &mut report);
                }
            }
        }
        self.write_ready(&report.ready, &mut held);
        if let Some(cpu_start) = cpu_start {
            self.log_slow_pass(now, cpu_start, items, &report);
        }
        for &key in &report.wake {
            held.wake(key);
        }
        self.counters.deliveries.add(report.delivered);
        self.counters.deliveries_dropped.add(report.dropped);
        self.counters
            .slow_clients_closed
            .add(report.overflow_closed);
    }

    /// Logs a delivery pass that took longer than `DELIVERY_PASS_SLOW`, with the CPU time it used: a
    /// pass whose wall time is well above its CPU time waited for a core (other threads on
    /// it), not for ringpin's own work.
    fn log_slow_pass(
        &self,
        start: Instant,
        cpu_start: Duration,
        items: usize,
        report: &DeliveryReport,
    ) {
        let wall = start.elapsed();
        if wall < DELIVERY_PASS_SLOW {
            return;
        }
        let cpu = sys::thread_cpu_time().map_or(Duration::ZERO, |t| t.saturating_sub(cpu_start));
        log::debug!(
            "shard={} slow delivery pass: items={items} delivered={} writes={} wall={:.1}ms cpu={:.1}ms",
            self.id.0,
            report.delivered,
            report.ready.len(),
            wall.as_secs_f64() * 1e3,
            cpu.as_secs_f64() * 1e3,
        );
    }

    /// Writes the queue of each connection in `ready` once: batched through io_uring when
    /// configured, else one `sendmsg` each. A connection that is full, failed, or closing is
    /// handed to its task.
    fn write_ready(&self, ready: &[ConnKey], held: &mut Connections) {
        let shard = self.id.0;
        let mut on_outcome = |held: &mut Connections, key: ConnKey, outcome: FlushOutcome| {
            let Some(entry) = held.get_mut(key) else {
                return;
            };
            match outcome {
                FlushOutcome::Drained if !entry.sink.close_after_flush => return,
                FlushOutcome::Drained | FlushOutcome::Blocked => {}
                FlushOutcome::Failed(err) => {
                    log::debug!("shard={shard} write to subscriber failed: {err}");
                    entry.failed = true;
                }
            }
            held.wake(key);
        };
        let mut uring = self.uring.borrow_mut();
        let mut from = 0;
        if let Some(sender) = uring.as_mut() {
            match sender.flush_ready(ready, held, &mut on_outcome) {
                Ok(()) => return,
                Err((index, err)) => {
                    log::warn!("shard={shard} io_uring send failed ({err}); using sendmsg");
                    *uring = None;
                    from = index;
                }
            }
        }
        for &key in &ready[from..] {
            let Some(entry) = held.get_mut(key) else {
                continue;
            };
            let outcome = entry.flush_direct();
            on_outcome(held, key, outcome);
        }
    }

    /// Waits until the held connection `key` is woken (an item, a close or a failure).
    pub fn woken(&self, key: ConnKey) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(move |cx| {
            let mut held = self.held.borrow_mut();
            let Some(entry) = held.get_mut(key) else {
                return Poll::Ready(());
            };
            if entry.woken {
                entry.woken = false;
                Poll::Ready(())
            } else {
                entry.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        })
    }

    /// Picks up reloaded routes, if any.
    pub fn refresh_routes(&self) {
        let generation = self.control.routes_generation.load(Ordering::Relaxed);
        if generation != self.routes_generation.get() {
            *self.routes.borrow_mut() = self.control.routes();
            self.routes_generation.set(generation);
        }
    }

    /// Asks every held connection to finish: chunked streams get their terminating chunk,
    /// long-polls get their timeout response, then each connection closes.
    pub fn close_all_held(&self) {
        let mut held = self.held.borrow_mut();
        for key in held.keys() {
            if let Some(entry) = held.get_mut(key) {
                if entry.sink.transport == Transport::HttpStreamChunked
                    && !entry.sink.close_after_flush
                {
                    entry
                        .sink
                        .queue
                        .push_unbounded(Bytes::from_static(crate::http::LAST_CHUNK));
                }
                entry.sink.close_after_flush = true;
            }
            held.wake(key);
        }
    }
}

/// A shard context with the default configuration and the built-in `test` route, for unit
/// tests that run connection tasks on a glommio executor; the router's end is dropped.
#[cfg(test)]
pub(crate) fn test_context() -> Rc<ShardContext> {
    let config = Arc::new(Config::default());
    let control = Arc::new(Control::new(Routes::builtin_test()));
    let (router, _interest) = crate::router::inbox::router_inbox().expect("socket pair");
    let counters = Arc::new(ShardCounters::default());
    Rc::new(ShardContext::new(
        ShardId(0),
        config,
        control,
        router,
        counters,
        16,
        16,
    ))
}

/// Unregisters a held connection when dropped. Declare it after the connection's stream so
/// it drops first: the delivery loop must never see a descriptor that was closed.
#[derive(Debug)]
pub struct HeldGuard {
    ctx: Rc<ShardContext>,
    /// The connection's key.
    pub key: ConnKey,
}

impl Drop for HeldGuard {
    fn drop(&mut self) {
        self.ctx.unregister_hold(self.key);
    }
}

/// Runs one shard until shutdown: accept loops on `listeners` (TLS ones with their rustls
/// configuration), the inbox loop, the control tick. At shutdown it calls `stop_listening`,
/// so connections that arrive during the drain are refused (a load balancer moves them to
/// another instance) instead of accepted and left to the drain's deadline; then it closes
/// held connections and waits up to the drain timeout for busy ones. Each accepted
/// connection's task runs `serve`.
pub async fn run(
    ctx: Rc<ShardContext>,
    listeners: Vec<(OwnedFd, Option<listener::TlsConfig>)>,
    mut inbox: ShardInboxReceiver,
    serve: impl listener::ConnectionHandler,
    stop_listening: impl FnOnce(),
) {
    for (fd, tls) in listeners {
        let listener = sys::glommio_listener(fd);
        let accept = listener::accept_loop(Rc::clone(&ctx), listener, tls, serve);
        glommio::spawn_local(accept).detach();
    }
    if let Some(socket) = inbox.take_wake_socket() {
        let wake = sys::glommio_unix_stream(socket);
        glommio::spawn_local(inbox_loop(Rc::clone(&ctx), inbox, wake)).detach();
    }
    while !ctx.control.is_shutting_down() {
        glommio::timer::sleep(CONTROL_TICK).await;
        ctx.refresh_routes();
    }
    stop_listening();
    ctx.close_all_held();
    let deadline = Instant::now() + SHUTDOWN_DRAIN_TIMEOUT;
    while (!ctx.held.borrow().is_empty() || ctx.busy.get() > 0) && Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(20)).await;
    }
    log::debug!("shard={} stopped", ctx.id.0);
}

/// Drains the inbox whenever the router's wake-up byte arrives.
async fn inbox_loop(
    ctx: Rc<ShardContext>,
    inbox: ShardInboxReceiver,
    mut wake: glommio::net::UnixStream,
) {
    use futures_lite::AsyncReadExt;
    let mut bytes = [0u8; 64];
    let mut batch = Vec::with_capacity(DELIVERY_BATCH_ITEMS_MAX);
    loop {
        // Clear before draining: a message queued after this point brings a new byte.
        inbox.clear_wake();
        loop {
            while batch.len() < DELIVERY_BATCH_ITEMS_MAX {
                match inbox.try_recv() {
                    Some(msg) => batch.push(msg),
                    None => break,
                }
            }
            if batch.is_empty() {
                break;
            }
            ctx.deliver_batch(&mut batch);
        }
        match wake.read(&mut bytes).await {
            Ok(0) | Err(_) => {
                log::debug!("shard={} inbox closed", ctx.id.0);
                return;
            }
            Ok(_) => {}
        }
    }
}
