//! The `application/grip-instruct` JSON body form of a GRIP instruction (PUSHPIN.md §2.3).
//!
//! Owns: reading `hold` (mode, channels, timeout, keep-alive, meta) and `response` (code,
//! reason, headers, body) on top of what the headers already said.
//! Must not: look at the origin's own headers or body beyond the JSON; `instruct.rs` has
//! already checked the status and the body size.
//! Invariants: the origin's headers and body are replaced by `response` (default 200, no
//! headers, empty body), but `Grip-Status` still sets the default status; JSON keep-alive
//! is always `Interval` (Pushpin 1.36's quirk); header names and values and the reason are
//! checked so that no JSON string can split the response head.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};

use super::error::InstructError;
use super::instruct::{
    is_removed_header, or_standard_reason, upsert, ChannelSub, ClientResponse, Draft, HoldMode,
    KeepAlive, KeepAliveMode, BASE64_LENIENT,
};
use crate::http::headers::Headers;
use crate::limits::{KEEP_ALIVE_TIMEOUT_DEFAULT, KEEP_ALIVE_TIMEOUT_MIN};

/// Applies the JSON instruction in `body` to `draft` and returns the client response.
pub(super) fn apply(
    body: &[u8],
    draft: &mut Draft,
    prefix: &str,
) -> Result<ClientResponse, InstructError> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| InstructError::JsonSyntax {
        detail: e.to_string(),
    })?;
    let root = object(&doc, "(root)")?;
    if let Some(hold) = root.get("hold") {
        apply_hold(object(hold, "hold")?, draft, prefix)?;
    }
    let (status, reason) = draft.status.clone().unwrap_or((200, String::new()));
    let mut response = ClientResponse {
        status,
        reason,
        headers: Headers::new(),
        body: Bytes::new(),
    };
    if let Some(v) = root.get("response") {
        apply_response(object(v, "response")?, &mut response)?;
    }
    response.reason = or_standard_reason(response.status, std::mem::take(&mut response.reason));
    Ok(response)
}

/// `hold`: mode (default response), channels (required), timeout, keep-alive, meta.
fn apply_hold(
    hold: &Map<String, Value>,
    draft: &mut Draft,
    prefix: &str,
) -> Result<(), InstructError> {
    draft.hold = Some(match hold.get("mode") {
        None => HoldMode::Response,
        Some(v) => match string(v, "hold.mode")? {
            "response" => HoldMode::Response,
            "stream" => HoldMode::Stream,
            _ => return Err(field("hold.mode", "must be \"response\" or \"stream\"")),
        },
    });
    let channels = hold
        .get("channels")
        .ok_or_else(|| field("hold.channels", "is required"))?;
    for (index, channel) in array(channels, "hold.channels")?.iter().enumerate() {
        draft.channels.push(parse_channel(channel, index, prefix)?);
    }
    if let Some(v) = hold.get("timeout") {
        draft.timeout = Some(seconds(v, "hold.timeout")?);
    }
    if let Some(v) = hold.get("keep-alive") {
        draft.keep_alive = parse_keep_alive(object(v, "hold.keep-alive")?)?;
    }
    if let Some(v) = hold.get("meta") {
        for (key, value) in object(v, "hold.meta")? {
            let value = string(value, &format!("hold.meta.{key}"))?;
            upsert(&mut draft.meta, key, value.to_string());
        }
    }
    Ok(())
}

/// `{"name": ..., "prev-id": ..., "filters": [...]}`.
fn parse_channel(v: &Value, index: usize, prefix: &str) -> Result<ChannelSub, InstructError> {
    let path = format!("hold.channels[{index}]");
    let channel = object(v, &path)?;
    let name = channel
        .get("name")
        .ok_or_else(|| field(format!("{path}.name"), "is required"))?;
    let name = string(name, &format!("{path}.name"))?;
    let prev_id = match channel.get("prev-id") {
        Some(v) => Some(string(v, &format!("{path}.prev-id"))?.to_string()),
        None => None,
    };
    let mut filters = Vec::new();
    if let Some(v) = channel.get("filters") {
        let list_path = format!("{path}.filters");
        for filter in array(v, &list_path)? {
            filters.push(string(filter, &list_path)?.to_string());
        }
    }
    Ok(ChannelSub {
        name: format!("{prefix}{name}"),
        prev_id,
        filters,
    })
}

