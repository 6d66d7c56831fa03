//! The ZeroMQ publish inputs (PUSHPIN.md §3.3): the PULL socket (`push_in_spec`, what
//! pubcontrol's `zmq_push_uri` sends to) and the SUB socket (`push_in_sub_specs`, what a
//! `zmq_pub_uri` PUB/XPUB publisher sends to).
//!
//! Owns: each socket and the thread that reads it (a ZeroMQ socket belongs to one thread,
//! and libzmq blocks), decoding each message with `publish::zmq_item`, handing accepted items
//! to the router's input inbox in batches, and the SUB socket's subscriptions, which follow
//! the router's channel edges so an XPUB publisher sends nothing nobody here listens to.
//! Must not: route or sequence items (the router does, exactly as for `/publish/`) or let a
//! bad message stop the input: it is logged, at most once a second, and skipped.
//! Invariants: a PULL message is one frame holding one item; a SUB message is two frames,
//! `[channel, item]`; each thread ends once shutdown was requested and its socket has been
//! quiet for `ZMQ_INPUT_POLL_INTERVAL`.

use crate::limits::{
    ZMQ_INPUT_BATCH_ITEMS_MAX, ZMQ_INPUT_POLL_INTERVAL, ZMQ_MESSAGE_BYTES_MAX,
    ZMQ_PULL_RECEIVE_HWM, ZMQ_SUB_KEEPALIVE_COUNT, ZMQ_SUB_KEEPALIVE_IDLE_SECS,
    ZMQ_SUB_KEEPALIVE_INTERVAL_SECS,
};
use crate::publish::item::PublishItem;
use crate::publish::zmq_item::parse_zmq_item;
use crate::router::inbox::{InputInboxSender, SubscriptionReceiver};
use crate::router::msg::InputMsg;
use crate::router::msg::SubscriptionChange;
use crate::shard::Control;
use crate::stats::InputCounters;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Why a ZeroMQ input could not start.
#[derive(Debug, thiserror::Error)]
#[error("ZeroMQ input on {spec}: {source}")]
pub struct ZmqInputError {
    /// The spec that was bound.
    pub spec: String,
    /// libzmq's error.
    pub source: zmq::Error,
}

/// Binds `spec` and starts the thread that reads it.
pub fn spawn_pull_input(
    spec: &str,
    inbox: InputInboxSender,
    control: Arc<Control>,
    counters: Arc<InputCounters>,
) -> Result<JoinHandle<()>, ZmqInputError> {
    let error = |source| ZmqInputError {
        spec: spec.to_owned(),
        source,
    };
    let context = zmq::Context::new();
    let socket = context.socket(zmq::PULL).map_err(error)?;
    socket.set_rcvhwm(ZMQ_PULL_RECEIVE_HWM).map_err(error)?;
    socket
        .set_maxmsgsize(ZMQ_MESSAGE_BYTES_MAX)
        .map_err(error)?;
    socket
        .set_rcvtimeo(ZMQ_INPUT_POLL_INTERVAL.as_millis() as i32)
        .map_err(error)?;
    socket.set_linger(0).map_err(error)?;
    socket.bind(spec).map_err(error)?;
    log::info!("ZeroMQ PULL publish input bound on {spec}");
    spawn_reader(
        "ringpin-zmq-pull",
        context,
        socket,
        inbox,
        control,
        None,
        counters,
    )
    .map_err(thread_error(spec))
}

