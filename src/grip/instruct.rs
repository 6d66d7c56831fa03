//! Instruction: what an origin's GRIP response tells ringpin to do with its client.
//!
//! Owns: detecting a GRIP response, reading every `Grip-*` header (PUSHPIN.md §2.2), and
//! building the response the client gets (§2.4); the `application/grip-instruct` JSON form
//! is read by `instruct_json.rs` on top of the headers.
//! Must not: hold connections, read the clock, or decide the 502 itself (`shard/` does).
//! Invariants: headers are parsed first and the JSON body only overrides them, as Pushpin
//! 1.36 does; `Grip-*`, `Connection`, `Keep-Alive`, `Content-Encoding`,
//! `Transfer-Encoding` and `Content-Length` never reach the client; response holds and
//! grip-instruct bodies are at most `GRIP_RESPONSE_BODY_BYTES_MAX` bytes.

use std::time::Duration;

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use bytes::Bytes;

use super::error::{invalid, InstructError};
use super::instruct_json;
use super::keep_alive::unescape_cstring;
use super::params::{parse_header_params, parse_header_piece, unquote, HeaderParam};
use crate::http::headers::{remove_hop_by_hop, Headers};
use crate::limits::{
    GRIP_HEADER_BYTES_MAX, GRIP_RESPONSE_BODY_BYTES_MAX, HOLD_TIMEOUT_DEFAULT, HOLD_TIMEOUT_MIN,
    KEEP_ALIVE_TIMEOUT_DEFAULT, KEEP_ALIVE_TIMEOUT_MIN, NEXT_LINK_TIMEOUT_DEFAULT,
};

/// The content type of the JSON instruction form.
const INSTRUCT_CONTENT_TYPE: &[u8] = b"application/grip-instruct";

/// Headers the client never sees from a GRIP response besides `Grip-*` (PUSHPIN.md §2.4):
/// ringpin frames the body itself.
const REMOVED_HEADERS: &[&str] = &[
    "connection",
    "keep-alive",
    "content-encoding",
    "transfer-encoding",
    "content-length",
];

/// Standard base64 that accepts missing padding, for keep-alive data and `*-bin` fields.
pub(super) const BASE64_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// How a held client is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HoldMode {
    /// Long-poll: one published `http-response` (or the timeout response) ends the request.
    Response,
    /// Streaming: the initial response is sent at once and published content is appended.
    Stream,
}

/// One channel a held client subscribes to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelSub {
    /// The channel name, with the route's `prefix=` already prepended.
    pub name: String,
    /// The last id the origin knows for this channel (`prev-id`), for sequencing.
    pub prev_id: Option<String>,
    /// Filter names in order (`filter=` parameters or JSON `filters`).
    pub filters: Vec<String>,
}

/// When keep-alive data is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeepAliveMode {
    /// After `timeout` without any write; every write restarts the timer.
    Idle,
    /// Every `timeout`, whatever else is written.
    Interval,
}

/// Data written to a stream hold to keep intermediaries from timing it out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeepAlive {
    /// The bytes to write; never empty, since an empty chunk would end a chunked body.
    pub data: Bytes,
    /// Period before jitter (see `keep_alive::jittered_period`); at least 1 s.
    pub timeout: Duration,
    /// Idle or fixed-interval timing.
    pub mode: KeepAliveMode,
}

/// A `Grip-Link: <URL>; rel=next` to fetch when the stream's content runs out (GRIP Next).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NextLink {
    /// The URL between `<` and `>`, relative to the client-facing request URI.
    pub url: String,
    /// How long the request to it may take.
    pub timeout: Duration,
}

/// The status line, headers and body the client gets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientResponse {
    /// Status code, 0-999.
    pub status: u16,
    /// Reason phrase, never empty.
    pub reason: String,
    /// Headers without `Grip-*` and the framing headers ringpin sets itself.
    pub headers: Headers,
    /// Body bytes.
    pub body: Bytes,
}

