//! The publish/control endpoint's connections, served on the router's executor.
//!
//! Owns: reading `:5561` requests, answering through `publish::endpoint`, and handing
//! accepted items to the `Router`, which encodes each once and sends it to the interested
//! shards' inboxes. `200 Published` means accepted and queued for delivery, as in Pushpin.
//! Must not: touch client connections; everything reaches shards through inboxes.

use crate::http::{parse_request, BodyDecoder, BodyKind, HeadLimits, RequestHead, Version};
use crate::limits::{PUBLISH_BODY_BYTES_MAX, PUBLISH_IDLE_TIMEOUT};
use crate::netio::{Conn, HeadError};
use crate::publish::endpoint::{self, EndpointAction, PublishRequest, BODY_TOO_LARGE_TEXT};
use crate::publish::item::PublishItem;
use crate::router::inbox::{InboxSendError, RouterInboxReceiver, ShardInboxSender};
use crate::router::{Routed, Router, SequencerConfig, ShardMsg};
use crate::shard::CONTROL_TICK;
use crate::stats::{prometheus, RouterCounters, ShardCounters};
use glommio::net::TcpStream;
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
    counters: RouterCounters,
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
    ) -> PublishService {
        PublishService {
            router: RefCell::new(Router::new(sequencing)),
            interest,
            shards,
            shard_counters,
            counters: RouterCounters::default(),
            send_order: Semaphore::new(1),
        }
    }

    /// Applies every pending interest change from the shards.
    pub fn drain_interest(&self) {
        let mut router = self.router.borrow_mut();
        while let Ok(msg) = self.interest.try_recv() {
            router.on_msg(msg);
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

    fn metrics(&self) -> String {
        self.drain_interest();
        prometheus::render(&self.shard_counters, &self.counters)
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

/// Serves one publish connection (keep-alive allowed, unlike Pushpin's one-shot server).
pub async fn serve(service: Rc<PublishService>, stream: TcpStream) {
    let mut conn = Conn::new(stream);
    let _ = conn.set_read_timeout(Some(PUBLISH_IDLE_TIMEOUT));
    loop {
        let (head, body) = match read_request(&mut conn).await {
            Ok(request) => request,
            Err(Some(refusal)) => {
                let _ = conn.write_all(&refusal).await;
                return;
            }
            Err(None) => return,
        };
        let keep_alive = head.is_keep_alive();
        let reply = answer(&service, &head, &body).await;
        if conn.write_all(&reply).await.is_err() || !keep_alive {
            return;
        }
    }
}

/// Reads one request and its body. `Err(Some(bytes))` is a refusal to write before closing
/// (a bad head, a body over `PUBLISH_BODY_BYTES_MAX`, no `Content-Length`); `Err(None)` means
/// the connection ended or failed.
async fn read_request(conn: &mut Conn) -> Result<(RequestHead, Vec<u8>), Option<Vec<u8>>> {
    let refusal = |status, text: &str, version| {
        Some(reply_bytes(
            status,
            text,
            "text/plain",
            None,
            false,
            version,
        ))
    };
    let head = match conn
        .read_head(|b| parse_request(b, &HeadLimits::PUBLISH))
        .await
    {
        Ok(head) => head,
        Err(HeadError::Parse(err)) => {
            return Err(refusal(err.status(), &format!("{err}\n"), Version::Http11))
        }
        Err(_) => return Err(None),
    };
    let mut body = Vec::new();
    match head.body_kind() {
        Ok(BodyKind::Length(n)) if n > PUBLISH_BODY_BYTES_MAX as u64 => {
            return Err(refusal(400, BODY_TOO_LARGE_TEXT, head.version));
        }
        Ok(kind @ BodyKind::Length(_)) => {
            let mut decoder = BodyDecoder::new(kind);
            conn.read_body(&mut decoder, &mut body, PUBLISH_BODY_BYTES_MAX)
                .await
                .map_err(|_| None)?;
        }
        Ok(BodyKind::Empty) => {}
        // Pushpin requires Content-Length; the unread body makes the connection unusable.
        _ => {
            let text = "Request requires Content-Length.\n";
            return Err(refusal(411, text, head.version));
        }
    }
    Ok((head, body))
}

/// Carries out one request and returns the reply's bytes. Published items go into the shard
/// inboxes before the reply is written, so a publish whose reply the publisher has seen is
/// ordered before any publish it sends afterwards, on any connection. A full inbox therefore
/// slows the reply: backpressure, not loss.
async fn answer(service: &PublishService, head: &RequestHead, body: &[u8]) -> Vec<u8> {
    let has_content_length = head.headers.contains("content-length");
    let request = PublishRequest {
        method: &head.method,
        path: head.path(),
        accept: head.headers.get_str("accept"),
        has_content_length,
        body,
    };
    let reply = endpoint::handle(&request);
    service.counters.publish_requests.add(1);
    let items = match &reply.action {
        EndpointAction::Publish(items) => items.len(),
        _ => 0,
    };
    log::info!(
        "control: {} {} code={} {} items={items}",
        head.method,
        head.path(),
        reply.status,
        body.len(),
    );
    let text = match reply.action {
        EndpointAction::Metrics => service.metrics(),
        _ => reply.body.clone(),
    };
    let bytes = reply_bytes(
        reply.status,
        &text,
        reply.content_type,
        reply.allow,
        head.is_keep_alive(),
        head.version,
    );
    match reply.action {
        EndpointAction::Publish(items) => service.publish(items).await,
        EndpointAction::Recover => service.recover().await,
        _ => {}
    }
    bytes
}

fn reply_bytes(
    status: u16,
    body: &str,
    content_type: &str,
    allow: Option<&str>,
    keep_alive: bool,
    version: Version,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        crate::http::reason_phrase(status),
        body.len()
    );
    if let Some(allow) = allow {
        out.push_str(&format!("Allow: {allow}\r\n"));
    }
    match (version, keep_alive) {
        (Version::Http11, false) => out.push_str("Connection: close\r\n"),
        (Version::Http10, true) => out.push_str("Connection: keep-alive\r\n"),
        _ => {}
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}
