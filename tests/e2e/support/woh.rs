//! A WebSocket-over-HTTP origin for the suite, built on the scripted `Backend`.
//!
//! Owns: its own event codec (`parse_events`, `encode_events`; not ringpin's), and
//! `woh_backend`, an origin that accepts OPEN (with the `grip` extension unless told not to)
//! and answers each event by a small script (`script_reply`), so tests drive it by what the
//! client sends.
//! Must not: share code with ringpin's codec.
//!
//! The script, per event received: `OPEN` -> `OPEN` (+ `WohOptions::open_events`);
//! `TEXT "sub:CH"` -> control message subscribing to CH; `TEXT "close:CODE:REASON"` -> `CLOSE`;
//! `TEXT "raw:X"` -> `TEXT X` (no prefix); `TEXT "ctl:JSON"` -> `TEXT "c:JSON"`; `TEXT "disconnect"` -> `DISCONNECT`; other text and
//! binary are echoed with the `m:` prefix; `CLOSE` is echoed; the rest get nothing.

use super::backend::{Backend, BackendRequest, BackendResponse};

/// One event: its type and content.
pub type Event = (String, Vec<u8>);

/// Parses a body of `TYPE hexlen\r\ncontent\r\n` / `TYPE\r\n` events; panics if malformed.
pub fn parse_events(body: &[u8]) -> Vec<Event> {
    let mut events = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("event line ends with CRLF");
        let line = String::from_utf8(rest[..line_end].to_vec()).expect("ascii line");
        rest = &rest[line_end + 2..];
        let (kind, content) = match line.split_once(' ') {
            Some((kind, len)) => {
                let len = usize::from_str_radix(len, 16).expect("hex length");
                let content = rest[..len].to_vec();
                assert_eq!(&rest[len..len + 2], b"\r\n", "content ends with CRLF");
                rest = &rest[len + 2..];
                (kind.to_string(), content)
            }
            None => (line, Vec::new()),
        };
        events.push((kind, content));
    }
    events
}

/// Encodes events; TEXT and BINARY always carry a length, others only when non-empty.
pub fn encode_events(events: &[Event]) -> Vec<u8> {
    let mut out = Vec::new();
    for (kind, content) in events {
        if content.is_empty() && kind != "TEXT" && kind != "BINARY" {
            out.extend_from_slice(format!("{kind}\r\n").as_bytes());
        } else {
            out.extend_from_slice(format!("{kind} {:x}\r\n", content.len()).as_bytes());
            out.extend_from_slice(content);
            out.extend_from_slice(b"\r\n");
        }
    }
    out
}

pub fn event(kind: &str, content: impl Into<Vec<u8>>) -> Event {
    (kind.to_string(), content.into())
}

/// A CLOSE event's content: the code, big-endian, then the reason.
pub fn close_content(code: u16, reason: &str) -> Vec<u8> {
    let mut content = code.to_be_bytes().to_vec();
    content.extend_from_slice(reason.as_bytes());
    content
}

/// A `c:` subscribe control message.
pub fn subscribe_message(channel: &str) -> String {
    format!(
        "c:{}",
        serde_json::json!({"type": "subscribe", "channel": channel})
    )
}

/// A `200 application/websocket-events` response carrying `events`.
pub fn events_response(events: &[Event]) -> BackendResponse {
    BackendResponse::new(200, "application/websocket-events", encode_events(events))
}

/// How the scripted origin accepts a connection.
#[derive(Clone, Debug)]
pub struct WohOptions {
    /// Answer OPEN with `Sec-WebSocket-Extensions: grip`.
    pub grip: bool,
    /// Extra headers on the OPEN response (`Set-Meta-*`, `Keep-Alive-Interval`, ...).
    pub open_headers: Vec<(String, String)>,
    /// Events sent after OPEN in the OPEN response.
    pub open_events: Vec<Event>,
}

impl Default for WohOptions {
    fn default() -> Self {
        WohOptions {
            grip: true,
            open_headers: Vec::new(),
            open_events: Vec::new(),
        }
    }
}

/// The script's answer to one event.
pub fn script_reply(kind: &str, content: &[u8], options: &WohOptions) -> Vec<Event> {
    let text = String::from_utf8_lossy(content).into_owned();
    match kind {
        "OPEN" => {
            let mut events = vec![event("OPEN", "")];
            events.extend(options.open_events.iter().cloned());
            events
        }
        "TEXT" => {
            if let Some(channel) = text.strip_prefix("sub:") {
                vec![event("TEXT", subscribe_message(channel))]
            } else if let Some(rest) = text.strip_prefix("close:") {
                let (code, reason) = rest.split_once(':').unwrap_or((rest, ""));
                let code = code.parse().expect("close code");
                vec![event("CLOSE", close_content(code, reason))]
            } else if let Some(raw) = text.strip_prefix("raw:") {
                vec![event("TEXT", raw)]
            } else if let Some(json) = text.strip_prefix("ctl:") {
                vec![event("TEXT", format!("c:{json}"))]
            } else if text == "disconnect" {
                vec![event("DISCONNECT", "")]
            } else {
                vec![event("TEXT", format!("m:{text}"))]
            }
        }
        "BINARY" => {
            let mut data = b"m:".to_vec();
            data.extend_from_slice(content);
            vec![event("BINARY", data)]
        }
        "CLOSE" => vec![event("CLOSE", content.to_vec())],
        _ => Vec::new(),
    }
}

/// Answers one WebSocket-over-HTTP request by the script.
pub fn scripted_response(request: &BackendRequest, options: &WohOptions) -> BackendResponse {
    let received = parse_events(&request.body);
    let mut reply = Vec::new();
    for (kind, content) in &received {
        reply.extend(script_reply(kind, content, options));
    }
    let mut response = events_response(&reply);
    if received.iter().any(|(kind, _)| kind == "OPEN") {
        if options.grip {
            response = response.header("Sec-WebSocket-Extensions", "grip");
        }
        for (name, value) in &options.open_headers {
            response = response.header(name, value);
        }
    }
    response
}

/// A scripted WebSocket-over-HTTP origin.
pub fn woh_backend(options: WohOptions) -> Backend {
    Backend::start(move |request| scripted_response(request, &options))
}

/// The events of every request the origin received, in order.
pub fn received_events(backend: &Backend) -> Vec<Event> {
    backend
        .requests()
        .iter()
        .flat_map(|r| parse_events(&r.body))
        .collect()
}
