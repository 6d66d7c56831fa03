//! ZeroMQ publisher: publishing to a proxy's ZeroMQ inputs as a pubcontrol client would,
//! either on one XPUB socket connected to every bound SUB input (`zmq_pub_uri`), or on one
//! PUSH socket per PULL input (`zmq_push_uri`).
//!
//! Owns: the sockets, waiting until the XPUB has seen every expected subscription, and
//! sending `[channel, item]` (SUB) or `[item]` (PULL) messages.
//! Must not: time deliveries or build message contents (the coordinator does), or read the
//! frames' meaning itself (xpub_subscriptions.rs does).
//! Invariants: an XPUB drops a message for a peer that has not subscribed yet, so the
//! coordinator publishes on it only after [`ZmqPublisher::wait_subscribed`]; sends never
//! block longer than [`ZMQ_SEND_TIMEOUT`]; the send high-water mark is high enough
//! ([`ZMQ_SEND_HWM_MESSAGES`]) that a run's messages never meet it, since an XPUB would
//! silently drop what exceeds it.

use std::time::{Duration, Instant};

use crate::xpub_subscriptions::{SubscribeWait, SubscriptionFrame, SubscriptionTally};

/// Messages queued per peer before a PUSH blocks (or an XPUB drops).
const ZMQ_SEND_HWM_MESSAGES: i32 = 1_000_000;
/// A send that cannot queue for this long fails the run.
const ZMQ_SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one receive of subscription frames blocks, so the deadline is checked.
const SUBSCRIPTION_POLL_INTERVAL: Duration = Duration::from_millis(50);

/// A ZeroMQ call that failed, with the spec and operation a log line needs.
#[derive(Debug)]
pub struct ZmqPublishError {
    /// What was being done (`connect`, `send`, `set option`, …).
    pub op: &'static str,
    /// The spec(s) involved.
    pub spec: String,
    /// libzmq's error.
    pub source: zmq::Error,
}

impl std::fmt::Display for ZmqPublishError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ZeroMQ {} on {}: {}", self.op, self.spec, self.source)
    }
}

impl std::error::Error for ZmqPublishError {}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Xpub,
    Push,
}

/// Connected publishing sockets.
pub struct ZmqPublisher {
    kind: Kind,
    /// One XPUB (connected to every spec), or one PUSH per spec.
    sockets: Vec<zmq::Socket>,
    specs: String,
    connected_at: Instant,
    tally: SubscriptionTally,
}

impl ZmqPublisher {
    /// One XPUB socket connected to every SUB input in `specs`; subscription frames start
    /// arriving as each connection is made.
    pub fn connect_xpub(specs: &[String]) -> Result<ZmqPublisher, ZmqPublishError> {
        let context = zmq::Context::new();
        let all = specs.join(",");
        let socket = new_socket(&context, zmq::XPUB, &all)?;
        let all_ref = all.as_str();
        let err = |op| move |source| fail(op, all_ref, source);
        // Every peer's subscribe, not only a channel's first: see xpub_subscriptions.rs.
        socket
            .set_xpub_verbose(true)
            .map_err(err("set xpub_verbose"))?;
        let poll_ms = millis(SUBSCRIPTION_POLL_INTERVAL);
        socket.set_rcvtimeo(poll_ms).map_err(err("set rcvtimeo"))?;
        for spec in specs {
            socket
                .connect(spec)
                .map_err(|source| fail("connect", spec, source))?;
        }
        Ok(ZmqPublisher::new(Kind::Xpub, vec![socket], all))
    }

    /// One PUSH socket per PULL input in `specs`.
    pub fn connect_push(specs: &[String]) -> Result<ZmqPublisher, ZmqPublishError> {
        let context = zmq::Context::new();
        let mut sockets = Vec::new();
        for spec in specs {
            let socket = new_socket(&context, zmq::PUSH, spec)?;
            socket
                .connect(spec)
                .map_err(|source| fail("connect", spec, source))?;
            sockets.push(socket);
        }
        Ok(ZmqPublisher::new(Kind::Push, sockets, specs.join(",")))
    }

    fn new(kind: Kind, sockets: Vec<zmq::Socket>, specs: String) -> ZmqPublisher {
        ZmqPublisher {
            kind,
            sockets,
            specs,
            connected_at: Instant::now(),
            tally: SubscriptionTally::default(),
        }
    }

    /// Reads subscription frames until `expected` peers are subscribed to `channel`, or
    /// until `deadline` (the caller decides what a short count means). A PUSH publisher
    /// has no subscriptions and returns at once.
    pub fn wait_subscribed(
        &mut self,
        channel: &str,
        expected: u64,
        deadline: Instant,
    ) -> Result<SubscribeWait, ZmqPublishError> {
        let channel = channel.as_bytes();
        while self.kind == Kind::Xpub && self.tally.peers(channel) < expected {
            if Instant::now() >= deadline {
                break;
            }
            let Some(socket) = self.sockets.first() else {
                break;
            };
            match socket.recv_bytes(0) {
                Ok(frame) => {
                    if self.tally.on_frame(&frame) == SubscriptionFrame::Other {
                        eprintln!("note: XPUB got a frame that is no subscription: {frame:?}");
                    }
                }
                Err(zmq::Error::EAGAIN) => {}
                Err(source) => return Err(fail("receive", &self.specs, source)),
            }
        }
        Ok(SubscribeWait {
            waited: self.connected_at.elapsed(),
            peers: self.tally.peers(channel),
            expected,
        })
    }

    /// Sends one item: `[channel, item]` on the XPUB, `[item]` on every PUSH socket.
    pub fn publish(&mut self, channel: &str, item: &[u8]) -> Result<(), ZmqPublishError> {
        for socket in &self.sockets {
            let sent = match self.kind {
                Kind::Xpub => socket.send_multipart([channel.as_bytes(), item], 0),
                Kind::Push => socket.send(item, 0),
            };
            sent.map_err(|source| fail("send", &self.specs, source))?;
        }
        Ok(())
    }
}

fn new_socket(
    context: &zmq::Context,
    kind: zmq::SocketType,
    spec: &str,
) -> Result<zmq::Socket, ZmqPublishError> {
    let socket = context
        .socket(kind)
        .map_err(|source| fail("socket", spec, source))?;
    let err = |op| move |source| fail(op, spec, source);
    socket
        .set_sndhwm(ZMQ_SEND_HWM_MESSAGES)
        .map_err(err("set sndhwm"))?;
    socket
        .set_sndtimeo(millis(ZMQ_SEND_TIMEOUT))
        .map_err(err("set sndtimeo"))?;
    // The run has waited for its deliveries before the sockets close: nothing to flush.
    socket.set_linger(0).map_err(err("set linger"))?;
    Ok(socket)
}

fn fail(op: &'static str, spec: &str, source: zmq::Error) -> ZmqPublishError {
    ZmqPublishError {
        op,
        spec: spec.to_string(),
        source,
    }
}

fn millis(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}
