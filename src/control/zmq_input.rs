//! The ZeroMQ PULL publish input (`push_in_spec`, PUSHPIN.md §3.3): what pubcontrol's and
//! gripcontrol's `zmq_push_uri` publish to.
//!
//! Owns: the PULL socket and the thread that reads it (a ZeroMQ socket belongs to one thread,
//! and libzmq blocks), decoding each message with `publish::zmq_item`, and handing accepted
//! items to the router's input inbox in batches.
//! Must not: route or sequence items (the router does, exactly as for `/publish/`) or let a
//! bad message stop the input: it is logged, at most once a second, and skipped.
//! Invariants: each message is one frame holding one item; the thread ends once shutdown was
//! requested and the socket has been quiet for `ZMQ_INPUT_POLL_INTERVAL`.

use crate::limits::{ZMQ_INPUT_BATCH_ITEMS_MAX, ZMQ_INPUT_POLL_INTERVAL, ZMQ_PULL_RECEIVE_HWM};
use crate::publish::zmq_item::parse_zmq_item;
use crate::router::inbox::InputInboxSender;
use crate::router::msg::InputMsg;
use crate::shard::Control;
use std::sync::Arc;
use std::thread::JoinHandle;

/// Why the PULL input could not start.
#[derive(Debug, thiserror::Error)]
#[error("ZeroMQ PULL input on {spec}: {source}")]
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
) -> Result<JoinHandle<()>, ZmqInputError> {
    let error = |source| ZmqInputError {
        spec: spec.to_owned(),
        source,
    };
    let context = zmq::Context::new();
    let socket = context.socket(zmq::PULL).map_err(error)?;
    socket.set_rcvhwm(ZMQ_PULL_RECEIVE_HWM).map_err(error)?;
    socket
        .set_rcvtimeo(ZMQ_INPUT_POLL_INTERVAL.as_millis() as i32)
        .map_err(error)?;
    socket.set_linger(0).map_err(error)?;
    socket.bind(spec).map_err(error)?;
    log::info!("ZeroMQ PULL publish input bound on {spec}");
    std::thread::Builder::new()
        .name("ringpin-zmq-pull".into())
        .spawn(move || {
            let _context = context;
            pull_loop(&socket, &inbox, &control);
        })
        .map_err(|e| {
            error(zmq::Error::from_raw(
                e.raw_os_error().unwrap_or(libc::EAGAIN),
            ))
        })
}

fn pull_loop(socket: &zmq::Socket, inbox: &InputInboxSender, control: &Control) {
    loop {
        let mut batch = Vec::new();
        let mut flags = 0;
        while batch.len() < ZMQ_INPUT_BATCH_ITEMS_MAX {
            match socket.recv_multipart(flags) {
                Ok(frames) => {
                    if let Some(item) = decode(&frames) {
                        batch.push(item);
                    }
                    // Take what else is waiting without blocking: one batch, one wake-up.
                    flags = zmq::DONTWAIT;
                }
                Err(zmq::Error::EAGAIN) => break,
                Err(err) => {
                    crate::log_limited!(Warn, "ZeroMQ PULL input: receive failed: {err}");
                    break;
                }
            }
        }
        if !batch.is_empty() && !inbox.send_blocking(InputMsg::Publish(batch)) {
            return;
        }
        if flags == 0 && control.is_shutting_down() {
            return;
        }
    }
}

/// One PULL message's item, or `None` (logged) when it is not one valid item.
fn decode(frames: &[Vec<u8>]) -> Option<crate::publish::item::PublishItem> {
    let [payload] = frames else {
        crate::log_limited!(
            Warn,
            "ZeroMQ PULL input: a message of {} frames skipped (one expected)",
            frames.len()
        );
        return None;
    };
    match parse_zmq_item(payload, None) {
        Ok(item) => Some(item),
        Err(err) => {
            crate::log_limited!(Warn, "ZeroMQ PULL input: an item skipped: {err}");
            None
        }
    }
}
