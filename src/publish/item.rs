//! PublishItem: one validated item of a `/publish/` body (PUSHPIN.md §3.2).
//!
//! Owns: the item and format types, and `parse_item`, which turns one item's JSON into an
//! item or the first `PublishError`, in the order Pushpin 1.36 checks fields (`body.rs` walks
//! the body around the items).
//! Must not: encode wire bytes (see `format.rs`), sequence, or deliver.
//! Invariants: all or nothing, so one bad item refuses the whole body; formats may sit in
//! `formats` or at the item's top level (pubcontrol); `http-response` headers never include
//! `Grip-*`; no string that reaches a response head or a control frame can break it.

use super::error::PublishError;
use super::json::{Json, Object};
use crate::http::headers::{remove_hop_by_hop, Headers};
use crate::ws::frame::{is_sendable_close_code, CONTROL_PAYLOAD_BYTES_MAX};
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;

/// Standard base64, padding optional, for `content-bin` and `body-bin`.
const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Pushpin's names for an item and its formats in error messages.
const ITEM: &str = "publish item object";
const HTTP_RESPONSE: &str = "'http-response'";
const HTTP_STREAM: &str = "'http-stream'";
const WS_MESSAGE: &str = "'ws-message'";

/// The body of a published `http-response`.
#[derive(Clone, Debug, PartialEq)]
pub enum ResponseBody {
    /// The body bytes (`body` or `body-bin`).
    Bytes(Bytes),
    /// An RFC 6902 JSON Patch (a list) applied to the hold's original JSON body.
    Patch(serde_json::Value),
}

/// What a response hold (long-poll) receives.
#[derive(Clone, Debug, PartialEq)]
pub enum HttpResponseFormat {
    /// Answer the held request with this response.
    Send {
        /// Status code, 0-999, default 200.
        code: u16,
        /// Reason phrase; `None` means the standard one for `code`.
        reason: Option<String>,
        /// Headers, without `Grip-*`.
        headers: Headers,
        /// The body.
        body: ResponseBody,
    },
    /// Re-request the origin (the client is not answered from the item).
    Hint,
    /// Accepted, and does nothing for response holds (Pushpin 1.36).
    Close,
    /// Accepted, and does nothing for response holds (Pushpin 1.38).
    Refresh,
}

/// What a stream hold receives.
#[derive(Clone, Debug, PartialEq)]
pub enum HttpStreamFormat {
    /// Append `content` to the response body.
    Send {
        /// The bytes to append (`content` or `content-bin`).
        content: Bytes,
        /// Must equal the subscription's content filters, when present.
        content_filters: Option<Vec<String>>,
    },
    /// Fetch the next link.
    Hint,
    /// End the response cleanly.
    Close,
    /// Accepted, and does nothing for streams (Pushpin 1.38).
    Refresh,
}

/// The frame type of a published WebSocket message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsMessageKind {
    /// A text frame.
    Text,
    /// A binary frame.
    Binary,
    /// A ping frame.
    Ping,
    /// A pong frame.
    Pong,
}

/// What a WebSocket client receives.
#[derive(Clone, Debug, PartialEq)]
pub enum WsMessageFormat {
    /// Send one message.
    Send {
        /// Frame type.
        kind: WsMessageKind,
        /// Payload; at most 125 bytes for ping and pong.
        content: Bytes,
        /// Must equal the subscription's content filters, when present.
        content_filters: Option<Vec<String>>,
    },
    /// Close the connection.
    Close {
        /// Close code, if any.
        code: Option<u16>,
        /// Close reason, empty when not given.
        reason: String,
    },
    /// Ignored for WebSockets (Pushpin 1.36).
    Hint,
    /// Make a WebSocket-over-HTTP connection send its origin a request now (Pushpin 1.38),
    /// as the command socket's `refresh` does.
    Refresh,
}

/// One validated publish item.
#[derive(Clone, Debug, PartialEq)]
pub struct PublishItem {
    /// Channel name.
    pub channel: String,
    /// This item's id, for sequencing.
    pub id: Option<String>,
    /// The id of the item before it on the channel.
    pub prev_id: Option<String>,
    /// Publisher metadata for filters (`sender`, `skip_users`, ...), each key once, sorted (as in Pushpin's `QVariantMap`).
    pub meta: Vec<(String, String)>,
    /// Deliver without sequencing.
    pub no_seq: bool,
    /// For response holds.
    pub http_response: Option<HttpResponseFormat>,
    /// For stream holds.
    pub http_stream: Option<HttpStreamFormat>,
    /// For WebSocket clients.
    pub ws_message: Option<WsMessageFormat>,
}

/// A format's `action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Send,
    Hint,
    Close,
    Refresh,
}

