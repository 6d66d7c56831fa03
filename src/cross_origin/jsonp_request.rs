//! A JSONP request turned into the request the origin gets (Pushpin's `tryApplyJsonp`).
//!
//! Owns: when a request is JSONP (a `GET` with the callback parameter, or with the route's
//! default callback and body parameter), the parameters it consumes (`callback` or
//! `jsonp_cb`, `_method`, `_headers`, `_body` or `jsonp_body`), the rewritten target, method,
//! fields and body, and the 400 texts of a bad one.
//! Must not: decide whether cross-origin support is on, or write the 400 (the flow does).
//! Invariants: a request that is not JSONP is left untouched; a converted one keeps every
//! query item it did not consume, in order, and its target stays a valid request target.

use crate::config::{JsonpConfig, JsonpMode};
use crate::http::headers::is_token;
use crate::http::{Headers, Jsonp, RequestHead};
use crate::limits::JSONP_HEADERS_MAX;

/// Why a JSONP request is refused; `text()` is Pushpin's 400 body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum JsonpError {
    /// The callback parameter is empty or badly percent-encoded.
    #[error("invalid callback parameter")]
    Callback,
    /// `_method` is empty or not a method.
    #[error("invalid _method parameter")]
    Method,
    /// `_headers` is not a JSON object of strings (or has over `JSONP_HEADERS_MAX` fields).
    #[error("invalid _headers parameter")]
    Headers,
    /// The route's `jsonp_body` parameter is empty or badly percent-encoded.
    #[error("invalid body parameter")]
    BodyParam,
    /// `_body` is empty or badly percent-encoded.
    #[error("invalid _body parameter")]
    Body,
}

impl JsonpError {
    /// The body of the `400 Bad Request` Pushpin answers with.
    pub fn text(&self) -> &'static str {
        match self {
            JsonpError::Callback => "Invalid callback parameter.\n",
            JsonpError::Method => "Invalid _method parameter.\n",
            JsonpError::Headers => "Invalid _headers parameter.\n",
            JsonpError::BodyParam => "Invalid body parameter.\n",
            JsonpError::Body => "Invalid _body parameter.\n",
        }
    }
}

/// One `key=value` item of the query, as written.
struct QueryItem<'a> {
    raw: &'a str,
    key: Option<Vec<u8>>,
    value: &'a str,
}

/// The query items of a target, and consuming them by (decoded) key.
struct Query<'a> {
    items: Vec<QueryItem<'a>>,
}

