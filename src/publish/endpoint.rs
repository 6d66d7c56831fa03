//! The publish endpoint's request logic (:5561), without the socket.
//!
//! Owns: routing `/`, `/publish`, `/recover` and ringpin's `/metrics`, `Accept`
//! negotiation, the 411 rule, and every reply text (PUSHPIN.md §3.1).
//! Must not: read sockets, enforce the body-size limit (the caller refuses bodies over
//! `limits::PUBLISH_BODY_BYTES_MAX` with `BODY_TOO_LARGE_TEXT` before reading them), render
//! metrics, or deliver items; it returns what to do as an `EndpointAction`.
//! Invariants: replies are byte-identical to Pushpin 1.36's; error bodies are always
//! `text/plain`; the reply is decided before any item is delivered, so `200 Published`
//! means accepted, not delivered.

use super::body::parse_items;
use super::item::PublishItem;

/// The 400 body for a request whose `Content-Length` exceeds the publish body limit.
pub const BODY_TOO_LARGE_TEXT: &str = "Request body too large.\n";

const TEXT_PLAIN: &str = "text/plain";
const APPLICATION_JSON: &str = "application/json";
/// Prometheus text exposition format 0.0.4.
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4";

/// A request to the publish endpoint, as the connection code read it.
#[derive(Debug)]
pub struct PublishRequest<'a> {
    /// Request method, as sent.
    pub method: &'a str,
    /// Request target, as sent (the query is part of it, as in Pushpin).
    pub path: &'a str,
    /// The `Accept` header, all fields joined with ", "; `None` when absent.
    pub accept: Option<&'a str>,
    /// True when the request had a `Content-Length`.
    pub has_content_length: bool,
    /// The whole body.
    pub body: &'a [u8],
}

/// What the caller must do after sending the reply.
#[derive(Debug)]
pub enum EndpointAction {
    /// Nothing.
    None,
    /// Hand these items to the router, in order.
    Publish(Vec<PublishItem>),
    /// Run the recover command (Pushpin §3.5).
    Recover,
    /// Fill the body with the Prometheus text of the current counters.
    Metrics,
    /// Send the status page.
    StatusPage,
    /// Serve the status events stream instead of a reply.
    StatusEvents,
}

/// The reply to send, with a `Content-Length`; the caller decides on keep-alive.
#[derive(Debug)]
pub struct EndpointReply {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: &'static str,
    /// `Content-Type` value.
    pub content_type: &'static str,
    /// Body text (empty for `Metrics`, which the caller fills).
    pub body: String,
    /// The `Allow` header value of a 405.
    pub allow: Option<&'static str>,
    /// What to do next.
    pub action: EndpointAction,
}

/// How a successful reply is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ReplyFormat {
    Text,
    Json,
}

/// Decides the reply to one publish-endpoint request.
pub fn handle(req: &PublishRequest<'_>) -> EndpointReply {
    // Pushpin 1.36's server wants a length on every request that may carry a body.
    let method_assumes_body = !matches!(req.method, "GET" | "HEAD" | "DELETE");
    if method_assumes_body && !req.has_content_length {
        return text(411, "Length Required", "Request requires Content-Length.\n");
    }
    let path = trim_one_slash(req.path);
    // ringpin's addition, answered whatever the Accept, so scrapers need no special header.
    if path == "/metrics" {
        return metrics(req.method);
    }
    if let Some(action) = status(path) {
        return match req.method {
            "GET" => EndpointReply {
                status: 200,
                reason: "OK",
                content_type: "text/html; charset=utf-8",
                body: String::new(),
                allow: None,
                action,
            },
            method => method_not_allowed(method, "GET"),
        };
    }
    let Some(format) = negotiate(req.accept) else {
        let body = "Not Acceptable. Supported formats are text/plain and application/json.\n";
        return text(406, "Not Acceptable", body);
    };
    match path {
        "/" => text(200, "OK", "Pushpin API\n"),
        "/publish" if req.method == "POST" => publish(req.body, format),
        "/recover" if req.method == "POST" => message("Updated", format, EndpointAction::Recover),
        "/publish" | "/recover" => method_not_allowed(req.method, "POST"),
        _ => text(404, "Not Found", "Not Found\n"),
    }
}

/// ringpin's live status page and its events stream (`control::status`), whatever the Accept
/// and the query (which may carry the page's `access_token`).
fn status(path: &str) -> Option<EndpointAction> {
    match trim_one_slash(path.split('?').next().unwrap_or(path)) {
        "/status" => Some(EndpointAction::StatusPage),
        "/status/events" => Some(EndpointAction::StatusEvents),
        _ => None,
    }
}

/// Parses the items and accepts them, or refuses the body with Pushpin's text.
fn publish(body: &[u8], format: ReplyFormat) -> EndpointReply {
    match parse_items(body) {
        Ok(items) => message("Published", format, EndpointAction::Publish(items)),
        Err(e) => text(400, "Bad Request", &format!("{e}\n")),
    }
}

/// `GET /metrics`: an empty Prometheus reply the caller fills.
fn metrics(method: &str) -> EndpointReply {
    if method != "GET" {
        return method_not_allowed(method, "GET");
    }
    EndpointReply {
        status: 200,
        reason: "OK",
        content_type: PROMETHEUS_TEXT,
        body: String::new(),
        allow: None,
        action: EndpointAction::Metrics,
    }
}

/// A success message as `text\n` or `{"message":"text"}\n`.
fn message(text: &str, format: ReplyFormat, action: EndpointAction) -> EndpointReply {
    let (content_type, body) = match format {
        ReplyFormat::Text => (TEXT_PLAIN, format!("{text}\n")),
        ReplyFormat::Json => {
            let json = serde_json::json!({ "message": text });
            (APPLICATION_JSON, format!("{json}\n"))
        }
    };
    EndpointReply {
        status: 200,
        reason: "OK",
        content_type,
        body,
        allow: None,
        action,
    }
}

/// 405 naming the method used.
fn method_not_allowed(method: &str, allow: &'static str) -> EndpointReply {
    let mut reply = text(
        405,
        "Method Not Allowed",
        &format!("Method not allowed: {method}.\n"),
    );
    reply.allow = Some(allow);
    reply
}

/// A `text/plain` reply with no action.
fn text(status: u16, reason: &'static str, body: &str) -> EndpointReply {
    EndpointReply {
        status,
        reason,
        content_type: TEXT_PLAIN,
        body: body.to_string(),
        allow: None,
        action: EndpointAction::None,
    }
}

/// `path` without one trailing `/`, except `/` itself (Pushpin 1.36).
fn trim_one_slash(path: &str) -> &str {
    match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    }
}

/// The reply format for `accept`: each comma-separated media range (parameters ignored)
/// that ringpin can serve sets the format, so the last one wins, as in Pushpin 1.36; no
/// `Accept` means text; an `Accept` naming nothing servable means 406.
fn negotiate(accept: Option<&str>) -> Option<ReplyFormat> {
    let Some(accept) = accept else {
        return Some(ReplyFormat::Text);
    };
    let mut format = None;
    for range in accept.split(',') {
        let media = range.split(';').next().unwrap_or_default().trim();
        let is = |name: &str| media.eq_ignore_ascii_case(name);
        if is("text/plain") || is("text/*") || is("*/*") || is("*") {
            format = Some(ReplyFormat::Text);
        } else if is("application/json") || is("application/*") {
            format = Some(ReplyFormat::Json);
        }
    }
    format
}

#[cfg(test)]
mod tests;
