//! Routes: tokenizer, line parsing, warnings, selection and path rewriting, table-driven.

use super::*;
use crate::config::route_line::{tokenize, Section};

/// Sections as `"value"[prop="val",flag] ...`, so a table row shows quoting effects plainly.
fn render_sections(sections: &[Section]) -> String {
    let render = |section: &Section| {
        let props: Vec<String> = section
            .props
            .iter()
            .map(|prop| match &prop.value {
                Some(value) => format!("{}={value:?}", prop.name),
                None => prop.name.clone(),
            })
            .collect();
        format!("{:?}[{}]", section.value, props.join(","))
    };
    sections.iter().map(render).collect::<Vec<_>>().join(" ")
}

#[test]
fn tokenizer_splits_sections_props_quotes_and_comments() {
    let check = |line: &str, expected: &str| {
        let got = match tokenize(line) {
            Ok(sections) => render_sections(&sections),
            Err(message) => format!("error: {message}"),
        };
        assert_eq!(got, expected, "line {line:?}");
    };
    check("", "");
    check("   \t ", "");
    check("# only a comment", "");
    check("* test # trailing comment", r#""*"[] "test"[]"#);
    check("*#glued comment", r#""*"[]"#);
    check("*\ttest", r#""*"[] "test"[]"#);
    check("*,id=a test", r#""*"[id="a"] "test"[]"#);
    check(
        "id=a,path_beg=/x h:1",
        r#"""[id="a",path_beg="/x"] "h:1"[]"#,
    );
    check(",id=a h:1", r#"""[id="a"] "h:1"[]"#);
    check(r#""a b",x="c,d" t"#, r#""a b"[x="c,d"] "t"[]"#);
    check(
        r##"a,x="# not a comment" t"##,
        r##""a"[x="# not a comment"] "t"[]"##,
    );
    check(r#""a\\b\"c""#, r#""a\\b\"c"[]"#);
    check(r#"ab"c d"e"#, r#""abc de"[]"#);
    check(r##""a\"#b" t"##, r##""a\"#b"[] "t"[]"##);
    check(r#""a=b",c"#, r#""a=b"[c]"#);
    check(r#"a,"x=y""#, r#""a"[x=y]"#);
    check(r#"a,x="1 2""#, r#""a"[x="1 2"]"#);
    check("a,x=1=2", r#""a"[x="1=2"]"#);
    check("a,x=", r#""a"[x=""]"#);
    check(r#"a,x="""#, r#""a"[x=""]"#);
    check(r#"a\b"#, r#""a\\b"[]"#);
    check(r#""""#, r#"""[]"#);
    // Malformed: the whole line is refused.
    check(r#"* "abc"#, "error: unterminated quote");
    check(r#"* "abc\""#, "error: unterminated quote");
    check(r#"* "a\nb""#, r"error: invalid escape \n in quoted string");
    check(r#"* "a\'b""#, r"error: invalid escape \' in quoted string");
    check("a, t", r#"error: empty property name in "a,""#);
    check("a,=b t", r#"error: empty property name in "a,=b""#);
    check("a,,b t", r#"error: empty property name in "a,,b""#);
    check("=b t", r#"error: empty property name in "=b""#);
    check(r#"a,""=b"#, r#"error: empty property name in "a,\"\"=b""#);
}

/// A route as its non-default fields, in a fixed order, then ` -> ` and its targets.
fn summary(route: &Route) -> String {
    let mut parts = vec![match &route.domain {
        Domain::Any => "domain=*".to_string(),
        Domain::Exact(domain) => format!("domain={domain}"),
        Domain::None => "domain=-".to_string(),
    }];
    let mut optional = |name: &str, value: &Option<String>| {
        if let Some(value) = value {
            parts.push(format!("{name}={value}"));
        }
    };
    optional("id", &route.id);
    optional("path_beg", &route.path_beg);
    optional("as_host", &route.as_host);
    optional("replace_beg", &route.replace_beg);
    optional("sig_iss", &route.sig_iss);
    optional("sig_key", &route.sig_key);
    if let Some(proto) = route.proto {
        parts.push(format!("proto={proto:?}"));
    }
    if let Some(ssl) = route.ssl {
        parts.push(format!("ssl={ssl}"));
    }
    if !route.prefix.is_empty() {
        parts.push(format!("prefix={}", route.prefix));
    }
    if route.path_rem > 0 {
        parts.push(format!("path_rem={}", route.path_rem));
    }
    for (name, value) in &route.set_headers {
        parts.push(format!("header={name}:{value}"));
    }
    let flags = [
        ("no_grip", route.no_grip),
        ("debug", route.debug),
        ("aco", route.aco),
        ("orig_headers", route.orig_headers),
    ];
    parts.extend(flags.iter().filter(|f| f.1).map(|f| f.0.to_string()));
    let targets: Vec<String> = route.targets.iter().map(target_summary).collect();
    format!("{} -> {}", parts.join(" "), targets.join(" "))
}

fn target_summary(target: &Target) -> String {
    let Target::Http(t) = target else {
        return "test".to_string();
    };
    let mut text = format!("{}:{}", t.host, t.port);
    let flags = [
        ("ssl", t.ssl),
        ("over_http", t.over_http),
        ("one_event", t.one_event),
        ("untrusted", t.untrusted),
        ("insecure", t.insecure),
        ("trust_connect_host", t.trust_connect_host),
    ];
    for (name, _) in flags.iter().filter(|f| f.1) {
        text.push_str(&format!("+{name}"));
    }
    if let Some(host) = &t.host_header {
        text.push_str(&format!("+host={host}"));
    }
    for sub in &t.subs {
        text.push_str(&format!("+sub={sub}"));
    }
    text
}

#[test]
fn route_lines_parse_conditions_and_targets() {
    let check = |line: &str, expected: &str| {
        let got = match parse_route_line(line, 7) {
            Ok(Some(route)) => {
                assert_eq!(route.line, 7);
                summary(&route)
            }
            Ok(None) => "none".to_string(),
            Err(message) => format!("error: {message}"),
        };
        assert_eq!(got, expected, "line {line:?}");
    };
    check("", "none");
    check("  # comment", "none");
    check("* test", "domain=* -> test");
    check("* 127.0.0.1:8080", "domain=* -> 127.0.0.1:8080");
    check(
        "Example.COM localhost:80",
        "domain=example.com -> localhost:80",
    );
    check(
        "*,path_beg=/ws,proto=ws localhost:8080,over_http",
        "domain=* path_beg=/ws proto=Ws -> localhost:8080+over_http",
    );
    check(
        "api.example.com,id=api,prefix=api- backend1:80 backend2:80",
        "domain=api.example.com id=api prefix=api- -> backend1:80 backend2:80",
    );
    check("id=only backend:80", "domain=- id=only -> backend:80");
    check(
        "*,ssl=yes,path_beg=/p,replace_beg=/echo/ h:1",
        "domain=* path_beg=/p replace_beg=/echo/ ssl=true -> h:1",
    );
    check("*,ssl=no h:1", "domain=* ssl=false -> h:1");
    check("*,proto=http h:1", "domain=* proto=Http -> h:1");
    check(
        r#"*,header=User-Agent:,header="X-A: b c" h:1"#,
        "domain=* header=User-Agent: header=X-A:b c -> h:1",
    );
    check(
        "*,sig_iss=me,sig_key=base64:aGVsbG8= h:1",
        "domain=* sig_iss=me sig_key=base64:aGVsbG8= -> h:1",
    );
    check(
        "*,no_grip,debug,aco,orig_headers,as_host=x.com:81,path_rem=3 h:1",
        "domain=* as_host=x.com:81 path_rem=3 no_grip debug aco orig_headers -> h:1",
    );
    check(
        "* h:1,ssl,untrusted,insecure,trust_connect_host,host=foo:81,sub=a,sub=b",
        "domain=* -> h:1+ssl+untrusted+insecure+trust_connect_host+host=foo:81+sub=a+sub=b",
    );
    check(
        "* h:1,over_http,one_event",
        "domain=* -> h:1+over_http+one_event",
    );
    check("* [::1]:8080", "domain=* -> ::1:8080");
    check("* zhttp/tcp://127.0.0.1:5 test", "domain=* -> test");
    check("*,sockjs=/s,weird h:1", "domain=* -> h:1");
    check("* h:65535", "domain=* -> h:65535");
    // A quoted `=` is text: this is an (unknown) prop named `header=A B:v`, not a header.
    check(r#"*,"header=A B:v" h:1"#, "domain=* -> h:1");
}

#[test]
fn malformed_route_lines_are_refused_with_a_reason() {
    let check = |line: &str, expected: &str| {
        let got = parse_route_line(line, 1).map(|route| route.map(|r| summary(&r)));
        assert_eq!(got, Err(expected.to_string()), "line {line:?}");
    };
    check("*", "no target");
    check("* # no target", "no target");
    check(",path_beg=/x h:1", "no domain and no id");
    check("path_beg=/x h:1", "no domain and no id");
    check(r#""" h:1"#, "no domain and no id");
    check(
        "* h",
        r#"bad target "h": expected host:port, test, or zhttp/..."#,
    );
    check(
        "* :80",
        r#"bad target ":80": expected host:port, test, or zhttp/..."#,
    );
    check(
        "* ::1:80",
        r#"bad target "::1:80": expected host:port, test, or zhttp/..."#,
    );
    check(
        "* [::1]80",
        r#"bad target "[::1]80": expected host:port, test, or zhttp/..."#,
    );
    check("* h:0", r#"bad target "h:0": port must be 1-65535"#);
    check("* h:65536", r#"bad target "h:65536": port must be 1-65535"#);
    check("* h:", r#"bad target "h:": port must be 1-65535"#);
    check("* h:http", r#"bad target "h:http": port must be 1-65535"#);
    check("* ,ssl", "empty target");
    check("* zhttp/tcp://127.0.0.1:5", "no supported target");
    check("* zhttpreq/a zhttp/b", "no supported target");
    check("*,proto=tcp h:1", "proto must be http or ws");
    check("*,proto h:1", "proto must be http or ws");
    check("*,ssl=true h:1", "ssl must be yes or no");
    check("*,path_beg= h:1", "path_beg needs a value");
    check("*,id h:1", "id needs a value");
    check("*,as_host= h:1", "as_host needs a value");
    check("*,path_rem=x h:1", "path_rem must be a byte count");
    check("*,path_rem=-1 h:1", "path_rem must be a byte count");
    check(
        "*,header=NoColon h:1",
        r#"header needs Name:Value, not "NoColon""#,
    );
    check("*,header=:v h:1", r#"header has a bad name """#);
    check(r#"*,header="A B:v" h:1"#, r#"header has a bad name "A B""#);
    check(
        "*,sig_key=base64:!!! h:1",
        "sig_key: bad base64 key: Invalid symbol 33, offset 0.",
    );
    check(
        "*,sig_key=file:/k.pem h:1",
        "sig_key: file: (PEM, ES256/RS256) keys are not supported; use an HS256 key",
    );
    check(
        "*,jsonp_mode=full h:1",
        "jsonp_mode must be set to 'basic' or 'extended'",
    );
    check("* h:1,host=", "host needs a value");
    check("* h:1,sub", "sub needs a value");
    check(r#"* "h:1"#, "unterminated quote");
    check("* h:1,", r#"empty property name in "h:1,""#);
}

/// `parse_routes(text)` keeps the routes on `kept_lines` and warns exactly `expected`.
fn check_parse_routes(text: &str, kept_lines: &[usize], expected: &[(usize, &str)]) {
    let (routes, warnings) = parse_routes(text);
    let lines: Vec<usize> = routes.routes.iter().map(|r| r.line).collect();
    assert_eq!(lines, kept_lines, "kept lines of {text:?}");
    let got: Vec<(usize, &str)> = warnings
        .iter()
        .map(|w| (w.line, w.message.as_str()))
        .collect();
    assert_eq!(got, expected, "warnings of {text:?}");
}

#[test]
fn jsonp_props_configure_the_route_and_default_by_mode() {
    let route = |line: &str| parse_route_line(line, 1).expect("parses").expect("a route");
    let plain = route("*,aco h:1");
    assert!(plain.aco);
    assert_eq!(plain.jsonp, JsonpConfig::default());
    assert_eq!(plain.jsonp.callback_param(), "callback");
    assert_eq!(plain.jsonp.default_method(), "GET");
    let basic = route("*,jsonp_mode=basic,jsonp_cb=cb,jsonp_body=b,jsonp_defcb=f h:1");
    assert_eq!(
        basic.jsonp,
        JsonpConfig {
            mode: JsonpMode::Basic,
            callback_param: "cb".into(),
            body_param: "b".into(),
            default_callback: "f".into(),
            default_method: String::new(),
        }
    );
    assert_eq!(basic.jsonp.default_method(), "POST");
    let put = route("*,jsonp_mode=extended,jsonp_defmethod=PUT h:1");
    assert_eq!(put.jsonp.default_method(), "PUT");
}

#[test]
fn parse_routes_warns_about_ignored_props_and_keeps_the_line() {
    let check = check_parse_routes;
    check("", &[], &[]);
    check("# a comment\n\n* test\n", &[3], &[]);
    check(
        "*,sockjs=/s,jsonp_cb=cb,foo=1 h:1,bar test,x",
        &[1],
        &[
            (1, "condition property sockjs is not supported (ignored)"),
            (1, "unknown condition property foo (ignored)"),
            (1, "unknown target property bar (ignored)"),
            (1, "test target ignores property x"),
        ],
    );
    check(
        "* zhttp/tcp://x:1 h:1",
        &[1],
        &[(1, "target zhttp/tcp://x:1 is not supported (skipped)")],
    );
    check(
        "* zhttp/tcp://x:1",
        &[],
        &[
            (1, "target zhttp/tcp://x:1 is not supported (skipped)"),
            (1, "no supported target; line skipped"),
        ],
    );
}

#[test]
fn parse_routes_skips_bad_and_duplicate_lines() {
    let check = check_parse_routes;
    // A rejected line reports its reason only, not the props it would have ignored.
    check(
        "*,foo,proto=x h:1",
        &[],
        &[(1, "proto must be http or ws; line skipped")],
    );
    check(
        "*,sig_iss=a h:1\n*,ssl=yes,sig_key=k h:1",
        &[1, 2],
        &[
            (
                1,
                "sig_iss and sig_key must be set together; the global ones are used",
            ),
            (
                2,
                "sig_iss and sig_key must be set together; the global ones are used",
            ),
        ],
    );
    check(
        "*,path_beg=/a,replace_beg=/b,path_rem=2 h:1",
        &[1],
        &[(1, "path_rem is ignored because replace_beg is set")],
    );
    check(
        "* h:1,one_event",
        &[1],
        &[(1, "target h:1: one_event has no effect without over_http")],
    );
    check(
        "* h:1\nbad\n* h:2\na.com h:1\nA.com h:2\n*,ssl=yes h:3\n*,path_beg=/x h:4\n*,path_beg=/x h:5",
        &[1, 4, 6, 7],
        &[
            (2, "no target; line skipped"),
            (3, "duplicate of line 1 (same domain, proto, ssl and path_beg); line skipped"),
            (5, "duplicate of line 4 (same domain, proto, ssl and path_beg); line skipped"),
            (8, "duplicate of line 7 (same domain, proto, ssl and path_beg); line skipped"),
        ],
    );
    check("id=a h:1\nid=b h:2", &[1, 2], &[]);
    check(
        "a.com,id=x h:1\nb.com,id=x h:2",
        &[1, 2],
        &[(
            2,
            "route id \"x\" also used on line 1; the id cannot select a route",
        )],
    );
}

#[test]
fn by_id_finds_unique_ids_only() {
    let (routes, _) = parse_routes("id=hidden h:1\na.com,id=dup h:1\nb.com,id=dup h:2\nc.com h:3");
    assert_eq!(routes.by_id("hidden").map(|r| r.line), Some(1));
    assert_eq!(routes.by_id("dup"), None);
    assert_eq!(routes.by_id("missing"), None);
    assert_eq!(routes.by_id(""), None);
    assert_eq!(routes.len(), 4);
    assert!(!routes.is_empty());
    assert!(Routes::default().is_empty());
}

const SELECTION_ROUTES: &str = "\
* wild:1
example.com,path_beg=/a ex-a:1
example.com,path_beg=/abc ex-abc:1
example.com,path_beg=/a,proto=ws ex-ws:1
example.com,path_beg=/a,ssl=yes ex-ssl:1
*,path_beg=/w wild-w:1
other.com,proto=http other-http:1
other.com,proto=ws other-ws:1
id=hidden hidden:1
enc.com,path_beg=/a%20b enc:1
tls.com,ssl=no plain:1
::1 v6:1
";

#[test]
fn selection_prefers_exact_domain_then_most_specific_rule() {
    let (routes, warnings) = parse_routes(SELECTION_ROUTES);
    assert_eq!(warnings, vec![]);
    let check = |host: &str, path: &str, proto: Proto, ssl: bool, expected: Option<usize>| {
        let got = routes.select(host, path, proto, ssl).map(|r| r.line);
        assert_eq!(got, expected, "{host} {path} {proto:?} ssl={ssl}");
    };
    use Proto::{Http, Ws};
    check("example.com", "/abc/x", Http, false, Some(3)); // longer path_beg
    check("example.com", "/a", Http, false, Some(2));
    check("example.com", "/ab", Http, false, Some(2));
    check("example.com", "/a", Ws, false, Some(4)); // proto beats none
    check("example.com", "/abc", Ws, false, Some(4)); // proto beats a longer path_beg
    check("example.com", "/a", Http, true, Some(5)); // ssl beats none at equal length
    check("example.com", "/abc", Http, true, Some(3)); // longer path_beg beats ssl
    check("example.com", "/zzz", Http, false, None); // no fallback to `*`
    check("example.com", "/w", Http, false, None); // not even to a matching `*` rule
    check("Example.COM:8080", "/a", Http, false, Some(2)); // case and port ignored
    check("unknown.com", "/x", Http, false, Some(1));
    check("unknown.com", "/w/x", Ws, true, Some(6));
    check("", "/", Http, false, Some(1));
    check("other.com", "/", Ws, false, Some(8));
    check("other.com", "/", Http, false, Some(7));
    check("hidden", "/", Http, false, Some(1)); // id-only routes have no domain
    check("enc.com", "/a%20b/c", Http, false, Some(10)); // raw, percent-encoded prefix
    check("enc.com", "/a b/c", Http, false, None);
    check("tls.com", "/", Http, false, Some(11));
    check("tls.com", "/", Http, true, None);
    check("[::1]:7999", "/", Http, false, Some(12));
    check("::1", "/", Http, false, Some(12));
}

#[test]
fn selection_on_empty_and_builtin_tables() {
    assert_eq!(
        Routes::default().select("a.com", "/", Proto::Http, false),
        None
    );
    let builtin = Routes::builtin_test();
    let route = builtin.select("anything", "/x", Proto::Ws, true);
    assert_eq!(route.map(|r| r.targets.clone()), Some(vec![Target::Test]));
    assert_eq!(builtin, parse_routes("* test").0);
}

#[test]
fn host_port_is_stripped_before_matching() {
    let cases = [
        ("example.com", "example.com"),
        ("example.com:80", "example.com"),
        ("[::1]:80", "::1"),
        ("[::1]", "::1"),
        ("::1", "::1"),
        ("fe80::1:80", "fe80::1:80"),
        ("", ""),
        (":80", ""),
    ];
    for (host, expected) in cases {
        assert_eq!(host_without_port(host), expected, "host {host:?}");
    }
}

#[test]
fn rewrite_path_applies_replace_beg_or_path_rem() {
    let check = |line: &str, path: &str, expected: &str| {
        let route = parse_route_line(line, 1)
            .ok()
            .flatten()
            .expect("test route parses");
        assert_eq!(route.rewrite_path(path), expected, "{line} {path}");
    };
    check("* h:1", "/a?b=c", "/a?b=c");
    check("*,path_beg=/p,replace_beg=/echo/ h:1", "/p/x", "/echo//x");
    check("*,path_beg=/p,replace_beg=/echo/ h:1", "/p", "/echo/");
    check("*,path_beg=/api,replace_beg= h:1", "/api/v1", "/v1");
    check("*,path_beg=/api,replace_beg= h:1", "/api", "/");
    check("*,replace_beg=/pre h:1", "/a", "/pre/a");
    check(
        "*,path_beg=/a,replace_beg=/b,path_rem=9 h:1",
        "/a/x",
        "/b/x",
    );
    check("*,path_rem=4 h:1", "/api/x", "/x");
    check("*,path_rem=3 h:1", "/api/x", "i/x");
    check("*,path_rem=10 h:1", "/a", "/");
    check("*,path_rem=2 h:1", "/é/x", "/x"); // é is 2 bytes: the cut moves past it
}