/// A parsed GRIP instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    /// The hold, if the client is to be held.
    pub hold: Option<HoldMode>,
    /// Channels to subscribe to, at most `subscriptions_max` of them.
    pub channels: Vec<ChannelSub>,
    /// Channels beyond `subscriptions_max` that were ignored (Pushpin logs a warning).
    pub channels_dropped: usize,
    /// Response holds: `Grip-Timeout`, default 55 s, minimum 5 s.
    pub timeout: Duration,
    /// Stream holds: keep-alive data and timing.
    pub keep_alive: Option<KeepAlive>,
    /// Subscription metadata for filters (`Grip-Set-Meta` or JSON `hold.meta`).
    pub meta: Vec<(String, String)>,
    /// The GRIP Next link, if any.
    pub next_link: Option<NextLink>,
    /// `Grip-Link: <URL>; rel=gone` (Pushpin 1.41): the URL, relative to the client-facing
    /// request URI, that ringpin POSTs to once the client's session ends.
    pub gone_link: Option<String>,
    /// What the client gets: the initial response of a stream hold, or the timeout response
    /// of a response hold, or the whole response without a hold. Grip-Status applied,
    /// Grip-Expose-Headers applied, and Grip-*, Connection, Keep-Alive, Content-Encoding,
    /// Transfer-Encoding, Content-Length removed.
    pub response: ClientResponse,
}

/// An instruction under construction: the headers' view, which the JSON form may override.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub(super) hold: Option<HoldMode>,
    pub(super) channels: Vec<ChannelSub>,
    pub(super) timeout: Option<Duration>,
    pub(super) keep_alive: Option<KeepAlive>,
    pub(super) meta: Vec<(String, String)>,
    pub(super) next_link: Option<NextLink>,
    pub(super) gone_link: Option<String>,
    /// `Grip-Status`: code and reason (empty when not given).
    pub(super) status: Option<(u16, String)>,
    /// `Grip-Expose-Headers`: names to keep; empty keeps all.
    pub(super) expose: Vec<String>,
}

/// True when the origin response carries GRIP: any `Grip-*` header, or a `Content-Type`
/// of `application/grip-instruct` (PUSHPIN.md §2.1).
pub fn is_grip_response(headers: &Headers) -> bool {
    headers.iter().any(|f| is_grip_header(&f.name)) || is_instruct_content_type(headers)
}

/// Reads a GRIP response into an `Instruction`.
///
/// `status` and `reason` are the origin's status line; `channel_prefix` is the route's
/// `prefix=`; channels beyond `subscriptions_max` are counted in `channels_dropped`.
pub fn parse_instruction(
    status: u16,
    reason: &str,
    headers: &Headers,
    body: Bytes,
    channel_prefix: &str,
    subscriptions_max: usize,
) -> Result<Instruction, InstructError> {
    let is_json = is_instruct_content_type(headers);
    if is_json && status != 200 {
        return Err(InstructError::InstructStatus { status });
    }
    let mut draft = parse_grip_headers(headers, channel_prefix)?;
    let response = if is_json {
        check_body_len(&body)?;
        instruct_json::apply(&body, &mut draft, channel_prefix)?
    } else {
        if draft.hold == Some(HoldMode::Response) {
            check_body_len(&body)?;
        }
        header_form_response(status, reason, headers, body, &draft)
    };
    Ok(finish(draft, response, subscriptions_max))
}