/// One item, checked in Pushpin's order: channel, id, prev-id, formats, meta, size, no-seq.
/// The ZeroMQ inputs (`zmq_item.rs`) hand their decoded items here too.
pub fn parse_item(v: &Json<'_>) -> Result<PublishItem, PublishError> {
    let item = v
        .as_object()
        .ok_or(PublishError::NotAnObject { parent: ITEM })?;
    let channel = match item.get("channel") {
        Some(v) => string(v, ITEM, "channel")?.to_string(),
        None => {
            return Err(PublishError::MissingField {
                parent: ITEM,
                field: "channel",
            })
        }
    };
    let id = optional_string(item, ITEM, "id")?;
    let prev_id = optional_string(item, ITEM, "prev-id")?;
    // pubcontrol puts the formats at the item's top level instead of in `formats`.
    let formats = match item.get("formats") {
        Some(v) => v.as_object().ok_or_else(|| wrong_type(ITEM, "formats"))?,
        None => item,
    };
    let http_response = formats
        .get("http-response")
        .map(parse_http_response)
        .transpose()?;
    let http_stream = formats
        .get("http-stream")
        .map(parse_http_stream)
        .transpose()?;
    let ws_message = formats
        .get("ws-message")
        .map(parse_ws_message)
        .transpose()?;
    if http_response.is_none() && http_stream.is_none() && ws_message.is_none() {
        return Err(PublishError::NoFormats);
    }
    let meta = parse_meta(item)?;
    if let Some(size) = item.get("size") {
        // Not a whole number that fits i64 (a float, a string) is the wrong type, as in
        // Pushpin.
        match size.as_number().and_then(serde_json::Number::as_i64) {
            Some(n) if n >= 0 => {}
            Some(_) => return Err(invalid_value(ITEM, "size")),
            None => return Err(wrong_type(ITEM, "size")),
        }
    }
    let no_seq = match item.get("no-seq") {
        Some(v) => v.as_bool().ok_or_else(|| wrong_type(ITEM, "no-seq"))?,
        None => false,
    };
    Ok(PublishItem {
        channel,
        id,
        prev_id,
        meta,
        no_seq,
        http_response,
        http_stream,
        ws_message,
    })
}

/// `meta`: an object of strings.
fn parse_meta(item: &Object<'_>) -> Result<Vec<(String, String)>, PublishError> {
    let Some(v) = item.get("meta") else {
        return Ok(Vec::new());
    };
    let meta = v.as_object().ok_or_else(|| wrong_type(ITEM, "meta"))?;
    meta.entries()
        .into_iter()
        .map(|(key, value)| match value.as_str() {
            Some(text) => Ok((key.to_string(), text.to_string())),
            None => Err(wrong_type("'meta'", key)),
        })
        .collect()
}

/// `http-response`: send (code, reason, headers, body | body-bin | body-patch), hint, close.
fn parse_http_response(v: &Json<'_>) -> Result<HttpResponseFormat, PublishError> {
    let (format, action) = format_object(v, HTTP_RESPONSE)?;
    match action {
        Action::Hint => return Ok(HttpResponseFormat::Hint),
        Action::Close => return Ok(HttpResponseFormat::Close),
        Action::Refresh => return Ok(HttpResponseFormat::Refresh),
        Action::Send => {}
    }
    let code = match format.get("code") {
        Some(v) => number_in(v, HTTP_RESPONSE, "code", 999)? as u16,
        None => 200,
    };
    if !(200..=599).contains(&code) {
        return Err(PublishError::StatusNotFinal { code });
    }
    let reason = match optional_string(format, HTTP_RESPONSE, "reason")? {
        Some(r) if r.chars().any(char::is_control) => {
            return Err(invalid_value(HTTP_RESPONSE, "reason"))
        }
        Some(r) if !r.is_empty() => Some(r),
        _ => None,
    };
    let headers = match format.get("headers") {
        Some(v) => parse_headers(v)?,
        None => Headers::new(),
    };
    // Pushpin parses http-response content filters too; they are checked, not carried.
    content_filters(format, HTTP_RESPONSE)?;
    let body = if let Some(v) = format.get("body-bin") {
        ResponseBody::Bytes(base64(v, HTTP_RESPONSE, "body-bin")?)
    } else if let Some(v) = format.get("body") {
        ResponseBody::Bytes(Bytes::copy_from_slice(
            string(v, HTTP_RESPONSE, "body")?.as_bytes(),
        ))
    } else if let Some(v) = format.get("body-patch") {
        if !v.is_array() {
            return Err(wrong_type(HTTP_RESPONSE, "body-patch"));
        }
        ResponseBody::Patch(v.to_value())
    } else {
        return Err(PublishError::MissingContent {
            format: HTTP_RESPONSE,
            expected: "'body', 'body-bin', or 'body-patch'",
        });
    };
    Ok(HttpResponseFormat::Send {
        code,
        reason,
        headers,
        body,
    })
}

