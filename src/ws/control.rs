//! GRIP mode on a WebSocket: the `grip` extension, the message prefix, and control messages.
//!
//! Owns: `parse_grip_extension` for an origin's `Sec-WebSocket-Extensions`,
//! `classify_backend_message` (control, data with the prefix stripped, or dropped), and
//! `parse_control` for the JSON of a `c:` message (Pushpin 1.36's `WsControlMessage`).
//! Must not: act on a control message (subscribe, timers, meta); `shard/client_ws.rs` does.
//! Invariants: `c:` is checked before the message prefix, so a control message is never
//! delivered as data; a message without the prefix is dropped, never passed through.

use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::frame::MessageKind;
use crate::limits::WS_KEEP_ALIVE_TIMEOUT_DEFAULT;
use crate::limits::WS_SEND_DELAYED_TIMEOUT_DEFAULT;

/// What starts a control message in GRIP mode.
pub const CONTROL_PREFIX: &str = "c:";
/// The message prefix when the `grip` extension names none.
pub const MESSAGE_PREFIX_DEFAULT: &str = "m:";

/// The `grip` extension an origin accepted; its presence turns GRIP mode on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GripExtension {
    /// Prefix of data messages, stripped before delivery; empty disables prefixing.
    pub message_prefix: String,
}

/// What a message from a GRIP-mode origin is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackendMessage<'a> {
    /// A control message: the JSON after `c:`, for `parse_control`.
    Control(&'a str),
    /// A message for the client, its prefix stripped.
    Data(&'a [u8]),
    /// A message without the prefix, which Pushpin 1.36 drops.
    Dropped,
}

/// The frame type a `keep-alive` or `send-delayed` message is sent as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentKind {
    /// A text frame (the default).
    Text,
    /// A binary frame.
    Binary,
    /// A ping frame.
    Ping,
    /// A pong frame.
    Pong,
}

/// The message a `keep-alive` or `send-delayed` asks ringpin to send later.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelayedContent {
    /// Frame type, `message-type`.
    pub kind: ContentKind,
    /// Payload, from `content` (UTF-8) or `content-bin` (base64).
    pub content: Bytes,
}

/// When a keep-alive fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAliveMode {
    /// After `timeout` without any message to the client (the default).
    Idle,
    /// Every `timeout`, whatever else was sent.
    Interval,
}

/// A parsed control message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlMessage {
    /// Subscribe the connection to `channel` (the route's prefix is the caller's business).
    Subscribe {
        /// Non-empty channel name.
        channel: String,
        /// Filter names, empty when absent.
        filters: Vec<String>,
    },
    /// Unsubscribe from `channel`.
    Unsubscribe {
        /// Non-empty channel name.
        channel: String,
    },
    /// Close the origin side and keep the client.
    Detach,
    /// Set (`Some`) or delete (`None`) a subscription meta field.
    SetMeta {
        /// Field name.
        name: String,
        /// New value; absent deletes.
        value: Option<String>,
    },
    /// Send `content` after inactivity; `None` disables the keep-alive.
    KeepAlive {
        /// What to send.
        content: Option<DelayedContent>,
        /// How long to wait.
        timeout: Duration,
        /// Idle or interval.
        mode: KeepAliveMode,
    },
    /// Send `content` after `timeout` unless replaced; a newer one flushes the older.
    SendDelayed {
        /// What to send; `None` when neither content field is present.
        content: Option<DelayedContent>,
        /// How long to wait.
        timeout: Duration,
    },
    /// Send the pending delayed message now.
    FlushDelayed,
    /// The Fanout session feature (inert in Pushpin 1.36).
    Session {
        /// Session id.
        id: String,
    },
}

/// Why a control message was not understood; the caller logs it at debug and ignores it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    /// Not a JSON object.
    #[error("control message is not a json object")]
    NotAnObject,
    /// A `type` this version does not know.
    #[error("unknown control message type {name:?}")]
    UnknownType {
        /// The type sent.
        name: String,
    },
    /// A required field is absent.
    #[error("control message without {field}")]
    MissingField {
        /// The field name.
        field: &'static str,
    },
    /// A field has the wrong JSON type or an invalid value.
    #[error("control message field {field} is invalid")]
    InvalidField {
        /// The field name.
        field: &'static str,
    },
}

/// Parses the JSON of a control message (what follows `c:`).
pub fn parse_control(json: &str) -> Result<ControlMessage, ControlError> {
    let value: Value = serde_json::from_str(json).map_err(|_| ControlError::NotAnObject)?;
    let object = value.as_object().ok_or(ControlError::NotAnObject)?;
    let kind = required_string(object, "type")?;
    Ok(match kind.as_str() {
        "subscribe" => ControlMessage::Subscribe {
            channel: channel(object)?,
            filters: filters(object)?,
        },
        "unsubscribe" => ControlMessage::Unsubscribe {
            channel: channel(object)?,
        },
        "detach" => ControlMessage::Detach,
        "set-meta" => ControlMessage::SetMeta {
            name: required_string(object, "name")?,
            value: optional_string(object, "value")?,
        },
        "keep-alive" => ControlMessage::KeepAlive {
            content: delayed_content(object)?,
            timeout: timeout(object, WS_KEEP_ALIVE_TIMEOUT_DEFAULT)?,
            mode: keep_alive_mode(object)?,
        },
        "send-delayed" => ControlMessage::SendDelayed {
            content: delayed_content(object)?,
            timeout: timeout(object, WS_SEND_DELAYED_TIMEOUT_DEFAULT)?,
        },
        "flush-delayed" => ControlMessage::FlushDelayed,
        "session" => ControlMessage::Session {
            id: required_string(object, "id")?,
        },
        _ => return Err(ControlError::UnknownType { name: kind }),
    })
}

