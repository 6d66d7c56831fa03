//! The ZeroMQ command socket (`command_spec`, PUSHPIN.md §3.5): a REP socket answering
//! Pushpin's ZRPC requests, which gripcontrol's `control_zmq_uri` uses to find the publish
//! sockets and to publish.
//!
//! Owns: the REP socket and its thread; answering `get-zmq-uris` from the configured specs,
//! and handing `publish` and `recover` to the router through the input inbox.
//! Must not: decode requests or encode replies itself (`publish::command` does), or leave a
//! request unanswered: a REP socket takes no new request until it replied, so every request,
//! however malformed, gets a reply.
//! Not built: `refresh` and `conncheck`, which need each shard's WebSocket-over-HTTP
//! connection ids; they are answered `success: false` with condition `not-supported`.

use super::zmq_input::ZmqInputError;
use crate::limits::ZMQ_INPUT_POLL_INTERVAL;
use crate::publish::command::{
    encode_failure, encode_success, parse_command, Command, CommandFailure,
};
use crate::publish::tnetstring::Tnet;
use crate::router::inbox::InputInboxSender;
use crate::router::msg::InputMsg;
use crate::shard::Control;
use crate::stats::InputCounters;
use std::sync::Arc;
use std::thread::JoinHandle;

/// The specs `get-zmq-uris` reports.
#[derive(Clone, Debug, Default)]
pub struct CommandUris {
    /// This socket's spec.
    pub command: String,
    /// The PULL input's spec, if any.
    pub publish_pull: Option<String>,
    /// The bound SUB input's spec, if any (a connected one is not reported, as in Pushpin).
    pub publish_sub: Option<String>,
}

/// Binds `uris.command` and starts the thread that answers it.
pub fn spawn_command_socket(
    uris: CommandUris,
    inbox: InputInboxSender,
    control: Arc<Control>,
    counters: Arc<InputCounters>,
) -> Result<JoinHandle<()>, ZmqInputError> {
    let spec = uris.command.clone();
    let error = |source| ZmqInputError {
        spec: spec.clone(),
        source,
    };
    let context = zmq::Context::new();
    let socket = context.socket(zmq::REP).map_err(error)?;
    let poll_ms = ZMQ_INPUT_POLL_INTERVAL.as_millis() as i32;
    socket.set_rcvtimeo(poll_ms).map_err(error)?;
    socket.set_linger(0).map_err(error)?;
    socket.bind(&spec).map_err(error)?;
    log::info!("ZeroMQ command socket bound on {spec}");
    std::thread::Builder::new()
        .name("ringpin-zmq-command".into())
        .spawn(move || {
            let _context = context;
            loop {
                match socket.recv_bytes(0) {
                    Ok(request) => {
                        let reply = answer(&request, &uris, &inbox, &counters);
                        if let Err(err) = socket.send(reply, 0) {
                            crate::log_limited!(Warn, "ZeroMQ command socket: reply failed: {err}");
                        }
                    }
                    Err(zmq::Error::EAGAIN) if control.is_shutting_down() => return,
                    Err(zmq::Error::EAGAIN) => {}
                    Err(err) => {
                        crate::log_limited!(Warn, "ZeroMQ command socket: receive failed: {err}");
                    }
                }
            }
        })
        .map_err(|e| {
            error(zmq::Error::from_raw(
                e.raw_os_error().unwrap_or(libc::EAGAIN),
            ))
        })
}

/// The reply to one request.
fn answer(
    request: &[u8],
    uris: &CommandUris,
    inbox: &InputInboxSender,
    counters: &InputCounters,
) -> Vec<u8> {
    let Some(request) = parse_command(request) else {
        counters.rejected.add(1);
        let failure = CommandFailure {
            condition: "bad-request",
            message: Some("request is not a tnetstring dictionary".to_owned()),
        };
        return encode_failure(None, &failure);
    };
    let id = request.id.as_deref();
    let command = match request.command {
        Ok(command) => command,
        Err(failure) => {
            counters.rejected.add(1);
            crate::log_limited!(Info, "ZeroMQ command refused: {}", failure.condition);
            return encode_failure(id, &failure);
        }
    };
    let queued = match command {
        Command::GetZmqUris => return encode_success(id, zmq_uris(uris)),
        Command::Publish(items) => {
            counters.received.add(items.len() as u64);
            inbox.send_blocking(InputMsg::Publish(items))
        }
        Command::Recover => inbox.send_blocking(InputMsg::Recover),
        Command::Refresh(_) | Command::ConnCheck(_) => {
            let failure = CommandFailure {
                condition: "not-supported",
                message: Some("not built in ringpin yet".to_owned()),
            };
            return encode_failure(id, &failure);
        }
    };
    if queued {
        encode_success(id, Tnet::Null)
    } else {
        let failure = CommandFailure {
            condition: "service-unavailable",
            message: Some("shutting down".to_owned()),
        };
        encode_failure(id, &failure)
    }
}

/// `get-zmq-uris`'s value: `command`, and `publish-pull`/`publish-sub` where they exist.
fn zmq_uris(uris: &CommandUris) -> Tnet {
    let bytes = |s: &str| Tnet::Bytes(s.as_bytes().to_vec());
    let mut pairs = vec![(b"command".to_vec(), bytes(&uris.command))];
    if let Some(pull) = &uris.publish_pull {
        pairs.push((b"publish-pull".to_vec(), bytes(pull)));
    }
    if let Some(sub) = &uris.publish_sub {
        pairs.push((b"publish-sub".to_vec(), bytes(sub)));
    }
    Tnet::Map(pairs)
}
