//! Tests of link resolution, `Grip-Last` and the retry schedule.

use super::*;

fn base() -> LinkUrl {
    request_url("/a/b/c?q=1", Some("Example.com:7999")).expect("base")
}

fn resolved(reference: &str) -> String {
    let url = resolve_link(&base(), reference).expect(reference);
    format!("{}|{}", url.host_header(), url.path_and_query)
}

#[test]
fn request_url_takes_the_host_field_or_the_absolute_target() {
    let url = base();
    assert_eq!((url.host.as_str(), url.port), ("example.com", 7999));
    assert_eq!(url.path_and_query, "/a/b/c?q=1");
    let absolute = request_url("http://other:81/x?y#frag", Some("ignored")).expect("abs");
    assert_eq!(absolute.host_header(), "other:81");
    assert_eq!(absolute.path_and_query, "/x?y");
    let no_port = request_url("/", Some("h")).expect("no port");
    assert_eq!((no_port.port, no_port.host_header().as_str()), (80, "h"));
    let v6 = request_url("/", Some("[::1]:8080")).expect("v6");
    assert_eq!((v6.host.as_str(), v6.port), ("[::1]", 8080));
}

#[test]
fn request_url_without_a_usable_host_is_an_error() {
    for host in [
        None,
        Some(""),
        Some("a:b"),
        Some("u@h"),
        Some("h:99999"),
        Some("[::1"),
    ] {
        assert!(
            matches!(request_url("/", host), Err(LinkError::NoBaseHost { .. })),
            "{host:?}"
        );
    }
}

#[test]
fn relative_references_resolve_as_rfc_3986_says() {
    let cases = [
        ("/next", "example.com:7999|/next"),
        ("/next?x=1&y", "example.com:7999|/next?x=1&y"),
        ("next", "example.com:7999|/a/b/next"),
        ("./next", "example.com:7999|/a/b/next"),
        ("../next", "example.com:7999|/a/next"),
        ("../../../../next", "example.com:7999|/next"),
        ("d/./e/../f", "example.com:7999|/a/b/d/f"),
        ("..", "example.com:7999|/a/"),
        ("?link=next", "example.com:7999|/a/b/c?link=next"),
        ("#frag", "example.com:7999|/a/b/c?q=1"),
        ("/p#frag", "example.com:7999|/p"),
        ("//other:9000/z", "other:9000|/z"),
        ("http://Other/z?k", "other|/z?k"),
        ("HTTP://other:8080", "other:8080|/"),
        ("http://other?q", "other|/?q"),
    ];
    for (reference, want) in cases {
        assert_eq!(resolved(reference), want, "{reference}");
    }
}

#[test]
fn malformed_or_foreign_links_are_refused() {
    let cases = [
        ("ftp://secure/x", "unsupported scheme"),
        ("mailto:x@y", "unsupported scheme"),
        ("http://", "invalid authority"),
        ("http:///path", "invalid authority"),
        ("http://user@host/", "invalid authority"),
        ("http://host:0/", "invalid authority"),
        ("http://host:port/", "invalid authority"),
        ("//", "invalid authority"),
        ("http://[::1/", "invalid authority"),
    ];
    for (reference, want) in cases {
        let err = resolve_link(&base(), reference).expect_err(reference);
        assert!(err.to_string().contains(want), "{reference}: {err}");
    }
}

#[test]
fn https_links_and_tls_clients_get_port_443_and_tls_and_keep_it_for_relative_links() {
    let link = resolve_link(&base(), "https://Secure/x?y").expect("https link");
    assert!(link.tls && link.port == 443 && link.host_header() == "secure");
    assert_eq!(link.path_and_query, "/x?y");
    let tls_base = request_url_on("/a/b", Some("example.com"), true).expect("tls base");
    assert!(tls_base.tls && tls_base.port == 443);
    let relative = resolve_link(&tls_base, "c").expect("relative");
    assert!(relative.tls && relative.same_origin(&tls_base));
    assert_eq!(relative.path_and_query, "/a/c");
    let network = resolve_link(&tls_base, "//other:8443/z").expect("network-path");
    assert!(network.tls && network.host_header() == "other:8443");
    // The same host and port over another scheme is another origin.
    let plain = resolve_link(&tls_base, "http://example.com:443/").expect("plain");
    assert!(!plain.tls && !plain.same_origin(&tls_base));
    let absolute = request_url_on("https://h:9/p", None, false).expect("absolute-form");
    assert!(absolute.tls && absolute.port == 9);
}