/// Binds (or, with `connect`, connects to) every one of `specs` with one SUB socket and
/// starts the thread that reads it; it subscribes as `subscriptions` say.
pub fn spawn_sub_input(
    specs: &[String],
    connect: bool,
    inbox: InputInboxSender,
    control: Arc<Control>,
    subscriptions: SubscriptionReceiver,
    counters: Arc<InputCounters>,
) -> Result<JoinHandle<()>, ZmqInputError> {
    let all = specs.join(", ");
    let error = |spec: &str| {
        let spec = spec.to_owned();
        move |source| ZmqInputError { spec, source }
    };
    let context = zmq::Context::new();
    let socket = context.socket(zmq::SUB).map_err(error(&all))?;
    let poll_ms = ZMQ_INPUT_POLL_INTERVAL.as_millis() as i32;
    socket.set_rcvtimeo(poll_ms).map_err(error(&all))?;
    socket.set_linger(0).map_err(error(&all))?;
    socket
        .set_maxmsgsize(ZMQ_MESSAGE_BYTES_MAX)
        .map_err(error(&all))?;
    for spec in specs {
        if connect {
            // A connected SUB watches a remote publisher: keep-alive finds a dead peer.
            socket.set_tcp_keepalive(1).map_err(error(spec))?;
            let idle = ZMQ_SUB_KEEPALIVE_IDLE_SECS;
            socket.set_tcp_keepalive_idle(idle).map_err(error(spec))?;
            let count = ZMQ_SUB_KEEPALIVE_COUNT;
            socket.set_tcp_keepalive_cnt(count).map_err(error(spec))?;
            let interval = ZMQ_SUB_KEEPALIVE_INTERVAL_SECS;
            socket
                .set_tcp_keepalive_intvl(interval)
                .map_err(error(spec))?;
            socket.connect(spec).map_err(error(spec))?;
        } else {
            socket.bind(spec).map_err(error(spec))?;
        }
    }
    let how = if connect { "connected to" } else { "bound on" };
    log::info!("ZeroMQ SUB publish input {how} {all}");
    let subscriptions = Some(SubscriptionFeed::new(subscriptions).map_err(thread_error(&all))?);
    spawn_reader(
        "ringpin-zmq-sub",
        context,
        socket,
        inbox,
        control,
        subscriptions,
        counters,
    )
    .map_err(thread_error(&all))
}

/// A thread that could not be started, as a start-up error.
fn thread_error(spec: &str) -> impl FnOnce(std::io::Error) -> ZmqInputError + '_ {
    move |e| ZmqInputError {
        spec: spec.to_owned(),
        source: zmq::Error::from_raw(e.raw_os_error().unwrap_or(libc::EAGAIN)),
    }
}

fn spawn_reader(
    name: &str,
    context: zmq::Context,
    socket: zmq::Socket,
    inbox: InputInboxSender,
    control: Arc<Control>,
    subscriptions: Option<SubscriptionFeed>,
    counters: Arc<InputCounters>,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let _context = context;
            read_loop(&socket, &inbox, &control, subscriptions.as_ref(), &counters);
        })
}

/// The router's subscription changes as the SUB thread reads them: the queue and its wake-up
/// socket, non-blocking so the thread can empty it after a poll.
struct SubscriptionFeed {
    changes: SubscriptionReceiver,
    wake: UnixStream,
}

impl SubscriptionFeed {
    fn new(mut changes: SubscriptionReceiver) -> std::io::Result<SubscriptionFeed> {
        let wake = changes
            .take_wake_socket()
            .ok_or_else(|| std::io::Error::other("subscription wake socket already taken"))?;
        wake.set_nonblocking(true)?;
        Ok(SubscriptionFeed { changes, wake })
    }

    /// Every change queued so far, after consuming the wake-ups (cleared first, so a change
    /// queued meanwhile brings a new byte).
    fn take(&self) -> Vec<SubscriptionChange> {
        self.changes.clear_wake();
        let mut bytes = [0u8; 64];
        while matches!((&self.wake).read(&mut bytes), Ok(n) if n > 0) {}
        std::iter::from_fn(|| self.changes.try_recv()).collect()
    }
}

