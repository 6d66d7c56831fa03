//! One ZeroMQ publish message as a `PublishItem` (PUSHPIN.md §3.3).
//!
//! Owns: the payload encodings Pushpin's handler accepts on its PULL and SUB sockets: `J`
//! followed by a JSON item, `T` followed by a tnetstring item, or a bare tnetstring (what
//! pubcontrol sends); and the channel that a SUB message carries in its first frame.
//! Must not: receive from sockets or validate items itself: a decoded item goes through the
//! same `item::parse_item` as an HTTP publish, so both inputs accept and refuse alike.
//! Invariants: tnetstring strings are raw bytes, so binary `content`/`body` and raw
//! `content-bin`/`body-bin` are turned into the base64 `*-bin` fields the JSON form uses, and
//! nothing is decoded lossily.

use std::borrow::Cow;

use base64::Engine as _;
use serde_json::{Map, Number, Value};

use super::error::PublishError;
use super::item::{parse_item, PublishItem};
use super::json::Json;
use super::tnetstring::{parse_tnetstring, Tnet, TnetError};

/// Why a ZeroMQ publish message was refused; the input logs it and goes on.
#[derive(Debug, thiserror::Error)]
pub enum ZmqItemError {
    /// The message has no payload.
    #[error("empty message")]
    Empty,
    /// `J` followed by something that is not JSON.
    #[error("invalid JSON item")]
    NotJson,
    /// A tnetstring that does not parse.
    #[error(transparent)]
    Tnet(#[from] TnetError),
    /// A tnetstring value with no JSON equivalent (a non-UTF-8 key or string where text is
    /// required).
    #[error("tnetstring field '{0}' is not valid UTF-8")]
    NotText(String),
    /// The SUB message's channel frame is not UTF-8, or the item names another channel.
    #[error("channel frame is not a valid channel for this item")]
    BadChannel,
    /// The item fails the same checks as an HTTP publish.
    #[error(transparent)]
    Item(#[from] PublishError),
}

/// Decodes `payload` into one item. `channel` is the first frame of a SUB message (the item
/// then need not name its channel); a PULL message passes `None`.
pub fn parse_zmq_item(payload: &[u8], channel: Option<&[u8]>) -> Result<PublishItem, ZmqItemError> {
    // A tnetstring is turned into a `Value` first; the item then borrows from it.
    let tnet_value: Value;
    let mut item = match payload.split_first() {
        None => return Err(ZmqItemError::Empty),
        Some((b'J', json)) => Json::parse(json).map_err(|_| ZmqItemError::NotJson)?,
        Some((b'T', tnet)) => {
            tnet_value = tnet_to_json(&parse_tnetstring(tnet)?, "")?;
            Json::from(&tnet_value)
        }
        Some(_) => {
            tnet_value = tnet_to_json(&parse_tnetstring(payload)?, "")?;
            Json::from(&tnet_value)
        }
    };
    if let (Some(channel), Json::Object(fields)) = (channel, &mut item) {
        let channel = std::str::from_utf8(channel).map_err(|_| ZmqItemError::BadChannel)?;
        match fields.get("channel") {
            Some(named) if named.as_str() != Some(channel) => return Err(ZmqItemError::BadChannel),
            _ => {}
        }
        fields.insert("channel", Json::String(Cow::Borrowed(channel)));
    }
    Ok(parse_item(&item)?)
}

/// The JSON form of a tnetstring value under `key` (the key that holds it, for the byte
/// fields' rules and for error messages).
pub(super) fn tnet_to_json(value: &Tnet, key: &str) -> Result<Value, ZmqItemError> {
    Ok(match value {
        Tnet::Bytes(bytes) => return Ok(bytes_to_json(bytes, key)?.1),
        Tnet::Int(n) => Value::Number(Number::from(*n)),
        Tnet::Float(f) => Number::from_f64(*f).map_or(Value::Null, Value::Number),
        Tnet::Bool(b) => Value::Bool(*b),
        Tnet::Null => Value::Null,
        Tnet::List(items) => Value::Array(
            items
                .iter()
                .map(|item| tnet_to_json(item, key))
                .collect::<Result<_, _>>()?,
        ),
        Tnet::Map(pairs) => {
            let mut object = Map::new();
            for (name, value) in pairs {
                let name = std::str::from_utf8(name)
                    .map_err(|_| ZmqItemError::NotText(String::from_utf8_lossy(name).into()))?;
                match value {
                    Tnet::Bytes(bytes) => {
                        let (name, value) = bytes_to_json(bytes, name)?;
                        object.insert(name, value);
                    }
                    other => {
                        object.insert(name.to_owned(), tnet_to_json(other, name)?);
                    }
                }
            }
            Value::Object(object)
        }
    })
}

/// A byte string under `key` as a JSON field: `*-bin` fields are base64-encoded, `content`
/// and `body` that are not UTF-8 become their `*-bin` field, anything else must be text.
fn bytes_to_json(bytes: &[u8], key: &str) -> Result<(String, Value), ZmqItemError> {
    let base64 = |b: &[u8]| Value::String(base64::engine::general_purpose::STANDARD.encode(b));
    if key.ends_with("-bin") {
        return Ok((key.to_owned(), base64(bytes)));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok((key.to_owned(), Value::String(text.to_owned()))),
        Err(_) if key == "content" || key == "body" => Ok((format!("{key}-bin"), base64(bytes))),
        Err(_) => Err(ZmqItemError::NotText(key.to_owned())),
    }
}

#[cfg(test)]
mod tests;