#[test]
fn same_origin_compares_host_and_port() {
    let b = base();
    assert!(resolve_link(&b, "/x").expect("x").same_origin(&b));
    assert!(resolve_link(&b, "http://EXAMPLE.com:7999/y")
        .expect("y")
        .same_origin(&b));
    assert!(!resolve_link(&b, "http://example.com/y")
        .expect("y")
        .same_origin(&b));
}

#[test]
fn grip_last_quotes_ids_that_are_not_tokens_and_round_trips() {
    let cases = [
        ("c", "1", "c; last-id=1"),
        ("events-room", "a:b", "events-room; last-id=\"a:b\""),
        ("c", "x y", "c; last-id=\"x y\""),
        ("c", "q\"\\", "c; last-id=\"q\\\"\\\\\""),
        ("c", "", "c; last-id=\"\""),
        ("c", "1,2;3", "c; last-id=\"1,2;3\""),
    ];
    for (channel, id, want) in cases {
        let value = encode_grip_last(channel, id).expect(id);
        assert_eq!(value, want);
        let back = parse_grip_last(&value).expect(&value);
        assert_eq!(back, vec![(channel.to_owned(), id.to_owned())]);
    }
}

#[test]
fn grip_last_refuses_control_characters_and_malformed_values() {
    assert!(matches!(
        encode_grip_last("c", "1\r\nX-Evil: 1"),
        Err(LinkError::ControlCharacter { .. })
    ));
    assert!(encode_grip_last("c\n", "1").is_err());
    assert_eq!(
        parse_grip_last("a; last-id=1, b; last-id=\"2\"").expect("two"),
        vec![("a".into(), "1".into()), ("b".into(), "2".into())]
    );
    for bad in ["a", "a; other=1", "; last-id=1", "a; last-id=\"1"] {
        assert!(parse_grip_last(bad).is_err(), "{bad}");
    }
}

#[test]
fn a_link_fetch_retries_only_exchange_failures_at_most_five_times_and_never_in_shutdown() {
    let jitter = Duration::from_millis(999);
    let mut retry = LinkRetry::default();
    assert_eq!(
        retry.on_failure(false, false, jitter),
        None,
        "a refused answer is final"
    );
    let delays: Vec<_> = (0..7)
        .map(|_| retry.on_failure(true, false, jitter))
        .collect();
    assert_eq!(delays.iter().flatten().count(), 5);
    assert!(delays
        .iter()
        .flatten()
        .all(|d| *d <= Duration::from_secs(16) + jitter));
    assert_eq!(delays[5..], [None, None]);
    let mut stopping = LinkRetry::default();
    assert_eq!(
        stopping.on_failure(true, true, jitter),
        None,
        "shutdown stops retries"
    );
}

#[test]
fn retries_back_off_doubling_from_one_second_five_times() {
    let jitter = Duration::from_millis(250);
    let delays: Vec<_> = (0..7).map(|n| retry_delay(n, jitter)).collect();
    let secs = |s| Some(Duration::from_secs(s) + jitter);
    assert_eq!(
        delays,
        [secs(1), secs(2), secs(4), secs(8), secs(16), None, None]
    );
}

#[test]
fn odd_input_never_panics_and_always_yields_an_absolute_path() {
    let pieces = [
        "", "/", "//", "?", "#", ":", "@", "[", "]", "[::1]", "..", ".", "é", "ü/", "%2F", "\\",
        "http:", "http://", "HTTP://h", "h:65536", ":80", "a:b:c", " ", "\u{7f}", "x?y#z",
    ];
    for a in pieces {
        for b in pieces {
            let reference = format!("{a}{b}");
            let _ = request_url(&reference, Some(&reference));
            if let Ok(url) = resolve_link(&base(), &reference) {
                assert!(
                    url.path_and_query.starts_with('/'),
                    "{reference:?} -> {url:?}"
                );
                assert!(!url.host.is_empty(), "{reference:?} -> {url:?}");
            }
        }
    }
}

/// Found by the `grip_instruct` fuzz target: a reference whose fourth or fifth byte is inside
/// a multi-byte character panicked (`str::split_at` off a character boundary) instead of
/// resolving as a relative reference.
#[test]
fn a_multi_byte_character_where_a_scheme_would_end_is_a_relative_reference() {
    assert_eq!(resolved("abcéxxx"), "example.com:7999|/a/b/abcéxxx");
    assert_eq!(resolved("httpéxx"), "example.com:7999|/a/b/httpéxx");
    assert_eq!(resolved("httpséx/y"), "example.com:7999|/a/b/httpséx/y");
}