/// Reads batches until shutdown. A SUB socket's thread waits on the socket and on the
/// router's subscription changes together, and applies the changes before it reads, so a
/// first subscriber reaches the publisher as soon as the router sees it.
fn read_loop(
    socket: &zmq::Socket,
    inbox: &InputInboxSender,
    control: &Control,
    subscriptions: Option<&SubscriptionFeed>,
    counters: &InputCounters,
) {
    let is_sub = subscriptions.is_some();
    loop {
        // A PULL socket blocks in its first receive (`rcvtimeo`); a SUB socket in the poll.
        let mut flags = 0;
        if let Some(subscriptions) = subscriptions {
            wait_for_sub_or_changes(socket, subscriptions);
            apply_changes(socket, subscriptions, counters);
            flags = zmq::DONTWAIT;
        }
        let mut batch = Vec::new();
        let mut received = false;
        while batch.len() < ZMQ_INPUT_BATCH_ITEMS_MAX {
            match socket.recv_multipart(flags) {
                Ok(frames) => {
                    received = true;
                    match decode(&frames, is_sub) {
                        Some(item) => {
                            counters.received.add(1);
                            batch.push(item);
                        }
                        None => counters.rejected.add(1),
                    }
                    // Take what else is waiting without blocking: one batch, one wake-up.
                    flags = zmq::DONTWAIT;
                }
                Err(zmq::Error::EAGAIN) => break,
                Err(err) => {
                    crate::log_limited!(Warn, "ZeroMQ input: receive failed: {err}");
                    break;
                }
            }
        }
        if !batch.is_empty() && !inbox.send_blocking(InputMsg::Publish(batch)) {
            return;
        }
        if !received && control.is_shutting_down() {
            return;
        }
    }
}

/// Waits until the SUB socket has a message or the router sent subscription changes, at most
/// `ZMQ_INPUT_POLL_INTERVAL` (then the caller looks at the shutdown flag).
fn wait_for_sub_or_changes(socket: &zmq::Socket, subscriptions: &SubscriptionFeed) {
    let mut items = [
        socket.as_poll_item(zmq::POLLIN),
        zmq::PollItem::from_fd(subscriptions.wake.as_raw_fd(), zmq::POLLIN),
    ];
    let timeout_ms = ZMQ_INPUT_POLL_INTERVAL.as_millis() as i64;
    if let Err(err) = zmq::poll(&mut items, timeout_ms) {
        crate::log_limited!(Warn, "ZeroMQ SUB input: poll failed: {err}");
        std::thread::sleep(ZMQ_INPUT_POLL_INTERVAL);
    }
}

/// Subscribes or unsubscribes the SUB socket as the router's channel edges say.
fn apply_changes(socket: &zmq::Socket, subscriptions: &SubscriptionFeed, counters: &InputCounters) {
    for change in subscriptions.take() {
        let channel = change.channel.as_bytes();
        let applied = if change.subscribed {
            socket.set_subscribe(channel)
        } else {
            socket.set_unsubscribe(channel)
        };
        match applied {
            Ok(()) => counters
                .subscriptions
                .add(if change.subscribed { 1 } else { -1 }),
            Err(err) => {
                crate::log_limited!(Warn, "ZeroMQ SUB input: subscription change failed: {err}")
            }
        }
    }
}

/// One message's item, or `None` (logged) when it is not one valid item: a PULL message is
/// `[item]`, a SUB message `[channel, item]`.
fn decode(frames: &[Vec<u8>], is_sub: bool) -> Option<PublishItem> {
    let parsed = match (frames, is_sub) {
        ([payload], false) => parse_zmq_item(payload, None),
        ([channel, payload], true) => parse_zmq_item(payload, Some(channel)),
        _ => {
            let expected = if is_sub { "two" } else { "one" };
            crate::log_limited!(
                Warn,
                "ZeroMQ input: a message of {} frames skipped ({expected} expected)",
                frames.len()
            );
            return None;
        }
    };
    match parsed {
        Ok(item) => Some(item),
        Err(err) => {
            crate::log_limited!(Warn, "ZeroMQ input: an item skipped: {err}");
            None
        }
    }
}
