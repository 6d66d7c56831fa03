//! GRIP Next links and `Grip-Last`, pure: where a `Grip-Link` points and what a link or
//! recovery request tells the origin (PUSHPIN.md §3.8, §5.3).
//!
//! Owns: resolving a link reference against the client-facing request URL (RFC 3986 §5.2,
//! `http` only), the `Grip-Last: CHANNEL; last-id=ID` header value (format and parse), and
//! the retry schedule of a failed link fetch.
//! Must not: do I/O, read the clock or draw random numbers (the jitter is passed in).
//! Invariants: a resolved URL has a non-empty host, a port, and a path starting with `/`,
//! with dot segments removed and no fragment; a `Grip-Last` value never contains a control
//! character, so a published id can never inject a header line into an origin request.

use crate::limits::LINK_FETCH_RETRIES_MAX;
use crate::limits::LINK_RETRY_DELAY_FIRST;
use std::time::Duration;

/// Port of an `http` URL without one.
const HTTP_PORT_DEFAULT: u16 = 80;

/// Why a link reference or a `Grip-Last` value was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// The client request has no usable authority (no `Host`, or a malformed one).
    #[error("client request has no usable host: {host:?}")]
    NoBaseHost {
        /// The `Host` value or absolute-form authority seen, if any.
        host: String,
    },
    /// The reference names a scheme ringpin cannot fetch.
    #[error("unsupported scheme in link {url:?}")]
    UnsupportedScheme {
        /// The reference as given.
        url: String,
    },
    /// The reference's authority is empty, has user info, or a bad port.
    #[error("invalid authority in link {url:?}")]
    BadAuthority {
        /// The reference as given.
        url: String,
    },
    /// A channel or id that cannot travel in a header.
    #[error("Grip-Last value for channel {channel:?} contains a control character")]
    ControlCharacter {
        /// The channel whose entry was refused.
        channel: String,
    },
    /// A `Grip-Last` value that does not read as `CHANNEL; last-id=ID`.
    #[error("malformed Grip-Last value {value:?}")]
    BadGripLast {
        /// The offending piece.
        value: String,
    },
}

/// An absolute `http` or `https` URL, split the way ringpin needs it for an origin request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkUrl {
    /// `https`: fetched over TLS.
    pub tls: bool,
    /// Host name or address, lower-cased; IPv6 literals keep their brackets.
    pub host: String,
    /// The port, 80 (443 for `https`) when the URL has none.
    pub port: u16,
    /// Path and query, starting with `/`; never a fragment.
    pub path_and_query: String,
}

