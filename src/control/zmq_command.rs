//! The ZeroMQ command socket (`command_spec`, PUSHPIN.md §3.5): a REP socket answering
//! Pushpin's ZRPC requests, which gripcontrol's `control_zmq_uri` uses to find the publish
//! sockets and to publish.
//!
//! Owns: the REP socket and its thread; answering `get-zmq-uris` from the configured specs;
//! handing `publish` and `recover` to the router through the input inbox; and `conncheck` and
//! `refresh`, which go through the router to every shard (in order with the items before
//! them) and wait for each shard's answer.
//! Must not: decode requests or encode replies itself (`publish::command` does), or leave a
//! request unanswered: a REP socket takes no new request until it replied, so every request,
//! however malformed, gets a reply, and a shard that does not answer within
//! `COMMAND_SESSIONS_TIMEOUT` makes the reply `service-unavailable`.
//!
//! The ids `conncheck` and `refresh` know are the `Connection-Id`s of WebSocket-over-HTTP
//! connections, the only connection ids an origin sees (`shard::sessions`).

use super::zmq_input::ZmqInputError;
use crate::limits::{COMMAND_SESSIONS_TIMEOUT, ZMQ_INPUT_POLL_INTERVAL, ZMQ_MESSAGE_BYTES_MAX};
use crate::publish::command::{
    encode_failure, encode_success, parse_command, Command, CommandFailure, RefreshTarget,
};
use crate::publish::tnetstring::Tnet;
use crate::router::inbox::InputInboxSender;
use crate::router::msg::{InputMsg, SessionAsk, SessionQuery, SessionReply};
use crate::shard::Control;
use crate::stats::InputCounters;
use std::collections::HashSet;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

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

/// What the command socket's thread answers with.
#[derive(Debug)]
pub struct CommandContext {
    /// The specs `get-zmq-uris` reports.
    pub uris: CommandUris,
    /// Where commands go to the router.
    pub inbox: InputInboxSender,
    /// How many shards answer a `conncheck` or `refresh`.
    pub shards: usize,
    /// The command input's counters.
    pub counters: Arc<InputCounters>,
}

