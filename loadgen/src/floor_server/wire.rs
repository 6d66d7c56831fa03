//! Wire formats of the floor server: client request heads, control requests (publish, metrics,
//! pid), Pushpin's publish JSON, HTTP chunks and responses.
//!
//! Owns: bytes → values and values → bytes, with the size bounds below.
//! Must not: touch sockets, read the clock, or keep state; everything here is a pure function.
//! Invariants: a chunk is encoded once per published item; an empty item is never encoded,
//! because a zero-length chunk would end every subscriber's stream (RFC 9112 §7.1).

/// The head every subscriber gets once its request is read: ringpin's answer for a stream hold
/// whose origin sent `open\n` as the first chunk, byte for byte.
pub(super) const OPEN_RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nopen\n\r\n";

/// Largest request head, client or control, before the request is refused with 431.
pub(super) const HEAD_BYTES_MAX: usize = 8 * 1024;
/// Largest publish body before it is refused with 413.
pub(super) const BODY_BYTES_MAX: usize = 16 * 1024 * 1024;
/// Headers parsed per request head.
const HEADERS_MAX: usize = 64;

/// What a client's bytes so far amount to.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ClientHead {
    /// Head not complete yet; read more.
    Incomplete,
    /// A complete GET head naming a channel: the connection becomes that channel's
    /// subscriber.
    Get { channel: String },
    /// Not a subscription: send these bytes and close.
    Reject(Vec<u8>),
}

/// Parses a subscriber's request head: a GET on any path with `channel=C` in its query
/// subscribes to C, as the loadgen backend's routes hold a client on the channel its query
/// names; a GET without one is refused with 404, as that backend refuses it.
pub(super) fn parse_client_head(bytes: &[u8]) -> ClientHead {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(bytes) {
        Ok(httparse::Status::Complete(_)) if request.method == Some("GET") => {
            match channel_of(request.path.unwrap_or("/")) {
                Some(channel) => ClientHead::Get {
                    channel: channel.to_string(),
                },
                None => ClientHead::Reject(encode_response(
                    404,
                    "Not Found",
                    "text/plain",
                    b"need ?channel=C\n",
                    true,
                )),
            }
        }
        Ok(httparse::Status::Complete(_)) => ClientHead::Reject(encode_response(
            405,
            "Method Not Allowed",
            "text/plain",
            b"Method Not Allowed\n",
            true,
        )),
        Ok(httparse::Status::Partial) if bytes.len() <= HEAD_BYTES_MAX => ClientHead::Incomplete,
        Ok(httparse::Status::Partial) => ClientHead::Reject(too_large_head()),
        Err(_) => ClientHead::Reject(bad_request()),
    }
}

/// The non-empty `channel` query parameter of a request target, taken as it is written.
fn channel_of(target: &str) -> Option<&str> {
    let (_, query) = target.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix("channel="))
        .filter(|channel| !channel.is_empty())
}

/// One complete request on the control (publish) listener.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ControlRequest {
    /// Request method, as sent.
    pub method: String,
    /// Request path without the query string.
    pub path: String,
    /// The body (Content-Length bytes).
    pub body: Vec<u8>,
    /// Whether the connection closes after the response (HTTP/1.0 or `Connection: close`).
    pub is_last: bool,
}

/// Parses one request from the front of `bytes`: `Ok(None)` needs more bytes, `Ok(Some((request,
/// used)))` consumed `used` bytes, `Err(response)` is a final error answer (the caller closes).
pub(super) fn parse_control_request(
    bytes: &[u8],
) -> Result<Option<(ControlRequest, usize)>, Vec<u8>> {
    let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if bytes.len() <= HEAD_BYTES_MAX => return Ok(None),
        Ok(httparse::Status::Partial) => return Err(too_large_head()),
        Err(_) => return Err(bad_request()),
    };
    let mut body_len = 0usize;
    let mut is_last = request.version == Some(0);
    for header in request.headers.iter() {
        let value = std::str::from_utf8(header.value).unwrap_or("").trim();
        if header.name.eq_ignore_ascii_case("content-length") {
            body_len = value.parse().map_err(|_| bad_request())?;
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(simple(411, "Length Required", "Length Required\n", true));
        } else if header.name.eq_ignore_ascii_case("connection") {
            is_last = value.eq_ignore_ascii_case("close");
        }
    }
    if body_len > BODY_BYTES_MAX {
        return Err(simple(
            413,
            "Payload Too Large",
            "Payload Too Large\n",
            true,
        ));
    }
    if bytes.len() < head_len + body_len {
        return Ok(None);
    }
    let target = request.path.unwrap_or("/");
    let path = target.split('?').next().unwrap_or(target);
    let parsed = ControlRequest {
        method: request.method.unwrap_or("").to_string(),
        path: path.to_string(),
        body: bytes[head_len..head_len + body_len].to_vec(),
        is_last,
    };
    Ok(Some((parsed, head_len + body_len)))
}

