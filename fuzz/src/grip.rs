//! GRIP instructions: `Grip-*` headers (with their parameters) and `application/grip-instruct`
//! JSON bodies, read by `parse_instruction`.

use bytes::Bytes;
use ringpin::grip::link::parse_grip_last;
use ringpin::grip::{
    is_grip_response, parse_header_params, parse_instruction, request_url, resolve_link,
    unescape_cstring, Instruction,
};
use ringpin::http::{
    encode_response_head, parse_response, HeadLimits, Headers, ResponseHead, Version,
};

/// Channels an instruction may subscribe to in these checks.
const SUBSCRIPTIONS_MAX: usize = 4;

/// Reads `Name: value` lines up to the first empty line as an origin's header fields,
/// through `parse_response` as ringpin reads them (so only fields httparse accepts reach
/// `parse_instruction`); the rest is the body. Corpus files are therefore readable origin
/// responses without a status line.
fn split_response(data: &[u8]) -> Option<(Headers, Bytes)> {
    let mut wire = b"HTTP/1.1 200 OK\r\n".to_vec();
    wire.extend_from_slice(data);
    let (head, used) = parse_response(&wire, &HeadLimits::ORIGIN).ok()??;
    Some((head.headers, Bytes::copy_from_slice(&wire[used..])))
}

/// Header-form instructions: every `Grip-*` header and its parameters.
pub fn instruct(data: &[u8]) {
    let Some((headers, body)) = split_response(data) else {
        return;
    };
    for field in headers.iter() {
        let value = String::from_utf8_lossy(&field.value);
        let _ = parse_header_params(&value);
        let _ = unescape_cstring(&value);
        let _ = parse_grip_last(&value);
        if let Ok(base) = request_url("/a/b?c", Some("example.com")) {
            let _ = resolve_link(&base, &value);
        }
    }
    let _ = is_grip_response(&headers);
    for (status, reason) in [(200, "OK"), (404, "")] {
        let result = parse_instruction(
            status,
            reason,
            &headers,
            body.clone(),
            "p:",
            SUBSCRIPTIONS_MAX,
        );
        if let Ok(instruction) = result {
            check_instruction(&instruction);
        }
    }
}

/// JSON instructions: the body under `Content-Type: application/grip-instruct`, with or
/// without `Grip-*` headers before it.
pub fn instruct_json(data: &[u8]) {
    let (mut headers, body) = if data.starts_with(b"{") {
        (Headers::new(), Bytes::copy_from_slice(data))
    } else {
        let Some(split) = split_response(data) else {
            return;
        };
        split
    };
    headers.set("Content-Type", b"application/grip-instruct".to_vec());
    if let Ok(instruction) = parse_instruction(200, "OK", &headers, body, "", SUBSCRIPTIONS_MAX) {
        check_instruction(&instruction);
    }
}

/// What every accepted instruction promises: bounded channels, no GRIP header left for the
/// client, and a response whose head cannot be split by anything the origin sent.
fn check_instruction(instruction: &Instruction) {
    assert!(instruction.channels.len() <= SUBSCRIPTIONS_MAX);
    let response = &instruction.response;
    assert!(!response.reason.is_empty(), "an empty reason");
    for field in response.headers.iter() {
        assert!(
            !field.name.to_ascii_lowercase().starts_with("grip-"),
            "{} kept",
            field.name
        );
    }
    if !(100..=999).contains(&response.status) {
        return;
    }
    let head = ResponseHead {
        version: Version::Http11,
        status: response.status,
        reason: response.reason.clone(),
        headers: response.headers.clone(),
    };
    let mut out = Vec::new();
    encode_response_head(&head, &mut out);
    let limits = HeadLimits {
        head_bytes_max: out.len() + 1,
        uri_bytes_max: 0,
        headers_max: head.headers.len().max(1),
    };
    match parse_response(&out, &limits) {
        Ok(Some((parsed, used))) => {
            assert_eq!(used, out.len());
            assert_eq!(parsed.headers.len(), head.headers.len());
        }
        other => panic!("the client response head does not parse back: {other:?}"),
    }
}