/// `headers`: `{"Name": "value"}` or `[["Name", "value"], ...]`; `Grip-*`, hop-by-hop and
/// framing fields are dropped.
fn parse_headers(v: &Json<'_>) -> Result<Headers, PublishError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    match v {
        Json::Object(map) => {
            for (name, value) in map.entries() {
                let value = value.as_str().ok_or_else(|| wrong_type("headers", name))?;
                pairs.push((name, value));
            }
        }
        Json::Array(list) => {
            for entry in list {
                let entry = entry
                    .as_array()
                    .ok_or(PublishError::ElementWrongType { list: "headers" })?;
                let [name, value] = entry else {
                    return Err(PublishError::HeaderPairLength);
                };
                let element = |e| PublishError::HeaderElementWrongType { element: e };
                let name = name.as_str().ok_or_else(|| element("name"))?;
                let value = value.as_str().ok_or_else(|| element("value"))?;
                pairs.push((name, value));
            }
        }
        _ => return Err(wrong_type(HTTP_RESPONSE, "headers")),
    }
    let mut headers = Headers::new();
    for (name, value) in pairs {
        let invalid = |e| PublishError::HeaderElementInvalid { element: e };
        if !is_token(name) {
            return Err(invalid("name"));
        }
        if value.contains(['\r', '\n', '\0']) {
            return Err(invalid("value"));
        }
        let is_grip = name.as_bytes()[..name.len().min(5)].eq_ignore_ascii_case(b"grip-");
        if !is_grip {
            headers.push(name, value.as_bytes());
        }
    }
    // ringpin frames the long-poll response itself: a published `Transfer-Encoding` or
    // `Content-Length` would contradict that framing (response splitting), and a
    // `Connection` or `Upgrade` would speak for a hop the publisher knows nothing about.
    remove_hop_by_hop(&mut headers);
    Ok(headers)
}

/// `http-stream`: send (content | content-bin, content-filters), hint, close.
fn parse_http_stream(v: &Json<'_>) -> Result<HttpStreamFormat, PublishError> {
    let (format, action) = format_object(v, HTTP_STREAM)?;
    match action {
        Action::Hint => return Ok(HttpStreamFormat::Hint),
        Action::Close => return Ok(HttpStreamFormat::Close),
        Action::Refresh => return Ok(HttpStreamFormat::Refresh),
        Action::Send => {}
    }
    let content_filters = content_filters(format, HTTP_STREAM)?;
    let content = match content(format, HTTP_STREAM)? {
        Some((content, _)) => content,
        None => {
            return Err(PublishError::MissingContent {
                format: HTTP_STREAM,
                expected: "'content' or 'content-bin'",
            })
        }
    };
    Ok(HttpStreamFormat::Send {
        content,
        content_filters,
    })
}

/// `ws-message`: send (type, content | content-bin, content-filters), close (code,
/// reason), hint.
fn parse_ws_message(v: &Json<'_>) -> Result<WsMessageFormat, PublishError> {
    let (format, action) = format_object(v, WS_MESSAGE)?;
    match action {
        Action::Hint => return Ok(WsMessageFormat::Hint),
        Action::Close => return parse_ws_close(format),
        Action::Refresh => return Ok(WsMessageFormat::Refresh),
        Action::Send => {}
    }
    let kind = match optional_string(format, WS_MESSAGE, "type")?.as_deref() {
        None => None,
        Some("text") => Some(WsMessageKind::Text),
        Some("binary") => Some(WsMessageKind::Binary),
        Some("ping") => Some(WsMessageKind::Ping),
        Some("pong") => Some(WsMessageKind::Pong),
        Some(other) => {
            return Err(PublishError::UnknownType {
                format: WS_MESSAGE,
                value: other.to_string(),
            })
        }
    };
    let content_filters = content_filters(format, WS_MESSAGE)?;
    let (kind, content) = match (content(format, WS_MESSAGE)?, kind) {
        (Some((content, _)), Some(kind)) => (kind, content),
        (Some((content, true)), None) => (WsMessageKind::Binary, content),
        (Some((content, false)), None) => (WsMessageKind::Text, content),
        (None, Some(kind @ (WsMessageKind::Ping | WsMessageKind::Pong))) => (kind, Bytes::new()),
        (None, _) => {
            return Err(PublishError::MissingContent {
                format: WS_MESSAGE,
                expected: "'content' or 'content-bin'",
            })
        }
    };
    let is_control = matches!(kind, WsMessageKind::Ping | WsMessageKind::Pong);
    if is_control && content.len() > CONTROL_PAYLOAD_BYTES_MAX {
        let field = if format.contains_key("content-bin") {
            "content-bin"
        } else {
            "content"
        };
        return Err(invalid_value(WS_MESSAGE, field));
    }
    Ok(WsMessageFormat::Send {
        kind,
        content,
        content_filters,
    })
}

