use super::*;
use crate::config::routes::parse_route_line;

fn client(lines: &[(&str, &str)]) -> RequestHead {
    RequestHead {
        method: "GET".into(),
        target: "/p/x?q=1".into(),
        version: Version::Http11,
        headers: lines
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect(),
    }
}

fn forward(route_line: &str, head: &RequestHead, xff: &[XffRule]) -> RequestHead {
    forward_proto(route_line, head, xff, None)
}

fn forward_proto(
    route_line: &str,
    head: &RequestHead,
    xff: &[XffRule],
    forwarded_proto: Option<&'static str>,
) -> RequestHead {
    let route = parse_route_line(route_line, 1)
        .expect("route parses")
        .expect("route present");
    let crate::config::Target::Http(target) = &route.targets[0] else {
        panic!("http target expected");
    };
    let ctx = ForwardContext {
        route: &route,
        target,
        peer_ip: "10.0.0.9".parse().expect("ip"),
        grip_sig: Some("tok"),
        xff,
        body: BodyFraming::None,
        forwarded_proto,
    };
    build_origin_request(head, &ctx)
}

#[test]
fn x_forwarded_proto_is_the_clients_only_over_tls_and_never_the_clients_own() {
    let head = client(&[
        ("Host", "example.com"),
        ("X-Forwarded-Proto", "https"),
        ("X-Forwarded-Protocol", "https"),
    ]);
    let plain = forward_proto("* 127.0.0.1:80", &head, &[], None);
    assert!(!plain.headers.contains("x-forwarded-proto"));
    assert!(!plain.headers.contains("x-forwarded-protocol"));
    let tls = forward_proto("* 127.0.0.1:80", &head, &[], Some("https"));
    let values: Vec<_> = tls.headers.get_all("x-forwarded-proto").collect();
    assert_eq!(values, [&b"https"[..]]);
    assert!(!tls.headers.contains("x-forwarded-protocol"));
}

#[test]
fn hop_by_hop_listed_and_grip_headers_are_removed() {
    let head = client(&[
        ("Host", "example.com"),
        ("Connection", "keep-alive, X-Private"),
        ("X-Private", "1"),
        ("Grip-Foo", "bar"),
        ("Accept-Encoding", "gzip"),
        ("Expect", "100-continue"),
        ("X-Keep", "yes"),
    ]);
    let out = forward("* 127.0.0.1:80", &head, &[]);
    for gone in [
        "connection",
        "x-private",
        "grip-foo",
        "accept-encoding",
        "expect",
    ] {
        assert!(!out.headers.contains(gone), "{gone} forwarded");
    }
    assert_eq!(out.headers.get_str("x-keep"), Some("yes"));
    assert_eq!(out.headers.get_str("host"), Some("example.com"));
    assert_eq!(out.headers.get_str("grip-sig"), Some("tok"));
    assert_eq!(out.headers.get_str("grip-feature"), Some(GRIP_FEATURES));
    assert_eq!(out.version, Version::Http11);
}

#[test]
fn route_rewrites_apply_to_path_host_and_headers() {
    let head = client(&[("Host", "a"), ("User-Agent", "ua")]);
    let out = forward(
        "*,path_beg=/p,replace_beg=/echo/,as_host=b.example,header=User-Agent:,header=X-Set:1 127.0.0.1:80",
        &head,
        &[],
    );
    assert_eq!(out.target, "/echo//x?q=1");
    assert_eq!(out.headers.get_str("host"), Some("b.example"));
    assert!(!out.headers.contains("user-agent"));
    assert_eq!(out.headers.get_str("x-set"), Some("1"));
}

#[test]
fn xff_rules_truncate_then_append() {
    let head = client(&[
        ("X-Forwarded-For", "1.1.1.1, 2.2.2.2"),
        ("x-forwarded-for", "3.3.3.3"),
    ]);
    let out = forward("* 127.0.0.1:80", &head, &[XffRule::Append]);
    assert_eq!(
        out.headers.get_str("x-forwarded-for"),
        Some("1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9")
    );
    let out = forward(
        "* 127.0.0.1:80",
        &head,
        &[XffRule::Truncate(1), XffRule::Append],
    );
    assert_eq!(
        out.headers.get_str("x-forwarded-for"),
        Some("3.3.3.3, 10.0.0.9")
    );
    let out = forward("* 127.0.0.1:80", &head, &[]);
    assert_eq!(
        out.headers.get_all("x-forwarded-for").count(),
        2,
        "no rules: untouched"
    );
}

#[test]
fn grip_feature_lists_every_filter_ringpin_implements() {
    let listed: Vec<&str> = GRIP_FEATURES.split(", ").collect();
    assert_eq!(listed.first(), Some(&"status"));
    for filter in crate::grip::Filter::ALL {
        let feature = format!("filter:{}", filter.name());
        assert!(listed.contains(&feature.as_str()), "{feature} missing");
    }
}
