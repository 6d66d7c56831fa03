//! Publish item tests: every Pushpin error text, both format placements, and each format.

use super::*;
use crate::publish::body::parse_items;

/// Parses `{"items": [ITEM]}`.
fn one(item: &str) -> Result<PublishItem, PublishError> {
    let body = format!(r#"{{"items": [{item}]}}"#);
    parse_items(body.as_bytes()).map(|mut items| {
        assert_eq!(items.len(), 1);
        items.remove(0)
    })
}

fn ok(item: &str) -> PublishItem {
    one(item).unwrap_or_else(|e| panic!("{item}: {e}"))
}

/// An item on channel `c` with `formats` = FORMATS.
fn with_formats(formats: &str) -> String {
    format!(r#"{{"channel": "c", "formats": {formats}}}"#)
}

#[test]
fn pushpin_error_texts_for_the_body() {
    let cases: &[(&str, &str)] = &[
        ("", "Body is not valid JSON."),
        ("{", "Body is not valid JSON."),
        ("{} x", "Body is not valid JSON."),
        ("[]", "Invalid format."),
        ("\"items\"", "Invalid format."),
        ("{}", "Invalid format: object does not contain 'items'"),
        (
            r#"{"items": {}}"#,
            "Invalid format: object contains 'items' with wrong type",
        ),
        (
            r#"{"items": null}"#,
            "Invalid format: object contains 'items' with wrong type",
        ),
    ];
    for (body, want) in cases {
        let got = parse_items(body.as_bytes()).expect_err(body);
        assert_eq!(got.to_string(), *want, "{body}");
        assert_eq!(got.status(), 400);
    }
    assert_eq!(parse_items(br#"{"items": []}"#), Ok(vec![]));
}

/// The `left | right` rows of a text table; blank lines are skipped.
fn rows(table: &str) -> impl Iterator<Item = (&str, &str)> {
    table.lines().filter(|l| !l.trim().is_empty()).map(|line| {
        let (left, right) = line.split_once(" |").expect("a row has ` |`");
        (left.trim(), right.trim())
    })
}

/// Runs a table of `item | text` rows: each item must be refused with
/// `Invalid format: ` + text, exactly.
fn check_item_errors(table: &str) {
    for (item, want) in rows(table) {
        let got = one(item).expect_err(item);
        assert_eq!(got.to_string(), format!("Invalid format: {want}"), "{item}");
    }
}

/// Runs a table of `fields | text` rows against one format: `{"channel": "c", "formats":
/// {FORMAT: {fields}}}` must be refused with `Invalid format: ` + text, exactly.
fn check_format_errors(format: &str, table: &str) {
    for (fields, want) in rows(table) {
        let item = with_formats(&format!(r#"{{"{format}": {{{fields}}}}}"#));
        let got = one(&item).expect_err(&item);
        assert_eq!(got.to_string(), format!("Invalid format: {want}"), "{item}");
    }
}

#[test]
fn error_texts_for_item_fields() {
    check_item_errors(
        r#"
        1 | publish item object is not an object
        {"formats": {}} | publish item object does not contain 'channel'
        {"channel": 1} | publish item object contains 'channel' with wrong type
        {"channel": "c", "id": 1} | publish item object contains 'id' with wrong type
        {"channel": "c", "prev-id": []} | publish item object contains 'prev-id' with wrong type
        {"channel": "c", "formats": []} | publish item object contains 'formats' with wrong type
        {"channel": "c", "formats": {}} | no formats specified
        {"channel": "c", "formats": {"other": {}}} | no formats specified
        {"channel": "c"} | no formats specified
        {"channel": "c", "http-stream": "x"} | 'http-stream' is not an object
        {"channel": "c", "meta": [], "http-stream": {"content": ""}} | publish item object contains 'meta' with wrong type
        {"channel": "c", "meta": {"user": 1}, "http-stream": {"content": ""}} | 'meta' contains 'user' with wrong type
        {"channel": "c", "size": "1", "http-stream": {"content": ""}} | publish item object contains 'size' with wrong type
        {"channel": "c", "size": -1, "http-stream": {"content": ""}} | publish item object contains 'size' with invalid value
        {"channel": "c", "no-seq": "yes", "http-stream": {"content": ""}} | publish item object contains 'no-seq' with wrong type
        "#,
    );
}

#[test]
fn error_texts_for_http_stream() {
    check_format_errors(
        "http-stream",
        r#"
        | 'http-stream' does not contain 'content' or 'content-bin'
        "content": 1 | 'http-stream' contains 'content' with wrong type
        "content-bin": "%%" | 'http-stream' contains 'content-bin' with invalid value
        "content-bin": 5 | 'http-stream' contains 'content-bin' with wrong type
        "content": "x", "content-filters": "f" | 'http-stream' contains 'content-filters' with wrong type
        "content": "x", "content-filters": [1] | content-filters contains element with wrong type
        "action": "reload" |
        "action": 1 | 'http-stream' contains 'action' with wrong type
        "#,
    );
    // Pushpin answers an unknown action with an empty message.
    let item = with_formats(r#"{"http-stream": {"action": "reload"}}"#);
    assert_eq!(
        one(&item),
        Err(PublishError::UnknownAction {
            format: "'http-stream'",
            action: "reload".into()
        })
    );
    // `refresh` (Pushpin 1.38) is accepted on every format.
    let item = with_formats(r#"{"http-stream": {"action": "refresh"}}"#);
    let stream = one(&item).map(|i| i.http_stream);
    assert_eq!(stream, Ok(Some(HttpStreamFormat::Refresh)));
}

#[test]
fn error_texts_for_http_response() {
    check_format_errors(
        "http-response",
        r#"
        "code": 1000, "body": "" | 'http-response' contains 'code' with invalid value
        "code": -1, "body": "" | 'http-response' contains 'code' with invalid value
        "code": 200.5, "body": "" | 'http-response' contains 'code' with invalid value
        "code": "200", "body": "" | 'http-response' contains 'code' with wrong type
        "code": 0, "body": "" | 'http-response' contains 'code' 0, which is not a final status (200-599)
        "code": 100, "body": "" | 'http-response' contains 'code' 100, which is not a final status (200-599)
        "code": 101, "body": "" | 'http-response' contains 'code' 101, which is not a final status (200-599)
        "code": 199, "body": "" | 'http-response' contains 'code' 199, which is not a final status (200-599)
        "code": 600, "body": "" | 'http-response' contains 'code' 600, which is not a final status (200-599)
        "code": 999, "body": "" | 'http-response' contains 'code' 999, which is not a final status (200-599)
        "reason": 1, "body": "" | 'http-response' contains 'reason' with wrong type
        "reason": "A\nB", "body": "" | 'http-response' contains 'reason' with invalid value
        | 'http-response' does not contain 'body', 'body-bin', or 'body-patch'
        "body": 1 | 'http-response' contains 'body' with wrong type
        "body-bin": "!" | 'http-response' contains 'body-bin' with invalid value
        "body-patch": {} | 'http-response' contains 'body-patch' with wrong type
        "action": "bogus" |
        "headers": 1, "body": "" | 'http-response' contains 'headers' with wrong type
        "headers": {"A": 1}, "body": "" | headers contains 'A' with wrong type
        "headers": ["A"], "body": "" | headers contains element with wrong type
        "headers": [["A"]], "body": "" | headers contains list with wrong number of elements
        "headers": [["A", "b", "c"]], "body": "" | headers contains list with wrong number of elements
        "headers": [[1, "b"]], "body": "" | header contains name element with wrong type
        "headers": [["A", null]], "body": "" | header contains value element with wrong type
        "headers": {"A B": "1"}, "body": "" | header contains name element with invalid value
        "headers": [["A", "1\r\nB: 2"]], "body": "" | header contains value element with invalid value
        "#,
    );
}

#[test]
fn error_texts_for_ws_message() {
    let long_ping = format!(r#""type": "ping", "content": "{}""#, "x".repeat(126));
    let long_pong = format!(r#""type": "pong", "content-bin": "{}""#, "AAAA".repeat(42));
    check_format_errors(
        "ws-message",
        &format!(
            r#"
        "type": "texty" | 'ws-message' contains 'type' with unknown value
        "type": 1 | 'ws-message' contains 'type' with wrong type
        | 'ws-message' does not contain 'content' or 'content-bin'
        "type": "binary" | 'ws-message' does not contain 'content' or 'content-bin'
        "content": {{}} | 'ws-message' contains 'content' with wrong type
        "content-bin": "a=b" | 'ws-message' contains 'content-bin' with invalid value
        "action": "close", "code": 65536 | 'ws-message' contains 'code' with invalid value
        "action": "close", "code": -1 | 'ws-message' contains 'code' with invalid value
        "action": "close", "code": "1000" | 'ws-message' contains 'code' with wrong type
        "action": "close", "code": 0 | 'ws-message' contains 'code' 0, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "code": 999 | 'ws-message' contains 'code' 999, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "code": 1004 | 'ws-message' contains 'code' 1004, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "code": 1005 | 'ws-message' contains 'code' 1005, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "code": 1006 | 'ws-message' contains 'code' 1006, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "code": 1015 | 'ws-message' contains 'code' 1015, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "code": 2999 | 'ws-message' contains 'code' 2999, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "code": 5000 | 'ws-message' contains 'code' 5000, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)
        "action": "close", "reason": 1 | 'ws-message' contains 'reason' with wrong type
        "action": "reload" |
        {long_ping} | 'ws-message' contains 'content' with invalid value
        {long_pong} | 'ws-message' contains 'content-bin' with invalid value
        "#
        ),
    );
}

#[test]
fn validation_is_all_or_nothing() {
    let body = br#"{"items": [
        {"channel": "a", "http-stream": {"content": "ok"}},
        {"channel": "b", "http-stream": {}}
    ]}"#;
    assert_eq!(
        parse_items(body),
        Err(PublishError::MissingContent {
            format: "'http-stream'",
            expected: "'content' or 'content-bin'"
        })
    );
}

#[test]
fn item_fields_and_both_format_placements() {
    let nested = ok(
        r#"{"channel": "test", "id": "2", "prev-id": "1", "no-seq": true,
        "size": 123, "meta": {"sender": "alice", "skip_users": "bob,carol"},
        "formats": {"http-stream": {"content": "hi\n"}}}"#,
    );
    assert_eq!(
        nested,
        PublishItem {
            channel: "test".into(),
            id: Some("2".into()),
            prev_id: Some("1".into()),
            meta: vec![
                ("sender".into(), "alice".into()),
                ("skip_users".into(), "bob,carol".into())
            ],
            no_seq: true,
            http_response: None,
            http_stream: Some(HttpStreamFormat::Send {
                content: Bytes::from("hi\n"),
                content_filters: None,
            }),
            ws_message: None,
        }
    );
    // pubcontrol's shape: formats at the top level of the item.
    let top = ok(r#"{"channel": "test", "http-stream": {"content": "hi\n"}}"#);
    assert_eq!(top.http_stream, nested.http_stream);
    assert_eq!((top.id, top.no_seq, top.meta), (None, false, vec![]));
    // With `formats` present, top-level format keys are not read.
    let both = one(r#"{"channel": "c", "formats": {}, "http-stream": {"content": "x"}}"#);
    assert_eq!(both, Err(PublishError::NoFormats));
}

#[test]
fn an_empty_channel_name_is_a_channel_as_in_pushpin() {
    // Pushpin reads `channel` with `getString` (handler/publishitem.cpp), which checks the
    // type and not the length, so `""` is a channel like any other.
    let item = ok(r#"{"channel": "", "formats": {"http-stream": {"content": "x"}}}"#);
    assert_eq!(item.channel, "");
    assert!(one(r#"{"channel": 5, "formats": {"http-stream": {"content": "x"}}}"#).is_err());
}

#[test]
fn http_stream_actions_and_content() {
    let hs = |fields: &str| {
        ok(&with_formats(&format!(
            r#"{{"http-stream": {{{fields}}}}}"#
        )))
    };
    let send = |content: &'static [u8], filters: Option<&[&str]>| {
        Some(HttpStreamFormat::Send {
            content: Bytes::from_static(content),
            content_filters: filters.map(|f| f.iter().map(|s| s.to_string()).collect()),
        })
    };
    let cases: &[(&str, Option<HttpStreamFormat>)] = &[
        (r#""content": "x""#, send(b"x", None)),
        (r#""content": """#, send(b"", None)),
        (r#""content-bin": "AAEC""#, send(b"\x00\x01\x02", None)),
        (
            r#""content-bin": "aGk", "content": "no""#,
            send(b"hi", None),
        ),
        (
            r#""action": "send", "content": "é""#,
            send("é".as_bytes(), None),
        ),
        (
            r#""content": "x", "content-filters": ["build-id"]"#,
            send(b"x", Some(&["build-id"])),
        ),
        (
            r#""content": "x", "content-filters": []"#,
            send(b"x", Some(&[])),
        ),
        (r#""action": "close""#, Some(HttpStreamFormat::Close)),
        (r#""action": "hint""#, Some(HttpStreamFormat::Hint)),
    ];
    for (fields, want) in cases {
        assert_eq!(hs(fields).http_stream, *want, "{fields}");
    }
}

#[test]
fn http_response_fields() {
    let hr = |fields: &str| {
        ok(&with_formats(&format!(
            r#"{{"http-response": {{{fields}}}}}"#
        )))
        .http_response
    };
    let headers = |list: &[(&str, &str)]| -> Headers {
        list.iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    };
    assert_eq!(
        hr(r#""body": "hi\n""#),
        Some(HttpResponseFormat::Send {
            code: 200,
            reason: None,
            headers: Headers::new(),
            body: ResponseBody::Bytes(Bytes::from("hi\n")),
        })
    );
    assert_eq!(
        hr(
            r#""code": 404, "reason": "Gone Fishing", "body-bin": "aGk=",
            "headers": {"Content-Type": "text/plain", "Grip-Hold": "x", "grip-x": "y"}"#
        ),
        Some(HttpResponseFormat::Send {
            code: 404,
            reason: Some("Gone Fishing".into()),
            headers: headers(&[("Content-Type", "text/plain")]),
            body: ResponseBody::Bytes(Bytes::from("hi")),
        })
    );
    let patch = r#"[{"op": "replace", "path": "/a", "value": 1}]"#;
    assert_eq!(
        hr(&format!(
            r#""code": 599, "reason": "", "headers": [["A", "1"], ["a", "2"]], "body-patch": {patch}"#
        )),
        Some(HttpResponseFormat::Send {
            code: 599,
            reason: None,
            headers: headers(&[("A", "1"), ("a", "2")]),
            body: ResponseBody::Patch(serde_json::from_str(patch).expect("json")),
        })
    );
    assert_eq!(hr(r#""action": "hint""#), Some(HttpResponseFormat::Hint));
    assert_eq!(hr(r#""action": "close""#), Some(HttpResponseFormat::Close));
    assert_eq!(
        hr(r#""action": "refresh""#),
        Some(HttpResponseFormat::Refresh)
    );
    let filtered = hr(r#""body": "", "code": 204.0, "content-filters": ["build-id"]"#);
    assert!(matches!(
        filtered,
        Some(HttpResponseFormat::Send { code: 204, .. })
    ));
}

#[test]
fn published_response_headers_lose_framing_and_hop_by_hop_fields() {
    let item = ok(&with_formats(
        r#"{"http-response": {"body": "0\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", "headers": [
            ["Transfer-Encoding", "chunked"], ["Content-Length", "3"], ["Connection", "close, X-Hop"],
            ["X-Hop", "1"], ["Keep-Alive", "timeout=5"], ["Upgrade", "h2c"], ["TE", "trailers"],
            ["Trailer", "X-T"], ["Proxy-Authenticate", "Basic"], ["Proxy-Connection", "close"],
            ["Content-Type", "text/plain"], ["X-Kept", "yes"]]}}"#,
    ));
    let Some(HttpResponseFormat::Send { headers, .. }) = item.http_response else {
        panic!("not a send: {item:?}");
    };
    let names: Vec<&str> = headers.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["Content-Type", "X-Kept"]);
}

#[test]
fn ws_message_kinds_and_close() {
    let ws =
        |fields: &str| ok(&with_formats(&format!(r#"{{"ws-message": {{{fields}}}}}"#))).ws_message;
    let send = |kind, content: &'static [u8]| {
        Some(WsMessageFormat::Send {
            kind,
            content: Bytes::from_static(content),
            content_filters: None,
        })
    };
    use WsMessageKind::*;
    let cases: &[(&str, Option<WsMessageFormat>)] = &[
        (r#""content": "hi""#, send(Text, b"hi")),
        (r#""content-bin": "aGk=""#, send(Binary, b"hi")),
        (r#""type": "binary", "content": "hi""#, send(Binary, b"hi")),
        (
            r#""type": "text", "content-bin": "aGk=""#,
            send(Text, b"hi"),
        ),
        (r#""type": "ping""#, send(Ping, b"")),
        (r#""type": "pong", "content": "p""#, send(Pong, b"p")),
        (r#""action": "hint""#, Some(WsMessageFormat::Hint)),
        (r#""action": "refresh""#, Some(WsMessageFormat::Refresh)),
        (
            r#""action": "close", "code": 4001, "reason": "kicked""#,
            Some(WsMessageFormat::Close {
                code: Some(4001),
                reason: "kicked".into(),
            }),
        ),
        (
            r#""action": "close""#,
            Some(WsMessageFormat::Close {
                code: None,
                reason: String::new(),
            }),
        ),
        (
            r#""action": "close", "code": 1000"#,
            Some(WsMessageFormat::Close {
                code: Some(1000),
                reason: String::new(),
            }),
        ),
    ];
    for (fields, want) in cases {
        assert_eq!(ws(fields), *want, "{fields}");
    }
    let at_limit = format!(r#""type": "ping", "content": "{}""#, "x".repeat(125));
    assert!(matches!(
        ws(&at_limit),
        Some(WsMessageFormat::Send { kind: Ping, .. })
    ));
    let filtered = ws(r#""content": "x", "content-filters": ["f"]"#);
    assert!(matches!(
        filtered,
        Some(WsMessageFormat::Send { content_filters: Some(f), .. }) if f == ["f"]
    ));
}

#[test]
fn an_item_may_carry_every_format() {
    let item = ok(r#"{"channel": "c", "formats": {
        "http-response": {"body": "r"},
        "http-stream": {"content": "s"},
        "ws-message": {"content": "w"}}}"#);
    assert!(item.http_response.is_some());
    assert!(item.http_stream.is_some());
    assert!(item.ws_message.is_some());
}