/// `ws-message` close: an optional `code` that may be sent (RFC 6455 §7.4), and `reason`.
fn parse_ws_close(format: &Object<'_>) -> Result<WsMessageFormat, PublishError> {
    let code = match format.get("code") {
        Some(v) => Some(number_in(v, WS_MESSAGE, "code", u16::MAX as u64)? as u16),
        None => None,
    };
    if let Some(code) = code.filter(|&c| !is_sendable_close_code(c)) {
        return Err(PublishError::CloseCodeNotSendable { code });
    }
    let reason = optional_string(format, WS_MESSAGE, "reason")?.unwrap_or_default();
    Ok(WsMessageFormat::Close { code, reason })
}

/// A format's object and its `action` (default send).
fn format_object<'a, 'b>(
    v: &'a Json<'b>,
    name: &'static str,
) -> Result<(&'a Object<'b>, Action), PublishError> {
    let format = v
        .as_object()
        .ok_or(PublishError::NotAnObject { parent: name })?;
    let action = match optional_string(format, name, "action")?.as_deref() {
        None | Some("send") => Action::Send,
        Some("hint") => Action::Hint,
        Some("close") => Action::Close,
        Some("refresh") => Action::Refresh,
        Some(other) => {
            return Err(PublishError::UnknownAction {
                format: name,
                action: other.to_string(),
            })
        }
    };
    Ok((format, action))
}

/// `content-bin` (base64, preferred) or `content`; the flag says which one it was.
fn content(format: &Object<'_>, name: &'static str) -> Result<Option<(Bytes, bool)>, PublishError> {
    if let Some(v) = format.get("content-bin") {
        return Ok(Some((base64(v, name, "content-bin")?, true)));
    }
    match format.get("content") {
        Some(v) => Ok(Some((
            Bytes::copy_from_slice(string(v, name, "content")?.as_bytes()),
            false,
        ))),
        None => Ok(None),
    }
}

/// `content-filters`: an optional list of strings.
fn content_filters(
    format: &Object<'_>,
    name: &'static str,
) -> Result<Option<Vec<String>>, PublishError> {
    let Some(v) = format.get("content-filters") else {
        return Ok(None);
    };
    let list = v
        .as_array()
        .ok_or_else(|| wrong_type(name, "content-filters"))?;
    list.iter()
        .map(|f| {
            f.as_str()
                .map(str::to_string)
                .ok_or(PublishError::ElementWrongType {
                    list: "content-filters",
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// A whole JSON number from 0 to `max` (`5` or `5.0`); other numbers are out of range,
/// other types are the wrong type.
fn number_in(
    v: &Json<'_>,
    parent: &'static str,
    field: &str,
    max: u64,
) -> Result<u64, PublishError> {
    let Some(v) = v.as_number() else {
        return Err(wrong_type(parent, field));
    };
    let whole = v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=max as f64).contains(f))
            .map(|f| f as u64)
    });
    match whole {
        Some(n) if n <= max => Ok(n),
        _ => Err(invalid_value(parent, field)),
    }
}

/// An optional string field.
fn optional_string(
    obj: &Object<'_>,
    parent: &'static str,
    field: &str,
) -> Result<Option<String>, PublishError> {
    obj.get(field)
        .map(|v| string(v, parent, field).map(str::to_string))
        .transpose()
}

/// `v` as a string.
fn string<'a>(v: &'a Json<'_>, parent: &'static str, field: &str) -> Result<&'a str, PublishError> {
    v.as_str().ok_or_else(|| wrong_type(parent, field))
}

/// `v` as a base64 string, decoded.
fn base64(v: &Json<'_>, parent: &'static str, field: &str) -> Result<Bytes, PublishError> {
    BASE64_LENIENT
        .decode(string(v, parent, field)?)
        .map(Bytes::from)
        .map_err(|_| invalid_value(parent, field))
}

/// True for an RFC 9110 §5.6.2 token, the grammar of a header name.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// `parent contains 'field' with wrong type`.
fn wrong_type(parent: &'static str, field: &str) -> PublishError {
    PublishError::WrongType {
        parent,
        field: field.to_string(),
    }
}

/// `parent contains 'field' with invalid value`.
fn invalid_value(parent: &'static str, field: &str) -> PublishError {
    PublishError::InvalidValue {
        parent,
        field: field.to_string(),
    }
}

#[cfg(test)]
mod tests;
