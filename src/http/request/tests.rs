use super::*;

/// Small limits so that boundary inputs stay readable.
const SMALL: HeadLimits = HeadLimits {
    head_bytes_max: 64,
    uri_bytes_max: 16,
    headers_max: 2,
};

type Parsed = Result<Option<usize>, ParseError>;

fn check(input: &[u8], limits: &HeadLimits, expected: Parsed) {
    let got = parse_request(input, limits).map(|r| r.map(|(_, used)| used));
    assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
}

fn bad(reason: &'static str) -> Parsed {
    Err(ParseError::Malformed { reason })
}

fn head(input: &[u8]) -> RequestHead {
    match parse_request(input, &HeadLimits::CLIENT) {
        Ok(Some((head, used))) if used == input.len() => head,
        other => panic!("{:?}: {other:?}", String::from_utf8_lossy(input)),
    }
}

/// `GET /<target_pad> HTTP/1.1` plus `header_pad` bytes in one field and `fields` more.
fn request(target_pad: usize, header_pad: usize, fields: usize) -> Vec<u8> {
    let mut wire = b"GET /".to_vec();
    wire.resize(wire.len() + target_pad, b'a');
    wire.extend_from_slice(b" HTTP/1.1\r\nX: ");
    wire.resize(wire.len() + header_pad, b'x');
    wire.extend_from_slice(b"\r\n");
    for i in 0..fields {
        wire.extend_from_slice(format!("F{i}: v\r\n").as_bytes());
    }
    wire.extend_from_slice(b"\r\n");
    wire
}

#[test]
fn well_formed_requests_parse_with_their_length() {
    // (input, request line as parsed, bytes left after the head)
    let cases: &[(&[u8], &str, usize)] = &[
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", "GET / HTTP/1.1", 0),
        (b"POST /p?q=1 HTTP/1.0\r\n\r\n", "POST /p?q=1 HTTP/1.0", 0),
        (b"\r\n\r\nGET / HTTP/1.1\r\n\r\n", "GET / HTTP/1.1", 0),
        (b"\nGET /x HTTP/1.1\nA: 1\nB:2\n\n", "GET /x HTTP/1.1", 0),
        (
            b"GET / HTTP/1.1\r\nA:  sp  \r\n\r\nbody",
            "GET / HTTP/1.1",
            4,
        ),
        (b"OPTIONS * HTTP/1.1\r\n\r\n", "OPTIONS * HTTP/1.1", 0),
        (
            b"CONNECT h:443 HTTP/1.1\r\n\r\n",
            "CONNECT h:443 HTTP/1.1",
            0,
        ),
        (
            b"GET http://H/p HTTP/1.1\r\n\r\n",
            "GET http://H/p HTTP/1.1",
            0,
        ),
        (b"GET http://h HTTP/1.1\r\n\r\n", "GET http://h HTTP/1.1", 0),
        (
            b"PURGE /x HTTP/1.1\r\nX: \xff\r\n\r\n",
            "PURGE /x HTTP/1.1",
            0,
        ),
    ];
    for &(input, line, trailing) in cases {
        let parsed = parse_request(input, &HeadLimits::CLIENT);
        let Ok(Some((h, used))) = parsed else {
            panic!("{:?}: {parsed:?}", String::from_utf8_lossy(input));
        };
        let got = format!("{} {} {}", h.method, h.target, h.version.as_str());
        assert_eq!(
            (got.as_str(), used),
            (line, input.len() - trailing),
            "{input:?}"
        );
    }
}

#[test]
fn fields_keep_their_order_case_and_raw_value() {
    let h = head(b"GET / HTTP/1.1\r\nHost: a\r\nX-Two: b c \r\nx-two:\td\r\nE:\r\n\r\n");
    let fields: Vec<_> = h
        .headers
        .iter()
        .map(|f| (&f.name[..], &f.value[..]))
        .collect();
    let expected: &[(&str, &[u8])] = &[
        ("Host", b"a"),
        ("X-Two", b"b c"),
        ("x-two", b"d"),
        ("E", b""),
    ];
    assert_eq!(fields, expected);
}