/// True for headers that are removed from what the client gets.
pub(super) fn is_removed_header(name: &str) -> bool {
    is_grip_header(name) || REMOVED_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Reads every `Grip-*` header into a draft.
fn parse_grip_headers(headers: &Headers, prefix: &str) -> Result<Draft, InstructError> {
    let mut draft = Draft::default();
    if let Some(v) = grip_value(headers, "Grip-Hold")? {
        draft.hold = Some(parse_hold(&v)?);
    }
    if let Some(v) = grip_value(headers, "Grip-Channel")? {
        draft.channels = parse_channels(&v, prefix)?;
    }
    if let Some(v) = grip_value(headers, "Grip-Timeout")? {
        draft.timeout = Some(parse_seconds("Grip-Timeout", &v)?);
    }
    // Pushpin 1.36 reads only the first Grip-Keep-Alive field, and does not split it on
    // commas, so the data may contain one.
    if let Some(v) = headers.get("Grip-Keep-Alive") {
        let v = checked_utf8("Grip-Keep-Alive", v.to_vec())?;
        draft.keep_alive = Some(parse_keep_alive(&v)?);
    }
    if let Some(v) = grip_value(headers, "Grip-Set-Meta")? {
        draft.meta = parse_meta(&v)?;
    }
    if let Some(v) = grip_value(headers, "Grip-Link")? {
        (draft.next_link, draft.gone_link) = parse_links(&v)?;
    }
    if let Some(v) = grip_value(headers, "Grip-Status")? {
        draft.status = parse_status(&v)?;
    }
    if let Some(v) = grip_value(headers, "Grip-Expose-Headers")? {
        draft.expose = v
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_string)
            .collect();
    }
    Ok(draft)
}

/// All fields named `name` joined with ", ", checked for length and UTF-8.
fn grip_value(headers: &Headers, name: &str) -> Result<Option<String>, InstructError> {
    let mut joined: Option<Vec<u8>> = None;
    for value in headers.get_all(name) {
        match joined.as_mut() {
            Some(all) => {
                all.extend_from_slice(b", ");
                all.extend_from_slice(value);
            }
            None => joined = Some(value.to_vec()),
        }
    }
    joined.map(|v| checked_utf8(name, v)).transpose()
}

/// `value` as text, if it is within `GRIP_HEADER_BYTES_MAX` and UTF-8.
fn checked_utf8(name: &str, value: Vec<u8>) -> Result<String, InstructError> {
    if value.len() > GRIP_HEADER_BYTES_MAX {
        return Err(InstructError::HeaderTooLong {
            header: name.to_string(),
            bytes: value.len(),
            bytes_max: GRIP_HEADER_BYTES_MAX,
        });
    }
    String::from_utf8(value).map_err(|e| {
        let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
        super::error::syntax(&text, "not valid UTF-8").in_header(name)
    })
}

/// `Grip-Hold: response | stream`, exactly (Pushpin 1.36 compares case-sensitively).
fn parse_hold(value: &str) -> Result<HoldMode, InstructError> {
    match value {
        "response" => Ok(HoldMode::Response),
        "stream" => Ok(HoldMode::Stream),
        _ => Err(invalid("Grip-Hold", value)),
    }
}

/// `Grip-Channel: name[; prev-id=ID][; filter=NAME]..., ...`.
fn parse_channels(value: &str, prefix: &str) -> Result<Vec<ChannelSub>, InstructError> {
    let pieces = parse_header_params(value).map_err(|e| e.in_header("Grip-Channel"))?;
    let mut channels = Vec::with_capacity(pieces.len());
    for piece in pieces {
        if piece.value.is_empty() {
            return Err(invalid("Grip-Channel", value));
        }
        let mut filters = Vec::new();
        for (name, filter) in &piece.params {
            match (name.as_str(), filter) {
                ("filter", Some(filter)) if !filter.is_empty() => filters.push(filter.clone()),
                ("filter", _) => return Err(invalid("Grip-Channel filter", value)),
                _ => {}
            }
        }
        channels.push(ChannelSub {
            name: format!("{prefix}{}", piece.value),
            prev_id: piece.get("prev-id").map(str::to_string),
            filters,
        });
    }
    Ok(channels)
}

/// A whole number of seconds, 0 to `i32::MAX` as Pushpin's `int` allows.
fn parse_seconds(label: &str, text: &str) -> Result<Duration, InstructError> {
    match text.trim().parse::<i32>() {
        Ok(secs) if secs >= 0 => Ok(Duration::from_secs(secs as u64)),
        _ => Err(invalid(label, text)),
    }
}