fn optional_string(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, ControlError> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ControlError::InvalidField { field }),
    }
}

fn required_string(
    object: &Map<String, Value>,
    field: &'static str,
) -> Result<String, ControlError> {
    optional_string(object, field)?.ok_or(ControlError::MissingField { field })
}

fn channel(object: &Map<String, Value>) -> Result<String, ControlError> {
    let channel = required_string(object, "channel")?;
    if channel.is_empty() {
        return Err(ControlError::InvalidField { field: "channel" });
    }
    Ok(channel)
}

fn filters(object: &Map<String, Value>) -> Result<Vec<String>, ControlError> {
    let invalid = ControlError::InvalidField { field: "filters" };
    match object.get("filters") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| item.as_str().map(str::to_string).ok_or(invalid.clone()))
            .collect(),
        Some(_) => Err(invalid),
    }
}

/// `content-bin` (base64) wins over `content`, as in Pushpin; neither means no content.
fn delayed_content(object: &Map<String, Value>) -> Result<Option<DelayedContent>, ControlError> {
    let kind = match optional_string(object, "message-type")?.as_deref() {
        None | Some("text") => ContentKind::Text,
        Some("binary") => ContentKind::Binary,
        Some("ping") => ContentKind::Ping,
        Some("pong") => ContentKind::Pong,
        Some(_) => {
            return Err(ControlError::InvalidField {
                field: "message-type",
            })
        }
    };
    let content = if let Some(encoded) = optional_string(object, "content-bin")? {
        let raw = STANDARD
            .decode(encoded.trim())
            .map_err(|_| ControlError::InvalidField {
                field: "content-bin",
            })?;
        Bytes::from(raw)
    } else if let Some(text) = optional_string(object, "content")? {
        Bytes::from(text)
    } else {
        return Ok(None);
    };
    Ok(Some(DelayedContent { kind, content }))
}

/// Whole seconds, 0 or more; a number with a fraction is truncated as Qt's `toInt` would.
fn timeout(object: &Map<String, Value>, default: Duration) -> Result<Duration, ControlError> {
    let invalid = ControlError::InvalidField { field: "timeout" };
    match object.get("timeout") {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(secs) if (0.0..=u32::MAX as f64).contains(&secs) => {
                Ok(Duration::from_secs(secs as u64))
            }
            _ => Err(invalid),
        },
        Some(_) => Err(invalid),
    }
}

fn keep_alive_mode(object: &Map<String, Value>) -> Result<KeepAliveMode, ControlError> {
    match optional_string(object, "mode")?.as_deref() {
        None | Some("idle") => Ok(KeepAliveMode::Idle),
        Some("interval") => Ok(KeepAliveMode::Interval),
        Some(_) => Err(ControlError::InvalidField { field: "mode" }),
    }
}

/// Sorts a message from a GRIP-mode origin (Pushpin 1.36, §6.2 of the behaviour notes):
/// a text message starting `c:` is control; any other text or binary message must start with
/// `message_prefix`, which is stripped, or it is dropped. An empty prefix accepts everything.
pub fn classify_backend_message<'a>(
    kind: MessageKind,
    payload: &'a [u8],
    message_prefix: &str,
) -> BackendMessage<'a> {
    if kind == MessageKind::Text {
        if let Some(json) = payload.strip_prefix(CONTROL_PREFIX.as_bytes()) {
            return match std::str::from_utf8(json) {
                Ok(json) => BackendMessage::Control(json),
                Err(_) => BackendMessage::Dropped,
            };
        }
    }
    match payload.strip_prefix(message_prefix.as_bytes()) {
        Some(data) => BackendMessage::Data(data),
        None => BackendMessage::Dropped,
    }
}

/// Finds the `grip` extension in a `Sec-WebSocket-Extensions` value (RFC 6455 §9.1 syntax:
/// comma-separated extensions, each `name *( ";" param [ "=" value ] )`, values a token or a
/// quoted string). Returns `None` when `grip` is absent.
pub fn parse_grip_extension(header: &str) -> Option<GripExtension> {
    for extension in split_outside_quotes(header, ',') {
        let mut params = split_outside_quotes(extension, ';').into_iter();
        let name = params.next().unwrap_or_default().trim();
        if !name.eq_ignore_ascii_case("grip") {
            continue;
        }
        let mut message_prefix = MESSAGE_PREFIX_DEFAULT.to_string();
        for param in params {
            let (key, value) = param.split_once('=').unwrap_or((param, ""));
            if key.trim().eq_ignore_ascii_case("message-prefix") {
                message_prefix = unquote(value.trim());
            }
        }
        return Some(GripExtension { message_prefix });
    }
    None
}

/// Splits `text` on `separator` where it is not inside a quoted string.
fn split_outside_quotes(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted, mut escaped) = (0, false, false);
    for (at, c) in text.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            c if c == separator && !quoted => {
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A token as is, or a quoted string without its quotes and backslash escapes.
fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_string();
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.extend(chars.next()),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests;
