//! Instruction tests: every Grip-* header, the JSON form, the limits, and malformed input.

use super::*;

fn headers(fields: &[(&str, &str)]) -> Headers {
    fields
        .iter()
        .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
        .collect()
}

fn parse(status: u16, fields: &[(&str, &str)], body: &str) -> Result<Instruction, InstructError> {
    let body = Bytes::from(body.to_string());
    parse_instruction(status, "", &headers(fields), body, "", 20)
}

fn ok(fields: &[(&str, &str)]) -> Instruction {
    parse(200, fields, "").unwrap_or_else(|e| panic!("{fields:?}: {e}"))
}

/// Header fields, body, and the text the error must contain.
type ErrorCase<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);

/// Checks that each case fails with its text.
fn check_errors(cases: &[ErrorCase<'_>]) {
    for (fields, body, want) in cases {
        match parse(200, fields, body) {
            Ok(i) => panic!("{fields:?} {body:?}: expected {want:?}, got {i:?}"),
            Err(e) => assert!(e.to_string().contains(want), "{fields:?}: {e}"),
        }
    }
}

/// Runs a table of `Name: value | text` rows: a response with that one header must fail
/// with an error containing the text.
fn check_header_errors(table: &str) {
    for (field, want) in rows(table) {
        let (name, value) = field
            .split_once(':')
            .expect("a row is `Name: value | text`");
        check_errors(&[(&[(name, value.trim())], "", want)]);
    }
}

/// The `left | right` rows of a text table; blank lines are skipped.
fn rows(table: &str) -> impl Iterator<Item = (&str, &str)> {
    table.lines().filter(|l| !l.trim().is_empty()).map(|line| {
        let (left, right) = line.split_once(" | ").expect("a row has ` | `");
        (left.trim(), right.trim())
    })
}

fn channel(name: &str, prev_id: Option<&str>, filters: &[&str]) -> ChannelSub {
    ChannelSub {
        name: name.to_string(),
        prev_id: prev_id.map(str::to_string),
        filters: filters.iter().map(|f| f.to_string()).collect(),
    }
}

const JSON: (&str, &str) = ("Content-Type", "application/grip-instruct");

#[test]
fn grip_responses_are_detected_by_header_name_or_content_type() {
    let cases: &[(&[(&str, &str)], bool)] = &[
        (&[("Grip-Hold", "stream")], true),
        (&[("grip-foo", "x")], true),
        (&[("GRIP-CHANNEL", "a")], true),
        (&[("Content-Type", "application/grip-instruct")], true),
        (
            &[("content-type", " Application/Grip-Instruct ; charset=utf-8")],
            true,
        ),
        (&[("Content-Type", "application/grip-instructions")], false),
        (&[("Content-Type", "text/plain")], false),
        (&[("Gri", "x"), ("Xgrip-a", "y"), ("é-grip-", "z")], false),
        (&[], false),
    ];
    for (fields, want) in cases {
        assert_eq!(is_grip_response(&headers(fields)), *want, "{fields:?}");
    }
}

#[test]
fn without_a_hold_the_response_is_relayed_without_grip_and_framing_headers() {
    let fields = [
        ("Content-Type", "text/plain"),
        ("Grip-Foo", "bar"),
        ("Connection", "keep-alive"),
        ("Keep-Alive", "timeout=5"),
        ("Content-Encoding", "gzip"),
        ("Transfer-Encoding", "chunked"),
        ("Content-Length", "5"),
        ("X-Other", "1"),
    ];
    let got = parse_instruction(201, "Made", &headers(&fields), Bytes::from("hello"), "", 20);
    let got = got.expect("parses");
    assert_eq!(got.hold, None);
    assert_eq!(got.channels, vec![]);
    assert_eq!(got.timeout, HOLD_TIMEOUT_DEFAULT);
    assert_eq!(got.keep_alive, None);
    assert_eq!(got.next_link, None);
    assert_eq!(
        got.response,
        ClientResponse {
            status: 201,
            reason: "Made".into(),
            headers: headers(&[("Content-Type", "text/plain"), ("X-Other", "1")]),
            body: Bytes::from("hello"),
        }
    );
    // An empty origin reason gets the standard phrase.
    assert_eq!(ok(&[("Grip-Foo", "x")]).response.reason, "OK");
}

#[test]
fn grip_hold_is_response_or_stream_exactly() {
    assert_eq!(
        ok(&[("Grip-Hold", "response")]).hold,
        Some(HoldMode::Response)
    );
    assert_eq!(ok(&[("grip-hold", "stream")]).hold, Some(HoldMode::Stream));
    check_header_errors(
        r#"
        Grip-Hold: bogus | invalid Grip-Hold value "bogus"
        Grip-Hold: Stream | invalid Grip-Hold value "Stream"
        Grip-Hold: | invalid Grip-Hold value ""
        "#,
    );
    let twice = [("Grip-Hold", "stream"), ("Grip-Hold", "stream")];
    check_errors(&[(&twice, "", "invalid Grip-Hold value \"stream, stream\"")]);
}

#[test]
fn grip_channel_lists_params_and_repeated_headers() {
    let got = ok(&[
        ("Grip-Hold", "stream"),
        ("Grip-Channel", "a, b; prev-id=3"),
        (
            "grip-channel",
            r#"c; filter=skip-self; Filter=build-id; prev-id="x,y""#,
        ),
    ]);
    assert_eq!(
        got.channels,
        vec![
            channel("a", None, &[]),
            channel("b", Some("3"), &[]),
            channel("c", Some("x,y"), &["skip-self", "build-id"]),
        ]
    );
    assert_eq!(got.channels_dropped, 0);
    let prefixed = parse_instruction(
        200,
        "OK",
        &headers(&[("Grip-Channel", "a, b")]),
        Bytes::new(),
        "pre-",
        20,
    );
    let names: Vec<String> = prefixed
        .expect("ok")
        .channels
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["pre-a", "pre-b"]);
    check_header_errors(
        r#"
        Grip-Channel: a, ; prev-id=1 | invalid Grip-Channel value
        Grip-Channel: a; filter | invalid Grip-Channel filter value
        Grip-Channel: a; filter= | invalid Grip-Channel filter value
        Grip-Channel: a; prev-id="1 | malformed Grip-Channel value
        Grip-Channel: a; =1 | parameter without a name
        "#,
    );
}