impl<'a> Query<'a> {
    fn parse(query: &'a str) -> Query<'a> {
        let items = query
            .split('&')
            .filter(|raw| !raw.is_empty())
            .map(|raw| {
                let (key, value) = raw.split_once('=').unwrap_or((raw, ""));
                QueryItem {
                    raw,
                    key: percent_decode(key),
                    value,
                }
            })
            .collect();
        Query { items }
    }

    fn has(&self, key: &str) -> bool {
        !key.is_empty()
            && self
                .items
                .iter()
                .any(|i| i.key.as_deref() == Some(key.as_bytes()))
    }

    /// The first value of `key`, decoded (`Some(None)` when its encoding is bad), and every
    /// item of that key removed.
    fn take(&mut self, key: &str) -> Option<Option<Vec<u8>>> {
        let first = self
            .items
            .iter()
            .find(|i| i.key.as_deref() == Some(key.as_bytes()))
            .map(|i| percent_decode(i.value))?;
        self.items
            .retain(|i| i.key.as_deref() != Some(key.as_bytes()));
        Some(first)
    }

    fn encode(&self) -> String {
        let raws: Vec<&str> = self.items.iter().map(|i| i.raw).collect();
        raws.join("&")
    }
}

/// Converts a JSONP request in place: `Ok(None)` when `head` is not one (then nothing is
/// changed), else the callback it is answered through. `body` gets the body parameter.
pub fn convert_request(
    head: &mut RequestHead,
    body: &mut Vec<u8>,
    config: &JsonpConfig,
) -> Result<Option<Jsonp>, JsonpError> {
    if head.method != "GET" {
        return Ok(None);
    }
    let (before, query) = match head.target.split_once('?') {
        Some((before, query)) => (before.to_owned(), query.to_owned()),
        None => (head.target.clone(), String::new()),
    };
    let mut query = Query::parse(&query);
    let callback_param = config.callback_param();
    let body_param = config.body_param.as_str();
    let by_default = !config.default_callback.is_empty() && query.has(body_param);
    if !query.has(callback_param) && !by_default {
        return Ok(None);
    }
    let callback = match query.take(callback_param) {
        Some(Some(callback)) if !callback.is_empty() => callback,
        Some(_) => return Err(JsonpError::Callback),
        None => config.default_callback.as_bytes().to_vec(),
    };
    let method = match query.take("_method") {
        Some(Some(method)) if is_token(&method) => Some(method),
        Some(_) => return Err(JsonpError::Method),
        None => None,
    };
    let mut fields = match query.take("_headers") {
        Some(Some(json)) => parse_headers(&json)?,
        Some(None) => return Err(JsonpError::Headers),
        None => Headers::new(),
    };
    let param_body = take_body(&mut query, body_param, &mut fields)?;
    let rest = query.encode();
    head.target = if rest.is_empty() {
        before
    } else {
        format!("{before}?{rest}")
    };
    head.method = match method {
        Some(method) => String::from_utf8_lossy(&method).into_owned(),
        None => config.default_method().to_owned(),
    };
    head.headers = origin_fields(fields, &head.headers);
    body.extend_from_slice(&param_body);
    Ok(Some(Jsonp {
        callback,
        extended: config.mode == JsonpMode::Extended,
    }))
}

/// The body parameter: the route's `jsonp_body` (which also makes the body JSON) or `_body`.
fn take_body(
    query: &mut Query<'_>,
    body_param: &str,
    fields: &mut Headers,
) -> Result<Vec<u8>, JsonpError> {
    let (taken, error) = if body_param.is_empty() {
        (query.take("_body"), JsonpError::Body)
    } else {
        (query.take(body_param), JsonpError::BodyParam)
    };
    match taken {
        None => Ok(Vec::new()),
        Some(Some(body)) if !body.is_empty() => {
            if !body_param.is_empty() {
                fields.remove("content-type");
                fields.push("Content-Type", &b"application/json"[..]);
            }
            Ok(body)
        }
        Some(_) => Err(error),
    }
}

/// `_headers`: a JSON object whose values are strings; `Host` and `Accept` are ignored, as
/// the converted request sets them.
fn parse_headers(json: &[u8]) -> Result<Headers, JsonpError> {
    let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(json) else {
        return Err(JsonpError::Headers);
    };
    if map.len() > JSONP_HEADERS_MAX {
        return Err(JsonpError::Headers);
    }
    let mut fields = Headers::new();
    for (name, value) in map {
        let serde_json::Value::String(value) = value else {
            return Err(JsonpError::Headers);
        };
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("accept") {
            fields.push(name, value.into_bytes());
        }
    }
    Ok(fields)
}

/// The converted request's fields: `_headers`, `Host`, `Accept: */*`, then the client's
/// others, in Pushpin's order.
fn origin_fields(mut fields: Headers, client: &Headers) -> Headers {
    if let Some(host) = client.get("host") {
        fields.push("Host", host.to_vec());
    }
    fields.push("Accept", &b"*/*"[..]);
    for field in client.iter() {
        let name = field.name.as_str();
        if !name.eq_ignore_ascii_case("host") && !name.eq_ignore_ascii_case("accept") {
            fields.push(name, field.value.clone());
        }
    }
    fields
}

/// Percent-decodes `text` as Pushpin does (`+` stays `+`); `None` for a `%` not followed by
/// two hex digits.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = bytes.get(at + 1..at + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests;
