//! The requests ringpin sends to a WebSocket origin, and what it keeps from their answers.
//!
//! Owns: the WebSocket-over-HTTP `POST` head (PUSHPIN.md §6.3: replayed handshake headers,
//! `Connection-Id`, `Meta-*`, the events content type), the handshake to a plain WebSocket
//! origin (§6.2, with `Sec-WebSocket-Extensions: grip`), and reading an origin's answer:
//! `Set-Meta-*`, `Keep-Alive-Interval`, the `grip` extension, the fields a 101 keeps.
//! Must not: do I/O or read the clock; the `Grip-Sig` token is passed in through
//! `ForwardContext` as for HTTP requests.

use std::time::Duration;

use super::request::{build_origin_request, BodyFraming, ForwardContext};
use crate::http::{Headers, RequestHead};
use crate::limits::WOH_KEEP_ALIVE_INTERVAL_MIN;
use crate::ws::session::set_meta_field;
use crate::ws::{parse_grip_extension, GripExtension};

/// The content type of WebSocket-over-HTTP bodies, both ways; a response must carry exactly
/// this value, without parameters (Pushpin 1.36).
pub const WOH_CONTENT_TYPE: &str = "application/websocket-events";

/// Client handshake fields never replayed to a WebSocket-over-HTTP origin (ringpin writes
/// its own `Accept`, `Content-Length`, `Connection-Id`, `Meta-*` and extensions).
const WOH_NOT_REPLAYED: &[&str] = &[
    "upgrade",
    "connection",
    "accept",
    "content-length",
    "connection-id",
    "sec-websocket-extensions",
];

/// The client's handshake as replayed on every WebSocket-over-HTTP request: a `POST` with the
/// client's fields minus the ones ringpin owns and any client `Meta-*` field.
pub fn woh_base_head(client: &RequestHead) -> RequestHead {
    let mut headers = client.headers.clone();
    for name in WOH_NOT_REPLAYED {
        headers.remove(name);
    }
    headers.retain(|f| !starts_with_ignore_case(&f.name, "meta-"));
    RequestHead {
        method: "POST".to_owned(),
        target: client.target.clone(),
        version: client.version,
        headers,
    }
}

/// One WebSocket-over-HTTP request head for a body of `body_bytes` bytes: `base` rewritten as
/// any origin request (`forward` carries the route, the target and a fresh `Grip-Sig`), plus
/// the events content type both ways, `Sec-WebSocket-Extensions: grip`, `Connection-Id` and
/// one `Meta-<Name>` per stored meta field.
pub fn build_woh_request(
    base: &RequestHead,
    forward: &ForwardContext<'_>,
    connection_id: &str,
    meta: &[(String, String)],
    body_bytes: usize,
    replayed_bytes: usize,
) -> RequestHead {
    let framing = ForwardContext {
        body: BodyFraming::Length(body_bytes as u64),
        ..*forward
    };
    let mut head = build_origin_request(base, &framing);
    let headers = &mut head.headers;
    headers.push("Sec-WebSocket-Extensions", &b"grip"[..]);
    headers.push("Accept", WOH_CONTENT_TYPE.as_bytes());
    headers.push("Content-Type", WOH_CONTENT_TYPE.as_bytes());
    headers.push("Connection-Id", connection_id.as_bytes());
    if replayed_bytes > 0 {
        headers.push("Content-Bytes-Replayed", replayed_bytes.to_string());
    }
    for (name, value) in meta {
        headers.push(format!("Meta-{name}"), value.as_bytes());
    }
    head
}

/// The opening handshake ringpin sends to a plain WebSocket origin: the client's request
/// rewritten as any origin request, with `Upgrade`, `Connection` and
/// `Sec-WebSocket-Extensions: grip` (the client's extensions are not forwarded).
pub fn build_ws_handshake(client: &RequestHead, forward: &ForwardContext<'_>) -> RequestHead {
    let framing = ForwardContext {
        body: BodyFraming::None,
        ..*forward
    };
    let mut head = build_origin_request(client, &framing);
    let headers = &mut head.headers;
    headers.remove("sec-websocket-extensions");
    headers.push("Upgrade", &b"websocket"[..]);
    headers.push("Connection", &b"Upgrade"[..]);
    headers.push("Sec-WebSocket-Extensions", &b"grip"[..]);
    head
}

/// True when a WebSocket-over-HTTP response may carry events: `200` with exactly the events
/// content type.
pub fn is_woh_events_response(status: u16, headers: &Headers) -> bool {
    status == 200
        && headers
            .get_str("content-type")
            .is_some_and(|v| v.trim() == WOH_CONTENT_TYPE)
}

/// The `grip` extension an origin's answer (a 101, or the OPEN response) accepted.
pub fn grip_extension(headers: &Headers) -> Option<GripExtension> {
    headers
        .get_all("sec-websocket-extensions")
        .filter_map(|v| std::str::from_utf8(v).ok())
        .find_map(parse_grip_extension)
}

/// `Set-Meta-<Name>: value` fields, in order: `Some(value)` sets, an empty value deletes.
pub fn set_meta_fields(headers: &Headers) -> Vec<(String, Option<String>)> {
    headers
        .iter()
        .filter(|f| starts_with_ignore_case(&f.name, "set-meta-"))
        .filter(|f| f.name.len() > "set-meta-".len())
        .map(|f| {
            let name = f.name["set-meta-".len()..].to_owned();
            let value = String::from_utf8_lossy(&f.value).trim().to_owned();
            (name, (!value.is_empty()).then_some(value))
        })
        .collect()
}

/// Applies `Set-Meta-*` changes to `meta` (names compared without case, within the meta
/// limits of `ws::set_meta_field`); returns how many were refused for a limit.
pub fn apply_set_meta(
    meta: &mut Vec<(String, String)>,
    changes: Vec<(String, Option<String>)>,
) -> usize {
    changes
        .into_iter()
        .filter(|(name, value)| !set_meta_field(meta, name, value.clone()))
        .count()
}

/// `Keep-Alive-Interval` in a response: `None` when absent (keep the current setting),
/// `Some(None)` to disable (zero, negative or invalid), else the interval, at least 20 s.
pub fn keep_alive_interval(headers: &Headers) -> Option<Option<Duration>> {
    let value = headers.get_str("keep-alive-interval")?;
    Some(match value.trim().parse::<i64>() {
        Ok(secs) if secs > 0 => {
            Some(Duration::from_secs(secs.unsigned_abs()).max(WOH_KEEP_ALIVE_INTERVAL_MIN))
        }
        _ => None,
    })
}

/// `Content-Bytes-Accepted: N` (Pushpin 1.41): how many content bytes of the request the
/// origin took; `None` (all of them) when absent or not a number of at least 0, as Pushpin
/// reads it.
pub fn content_bytes_accepted(headers: &Headers) -> Option<usize> {
    headers
        .get_str("content-bytes-accepted")?
        .trim()
        .parse::<usize>()
        .ok()
}

/// The fields of an OPEN response relayed in the client's 101: all but the body framing,
/// `Keep-Alive-Interval` and `Set-Meta-*` (`encode_switching_response` drops the rest).
pub fn switching_headers(headers: &Headers) -> Headers {
    let mut out = headers.clone();
    for name in ["content-type", "content-length", "keep-alive-interval"] {
        out.remove(name);
    }
    out.retain(|f| !starts_with_ignore_case(&f.name, "set-meta-"));
    out
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

#[cfg(test)]
mod tests;
