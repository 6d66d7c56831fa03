//! JSONP wraps: the proxy's (streamed or whole) and the handler's, byte for byte.

use super::*;

fn jsonp(extended: bool) -> Jsonp {
    Jsonp {
        callback: b"cb".to_vec(),
        extended,
    }
}

fn headers(fields: &[(&str, &str)]) -> Headers {
    let mut out = Headers::new();
    for (name, value) in fields {
        out.push(*name, value.as_bytes());
    }
    out
}

fn response(status: u16, fields: &[(&str, &str)], body: &'static str) -> ClientResponse {
    ClientResponse {
        status,
        reason: crate::http::reason_phrase(status).to_owned(),
        headers: headers(fields),
        body: Bytes::from_static(body.as_bytes()),
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_proxy_wraps_a_whole_extended_body_with_spaces_and_first_values() {
    let fields = headers(&[
        ("X-B", "1"),
        ("Cache-Control", "no-cache"),
        ("X-B", "2"),
        ("A", "\"q\""),
    ]);
    let (head, body) = JsonpRelay::whole(&jsonp(true), 404, "Not Found", &fields, b"line\n\x01");
    assert_eq!(
        text(&body),
        r#"/**/cb({"code": 404, "reason": "Not Found", "headers": {"A":"\"q\"","Cache-Control":"no-cache","X-B":"1"}, "body": "line\n\u0001"});"#.to_owned() + "\n"
    );
    assert_eq!(head.get_str("content-type"), Some("application/javascript"));
    assert_eq!(head.get_str("cache-control"), Some("no-cache"));
}

#[test]
fn the_proxy_wraps_a_basic_body_without_its_last_newline() {
    let (_, body) = JsonpRelay::whole(&jsonp(false), 200, "OK", &Headers::new(), b"{\"a\":1}\r\n");
    assert_eq!(text(&body), "/**/cb({\"a\":1});\n");
}

#[test]
fn a_streamed_body_is_wrapped_as_if_it_came_whole() {
    let euro = "€".as_bytes();
    let pieces: [&[u8]; 3] = [b"a\n", &euro[..1], &euro[1..]];
    for extended in [true, false] {
        let mut wrap = JsonpRelay::new(jsonp(extended));
        let mut streamed = wrap.start(200, "OK", &Headers::new());
        for piece in pieces {
            streamed.extend_from_slice(&wrap.piece(piece));
        }
        streamed.extend_from_slice(&wrap.end());
        let (_, whole) = JsonpRelay::whole(
            &jsonp(extended),
            200,
            "OK",
            &Headers::new(),
            "a\n€".as_bytes(),
        );
        assert_eq!(text(&streamed), text(&whole), "extended={extended}");
    }
    let mut basic = JsonpRelay::new(jsonp(false));
    assert_eq!(text(&basic.piece(b"x\n")), "x");
    assert_eq!(text(&basic.piece(b"y\n")), "\ny");
    assert_eq!(text(&basic.end()), ");\n");
}

#[test]
fn the_handler_wraps_a_held_response_as_one_compact_object() {
    let held = response(
        201,
        &[
            ("Content-Type", "text/plain"),
            ("X-A", "1"),
            ("x-a", "2"),
            ("Content-Length", "3"),
        ],
        "hi\n",
    );
    let cross = CrossOrigin {
        request_fields: Headers::new(),
        jsonp: Some(jsonp(true)),
    };
    let wrapped = finish_held(&cross, held.clone());
    assert_eq!((wrapped.status, wrapped.reason.as_str()), (200, "OK"));
    assert_eq!(
        text(&wrapped.body),
        "/**/cb({\"body\":\"hi\\n\",\"code\":201,\"headers\":{\"Content-Type\":\"text/plain\",\"X-A\":\"1, 2\"},\"reason\":\"Created\"});\n"
    );
    assert_eq!(
        wrapped.headers.get_str("content-type"),
        Some("application/javascript")
    );
    assert_eq!(wrapped.headers.get_str("x-a"), Some("1"));
    assert!(!wrapped.headers.contains("access-control-allow-origin"));
    let basic = CrossOrigin {
        request_fields: Headers::new(),
        jsonp: Some(jsonp(false)),
    };
    assert_eq!(text(&finish_held(&basic, held).body), "/**/cb(hi);\n");
}

#[test]
fn without_jsonp_responses_get_cors_fields_instead() {
    let cross = CrossOrigin {
        request_fields: headers(&[("Origin", "o")]),
        jsonp: None,
    };
    let held = finish_held(&cross, response(200, &[("X-A", "1")], "b"));
    assert_eq!(
        held.headers.get_str("access-control-allow-origin"),
        Some("o")
    );
    assert_eq!(
        held.headers.get_str("access-control-expose-headers"),
        Some("X-A")
    );
    let own = finish_own(
        &cross,
        response(502, &[("Content-Type", "text/plain")], "e\n"),
    );
    assert_eq!(
        (own.status, own.headers.get_str("access-control-max-age")),
        (502, Some("3600"))
    );
    let wrapped = CrossOrigin {
        jsonp: Some(jsonp(true)),
        ..cross
    };
    let own = finish_own(
        &wrapped,
        response(502, &[("Content-Type", "text/plain")], "e\n"),
    );
    assert_eq!(own.status, 200);
    assert!(text(&own.body).starts_with("/**/cb({\"code\": 502, \"reason\": \"Bad Gateway\""));
}
