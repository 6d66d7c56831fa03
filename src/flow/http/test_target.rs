//! The built-in `test` target, so that `ringpin` with no routes answers at once.
//!
//! Owns: the demo responses for `/`, `/stream` and `/response`, as GRIP answers on channel
//! `test` (like Pushpin's `* test` route).
//! Must not: do I/O; it returns an origin-like response that goes through GRIP accept.

use crate::http::{Headers, RequestHead};
use crate::origin::response::GripAnswer;
use bytes::Bytes;

/// The channel the test target subscribes to.
pub const TEST_CHANNEL: &str = "test";

/// The GRIP answer the test target gives for `head`.
pub fn answer(head: &RequestHead) -> GripAnswer {
    let path = head.path().split('?').next().unwrap_or("/");
    let mut headers = Headers::new();
    headers.push("Content-Type", &b"text/plain"[..]);
    let body: &'static str = match path {
        "/stream" => {
            headers.push("Grip-Hold", &b"stream"[..]);
            headers.push("Grip-Channel", TEST_CHANNEL.as_bytes());
            headers.push("Grip-Keep-Alive", &b"\\n; format=cstring; timeout=30"[..]);
            "[stream open: publish http-stream items to channel \"test\"]\n"
        }
        "/response" => {
            headers.push("Grip-Hold", &b"response"[..]);
            headers.push("Grip-Channel", TEST_CHANNEL.as_bytes());
            "[timed out: nothing was published to channel \"test\"]\n"
        }
        _ => "Hello from ringpin's test target.\nTry /stream or /response, then publish to channel \"test\":\n  curl -d '{\"items\":[{\"channel\":\"test\",\"formats\":{\"http-stream\":{\"content\":\"hi\\n\"},\"http-response\":{\"body\":\"hi\\n\"}}}]}' http://127.0.0.1:5561/publish/\n",
    };
    GripAnswer {
        target: "test".to_owned(),
        status: 200,
        reason: "OK".to_owned(),
        headers,
        body: Bytes::from_static(body.as_bytes()),
    }
}