/// `Grip-Keep-Alive: DATA; format=raw|cstring|base64; timeout=N; mode=idle|interval`.
fn parse_keep_alive(value: &str) -> Result<KeepAlive, InstructError> {
    let piece = parse_header_piece(value).map_err(|e| e.in_header("Grip-Keep-Alive"))?;
    if piece.value.is_empty() {
        return Err(invalid("Grip-Keep-Alive", value));
    }
    let data = match piece.get("format").unwrap_or("") {
        "" | "raw" => piece.value.clone().into_bytes(),
        "cstring" => unescape_cstring(&piece.value)?,
        "base64" => BASE64_LENIENT
            .decode(piece.value.as_bytes())
            .map_err(|_| invalid("Grip-Keep-Alive base64", &piece.value))?,
        other => return Err(invalid("Grip-Keep-Alive format", other)),
    };
    if data.is_empty() {
        return Err(invalid("Grip-Keep-Alive", value));
    }
    let mode = match piece.get("mode").unwrap_or("") {
        "" | "idle" => KeepAliveMode::Idle,
        "interval" => KeepAliveMode::Interval,
        other => return Err(invalid("Grip-Keep-Alive mode", other)),
    };
    let timeout = if piece.has("timeout") {
        parse_seconds(
            "Grip-Keep-Alive timeout",
            piece.get("timeout").unwrap_or(""),
        )?
    } else {
        KEEP_ALIVE_TIMEOUT_DEFAULT
    };
    Ok(KeepAlive {
        data: Bytes::from(data),
        timeout: timeout.max(KEEP_ALIVE_TIMEOUT_MIN),
        mode,
    })
}

/// `Grip-Set-Meta: k1=v1, k2="v 2"`; a later key replaces an earlier one.
fn parse_meta(value: &str) -> Result<Vec<(String, String)>, InstructError> {
    let pieces = parse_header_params(value).map_err(|e| e.in_header("Grip-Set-Meta"))?;
    let mut meta = Vec::with_capacity(pieces.len());
    for HeaderParam { value: pair, .. } in pieces {
        let (key, raw) = pair.split_once('=').unwrap_or((pair.as_str(), ""));
        let key = key.trim();
        if key.is_empty() {
            return Err(invalid("Grip-Set-Meta", &pair));
        }
        let text = unquote(raw.trim()).map_err(|e| e.in_header("Grip-Set-Meta"))?;
        upsert(&mut meta, key, text);
    }
    Ok(meta)
}

/// Sets `key` to `value`, replacing an existing entry in place.
pub(super) fn upsert(meta: &mut Vec<(String, String)>, key: &str, value: String) {
    match meta.iter_mut().find(|(k, _)| k == key) {
        Some(entry) => entry.1 = value,
        None => meta.push((key.to_string(), value)),
    }
}

/// `Grip-Link: <URL>; rel=next[; timeout=N], <URL>; rel=gone, ...`: the last `rel=next` and
/// the last `rel=gone` win, other `rel`s are ignored, a link without parameters is skipped
/// (Pushpin 1.41), every URL is checked.
fn parse_links(value: &str) -> Result<(Option<NextLink>, Option<String>), InstructError> {
    let mut next = None;
    let mut gone = None;
    for piece in parse_header_params(value).map_err(|e| e.in_header("Grip-Link"))? {
        if piece.params.is_empty() {
            continue;
        }
        let url = piece
            .value
            .strip_prefix('<')
            .and_then(|v| v.strip_suffix('>'))
            .filter(|url| is_link_url(url))
            .ok_or_else(|| invalid("Grip-Link", &piece.value))?;
        match piece.get("rel") {
            Some("next") => {}
            Some("gone") => {
                gone = Some(url.to_string());
                continue;
            }
            _ => continue,
        }
        let timeout = if piece.has("timeout") {
            parse_seconds("Grip-Link timeout", piece.get("timeout").unwrap_or(""))?
        } else {
            NEXT_LINK_TIMEOUT_DEFAULT
        };
        next = Some(NextLink {
            url: url.to_string(),
            timeout,
        });
    }
    Ok((next, gone))
}

