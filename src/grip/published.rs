//! What a held long-poll sends for a published `http-response` item (PUSHPIN.md §3.2, §4).
//!
//! Owns: `merge_published`, which merges the item into the hold's original response: headers,
//! code, reason, and the body (bytes, or an RFC 6902 `body-patch` of the original JSON body).
//! Must not: write anything or decide what a failure means for the client; `shard/hold.rs`
//! answers a `PatchError` with a 502 and one log line.
//! Invariants: published headers replace every same-named original header (case-insensitive)
//! and are added otherwise; a patched body is compact JSON, followed by a newline exactly
//! when the original body ended with one.

use bytes::Bytes;

use super::json_patch::{apply_patch, PatchError};
use super::ClientResponse;
use crate::publish::item::{HttpResponseFormat, ResponseBody};

/// The response a long-poll gets for a published `http-response`: the original response's
/// headers, with published headers replacing same-named ones and added otherwise, and the
/// published code, reason and body. `Hint` and `Close` formats keep `original` as it is.
pub fn merge_published(
    original: &ClientResponse,
    published: &HttpResponseFormat,
) -> Result<ClientResponse, PatchError> {
    let HttpResponseFormat::Send {
        code,
        reason,
        headers,
        body,
    } = published
    else {
        return Ok(original.clone());
    };
    let mut merged = original.headers.clone();
    for field in headers.iter() {
        merged.remove(&field.name);
    }
    for field in headers.iter() {
        merged.push(field.name.clone(), field.value.clone());
    }
    let body = match body {
        ResponseBody::Bytes(bytes) => bytes.clone(),
        ResponseBody::Patch(patch) => patch_body(&original.body, patch)?,
    };
    Ok(ClientResponse {
        status: *code,
        reason: reason
            .clone()
            .unwrap_or_else(|| crate::http::reason_phrase(*code).to_owned()),
        headers: merged,
        body,
    })
}

/// Applies `patch` to the JSON `original` body; the result keeps its trailing newline.
fn patch_body(original: &[u8], patch: &serde_json::Value) -> Result<Bytes, PatchError> {
    let doc: serde_json::Value =
        serde_json::from_slice(original).map_err(|_| PatchError::BodyNotJson)?;
    let patched = apply_patch(&doc, patch)?;
    let mut out = serde_json::to_vec(&patched).map_err(|_| PatchError::BodyNotJson)?;
    if original.ends_with(b"\n") {
        out.push(b'\n');
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::headers::Headers;
    use serde_json::json;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        let mut out = Headers::new();
        for (name, value) in fields {
            out.push(*name, value.as_bytes());
        }
        out
    }

    fn original(body: &str) -> ClientResponse {
        ClientResponse {
            status: 200,
            reason: "OK".into(),
            headers: headers(&[("Content-Type", "text/plain"), ("X-A", "1"), ("x-a", "2")]),
            body: Bytes::from(body.to_owned()),
        }
    }

    fn send(
        code: u16,
        reason: Option<&str>,
        fields: &[(&str, &str)],
        body: ResponseBody,
    ) -> HttpResponseFormat {
        HttpResponseFormat::Send {
            code,
            reason: reason.map(str::to_owned),
            headers: headers(fields),
            body,
        }
    }

    fn patch_of(body: &str, patch: serde_json::Value) -> Result<ClientResponse, PatchError> {
        merge_published(
            &original(body),
            &send(200, None, &[], ResponseBody::Patch(patch)),
        )
    }

    #[test]
    fn headers_are_replaced_by_name_and_added() {
        let published = send(
            201,
            Some("Made"),
            &[("x-A", "new"), ("X-Pub", "yes")],
            ResponseBody::Bytes(Bytes::from_static(b"pub")),
        );
        let merged = merge_published(&original("orig"), &published).expect("merge");
        assert_eq!(
            merged,
            ClientResponse {
                status: 201,
                reason: "Made".into(),
                headers: headers(&[
                    ("Content-Type", "text/plain"),
                    ("x-A", "new"),
                    ("X-Pub", "yes")
                ]),
                body: Bytes::from_static(b"pub"),
            }
        );
    }

    #[test]
    fn reason_defaults_to_the_code_s_phrase() {
        let published = send(404, None, &[], ResponseBody::Bytes(Bytes::new()));
        let merged = merge_published(&original("orig"), &published).expect("merge");
        assert_eq!((merged.status, merged.reason.as_str()), (404, "Not Found"));
        assert!(merged.body.is_empty());
    }

    #[test]
    fn hint_and_close_keep_the_original() {
        for format in [HttpResponseFormat::Hint, HttpResponseFormat::Close] {
            assert_eq!(merge_published(&original("o"), &format), Ok(original("o")));
        }
    }

    #[test]
    fn body_patch_keeps_the_trailing_newline_only_if_there_was_one() {
        let patch = json!([
            {"op": "replace", "path": "/a", "value": 2},
            {"op": "add", "path": "/b/-", "value": 3}
        ]);
        let with = patch_of("{\"a\": 1, \"b\": [1, 2]}\n", patch.clone()).expect("patch");
        assert_eq!(with.body, Bytes::from_static(b"{\"a\":2,\"b\":[1,2,3]}\n"));
        assert_eq!(with.headers, original("").headers);
        let without = patch_of("{\"a\":1,\"b\":[1,2]}", patch).expect("patch");
        assert_eq!(without.body, Bytes::from_static(b"{\"a\":2,\"b\":[1,2,3]}"));
    }

    #[test]
    fn body_patch_failures_are_errors() {
        let replace = json!([{"op": "replace", "path": "/a", "value": 2}]);
        assert_eq!(
            patch_of("not json\n", replace.clone()),
            Err(PatchError::BodyNotJson)
        );
        assert!(matches!(
            patch_of("{\"b\":1}", replace),
            Err(PatchError::Op { index: 0, .. })
        ));
        assert_eq!(patch_of("{}", json!({})), Err(PatchError::NotAnArray));
    }
}