/// One item of a publish that carries something to deliver.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct StreamItem {
    pub channel: String,
    /// Its `http-stream` content, never empty.
    pub content: Vec<u8>,
}

/// The `http-stream` items of a Pushpin `/publish/` body, in item order, each with its
/// channel. Ids and other formats are ignored. Items without an `http-stream` content, or
/// with an empty one, carry nothing to deliver; an item without a channel string is an error,
/// as Pushpin refuses it.
pub(super) fn parse_publish_items(body: &[u8]) -> Result<Vec<StreamItem>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("Body is not valid JSON: {e}"))?;
    let items = value
        .get("items")
        .and_then(|items| items.as_array())
        .ok_or_else(|| "Invalid format: object does not contain 'items'".to_string())?;
    let mut parsed = Vec::with_capacity(items.len());
    for item in items {
        let Some(channel) = item.get("channel").and_then(|c| c.as_str()) else {
            return Err("Invalid format: item has no channel".to_string());
        };
        let content = item
            .get("formats")
            .and_then(|formats| formats.get("http-stream"))
            .and_then(|stream| stream.get("content"));
        match content {
            None => {}
            Some(serde_json::Value::String(text)) if text.is_empty() => {}
            Some(serde_json::Value::String(text)) => parsed.push(StreamItem {
                channel: channel.to_string(),
                content: text.as_bytes().to_vec(),
            }),
            Some(_) => return Err("Invalid format: content is not a string".to_string()),
        }
    }
    Ok(parsed)
}

/// `{len:x}\r\n{content}\r\n`: one HTTP/1.1 chunk, built once per item and shared by every send.
pub(super) fn encode_chunk(content: &[u8]) -> Vec<u8> {
    debug_assert!(!content.is_empty(), "an empty chunk ends the stream");
    let mut chunk = format!("{:x}\r\n", content.len()).into_bytes();
    chunk.reserve(content.len() + 2);
    chunk.extend_from_slice(content);
    chunk.extend_from_slice(b"\r\n");
    chunk
}

