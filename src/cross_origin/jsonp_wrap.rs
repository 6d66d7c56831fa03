//! Responses wrapped in a JSONP callback, the two ways Pushpin does it.
//!
//! Owns: the proxy's wrap (Pushpin's `requestsession`), for relayed answers and ringpin's own
//! errors: `/**/CB(` then, extended, `{"code": C, "reason": "R", "headers": {…}, "body": "`
//! with the body JSON-escaped as it streams, then `"});\n` (basic: the body itself, its last
//! newline dropped, then `);\n`); and the handler's wrap (`httpsession`), for a long-poll's
//! final response: one compact JSON object `{"body":…,"code":…,"headers":{…},"reason":…}`.
//! Both answer `200 OK` with `Content-Type: application/javascript`.
//! Must not: add CORS fields to a wrapped response (Pushpin does not).
//! Invariants: a body split across pieces is escaped as if it came whole (a UTF-8 sequence
//! cut by a piece boundary waits for the rest, which Pushpin does not do).

use std::collections::BTreeMap;

use bytes::Bytes;

use super::cors::add_cors;
use crate::grip::ClientResponse;
use crate::http::{CrossOrigin, Headers, Jsonp};

const JAVASCRIPT: &[u8] = b"application/javascript";

/// A response ringpin answers with itself (an error): the proxy's wrap for JSONP, else CORS.
pub fn finish_own(cross: &CrossOrigin, mut response: ClientResponse) -> ClientResponse {
    let Some(jsonp) = &cross.jsonp else {
        add_cors(cross, &mut response.headers);
        return response;
    };
    let (headers, body) = JsonpRelay::whole(
        jsonp,
        response.status,
        &response.reason,
        &response.headers,
        &response.body,
    );
    ok_response(headers, body)
}

/// A long-poll's final response (published, timed out, or failed): the handler's wrap for
/// JSONP, else CORS.
pub fn finish_held(cross: &CrossOrigin, mut response: ClientResponse) -> ClientResponse {
    response.headers.remove("content-length");
    let Some(jsonp) = &cross.jsonp else {
        add_cors(cross, &mut response.headers);
        return response;
    };
    let mut body = callback_start(jsonp);
    if jsonp.extended {
        let headers = json_object(&merged_headers(&response.headers));
        let object = format!(
            r#"{{"body":{},"code":{},"headers":{headers},"reason":{}}}"#,
            json_text(&String::from_utf8_lossy(&response.body)),
            response.status,
            json_text(&response.reason),
        );
        body.extend_from_slice(object.as_bytes());
    } else {
        body.extend_from_slice(without_last_newline(&response.body));
    }
    body.extend_from_slice(b");\n");
    let mut headers = response.headers;
    headers.remove("content-type");
    headers.push("Content-Type", JAVASCRIPT);
    ok_response(headers, body)
}

/// The proxy's wrap of one response body, piece by piece.
#[derive(Debug)]
pub struct JsonpRelay {
    jsonp: Jsonp,
    /// Bytes held back from the last piece: a basic body's trailing newline, or an extended
    /// body's incomplete UTF-8 sequence.
    held: Vec<u8>,
}

impl JsonpRelay {
    /// A wrap through `jsonp`'s callback.
    pub fn new(jsonp: Jsonp) -> JsonpRelay {
        JsonpRelay {
            jsonp,
            held: Vec::new(),
        }
    }

    /// The head fields and whole body of a response whose body is known at once: Pushpin
    /// mirrors `Cache-Control` onto the wrapper and sends it with a `Content-Length`.
    pub fn whole(
        jsonp: &Jsonp,
        status: u16,
        reason: &str,
        headers: &Headers,
        body: &[u8],
    ) -> (Headers, Vec<u8>) {
        let mut relay = JsonpRelay::new(jsonp.clone());
        let mut out = relay.start(status, reason, headers);
        let body = if jsonp.extended {
            body
        } else {
            without_last_newline(body)
        };
        out.extend_from_slice(&relay.piece(body));
        out.extend_from_slice(&relay.end());
        let mut fields = Headers::new();
        fields.push("Content-Type", JAVASCRIPT);
        for value in headers.get_all("cache-control") {
            fields.push("Cache-Control", value.to_vec());
        }
        (fields, out)
    }