/// `keep-alive`: `content-bin` (base64) or `content`, and `timeout`; empty data means none.
fn parse_keep_alive(ka: &Map<String, Value>) -> Result<Option<KeepAlive>, InstructError> {
    let data = if let Some(v) = ka.get("content-bin") {
        base64(v, "hold.keep-alive.content-bin")?
    } else if let Some(v) = ka.get("content") {
        string(v, "hold.keep-alive.content")?.as_bytes().to_vec()
    } else {
        Vec::new()
    };
    let timeout = match ka.get("timeout") {
        Some(v) => seconds(v, "hold.keep-alive.timeout")?,
        None => KEEP_ALIVE_TIMEOUT_DEFAULT,
    };
    // An empty write would end a chunked body, so empty keep-alive data is no keep-alive.
    if data.is_empty() {
        return Ok(None);
    }
    Ok(Some(KeepAlive {
        data: Bytes::from(data),
        timeout: timeout.max(KEEP_ALIVE_TIMEOUT_MIN),
        mode: KeepAliveMode::Interval,
    }))
}

/// `response`: code, reason, headers, and `body-bin` (base64) or `body`.
fn apply_response(
    v: &Map<String, Value>,
    response: &mut ClientResponse,
) -> Result<(), InstructError> {
    if let Some(code) = v.get("code") {
        response.status = match whole_number(code) {
            Some(code) if code <= 999 => code as u16,
            _ => return Err(field("response.code", "must be an integer from 0 to 999")),
        };
        // A code without a reason gets the standard phrase, not Grip-Status's reason.
        response.reason.clear();
    }
    if let Some(reason) = v.get("reason") {
        let reason = string(reason, "response.reason")?;
        if reason.chars().any(|c| c.is_control()) {
            return Err(field("response.reason", "contains a control character"));
        }
        if !reason.is_empty() {
            response.reason = reason.to_string();
        }
    }
    if let Some(headers) = v.get("headers") {
        response.headers = parse_headers(headers)?;
    }
    if let Some(body) = v.get("body-bin") {
        response.body = Bytes::from(base64(body, "response.body-bin")?);
    } else if let Some(body) = v.get("body") {
        response.body = Bytes::from(string(body, "response.body")?.as_bytes().to_vec());
    }
    Ok(())
}

/// `headers`: `{"Name": "value"}` or `[["Name", "value"], ...]`, without the removed ones.
fn parse_headers(v: &Value) -> Result<Headers, InstructError> {
    let mut pairs: Vec<(&str, &str)> = Vec::new();
    match v {
        Value::Object(map) => {
            for (name, value) in map {
                pairs.push((name, string(value, &format!("response.headers.{name}"))?));
            }
        }
        Value::Array(list) => {
            for (index, pair) in list.iter().enumerate() {
                let path = format!("response.headers[{index}]");
                match pair.as_array().map(Vec::as_slice) {
                    Some([name, value]) => {
                        pairs.push((string(name, &path)?, string(value, &path)?))
                    }
                    _ => return Err(field(path, "must be a [name, value] list")),
                }
            }
        }
        _ => return Err(field("response.headers", "must be an object or a list")),
    }
    let mut headers = Headers::new();
    for (name, value) in pairs {
        // RFC 9110 §5.5: no control character but HTAB, so strict clients can parse the head.
        let is_control = |b: u8| (b < 0x20 && b != b'\t') || b == 0x7f;
        if !is_token(name) || value.bytes().any(is_control) {
            return Err(field(
                format!("response.headers.{name}"),
                "is not a valid header",
            ));
        }
        if !is_removed_header(name) {
            headers.push(name, value.as_bytes());
        }
    }
    Ok(headers)
}

/// True for an RFC 9110 §5.6.2 token, the grammar of a header name.
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// A whole number of seconds, 0 to `i32::MAX` as Pushpin's `int` allows.
fn seconds(v: &Value, path: &str) -> Result<Duration, InstructError> {
    match whole_number(v) {
        Some(secs) if secs <= i32::MAX as u64 => Ok(Duration::from_secs(secs)),
        _ => Err(field(path, "must be a non-negative integer")),
    }
}

/// A non-negative whole JSON number (`5` or `5.0`).
fn whole_number(v: &Value) -> Option<u64> {
    v.as_u64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(f))
            .map(|f| f as u64)
    })
}

/// `v` as an object.
fn object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, InstructError> {
    v.as_object()
        .ok_or_else(|| field(path, "must be an object"))
}

/// `v` as a list.
fn array<'a>(v: &'a Value, path: &str) -> Result<&'a Vec<Value>, InstructError> {
    v.as_array().ok_or_else(|| field(path, "must be a list"))
}

/// `v` as a string.
fn string<'a>(v: &'a Value, path: &str) -> Result<&'a str, InstructError> {
    v.as_str().ok_or_else(|| field(path, "must be a string"))
}

/// `v` as a base64 string, decoded.
fn base64(v: &Value, path: &str) -> Result<Vec<u8>, InstructError> {
    BASE64_LENIENT
        .decode(string(v, path)?)
        .map_err(|_| field(path, "is not valid base64"))
}

/// A JSON field error.
fn field(path: impl Into<String>, problem: &'static str) -> InstructError {
    InstructError::JsonField {
        field: path.into(),
        problem,
    }
}