/// A complete response with a Content-Length body.
pub(super) fn encode_response(
    status: u16,
    reason: &str,
    content_type: &str,
    body: &[u8],
    is_last: bool,
) -> Vec<u8> {
    let connection = if is_last { "Connection: close\r\n" } else { "" };
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{connection}\r\n",
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A plain-text response.
pub(super) fn simple(status: u16, reason: &str, body: &str, is_last: bool) -> Vec<u8> {
    encode_response(status, reason, "text/plain", body.as_bytes(), is_last)
}

fn bad_request() -> Vec<u8> {
    simple(400, "Bad Request", "Bad Request\n", true)
}

fn too_large_head() -> Vec<u8> {
    simple(
        431,
        "Request Header Fields Too Large",
        "Request Header Fields Too Large\n",
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status_of(response: &[u8]) -> &str {
        std::str::from_utf8(&response[9..12]).expect("status is ascii")
    }

    #[test]
    fn a_get_naming_a_channel_subscribes_to_it_and_anything_else_is_refused() {
        let cases: [(&[u8], &str); 8] = [
            (
                b"GET /stream?channel=c1 HTTP/1.1\r\nHost: x\r\n\r\n",
                "get c1",
            ),
            (
                b"GET /?a=b&channel=loadgen-7 HTTP/1.0\r\n\r\n",
                "get loadgen-7",
            ),
            (b"GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", "404"),
            (b"GET /stream?channel= HTTP/1.1\r\n\r\n", "404"),
            (
                b"GET /stream?channel=c1 HTTP/1.1\r\nHost: x\r\n",
                "incomplete",
            ),
            (b"POST /stream?channel=c1 HTTP/1.1\r\n\r\n", "405"),
            (b"\x01\x02 nonsense\r\n\r\n", "400"),
            (b"GET /sse?xchannel=c1 HTTP/1.1\r\n\r\n", "404"),
        ];
        for (input, expected) in cases {
            let got = match parse_client_head(input) {
                ClientHead::Get { channel } => format!("get {channel}"),
                ClientHead::Incomplete => "incomplete".to_string(),
                ClientHead::Reject(response) => status_of(&response).to_string(),
            };
            assert_eq!(got, expected, "input {:?}", String::from_utf8_lossy(input));
        }
    }

    #[test]
    fn oversized_client_head_gets_431() {
        let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
        head.resize(HEAD_BYTES_MAX + 1, b'a');
        match parse_client_head(&head) {
            ClientHead::Reject(response) => assert_eq!(status_of(&response), "431"),
            other => panic!("expected 431, got {other:?}"),
        }
    }

    #[test]
    fn control_request_waits_for_its_whole_body_and_reports_bytes_used() {
        let body = br#"{"items":[]}"#;
        let mut bytes = format!(
            "POST /publish/?x=1 HTTP/1.1\r\nContent-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        bytes.extend_from_slice(body);
        assert_eq!(parse_control_request(&bytes[..bytes.len() - 1]), Ok(None));
        bytes.extend_from_slice(b"GET /metrics HTTP/1.1\r\n\r\n");
        let (request, used) = parse_control_request(&bytes)
            .expect("valid")
            .expect("complete");
        assert_eq!(request.method, "POST");
        assert_eq!(request.path, "/publish/");
        assert_eq!(request.body, body);
        assert!(!request.is_last);
        let (next, _) = parse_control_request(&bytes[used..])
            .expect("valid")
            .expect("complete");
        assert_eq!(next.path, "/metrics");
    }

    #[test]
    fn control_request_errors_carry_their_status() {
        let cases: [(&[u8], &str); 3] = [
            (b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", "400"),
            (
                b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
                "411",
            ),
            (
                b"POST / HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n",
                "413",
            ),
        ];
        for (input, expected) in cases {
            let response = parse_control_request(input).expect_err("must be refused");
            assert_eq!(status_of(&response), expected);
        }
    }

    #[test]
    fn connection_close_and_http_1_0_end_the_control_connection() {
        let close = b"GET /pid HTTP/1.1\r\nConnection: close\r\n\r\n";
        let old = b"GET /pid HTTP/1.0\r\n\r\n";
        for input in [&close[..], &old[..]] {
            let (request, _) = parse_control_request(input)
                .expect("valid")
                .expect("complete");
            assert!(request.is_last);
        }
    }

    #[test]
    fn publish_items_keep_order_and_channel_and_skip_empty_and_other_formats() {
        let body = br#"{"items":[
            {"channel":"a","formats":{"http-stream":{"content":"one\n"}}},
            {"channel":"b","formats":{"http-response":{"body":"x"}}},
            {"channel":"c","formats":{"http-stream":{"content":""}}},
            {"channel":"d","formats":{"http-stream":{"content":"two\n"}}}
        ]}"#;
        let items = parse_publish_items(body).expect("valid publish");
        let item = |channel: &str, content: &[u8]| StreamItem {
            channel: channel.to_string(),
            content: content.to_vec(),
        };
        assert_eq!(items, [item("a", b"one\n"), item("d", b"two\n")]);
    }

    #[test]
    fn malformed_publish_bodies_are_errors() {
        let cases: [&[u8]; 5] = [
            b"not json",
            br#"{"no_items":[]}"#,
            br#"{"items":[{"channel":"a","formats":{"http-stream":{"content":5}}}]}"#,
            br#"{"items":[{"formats":{"http-stream":{"content":"x"}}}]}"#,
            br#"{"items":[{"channel":7,"formats":{"http-stream":{"content":"x"}}}]}"#,
        ];
        for input in cases {
            assert!(parse_publish_items(input).is_err(), "{input:?}");
        }
    }

    #[test]
    fn chunk_is_hex_length_content_crlf() {
        assert_eq!(encode_chunk(b"open\n"), b"5\r\nopen\n\r\n");
        assert_eq!(encode_chunk(&[b'x'; 26])[..4], *b"1a\r\n");
        assert!(OPEN_RESPONSE.ends_with(&encode_chunk(b"open\n")));
    }

    #[test]
    fn response_has_length_and_optional_close() {
        let keep = simple(200, "OK", "Published\n", false);
        assert_eq!(
            keep,
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 10\r\n\r\nPublished\n"
        );
        let last = simple(200, "OK", "", true);
        assert!(last.windows(19).any(|w| w == b"Connection: close\r\n"));
    }
}
