//! The ZeroMQ command protocol (Pushpin's ZRPC over `command_spec`, PUSHPIN.md §3.5): one
//! tnetstring request `{id, method, args}`, one reply `{id, success, value | condition}`.
//!
//! Owns: `CommandRequest` (what was asked, validated), and the reply encoders.
//! Must not: carry out a command (the control service does, with the router), or do I/O.
//! Invariants: every request that parses as a tnetstring gets a reply, with the request's
//! `id` when it had one: a malformed request is answered `bad-request`, an unknown method
//! `method-not-found`, so a REQ client never waits forever.

use super::item::PublishItem;
use super::tnetstring::{encode_tnetstring, parse_tnetstring, Tnet};
use super::zmq_item::{tnet_to_json, ZmqItemError};
use crate::limits::CONNCHECK_IDS_MAX;

/// A command, with its arguments checked.
#[derive(Debug)]
pub enum Command {
    /// `get-zmq-uris`: the specs a client may publish and send commands to.
    GetZmqUris,
    /// `publish`: `args.items`, each validated like an HTTP publish's.
    Publish(Vec<PublishItem>),
    /// `recover`: forget every last id and refetch every hold that can recover.
    Recover,
    /// `refresh`: one WebSocket-over-HTTP connection, or every one subscribed to a channel.
    Refresh(RefreshTarget),
    /// `conncheck`: which of these connection ids are still connected.
    ConnCheck(Vec<Vec<u8>>),
}

/// What `refresh` names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshTarget {
    /// `args.cid`: one connection.
    Connection(Vec<u8>),
    /// `args.channel`: every WebSocket connection subscribed to it.
    Channel(String),
}

/// A request: its `id` (echoed in the reply) and what it asks, or why it cannot be done.
#[derive(Debug)]
pub struct CommandRequest {
    /// The request's `id`, if it sent one.
    pub id: Option<Vec<u8>>,
    /// The command, or the reply's failure condition and message.
    pub command: Result<Command, CommandFailure>,
}

/// A failed command: Pushpin's `condition` and an optional message for `value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandFailure {
    /// `bad-request`, `method-not-found`, `item-not-found`, ...
    pub condition: &'static str,
    /// Said to the client in the reply's `value`.
    pub message: Option<String>,
}

impl CommandFailure {
    fn bad_request(message: impl Into<String>) -> CommandFailure {
        CommandFailure {
            condition: "bad-request",
            message: Some(message.into()),
        }
    }
}

/// Decodes one request message; `None` when it is not even a tnetstring dictionary (there is
/// no `id` to answer with, and Pushpin drops such messages; the REP socket still needs a
/// reply, which the caller sends as a `bad-request` without an `id`).
pub fn parse_command(message: &[u8]) -> Option<CommandRequest> {
    let request = parse_tnetstring(message).ok()?;
    let Tnet::Map(_) = request else {
        return None;
    };
    let id = request
        .get("id")
        .and_then(Tnet::as_bytes)
        .map(<[u8]>::to_vec);
    let command = match request.get("method").and_then(Tnet::as_bytes) {
        None => Err(CommandFailure::bad_request("request has no method")),
        Some(method) => command(method, request.get("args")),
    };
    Some(CommandRequest { id, command })
}

fn command(method: &[u8], args: Option<&Tnet>) -> Result<Command, CommandFailure> {
    let arg = |name| args.and_then(|a| a.get(name));
    match method {
        b"get-zmq-uris" => Ok(Command::GetZmqUris),
        b"recover" => Ok(Command::Recover),
        b"publish" => publish_items(arg("items")).map(Command::Publish),
        b"refresh" => match (arg("cid"), arg("channel")) {
            (Some(Tnet::Bytes(cid)), _) => {
                Ok(Command::Refresh(RefreshTarget::Connection(cid.clone())))
            }
            (_, Some(Tnet::Bytes(channel))) => String::from_utf8(channel.clone())
                .map(|c| Command::Refresh(RefreshTarget::Channel(c)))
                .map_err(|_| CommandFailure::bad_request("channel is not UTF-8")),
            _ => Err(CommandFailure::bad_request("refresh needs cid or channel")),
        },
        b"conncheck" => match arg("ids") {
            Some(Tnet::List(ids)) if ids.len() > CONNCHECK_IDS_MAX => Err(
                CommandFailure::bad_request(format!("more than {CONNCHECK_IDS_MAX} ids")),
            ),
            Some(Tnet::List(ids)) => ids
                .iter()
                .map(|id| id.as_bytes().map(<[u8]>::to_vec))
                .collect::<Option<_>>()
                .map(Command::ConnCheck)
                .ok_or_else(|| CommandFailure::bad_request("ids must be byte strings")),
            _ => Err(CommandFailure::bad_request("conncheck needs a list of ids")),
        },
        _ => Err(CommandFailure {
            condition: "method-not-found",
            message: None,
        }),
    }
}

/// `args.items`: all or nothing, like an HTTP publish body.
fn publish_items(items: Option<&Tnet>) -> Result<Vec<PublishItem>, CommandFailure> {
    let Some(Tnet::List(items)) = items else {
        return Err(CommandFailure::bad_request("publish needs a list of items"));
    };
    items
        .iter()
        .map(|item| {
            let value = tnet_to_json(item, "").map_err(|e| e.to_string())?;
            super::item::parse_item(&super::json::Json::from(&value))
                .map_err(|e| ZmqItemError::from(e).to_string())
        })
        .collect::<Result<_, String>>()
        .map_err(CommandFailure::bad_request)
}

/// The reply to a request with `id`: `success: true` and `value`.
pub fn encode_success(id: Option<&[u8]>, value: Tnet) -> Vec<u8> {
    encode_reply(id, true, vec![(b"value".to_vec(), value)])
}

/// The reply to a request with `id`: `success: false`, the `condition` and any message.
pub fn encode_failure(id: Option<&[u8]>, failure: &CommandFailure) -> Vec<u8> {
    let mut fields = vec![(
        b"condition".to_vec(),
        Tnet::Bytes(failure.condition.as_bytes().to_vec()),
    )];
    if let Some(message) = &failure.message {
        fields.push((b"value".to_vec(), Tnet::Bytes(message.as_bytes().to_vec())));
    }
    encode_reply(id, false, fields)
}

fn encode_reply(id: Option<&[u8]>, success: bool, fields: Vec<(Vec<u8>, Tnet)>) -> Vec<u8> {
    let mut pairs = Vec::with_capacity(fields.len() + 2);
    if let Some(id) = id {
        pairs.push((b"id".to_vec(), Tnet::Bytes(id.to_vec())));
    }
    pairs.push((b"success".to_vec(), Tnet::Bool(success)));
    pairs.extend(fields);
    let mut out = Vec::new();
    encode_tnetstring(&Tnet::Map(pairs), &mut out);
    out
}

#[cfg(test)]
mod tests;
