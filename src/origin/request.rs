//! The request ringpin sends to an origin, derived from the client's request.
//!
//! Owns: path rewriting, hop-by-hop and `Grip-*` removal, route `header=` props, `Grip-Sig`,
//! `Grip-Feature`, `X-Forwarded-For` and `X-Forwarded-Proto` (PUSHPIN.md §1.4).
//! Must not: do I/O or read the clock (the signature token is passed in).

use crate::config::{HttpTarget, Route, XffRule};
use crate::http::{Headers, RequestHead, Version};
use std::net::IpAddr;

/// The `Grip-Feature` value: only the GRIP features ringpin implements, in Pushpin's order
/// (1.41 added `link:gone`). Pushpin also lists `session`; it is added here when it is built,
/// so a backend never relies on a feature that is not there. The `filter:*` names are
/// `grip::Filter::ALL` (a test keeps them in step).
pub const GRIP_FEATURES: &str = "status, link:next, link:gone, filter:skip-self, \
    filter:skip-users, filter:require-sub, filter:build-id, filter:var-subst";

/// Request headers never forwarded to an origin. `Content-Length` is re-set from the body
/// ringpin actually sends.
const REMOVED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "accept-encoding",
    "content-encoding",
    "transfer-encoding",
    "content-length",
    "expect",
    "x-forwarded-protocol",
    "x-forwarded-proto",
];

/// How the request body travels to the origin.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// A body of this many bytes.
    Length(u64),
    /// A chunked body of unknown length.
    Chunked,
}

/// What the rewrite needs besides the client's request.
#[derive(Debug)]
pub struct ForwardContext<'a> {
    /// The selected route.
    pub route: &'a Route,
    /// The target being tried.
    pub target: &'a HttpTarget,
    /// The client's address.
    pub peer_ip: IpAddr,
    /// A fresh `Grip-Sig` token, or `None` for a `no_grip` route.
    pub grip_sig: Option<&'a str>,
    /// `X-Forwarded-For` rules.
    pub xff: &'a [XffRule],
    /// The body framing.
    pub body: BodyFraming,
    /// `X-Forwarded-Proto` for a client that came over TLS: `https`, or `wss` for a
    /// WebSocket (Pushpin's default `set_x_forwarded_protocol=proto-only`); `None` otherwise.
    pub forwarded_proto: Option<&'static str>,
}

/// Builds the origin request head.
pub fn build_origin_request(client: &RequestHead, ctx: &ForwardContext<'_>) -> RequestHead {
    let mut headers = client.headers.clone();
    let listed: Vec<String> = headers
        .get_all("connection")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| String::from_utf8_lossy(crate::http::headers::trim_ascii(t)).into_owned())
        .filter(|t| !t.is_empty())
        .collect();
    for name in listed
        .iter()
        .map(String::as_str)
        .chain(REMOVED.iter().copied())
    {
        headers.remove(name);
    }
    headers.retain(|f| !starts_with_ignore_case(&f.name, "grip-"));
    if let Some(host) = ctx
        .target
        .host_header
        .as_ref()
        .or(ctx.route.as_host.as_ref())
    {
        headers.set("Host", host.as_bytes());
    }
    for (name, value) in &ctx.route.set_headers {
        if value.is_empty() {
            headers.remove(name);
        } else {
            headers.set(name, value.as_bytes());
        }
    }
    apply_xff(&mut headers, ctx.xff, ctx.peer_ip);
    // The client's own X-Forwarded-Proto(col) was removed above (PUSHPIN.md §1.4 item 6).
    if let Some(proto) = ctx.forwarded_proto {
        headers.push("X-Forwarded-Proto", proto.as_bytes());
    }
    if let Some(token) = ctx.grip_sig {
        headers.push("Grip-Sig", token.as_bytes());
        headers.push("Grip-Feature", GRIP_FEATURES.as_bytes());
    }
    match ctx.body {
        BodyFraming::None => {
            if method_expects_body(&client.method) {
                headers.push("Content-Length", &b"0"[..]);
            }
        }
        BodyFraming::Length(n) => headers.push("Content-Length", n.to_string()),
        BodyFraming::Chunked => headers.push("Transfer-Encoding", &b"chunked"[..]),
    }
    RequestHead {
        method: client.method.clone(),
        target: ctx.route.rewrite_path(client.path()),
        version: Version::Http11,
        headers,
    }
}

fn method_expects_body(method: &str) -> bool {
    matches!(method, "POST" | "PUT" | "PATCH")
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// Applies the `X-Forwarded-For` rules in order: `truncate:N` keeps the last N entries,
/// `append` adds the client's address; the result is joined with ", " (PUSHPIN.md §1.4).
fn apply_xff(headers: &mut Headers, rules: &[XffRule], peer: IpAddr) {
    if rules.is_empty() {
        return;
    }
    let mut entries: Vec<String> = headers
        .get_joined("x-forwarded-for")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default();
    for rule in rules {
        match *rule {
            XffRule::Truncate(keep) => {
                let drop = entries.len().saturating_sub(keep);
                entries.drain(..drop);
            }
            XffRule::Append => entries.push(peer.to_string()),
        }
    }
    headers.remove("x-forwarded-for");
    if !entries.is_empty() {
        headers.push("X-Forwarded-For", entries.join(", "));
    }
}

#[cfg(test)]
mod tests;