#[test]
fn channels_beyond_the_max_are_counted_not_kept() {
    let many: Vec<String> = (0..25).map(|n| format!("c{n}")).collect();
    let fields = headers(&[("Grip-Channel", &many.join(", "))]);
    let at = |max| parse_instruction(200, "OK", &fields, Bytes::new(), "", max).expect("ok");
    let got = at(20);
    assert_eq!(got.channels.len(), 20);
    assert_eq!(got.channels[19].name, "c19");
    assert_eq!(got.channels_dropped, 5);
    assert_eq!(at(25).channels_dropped, 0);
    assert_eq!(at(0).channels_dropped, 25);
}

#[test]
fn grip_timeout_defaults_clamps_and_rejects() {
    let secs = Duration::from_secs;
    let cases = [
        ("0", 5),
        ("1", 5),
        ("4", 5),
        ("5", 5),
        ("60", 60),
        (" 7 ", 7),
        ("+8", 8),
    ];
    for (value, want) in cases {
        assert_eq!(
            ok(&[("Grip-Timeout", value)]).timeout,
            secs(want),
            "{value}"
        );
    }
    assert_eq!(ok(&[("Grip-Hold", "response")]).timeout, secs(55));
    check_header_errors(
        r#"
        Grip-Timeout: -1 | invalid Grip-Timeout value "-1"
        Grip-Timeout: abc | invalid Grip-Timeout value "abc"
        Grip-Timeout: 1.5 | invalid Grip-Timeout value "1.5"
        Grip-Timeout: | invalid Grip-Timeout value ""
        Grip-Timeout: 9999999999 | invalid Grip-Timeout value "9999999999"
        "#,
    );
}