impl LinkUrl {
    /// The `Host` header value: `host`, with `:port` unless it is the scheme's default.
    pub fn host_header(&self) -> String {
        if self.port == default_port(self.tls) {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// True when `other` names the same scheme, host and port (PUSHPIN.md §5.3: such a link
    /// is routed through the client request's route).
    pub fn same_origin(&self, other: &LinkUrl) -> bool {
        self.tls == other.tls && self.host == other.host && self.port == other.port
    }
}

/// 80 for `http`, 443 for `https` (RFC 9110 §4.2).
fn default_port(tls: bool) -> u16 {
    if tls {
        443
    } else {
        HTTP_PORT_DEFAULT
    }
}

/// `rest` after `http://` (plain) or `https://` (TLS).
fn strip_http_scheme(url: &str) -> Option<(&str, bool)> {
    (strip_scheme(url, "http").map(|rest| (rest, false)))
        .or_else(|| strip_scheme(url, "https").map(|rest| (rest, true)))
}

/// The client-facing URL of a plain-HTTP request (`request_url_on` with `tls` false).
pub fn request_url(target: &str, host_header: Option<&str>) -> Result<LinkUrl, LinkError> {
    request_url_on(target, host_header, false)
}

/// The client-facing URL of a request: `http://`, or `https://` for a TLS client, + its
/// authority + its target's path.
///
/// `target` is the request target as sent; an absolute-form target supplies the authority,
/// otherwise `host_header` does.
pub fn request_url_on(
    target: &str,
    host_header: Option<&str>,
    tls: bool,
) -> Result<LinkUrl, LinkError> {
    if let Some((rest, tls)) = strip_http_scheme(target) {
        return absolute(strip_fragment(rest), target, tls).map_err(|_| LinkError::NoBaseHost {
            host: target.to_owned(),
        });
    }
    let host = host_header.unwrap_or_default().trim();
    let (host, port) =
        parse_authority(host, default_port(tls)).ok_or_else(|| LinkError::NoBaseHost {
            host: host.to_owned(),
        })?;
    let path = if target.starts_with('/') { target } else { "/" };
    Ok(LinkUrl {
        tls,
        host,
        port,
        path_and_query: strip_fragment(path).to_owned(),
    })
}

/// Resolves a `Grip-Link` reference against `base` (RFC 3986 §5.2).
pub fn resolve_link(base: &LinkUrl, reference: &str) -> Result<LinkUrl, LinkError> {
    let reference = strip_fragment(reference.trim());
    if let Some((rest, tls)) = strip_http_scheme(reference) {
        return absolute(rest, reference, tls);
    }
    if has_scheme(reference) {
        return Err(LinkError::UnsupportedScheme {
            url: reference.to_owned(),
        });
    }
    if let Some(rest) = reference.strip_prefix("//") {
        return absolute(rest, reference, base.tls);
    }
    let (base_path, base_query) = split_query(&base.path_and_query);
    let path_and_query = if reference.is_empty() {
        base.path_and_query.clone()
    } else if let Some(query) = reference.strip_prefix('?') {
        format!("{base_path}?{query}")
    } else {
        let (path, query) = split_query(reference);
        let merged = if path.starts_with('/') {
            path.to_owned()
        } else if path.is_empty() {
            base_path.to_owned()
        } else {
            let dir = &base_path[..base_path.rfind('/').map_or(0, |at| at + 1)];
            format!("{dir}{path}")
        };
        let query = if path.is_empty() && query.is_none() {
            base_query
        } else {
            query
        };
        join_query(&remove_dot_segments(&merged), query)
    };
    Ok(LinkUrl {
        tls: base.tls,
        host: base.host.clone(),
        port: base.port,
        path_and_query,
    })
}

/// One `Grip-Last` header value, `CHANNEL; last-id=ID`; the id is quoted when it is not a
/// plain token.
pub fn encode_grip_last(channel: &str, last_id: &str) -> Result<String, LinkError> {
    if channel.chars().chain(last_id.chars()).any(char::is_control) {
        return Err(LinkError::ControlCharacter {
            channel: channel.to_owned(),
        });
    }
    let plain = !last_id.is_empty() && last_id.bytes().all(is_token_byte);
    if plain {
        return Ok(format!("{channel}; last-id={last_id}"));
    }
    let mut quoted = String::with_capacity(last_id.len() + 2);
    for c in last_id.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    Ok(format!("{channel}; last-id=\"{quoted}\""))
}

/// Reads a `Grip-Last` header value (several entries may be comma-joined) back into
/// `(channel, last id)` pairs; what an origin does with the header.
pub fn parse_grip_last(value: &str) -> Result<Vec<(String, String)>, LinkError> {
    let bad = |piece: &str| LinkError::BadGripLast {
        value: piece.to_owned(),
    };
    let pieces = super::params::parse_header_params(value).map_err(|_| bad(value))?;
    pieces
        .into_iter()
        .map(|piece| match piece.get("last-id") {
            Some(id) if !piece.value.is_empty() => Ok((piece.value.clone(), id.to_owned())),
            _ => Err(bad(&piece.value)),
        })
        .collect()
}

/// The wait before retry number `attempt` (0-based) of a failed link fetch, plus `jitter`
/// (PUSHPIN.md §5.3 adds 0-1 s); `None` once `LINK_FETCH_RETRIES_MAX` retries were made.
pub fn retry_delay(attempt: u32, jitter: Duration) -> Option<Duration> {
    (attempt < LINK_FETCH_RETRIES_MAX).then(|| LINK_RETRY_DELAY_FIRST * (1 << attempt) + jitter)
}

/// The retry state of one link fetch (PUSHPIN.md §5.3): only failures of the exchange itself
/// are retried, at most `LINK_FETCH_RETRIES_MAX` times, after `retry_delay`; a shutting-down
/// shard retries nothing. The fetching task only sleeps for what this returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkRetry {
    attempt: u32,
}

impl LinkRetry {
    /// A fetch failed: the wait before the next attempt, or `None` to give up (`retryable`
    /// false: the answer was received and refused; the retries are used up; shutdown).
    pub fn on_failure(
        &mut self,
        retryable: bool,
        shutting_down: bool,
        jitter: Duration,
    ) -> Option<Duration> {
        if !retryable || shutting_down {
            return None;
        }
        let delay = retry_delay(self.attempt, jitter)?;
        self.attempt += 1;
        Some(delay)
    }
}

/// `rest` after `scheme://`, compared without case.
/// Compares bytes, not `str` slices: a multi-byte character may straddle the scheme's end.
fn strip_scheme<'a>(url: &'a str, scheme: &str) -> Option<&'a str> {
    let end = scheme.len() + 3;
    let bytes = url.as_bytes();
    let matches = bytes.len() >= end
        && bytes[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
        && &bytes[scheme.len()..end] == b"://";
    // `end` follows an ASCII '/', so it is a character boundary.
    matches.then(|| &url[end..])
}