/// Binds `uris.command` and starts the thread that answers it.
pub fn spawn_command_socket(
    context: CommandContext,
    control: Arc<Control>,
) -> Result<JoinHandle<()>, ZmqInputError> {
    let command = context;
    let spec = command.uris.command.clone();
    let error = |source| ZmqInputError {
        spec: spec.clone(),
        source,
    };
    let context = zmq::Context::new();
    let socket = context.socket(zmq::REP).map_err(error)?;
    socket
        .set_maxmsgsize(ZMQ_MESSAGE_BYTES_MAX)
        .map_err(error)?;
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
                // Every frame is taken: REP answers only once the whole request is in.
                match socket.recv_multipart(0) {
                    Ok(frames) => {
                        let reply = match frames.as_slice() {
                            [request] => answer(request, &command),
                            _ => refuse_frames(frames.len(), &command.counters),
                        };
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
fn answer(request: &[u8], command: &CommandContext) -> Vec<u8> {
    let counters = &command.counters;
    let Some(request) = parse_command(request) else {
        counters.rejected.add(1);
        let failure = CommandFailure {
            condition: "bad-request",
            message: Some("request is not a tnetstring dictionary".to_owned()),
        };
        return encode_failure(None, &failure);
    };
    let id = request.id.as_deref();
    let parsed = match request.command {
        Ok(parsed) => parsed,
        Err(failure) => {
            counters.rejected.add(1);
            crate::log_limited!(Info, "ZeroMQ command refused: {}", failure.condition);
            return encode_failure(id, &failure);
        }
    };
    let outcome = match parsed {
        Command::GetZmqUris => Ok(zmq_uris(&command.uris)),
        Command::Publish(items) => {
            counters.received.add(items.len() as u64);
            queue(&command.inbox, InputMsg::Publish(items))
        }
        Command::Recover => queue(&command.inbox, InputMsg::Recover),
        Command::ConnCheck(ids) => conncheck(command, ids),
        Command::Refresh(target) => refresh(command, target),
    };
    match outcome {
        Ok(value) => encode_success(id, value),
        Err(failure) => encode_failure(id, &failure),
    }
}

/// The reply to a request of more than one frame (ZRPC requests are one tnetstring).
fn refuse_frames(frames: usize, counters: &InputCounters) -> Vec<u8> {
    counters.rejected.add(1);
    crate::log_limited!(
        Info,
        "ZeroMQ command of {frames} frames refused (one expected)"
    );
    let failure = CommandFailure {
        condition: "bad-request",
        message: Some(format!("a request is one frame, not {frames}")),
    };
    encode_failure(None, &failure)
}

/// Queues `msg` for the router; the reply carries no value.
fn queue(inbox: &InputInboxSender, msg: InputMsg) -> Result<Tnet, CommandFailure> {
    if inbox.send_blocking(msg) {
        Ok(Tnet::Null)
    } else {
        Err(shutting_down())
    }
}

/// `conncheck`: the ids, of those asked, that name a connection on some shard.
fn conncheck(command: &CommandContext, ids: Vec<Vec<u8>>) -> Result<Tnet, CommandFailure> {
    // An id that is not UTF-8 names no connection: every Connection-Id is a UUID.
    let ids: Vec<String> = (ids.into_iter())
        .filter_map(|id| String::from_utf8(id).ok())
        .collect();
    let found: HashSet<String> = ask_shards(command, SessionAsk::Check(ids.clone().into()))?
        .into_iter()
        .collect();
    let mut listed = HashSet::new();
    let connected = (ids.into_iter())
        .filter(|id| found.contains(id) && listed.insert(id.clone()))
        .map(|id| Tnet::Bytes(id.into_bytes()));
    Ok(Tnet::List(connected.collect()))
}

/// `refresh`: the named connection, or every named connection subscribed to the channel,
/// sends its origin a request now. A `cid` that names no connection is `item-not-found`, as
/// in Pushpin; a channel with none is not an error.
fn refresh(command: &CommandContext, target: RefreshTarget) -> Result<Tnet, CommandFailure> {
    match target {
        RefreshTarget::Connection(cid) => {
            let refreshed = match String::from_utf8(cid) {
                Ok(cid) => ask_shards(command, SessionAsk::RefreshConnection(cid))?,
                Err(_) => Vec::new(),
            };
            if refreshed.is_empty() {
                return Err(CommandFailure {
                    condition: "item-not-found",
                    message: None,
                });
            }
        }
        RefreshTarget::Channel(channel) => {
            ask_shards(command, SessionAsk::RefreshChannel(channel))?;
        }
    }
    Ok(Tnet::Null)
}

/// Asks every shard, through the router, and gathers their answers.
fn ask_shards(command: &CommandContext, ask: SessionAsk) -> Result<Vec<String>, CommandFailure> {
    let (answer, answers) = crossbeam_channel::unbounded();
    // A shard that answers after the deadline finds nobody waiting; its answer is dropped.
    let reply: SessionReply = Arc::new(move |ids| drop(answer.send(ids)));
    if !command
        .inbox
        .send_blocking(InputMsg::Sessions(SessionQuery { ask, reply }))
    {
        return Err(shutting_down());
    }
    let deadline = Instant::now() + COMMAND_SESSIONS_TIMEOUT;
    let mut matched = Vec::new();
    for _ in 0..command.shards {
        match answers.recv_deadline(deadline) {
            Ok(ids) => matched.extend(ids),
            Err(_) => {
                crate::log_limited!(Warn, "ZeroMQ command: a shard did not answer in time");
                return Err(CommandFailure {
                    condition: "service-unavailable",
                    message: Some("a shard did not answer".to_owned()),
                });
            }
        }
    }
    Ok(matched)
}

fn shutting_down() -> CommandFailure {
    CommandFailure {
        condition: "service-unavailable",
        message: Some("shutting down".to_owned()),
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