#[test]
fn grip_keep_alive_data_formats_timeouts_and_modes() {
    let ka = |value: &str| {
        ok(&[("Grip-Keep-Alive", value)])
            .keep_alive
            .expect("keep-alive")
    };
    let secs = Duration::from_secs;
    let cases: &[(&str, &[u8], u64, KeepAliveMode)] = &[
        ("\\n", b"\\n", 55, KeepAliveMode::Idle),
        (r"\n; format=cstring", b"\n", 55, KeepAliveMode::Idle),
        (
            r"a\x3bb; format=cstring; timeout=20",
            b"a;b",
            20,
            KeepAliveMode::Idle,
        ),
        (
            "OjpwaW5nCg==; format=base64",
            b"::ping\n",
            55,
            KeepAliveMode::Idle,
        ),
        (
            "OjpwaW5nCg; format=base64",
            b"::ping\n",
            55,
            KeepAliveMode::Idle,
        ),
        (
            "x; format=raw; mode=interval; timeout=0",
            b"x",
            1,
            KeepAliveMode::Interval,
        ),
        ("x; mode=idle; timeout=1", b"x", 1, KeepAliveMode::Idle),
        ("a,b; timeout=3", b"a,b", 3, KeepAliveMode::Idle),
        (r#"x; timeout="9""#, b"x", 9, KeepAliveMode::Idle),
    ];
    for (value, data, timeout, mode) in cases {
        let got = ka(value);
        assert_eq!(got.data.as_ref(), *data, "{value}");
        assert_eq!(got.timeout, secs(*timeout), "{value}");
        assert_eq!(got.mode, *mode, "{value}");
    }
    // Only the first field counts.
    let two = ok(&[("Grip-Keep-Alive", "one"), ("Grip-Keep-Alive", "two")]);
    assert_eq!(two.keep_alive.expect("keep-alive").data, "one");
}

#[test]
fn malformed_grip_keep_alive_values_are_errors() {
    check_header_errors(
        r#"
        Grip-Keep-Alive: | invalid Grip-Keep-Alive value ""
        Grip-Keep-Alive: ; timeout=5 | invalid Grip-Keep-Alive value "; timeout=5"
        Grip-Keep-Alive: x; format=hex | invalid Grip-Keep-Alive format value "hex"
        Grip-Keep-Alive: \q; format=cstring | invalid Grip-Keep-Alive cstring value "\\q"
        Grip-Keep-Alive: @@; format=base64 | invalid Grip-Keep-Alive base64 value "@@"
        Grip-Keep-Alive: x; mode=sometimes | invalid Grip-Keep-Alive mode value "sometimes"
        Grip-Keep-Alive: x; timeout=-1 | invalid Grip-Keep-Alive timeout value "-1"
        Grip-Keep-Alive: x; timeout | invalid Grip-Keep-Alive timeout value ""
        Grip-Keep-Alive: x; timeout=a | invalid Grip-Keep-Alive timeout value "a"
        Grip-Keep-Alive: x; format="raw | unterminated quoted string
        "#,
    );
}

#[test]
fn grip_link_takes_the_last_gone_link_beside_the_next_link() {
    let links = |value: &str| {
        let got = ok(&[("Grip-Link", value)]);
        (got.next_link.map(|n| n.url), got.gone_link)
    };
    let s = |v: &str| Some(v.to_string());
    let cases = [
        ("</gone>; rel=gone", (None, s("/gone"))),
        ("</a>; rel=next, </g>; rel=gone", (s("/a"), s("/g"))),
        ("</g1>; rel=gone, </g2>; rel=\"gone\"", (None, s("/g2"))),
        ("<http://other/x>; rel=gone", (None, s("http://other/x"))),
        ("</a>; rel=prev", (None, None)),
    ];
    for (value, want) in cases {
        assert_eq!(links(value), want, "{value}");
    }
}

#[test]
fn grip_link_takes_the_last_next_link_and_ignores_other_rels() {
    let link = |value: &str| ok(&[("Grip-Link", value)]).next_link;
    let next = |url: &str, secs| {
        Some(NextLink {
            url: url.to_string(),
            timeout: Duration::from_secs(secs),
        })
    };
    let cases = [
        (
            "</stream/?after=3>; rel=next",
            next("/stream/?after=3", 120),
        ),
        ("</a>; rel=next; timeout=30", next("/a", 30)),
        ("</a>; rel=next, </b>; rel=next; timeout=0", next("/b", 0)),
        ("</a>; rel=next, </gone>; rel=gone", next("/a", 120)),
        ("</a>; rel=\"next\"", next("/a", 120)),
        ("</a>; rel=prev", None),
        ("</a>", None),
        ("not-a-link", None),
    ];
    for (value, want) in cases {
        assert_eq!(link(value), want, "{value}");
    }
    check_header_errors(
        r#"
        Grip-Link: /a; rel=next | invalid Grip-Link value "/a"
        Grip-Link: <>; rel=next | invalid Grip-Link value "<>"
        Grip-Link: </a b>; rel=next | invalid Grip-Link value "</a b>"
        Grip-Link: <bad url>; rel=gone | invalid Grip-Link value "<bad url>"
        Grip-Link: </a>; rel=next; timeout=-5 | invalid Grip-Link timeout value "-5"
        Grip-Link: </a>; rel=next; timeout | invalid Grip-Link timeout value ""
        "#,
    );
}

#[test]
fn grip_set_meta_pairs_with_quotes() {
    let meta = |value: &str| ok(&[("Grip-Set-Meta", value)]).meta;
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("user=alice", &[("user", "alice")]),
        (r#"k1=v1, k2="v 2""#, &[("k1", "v1"), ("k2", "v 2")]),
        (r#"k="a, b; c \" d""#, &[("k", "a, b; c \" d")]),
        ("k=1, k=2", &[("k", "2")]),
        ("flag, k = v ", &[("flag", ""), ("k", "v")]),
        ("id_format=%(a)s=x", &[("id_format", "%(a)s=x")]),
        ("User=Bob", &[("User", "Bob")]),
    ];
    for (value, want) in cases {
        assert_eq!(meta(value), pairs(want), "{value}");
    }
    check_header_errors(
        r#"
        Grip-Set-Meta: =v | invalid Grip-Set-Meta value "=v"
        Grip-Set-Meta: k="v"x | malformed Grip-Set-Meta value
        Grip-Set-Meta: k="v | malformed Grip-Set-Meta value
        "#,
    );
}

#[test]
fn grip_status_overrides_the_status_line() {
    let status = |value: &str| {
        let r = ok(&[("Grip-Status", value)]).response;
        (r.status, r.reason)
    };
    let cases = [
        ("202 Acceptedish", (202, "Acceptedish")),
        ("304", (304, "Not Modified")),
        ("404 Not  Here", (404, "Not  Here")),
        ("0", (0, "Undefined Reason")),
        ("999 Max", (999, "Max")),
        ("", (200, "OK")),
    ];
    for (value, (code, reason)) in cases {
        assert_eq!(status(value), (code, reason.to_string()), "{value}");
    }
    check_header_errors(
        r#"
        Grip-Status: 1000 | invalid Grip-Status value "1000"
        Grip-Status: -1 No | invalid Grip-Status value "-1 No"
        Grip-Status: OK 200 | invalid Grip-Status value "OK 200"
        Grip-Status: 2x0 | invalid Grip-Status value "2x0"
        "#,
    );
}

#[test]
fn grip_expose_headers_keeps_only_listed_headers() {
    let got = ok(&[
        ("Content-Type", "text/plain"),
        ("X-A", "1"),
        ("X-B", "2"),
        ("Content-Length", "0"),
        ("Grip-Expose-Headers", "x-a, Content-Length,"),
        ("Grip-Expose-Headers", "X-C"),
    ]);
    assert_eq!(got.response.headers, headers(&[("X-A", "1")]));
}

#[test]
fn grip_header_values_at_the_limit_pass_and_one_over_fails() {
    let at_limit = format!("c, {}", "x".repeat(GRIP_HEADER_BYTES_MAX - 3));
    assert_eq!(ok(&[("Grip-Channel", &at_limit)]).channels.len(), 2);
    let over = format!("{at_limit}x");
    check_errors(&[(
        &[("Grip-Channel", &over)],
        "",
        "Grip-Channel value is 100001 bytes, over the limit of 100000",
    )]);
    // Two fields are joined with ", " before the check.
    let half = "y".repeat(GRIP_HEADER_BYTES_MAX / 2);
    check_errors(&[(
        &[("Grip-Set-Meta", &half), ("Grip-Set-Meta", &half)],
        "",
        "100002 bytes",
    )]);
}

#[test]
fn non_utf8_grip_values_are_errors() {
    let mut fields = Headers::new();
    fields.push("Grip-Channel", &b"caf\xe9"[..]);
    let e = parse_instruction(200, "OK", &fields, Bytes::new(), "", 20).expect_err("bad utf-8");
    assert!(
        e.to_string().contains("malformed Grip-Channel value"),
        "{e}"
    );
    assert!(e.to_string().contains("not valid UTF-8"), "{e}");
}

#[test]
fn response_hold_bodies_are_limited_but_stream_bodies_are_not() {
    let at = "b".repeat(GRIP_RESPONSE_BODY_BYTES_MAX);
    let over = format!("{at}b");
    assert!(parse(200, &[("Grip-Hold", "response")], &at).is_ok());
    match parse(200, &[("Grip-Hold", "response")], &over) {
        Err(InstructError::BodyTooLarge { bytes, bytes_max }) => {
            assert_eq!((bytes, bytes_max), (100_001, 100_000));
        }
        other => panic!("expected BodyTooLarge, got {other:?}"),
    }
    let stream = parse(200, &[("Grip-Hold", "stream")], &over).expect("stream may be larger");
    assert_eq!(stream.response.body.len(), 100_001);
    assert!(parse(200, &[("Grip-Foo", "x")], &over).is_ok());
}

#[test]
fn json_instruct_full_example() {
    let body = r#"{
        "hold": {
            "mode": "stream",
            "channels": [{"name": "c", "prev-id": "3", "filters": ["skip-self"]}, {"name": "d"}],
            "timeout": 2,
            "keep-alive": {"content": "\n", "timeout": 20},
            "meta": {"user": "alice"}
        },
        "response": {
            "code": 200, "reason": "OK",
            "headers": {"Content-Type": "text/plain", "Grip-X": "y", "Content-Length": "3"},
            "body": "timeout body\n"
        }
    }"#;
    let fields = [
        JSON,
        ("X-Discarded", "1"),
        ("Grip-Link", "</next>; rel=next"),
    ];
    let got = parse(200, &fields, body).expect("parses");
    assert_eq!(got.hold, Some(HoldMode::Stream));
    assert_eq!(
        got.channels,
        vec![
            channel("c", Some("3"), &["skip-self"]),
            channel("d", None, &[])
        ]
    );
    assert_eq!(got.timeout, Duration::from_secs(5));
    assert_eq!(
        got.keep_alive,
        Some(KeepAlive {
            data: Bytes::from("\n"),
            timeout: Duration::from_secs(20),
            mode: KeepAliveMode::Interval,
        })
    );
    assert_eq!(got.meta, vec![("user".to_string(), "alice".to_string())]);
    assert_eq!(got.next_link.expect("link from the header").url, "/next");
    assert_eq!(
        got.response,
        ClientResponse {
            status: 200,
            reason: "OK".into(),
            headers: headers(&[("Content-Type", "text/plain")]),
            body: Bytes::from("timeout body\n"),
        }
    );
}

#[test]
fn json_instruct_defaults_and_alternative_shapes() {
    let got = parse(200, &[JSON, ("X-A", "1")], r#"{"hold": {"channels": []}}"#).expect("ok");
    assert_eq!(got.hold, Some(HoldMode::Response));
    assert_eq!(got.timeout, HOLD_TIMEOUT_DEFAULT);
    assert_eq!(got.response.status, 200);
    assert_eq!(got.response.reason, "OK");
    assert!(got.response.headers.is_empty());
    assert!(got.response.body.is_empty());

    let body = r#"{"response": {"code": 404, "headers": [["X-A", "1"], ["x-a", "2"]],
        "body-bin": "aGk=", "body": "ignored"}}"#;
    let got = parse(200, &[JSON], body).expect("ok");
    assert_eq!(got.hold, None);
    assert_eq!(got.response.status, 404);
    assert_eq!(got.response.reason, "Not Found");
    assert_eq!(got.response.headers, headers(&[("X-A", "1"), ("x-a", "2")]));
    assert_eq!(got.response.body, "hi");

    let ka = r#"{"hold": {"channels": [{"name": "c"}], "timeout": 9.0,
        "keep-alive": {"content-bin": "Og", "content": "ignored", "timeout": 0}}}"#;
    let got = parse(200, &[JSON], ka).expect("ok");
    assert_eq!(got.timeout, Duration::from_secs(9));
    let ka = got.keep_alive.expect("keep-alive");
    assert_eq!(
        (ka.data.as_ref(), ka.timeout),
        (&b":"[..], Duration::from_secs(1))
    );
    let empty_ka = r#"{"hold": {"channels": [], "keep-alive": {"timeout": 5}}}"#;
    assert_eq!(parse(200, &[JSON], empty_ka).expect("ok").keep_alive, None);
}