    /// The head fields of a wrapper sent as the origin's body arrives (no `Cache-Control`,
    /// as in Pushpin; the caller adds the framing).
    pub fn streamed_fields() -> Headers {
        let mut fields = Headers::new();
        fields.push("Content-Type", JAVASCRIPT);
        fields
    }

    /// The wrapper's first bytes, from the origin's status, reason and (relayed) fields.
    pub fn start(&self, status: u16, reason: &str, headers: &Headers) -> Vec<u8> {
        let mut out = callback_start(&self.jsonp);
        if self.jsonp.extended {
            let mut first: BTreeMap<String, String> = BTreeMap::new();
            for field in headers.iter() {
                let value = String::from_utf8_lossy(&field.value).into_owned();
                first.entry(field.name.clone()).or_insert(value);
            }
            let start = format!(
                r#"{{"code": {status}, "reason": {}, "headers": {}, "body": ""#,
                json_text(reason),
                json_object(&first)
            );
            out.extend_from_slice(start.as_bytes());
        }
        out
    }

    /// One piece of the origin's body, wrapped.
    pub fn piece(&mut self, piece: &[u8]) -> Vec<u8> {
        let mut bytes = std::mem::take(&mut self.held);
        bytes.extend_from_slice(piece);
        if self.jsonp.extended {
            let whole = complete_utf8_len(&bytes);
            self.held = bytes.split_off(whole);
            escaped(&bytes)
        } else {
            let kept = without_last_newline(&bytes).len();
            self.held = bytes.split_off(kept);
            bytes
        }
    }

    /// The wrapper's last bytes; a basic body's held-back newline is dropped.
    pub fn end(&mut self) -> Vec<u8> {
        let held = std::mem::take(&mut self.held);
        if self.jsonp.extended {
            let mut out = escaped(&held);
            out.extend_from_slice(b"\"});\n");
            out
        } else {
            b");\n".to_vec()
        }
    }
}

fn ok_response(headers: Headers, body: Vec<u8>) -> ClientResponse {
    ClientResponse {
        status: 200,
        reason: "OK".to_owned(),
        headers,
        body: Bytes::from(body),
    }
}

fn callback_start(jsonp: &Jsonp) -> Vec<u8> {
    let mut out = b"/**/".to_vec();
    out.extend_from_slice(&jsonp.callback);
    out.push(b'(');
    out
}

/// The handler's headers object: one key per name (its first spelling), every value of that
/// name joined with `, `.
fn merged_headers(headers: &Headers) -> BTreeMap<String, String> {
    let mut merged: BTreeMap<String, String> = BTreeMap::new();
    for field in headers.iter() {
        if merged.keys().any(|k| k.eq_ignore_ascii_case(&field.name)) {
            continue;
        }
        let joined = headers.get_joined(&field.name).unwrap_or_default();
        merged.insert(field.name.clone(), joined);
    }
    merged
}

/// `text` as a JSON string.
fn json_text(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// `map` as a compact JSON object, keys in order.
fn json_object(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{}:{}", json_text(k), json_text(v)))
        .collect();
    format!("{{{}}}", pairs.join(","))
}

/// `bytes` (UTF-8, invalid sequences replaced) as the inside of a JSON string.
fn escaped(bytes: &[u8]) -> Vec<u8> {
    let quoted = json_text(&String::from_utf8_lossy(bytes));
    quoted.as_bytes()[1..quoted.len() - 1].to_vec()
}

/// `body` without one trailing `\r\n` or `\n`.
fn without_last_newline(body: &[u8]) -> &[u8] {
    body.strip_suffix(b"\r\n")
        .or_else(|| body.strip_suffix(b"\n"))
        .unwrap_or(body)
}

/// How much of `bytes` ends on a UTF-8 character boundary: a sequence cut short at the end
/// (at most 3 bytes) is left for the next piece.
fn complete_utf8_len(bytes: &[u8]) -> usize {
    match std::str::from_utf8(bytes) {
        Ok(_) => bytes.len(),
        Err(err) if err.error_len().is_none() => err.valid_up_to(),
        Err(_) => bytes.len(),
    }
}

#[cfg(test)]
mod tests;