/// True when `reference` starts with `scheme:` (RFC 3986 §3.1).
fn has_scheme(reference: &str) -> bool {
    let Some(colon) = reference.find(':') else {
        return false;
    };
    let name = &reference[..colon];
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// An absolute URL from the part after `//`: authority, then path and query.
fn absolute(rest: &str, whole: &str, tls: bool) -> Result<LinkUrl, LinkError> {
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (host, port) =
        parse_authority(authority, default_port(tls)).ok_or_else(|| LinkError::BadAuthority {
            url: whole.to_owned(),
        })?;
    let (path, query) = split_query(tail);
    let path = if path.is_empty() { "/" } else { path };
    Ok(LinkUrl {
        tls,
        host,
        port,
        path_and_query: join_query(&remove_dot_segments(path), query),
    })
}

/// `host[:port]` or `[v6]:port`; no user info, a non-empty host, a valid port.
fn parse_authority(authority: &str, default_port: u16) -> Option<(String, u16)> {
    if authority.is_empty() || authority.contains(['@', ' ', '/', '\\']) {
        return None;
    }
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let close = v6.find(']')?;
        let port = v6[close + 1..].strip_prefix(':');
        if port.is_none() && close + 1 != v6.len() {
            return None;
        }
        (&authority[..close + 2], port)
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        None | Some("") => default_port,
        Some(port) => port.parse::<u16>().ok().filter(|&p| p != 0)?,
    };
    if host.is_empty() || host.contains(':') && !host.starts_with('[') {
        return None;
    }
    Some((host.to_ascii_lowercase(), port))
}

fn strip_fragment(url: &str) -> &str {
    url.split_once('#').map_or(url, |(before, _)| before)
}

fn split_query(path_and_query: &str) -> (&str, Option<&str>) {
    match path_and_query.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (path_and_query, None),
    }
}

fn join_query(path: &str, query: Option<&str>) -> String {
    match query {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    }
}

/// RFC 3986 §5.2.4 on an absolute path; the result starts with `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let last = segments.len().saturating_sub(1);
    for (at, segment) in segments.iter().enumerate() {
        match *segment {
            "." | ".." => {
                if *segment == ".." {
                    out.pop();
                }
                if at == last {
                    out.push("");
                }
            }
            other => out.push(other),
        }
    }
    format!("/{}", out.join("/"))
}

/// RFC 9110 `tchar`.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests;