/// A URL reference fit for a request line: non-empty, no spaces or control characters.
fn is_link_url(url: &str) -> bool {
    !url.is_empty() && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `Grip-Status: CODE[ REASON]`, code 0-999; an empty value is ignored.
fn parse_status(value: &str) -> Result<Option<(u16, String)>, InstructError> {
    if value.is_empty() {
        return Ok(None);
    }
    let (code, reason) = value.split_once(' ').unwrap_or((value, ""));
    match code.parse::<u16>() {
        Ok(code) if code <= 999 => Ok(Some((code, reason.to_string()))),
        _ => Err(invalid("Grip-Status", value)),
    }
}

/// The client response of the header form: the origin's, with the GRIP rules applied.
fn header_form_response(
    status: u16,
    reason: &str,
    headers: &Headers,
    body: Bytes,
    draft: &Draft,
) -> ClientResponse {
    let (status, reason) = match &draft.status {
        Some((code, reason)) => (*code, reason.clone()),
        None => (status, reason.to_string()),
    };
    let mut headers = headers.clone();
    headers.retain(|f| {
        !is_removed_header(&f.name)
            && (draft.expose.is_empty()
                || draft.expose.iter().any(|e| e.eq_ignore_ascii_case(&f.name)))
    });
    ClientResponse {
        status,
        reason: or_standard_reason(status, reason),
        headers,
        body,
    }
}

/// `reason`, or the standard phrase for `status` when `reason` is empty.
pub(super) fn or_standard_reason(status: u16, reason: String) -> String {
    if reason.is_empty() {
        standard_reason(status).to_string()
    } else {
        reason
    }
}

/// Applies the limits and defaults that do not depend on the form.
fn finish(draft: Draft, mut response: ClientResponse, subscriptions_max: usize) -> Instruction {
    // The held or relayed response is framed by ringpin; an origin's framing or hop-by-hop
    // fields, in either form, would contradict it.
    remove_hop_by_hop(&mut response.headers);
    let mut channels = draft.channels;
    let channels_dropped = channels.len().saturating_sub(subscriptions_max);
    channels.truncate(subscriptions_max);
    Instruction {
        hold: draft.hold,
        channels,
        channels_dropped,
        timeout: draft
            .timeout
            .unwrap_or(HOLD_TIMEOUT_DEFAULT)
            .max(HOLD_TIMEOUT_MIN),
        keep_alive: draft.keep_alive,
        meta: draft.meta,
        next_link: draft.next_link,
        gone_link: draft.gone_link,
        response,
    }
}

/// Errors when a body that ringpin must buffer is over the limit.
fn check_body_len(body: &Bytes) -> Result<(), InstructError> {
    if body.len() > GRIP_RESPONSE_BODY_BYTES_MAX {
        return Err(InstructError::BodyTooLarge {
            bytes: body.len(),
            bytes_max: GRIP_RESPONSE_BODY_BYTES_MAX,
        });
    }
    Ok(())
}

/// True for a header name starting with `Grip-`, in any case.
fn is_grip_header(name: &str) -> bool {
    name.as_bytes()
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"grip-"))
}

/// True when `Content-Type`, before any `;`, is `application/grip-instruct`.
fn is_instruct_content_type(headers: &Headers) -> bool {
    headers.get("Content-Type").is_some_and(|v| {
        let media_type = v.split(|&b| b == b';').next().unwrap_or_default();
        crate::http::headers::trim_ascii(media_type).eq_ignore_ascii_case(INSTRUCT_CONTENT_TYPE)
    })
}

/// The standard phrase for `code`, or Pushpin's `Undefined Reason` for an unregistered one.
fn standard_reason(code: u16) -> &'static str {
    match crate::http::reason_phrase(code) {
        "" => "Undefined Reason",
        phrase => phrase,
    }
}

#[cfg(test)]
mod tests;