#[test]
fn json_instruct_keeps_grip_status_and_header_fields_unless_overridden() {
    let status = [JSON, ("Grip-Status", "202 Fine")];
    let got = parse(200, &status, "{}").expect("ok");
    assert_eq!(
        (got.response.status, got.response.reason.as_str()),
        (202, "Fine")
    );
    let got = parse(200, &status, r#"{"response": {"code": 201}}"#).expect("ok");
    assert_eq!(
        (got.response.status, got.response.reason.as_str()),
        (201, "Created")
    );
    let got = parse(200, &status, r#"{"response": {"reason": "Yes"}}"#).expect("ok");
    assert_eq!(
        (got.response.status, got.response.reason.as_str()),
        (202, "Yes")
    );

    let fields = [JSON, ("Grip-Channel", "h"), ("Grip-Set-Meta", "a=1, b=2")];
    let body = r#"{"hold": {"channels": [{"name": "j"}], "meta": {"b": "3"}}}"#;
    let got = parse(200, &fields, body).expect("ok");
    let names: Vec<&str> = got.channels.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["h", "j"]);
    let meta: Vec<(&str, &str)> = got
        .meta
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(meta, [("a", "1"), ("b", "3")]);
}

#[test]
fn malformed_json_instructs_are_errors() {
    check_json_errors(
        r#"
        { | application/grip-instruct body is not valid JSON
        [] | field (root): must be an object
        {"hold": 1} | field hold: must be an object
        {"hold": {}} | field hold.channels: is required
        {"hold": {"channels": {}}} | field hold.channels: must be a list
        {"hold": {"channels": ["c"]}} | field hold.channels[0]: must be an object
        {"hold": {"channels": [{}]}} | field hold.channels[0].name: is required
        {"hold": {"channels": [{"name": 1}]}} | field hold.channels[0].name: must be a string
        {"hold": {"channels": [{"name": "c", "prev-id": 3}]}} | hold.channels[0].prev-id: must be a string
        {"hold": {"channels": [{"name": "c", "filters": "f"}]}} | hold.channels[0].filters: must be a list
        {"hold": {"channels": [{"name": "c", "filters": [1]}]}} | hold.channels[0].filters: must be a string
        {"hold": {"channels": [], "mode": "bogus"}} | hold.mode: must be "response" or "stream"
        {"hold": {"channels": [], "mode": 1}} | hold.mode: must be a string
        {"hold": {"channels": [], "timeout": -1}} | hold.timeout: must be a non-negative integer
        {"hold": {"channels": [], "timeout": "5"}} | hold.timeout: must be a non-negative integer
        {"hold": {"channels": [], "timeout": 1.5}} | hold.timeout: must be a non-negative integer
        {"hold": {"channels": [], "keep-alive": "x"}} | hold.keep-alive: must be an object
        {"hold": {"channels": [], "keep-alive": {"content": 1}}} | hold.keep-alive.content: must be a string
        {"hold": {"channels": [], "keep-alive": {"content-bin": "@"}}} | hold.keep-alive.content-bin: is not valid base64
        {"hold": {"channels": [], "keep-alive": {"content": "x", "timeout": -3}}} | hold.keep-alive.timeout: must be
        {"hold": {"channels": [], "meta": []}} | field hold.meta: must be an object
        {"hold": {"channels": [], "meta": {"user": 1}}} | field hold.meta.user: must be a string
        "#,
    );
    let e = parse(200, &[JSON], "").expect_err("empty body");
    assert!(e.to_string().contains("not valid JSON"), "{e}");
}

#[test]
fn malformed_json_instruct_responses_are_errors() {
    check_json_errors(
        r#"
        {"response": 1} | field response: must be an object
        {"response": {"code": 1000}} | response.code: must be an integer from 0 to 999
        {"response": {"code": "200"}} | response.code: must be an integer from 0 to 999
        {"response": {"reason": 5}} | response.reason: must be a string
        {"response": {"reason": "OK\r\nX: y"}} | response.reason: contains a control character
        {"response": {"headers": "x"}} | response.headers: must be an object or a list
        {"response": {"headers": {"A": 1}}} | response.headers.A: must be a string
        {"response": {"headers": [["A"]]}} | response.headers[0]: must be a [name, value] list
        {"response": {"headers": [["A", 1]]}} | response.headers[0]: must be a string
        {"response": {"headers": [1]}} | response.headers[0]: must be a [name, value] list
        {"response": {"headers": {"A B": "1"}}} | response.headers.A B: is not a valid header
        {"response": {"headers": {"": "1"}}} | response.headers.: is not a valid header
        {"response": {"headers": {"A": "1\r\nB: 2"}}} | response.headers.A: is not a valid header
        {"response": {"headers": {"A": "st\u007fream"}}} | response.headers.A: is not a valid header
        {"response": {"headers": {"A": "x\u0001"}}} | response.headers.A: is not a valid header
        {"response": {"body": 1}} | response.body: must be a string
        {"response": {"body-bin": "***"}} | response.body-bin: is not valid base64
        "#,
    );
}

/// Runs a table of `body | text` rows: each grip-instruct body must fail with the text.
fn check_json_errors(table: &str) {
    for (body, want) in rows(table) {
        check_errors(&[(&[JSON], body, want)]);
    }
}

#[test]
fn json_instruct_needs_status_200_and_a_bounded_body() {
    let e = parse(404, &[JSON], "{}").expect_err("not 200");
    assert_eq!(
        e.to_string(),
        "application/grip-instruct response has status 404, not 200"
    );
    let padding = " ".repeat(GRIP_RESPONSE_BODY_BYTES_MAX - 2);
    assert!(parse(200, &[JSON], &format!("{{{padding}}}")).is_ok());
    let over = format!("{{{padding} }}");
    let e = parse(200, &[JSON], &over).expect_err("too large");
    assert!(
        matches!(e, InstructError::BodyTooLarge { bytes: 100_001, .. }),
        "{e}"
    );
}

#[test]
fn missing_reasons_get_the_standard_phrase_or_undefined_reason() {
    for (code, want) in [
        (200, "OK"),
        (304, "Not Modified"),
        (404, "Not Found"),
        (502, "Bad Gateway"),
        (0, "Undefined Reason"),
        (299, "Undefined Reason"),
        (999, "Undefined Reason"),
    ] {
        assert_eq!(super::standard_reason(code), want, "{code}");
    }
}