#[test]
fn malformed_request_lines_get_400() {
    let line = "invalid request line";
    let version = "invalid http version";
    let target = "invalid request target";
    let cases: &[(&[u8], Parsed)] = &[
        (b"GET /\r\n\r\n", bad(line)),
        (b"GET  / HTTP/1.1\r\n\r\n", bad(line)),
        (b"G@T / HTTP/1.1\r\n\r\n", bad(line)),
        (b" GET / HTTP/1.1\r\n\r\n", bad(line)),
        (b"GET /a\x01 HTTP/1.1\r\n\r\n", bad(line)),
        (b"GET /a b HTTP/1.1\r\n\r\n", bad(version)),
        (b"GET / HTTP/2.0\r\n\r\n", bad(version)),
        (b"GET / HTTP/1.2\r\n\r\n", bad(version)),
        (b"GET / http/1.1\r\n\r\n", bad(version)),
        (b"GET / HTTP/1.1 \r\n\r\n", bad("invalid line ending")),
        (b"GET / HTTP/1.1\rX: 1\r\n\r\n", bad("invalid line ending")),
        (b"\r\rGET / HTTP/1.1\r\n\r\n", bad("invalid line ending")),
        (b"GET foo HTTP/1.1\r\n\r\n", bad(target)),
        (b"GET * HTTP/1.1\r\n\r\n", bad(target)),
        (b"GET http://h?q HTTP/1.1\r\n\r\n", bad(target)),
        (b"GET http:///p HTTP/1.1\r\n\r\n", bad(target)),
        (b"GET 1ttp://h/ HTTP/1.1\r\n\r\n", bad(target)),
        (b"CONNECT h/p HTTP/1.1\r\n\r\n", bad(target)),
    ];
    for (input, expected) in cases {
        check(input, &HeadLimits::CLIENT, expected.clone());
    }
}

#[test]
fn malformed_header_lines_get_400() {
    let name = "invalid header name";
    let value = "invalid header value";
    let cases: &[(&[u8], Parsed)] = &[
        (b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", bad(name)),
        (b"GET / HTTP/1.1\r\nX : y\r\n\r\n", bad(name)),
        (b"GET / HTTP/1.1\r\n: y\r\n\r\n", bad(name)),
        (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", bad(name)),
        (b"GET / HTTP/1.1\r\nX: y\r\n folded\r\n\r\n", bad(name)),
        (b"GET / HTTP/1.1\r\n\xc3\xa9: y\r\n\r\n", bad(name)),
        (b"GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", bad(value)),
        (b"GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", bad(value)),
        (b"GET / HTTP/1.1\r\nX: a\x7fb\r\n\r\n", bad(value)),
        (b"GET / HTTP/1.1\r\nX: y\r\n\rZ", bad("invalid line ending")),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n",
            bad("more than one host field"),
        ),
    ];
    for (input, expected) in cases {
        check(input, &HeadLimits::CLIENT, expected.clone());
    }
}

#[test]
fn normalize_for_proxy_refuses_connect_and_a_missing_host_and_takes_the_target_host() {
    // (request, Ok(Host after) or the status of the refusal)
    type Expected = Result<Option<&'static str>, u16>;
    let cases: &[(&[u8], Expected)] = &[
        (
            b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n",
            Ok(Some("a.example")),
        ),
        (b"GET / HTTP/1.1\r\n\r\n", Err(400)),
        (b"GET / HTTP/1.1\r\nHost:\r\n\r\n", Err(400)),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", Err(400)),
        (b"GET / HTTP/1.1\r\nHost: a:x\r\n\r\n", Err(400)),
        (b"GET / HTTP/1.0\r\n\r\n", Ok(None)),
        (b"GET / HTTP/1.0\r\nHost:\r\n\r\n", Ok(Some(""))),
        (b"GET / HTTP/1.0\r\nHost: a b\r\n\r\n", Err(400)),
        (
            b"GET http://Good.Example:81/a HTTP/1.1\r\nHost: evil\r\n\r\n",
            Ok(Some("Good.Example:81")),
        ),
        (b"GET http://u:p@good/a HTTP/1.1\r\n\r\n", Ok(Some("good"))),
        (b"GET http://good HTTP/1.0\r\n\r\n", Ok(Some("good"))),
        (b"GET http://a b/ HTTP/1.1\r\n\r\n", Err(400)),
        (b"GET http://a:x/ HTTP/1.1\r\nHost: a\r\n\r\n", Err(400)),
        (b"CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n", Err(501)),
        (b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", Ok(Some("a"))),
    ];
    for &(input, expected) in cases {
        let Ok(Some((mut h, _))) = parse_request(input, &HeadLimits::CLIENT) else {
            // `http://a b/` does not even parse as a request line.
            assert_eq!(expected, Err(400), "{:?}", String::from_utf8_lossy(input));
            continue;
        };
        let got = h
            .normalize_for_proxy()
            .map(|()| h.headers.get_str("host").map(str::to_owned))
            .map_err(|e| e.status());
        let expected = expected.map(|host| host.map(str::to_owned));
        assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(input));
        if got.is_ok() {
            assert!(h.headers.get_all("host").count() <= 1);
            assert_eq!(
                h.host(),
                h.headers.get_str("host").and_then(normalize_host),
                "routing and forwarding see one host"
            );
        }
    }
}

#[test]
fn a_partial_head_needs_more_bytes_at_every_split_point() {
    let input = b"\r\nPOST /path?q HTTP/1.1\r\nHost: example.com\nX-A: 1\r\n\r\nbody";
    let head_len = input.len() - 4;
    for at in 0..head_len {
        check(&input[..at], &HeadLimits::CLIENT, Ok(None));
    }
    for at in head_len..=input.len() {
        check(&input[..at], &HeadLimits::CLIENT, Ok(Some(head_len)));
    }
}

#[test]
fn pipelined_requests_parse_one_after_another() {
    let first = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n";
    let second = b"POST /b HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi";
    let third = b"GET /c HTTP/1.0\r\n\r\n";
    let buf = [&first[..], second, third].concat();
    let mut at = 0;
    let mut targets = Vec::new();
    while at < buf.len() {
        let (head, used) = parse_request(&buf[at..], &HeadLimits::CLIENT)
            .expect("valid")
            .expect("complete");
        at += used;
        if let BodyKind::Length(n) = head.body_kind().expect("valid framing") {
            at += n as usize;
        }
        targets.push(head.target);
    }
    assert_eq!(targets, ["/a", "/b", "/c"]);
    assert_eq!(at, buf.len());
}

#[test]
fn head_size_limit_is_inclusive() {
    // request(0, pad, 0) is 23 bytes plus the pad.
    let max = CLIENT_HEAD_BYTES_MAX;
    let at_limit = request(0, max - 23, 0);
    assert_eq!(at_limit.len(), max);
    check(&at_limit, &HeadLimits::CLIENT, Ok(Some(max)));
    let with_body = [&at_limit[..], b"body bytes after the head"].concat();
    check(&with_body, &HeadLimits::CLIENT, Ok(Some(max)));
    let over = request(0, max - 22, 0);
    let too_large = Err(ParseError::HeadTooLarge { bytes_max: max });
    check(&over, &HeadLimits::CLIENT, too_large.clone());
    check(&over[..max - 1], &HeadLimits::CLIENT, Ok(None));
    check(&over[..max], &HeadLimits::CLIENT, too_large.clone());
    let empty_lines = b"\r\n".repeat(max);
    check(&empty_lines[..max - 1], &HeadLimits::CLIENT, Ok(None));
    check(&empty_lines[..max], &HeadLimits::CLIENT, too_large);
    let small = request(0, 64 - 23, 0);
    check(&small, &SMALL, Ok(Some(64)));
    check(
        &request(0, 64 - 22, 0),
        &SMALL,
        Err(ParseError::HeadTooLarge { bytes_max: 64 }),
    );
}

#[test]
fn target_limit_is_inclusive_and_checked_before_the_head_limit() {
    let too_long = Err(ParseError::UriTooLong { bytes_max: 16 });
    // The target is "/" plus the pad.
    check(
        &request(15, 0, 0),
        &SMALL,
        Ok(Some(request(15, 0, 0).len())),
    );
    check(&request(16, 0, 0), &SMALL, too_long.clone());
    let client_max = CLIENT_URI_BYTES_MAX;
    let client = request(client_max - 1, 0, 0);
    check(&client, &HeadLimits::CLIENT, Ok(Some(client.len())));
    let client_over = Err(ParseError::UriTooLong {
        bytes_max: client_max,
    });
    check(&request(client_max, 0, 0), &HeadLimits::CLIENT, client_over);
    // Decided once the target is complete, before the rest of the head arrives.
    check(b"GET /aaaaaaaaaaaaaaaa ", &SMALL, too_long.clone());
    check(b"GET /aaaaaaaaaaaaaaa ", &SMALL, Ok(None));
    check(
        b"GET /aaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: x",
        &SMALL,
        too_long.clone(),
    );
    // Without a line end, more than uri_bytes_max + 32 buffered bytes is already too long.
    let unfinished = [&b"GET /"[..], &[b'a'; 43]].concat();
    assert_eq!(unfinished.len(), 16 + REQUEST_LINE_SLACK_BYTES);
    check(&unfinished, &SMALL, Ok(None));
    check(&[&unfinished[..], b"a"].concat(), &SMALL, too_long.clone());
    check(&[&b"\r\n\r\n"[..], &unfinished].concat(), &SMALL, Ok(None));
    // Both limits exceeded: 414 wins, complete or not.
    check(&request(60, 0, 0), &SMALL, too_long.clone());
    check(&[&b"GET /"[..], &[b'a'; 100]].concat(), &SMALL, too_long);
}

#[test]
fn header_count_limit_is_inclusive() {
    let too_many = Err(ParseError::TooManyHeaders { max: 2 });
    // request(0, 0, n) carries the X field plus n more.
    check(&request(0, 0, 1), &SMALL, Ok(Some(request(0, 0, 1).len())));
    check(&request(0, 0, 2), &SMALL, too_many.clone());
    let unfinished = request(0, 0, 2);
    check(&unfinished[..unfinished.len() - 2], &SMALL, too_many);
    check(&unfinished[..unfinished.len() - 3], &SMALL, Ok(None));
    let max = CLIENT_HEADERS_MAX;
    let at_limit = request(0, 0, max - 1);
    check(&at_limit, &HeadLimits::CLIENT, Ok(Some(at_limit.len())));
    let over = Err(ParseError::TooManyHeaders { max });
    check(&request(0, 0, max), &HeadLimits::CLIENT, over);
    let wide = HeadLimits {
        headers_max: HEADER_SLOTS_STACK + 10,
        head_bytes_max: 1 << 16,
        ..HeadLimits::CLIENT
    };
    let heap_limit = request(0, 0, HEADER_SLOTS_STACK + 9);
    check(&heap_limit, &wide, Ok(Some(heap_limit.len())));
    let heap_over = Err(ParseError::TooManyHeaders {
        max: wide.headers_max,
    });
    check(&request(0, 0, HEADER_SLOTS_STACK + 10), &wide, heap_over);
}

#[test]
fn body_kind_follows_rfc_9112_section_6() {
    use BodyKind::*;
    let cases: &[(&[u8], Result<BodyKind, ParseError>)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", Ok(Empty)),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n",
            Ok(Length(12)),
        ),
        (b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", Ok(Empty)),
        (
            b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
            Ok(Length(3)),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
            Ok(Length(1)),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
            Ok(Chunked),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            Ok(Chunked),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n",
            Err(ParseError::InvalidContentLength),
        ),
        (
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            Err(ParseError::InvalidContentLength),
        ),
        (
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            Err(ParseError::UnsupportedTransferEncoding),
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            bad("transfer-encoding in an http/1.0 request").map(|_| Empty),
        ),
    ];
    for (input, expected) in cases {
        assert_eq!(head(input).body_kind(), *expected, "{input:?}");
    }
}

#[test]
fn persistence_continue_and_upgrade_flags() {
    // (request, is_keep_alive, expects_continue, is_websocket_upgrade)
    let cases: &[(&[u8], bool, bool, bool)] = &[
        (b"GET / HTTP/1.1\r\n\r\n", true, false, false),
        (
            b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
            false,
            false,
            false,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", false, false, false),
        (
            b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
            true,
            false,
            false,
        ),
        (
            b"PUT / HTTP/1.1\r\nExpect: 100-Continue\r\n\r\n",
            true,
            true,
            false,
        ),
        (
            b"PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n",
            false,
            false,
            false,
        ),
        (
            b"PUT / HTTP/1.1\r\nExpect: 200-ok\r\n\r\n",
            true,
            false,
            false,
        ),
        (
            b"PUT / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n",
            false,
            false,
            false,
        ),
        (
            b"GET /ws HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\n\r\n",
            true,
            false,
            true,
        ),
        (
            b"GET /ws HTTP/1.1\r\nUpgrade: h2c, websocket\r\nConnection: upgrade\r\n\r\n",
            true,
            false,
            true,
        ),
        (
            b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\n",
            true,
            false,
            false,
        ),
        (
            b"POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            true,
            false,
            false,
        ),
        (
            b"GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
            false,
            false,
            false,
        ),
    ];
    for &(input, keep_alive, expects_continue, websocket) in cases {
        let h = head(input);
        assert_eq!(h.is_keep_alive(), keep_alive, "{input:?}");
        assert_eq!(h.expects_continue(), expects_continue, "{input:?}");
        assert_eq!(h.is_websocket_upgrade(), websocket, "{input:?}");
    }
}

#[test]
fn host_and_path_come_from_the_target_or_the_host_field() {
    let cases: &[(&[u8], Option<&str>, &str)] = &[
        (
            b"GET /a?b HTTP/1.1\r\nHost: Example.COM\r\n\r\n",
            Some("example.com"),
            "/a?b",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
            Some("example.com"),
            "/",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: [::1]:7999\r\n\r\n",
            Some("[::1]"),
            "/",
        ),
        (b"GET / HTTP/1.1\r\nHost: [::1]\r\n\r\n", Some("[::1]"), "/"),
        (
            b"GET / HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n",
            Some("127.0.0.1"),
            "/",
        ),
        (b"GET / HTTP/1.1\r\nHost: h:\r\n\r\n", Some("h"), "/"),
        (b"GET / HTTP/1.1\r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: \r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: [::1]x\r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: ::1\r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: h:port\r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", None, "/"),
        (b"GET / HTTP/1.1\r\nHost: \xff\r\n\r\n", None, "/"),
        (
            b"GET http://User:pw@Origin.Example:81/p?q HTTP/1.1\r\nHost: other\r\n\r\n",
            Some("origin.example"),
            "/p?q",
        ),
        (b"GET https://h HTTP/1.1\r\n\r\n", Some("h"), "/"),
        (b"GET http://h/ HTTP/1.1\r\n\r\n", Some("h"), "/"),
        (
            b"GET http://[::1]:80/x HTTP/1.1\r\n\r\n",
            Some("[::1]"),
            "/x",
        ),
        (b"OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", Some("h"), "*"),
        (
            b"CONNECT Proxy.Example:443 HTTP/1.1\r\n\r\n",
            Some("proxy.example"),
            "Proxy.Example:443",
        ),
    ];
    for &(input, host, path) in cases {
        let h = head(input);
        assert_eq!(h.host().as_deref(), host, "{input:?}");
        assert_eq!(h.path(), path, "{input:?}");
    }
}

#[test]
fn encoded_heads_parse_back_to_themselves() {
    let inputs: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST /p?q=1 HTTP/1.0\r\nContent-Length: 2\r\nX-Bin: \xff\x80\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\n\r\n",
    ];
    for input in inputs {
        let mut out = Vec::new();
        encode_request_head(&head(input), &mut out);
        assert_eq!(out, *input);
    }
    let mut h = head(b"GET /x HTTP/1.1\r\n\r\n");
    h.headers.push("X-Injected", b"a\r\nEvil: 1".to_vec());
    h.headers.push("Bad Name", b"v".to_vec());
    let mut out = Vec::new();
    encode_request_head(&h, &mut out);
    assert_eq!(out, b"GET /x HTTP/1.1\r\nX-Injected: a  Evil: 1\r\n\r\n");
}
