//! pushpin.conf: syntax, every supported key, unsupported-key warnings and malformed lines.

use super::*;

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address parses")
}

/// `expected` is the parsed file and its warnings, or the error's `Display` text.
fn check(text: &str, expected: Result<(ConfFile, &[&str]), &str>) {
    let got = parse_conf(text).map_err(|error| error.to_string());
    let expected = expected
        .map(|(conf, warnings)| (conf, warnings.iter().map(|w| w.to_string()).collect()))
        .map_err(str::to_string);
    assert_eq!(got, expected, "conf {text:?}");
}

#[test]
fn supported_keys_parse_into_their_sections() {
    let none = ConfFile::default;
    check("", Ok((none(), &[])));
    check("# comment\n; comment\n\n   \n[global]\n", Ok((none(), &[])));
    check(
        "[global]\nport_offset = 20000\n[runner]\nhttp_port=7999,127.0.0.1:8000, [::1]:8001\nlog_level=3\nallow_compression=true",
        Ok((
            ConfFile {
                global: GlobalSection { port_offset: Some(20000) },
                runner: RunnerSection {
                    http_port: Some(vec![
                        addr("0.0.0.0:7999"),
                        addr("127.0.0.1:8000"),
                        addr("[::1]:8001"),
                    ]),
                    log_level: Some(log::LevelFilter::Debug),
                    https_ports: None,
                    allow_compression: Some(true),
                },
                ..none()
            },
            &[],
        )),
    );
    check(
        "[proxy]\nroutesfile=routes\ndebug=true\nsig_iss=\"me\"\nsig_key=base64:aGk=\nx_forwarded_for=truncate:0,append\nauto_cross_origin=false",
        Ok((
            ConfFile {
                proxy: ProxySection {
                    routesfile: Some("routes".into()),
                    debug: Some(true),
                    sig_iss: Some("me".into()),
                    sig_key: Some("base64:aGk=".into()),
                    x_forwarded_for: Some(vec![XffRule::Truncate(0), XffRule::Append]),
                    auto_cross_origin: Some(false),
                },
                ..none()
            },
            &[],
        )),
    );
    check(
        "[handler]\npush_in_http_addr=0.0.0.0\npush_in_http_port=5561\nmessage_wait=250\nid_cache_ttl=60\nconnection_subscription_max=5",
        Ok((
            ConfFile {
                handler: HandlerSection {
                    push_in_http_addr: Some("0.0.0.0".parse().expect("ip")),
                    push_in_http_port: Some(5561),
                    message_wait: Some(Duration::from_millis(250)),
                    id_cache_ttl: Some(Duration::from_secs(60)),
                    connection_subscription_max: Some(5),
                    ..HandlerSection::default()
                },
                ..none()
            },
            &[],
        )),
    );
}

#[test]
fn empty_values_mean_unset_except_x_forwarded_for() {
    let none = ConfFile::default;
    check(
        "[proxy]\nsig_key=\nrouteSfile=x\nx_forwarded_for=\n[handler]\nmessage_wait=\n[global]\nport_offset=",
        Ok((
            ConfFile {
                proxy: ProxySection { x_forwarded_for: Some(vec![]), ..ProxySection::default() },
                ..none()
            },
            &["unsupported pushpin.conf key [proxy] routeSfile (ignored)"],
        )),
    );
}

#[test]
fn unsupported_keys_and_ignored_values_warn_once_each() {
    let none = ConfFile::default;
    check(
        "top=1\n[runner]\nservices=condure\nclient_maxconn=50000\n[proxy]\nupstream_key=\n[stats]\nanything=1",
        Ok((
            none(),
            &[
                "unsupported pushpin.conf key [General] top (ignored)",
                "unsupported pushpin.conf key [runner] services (ignored)",
                "unsupported pushpin.conf key [runner] client_maxconn (ignored)",
                "unsupported pushpin.conf key [proxy] upstream_key (ignored)",
                "unsupported pushpin.conf key [stats] anything (ignored)",
            ],
        )),
    );
    check(
        "[proxy]\nauto_cross_origin=true",
        Ok((
            ConfFile {
                proxy: ProxySection {
                    auto_cross_origin: Some(true),
                    ..ProxySection::default()
                },
                ..none()
            },
            &[],
        )),
    );
    check(
        "[handler]\nmessage_rate=2500\nmessage_hwm=25000",
        Ok((
            ConfFile {
                handler: HandlerSection {
                    message_rate: Some(2500),
                    message_hwm: Some(25000),
                    ..HandlerSection::default()
                },
                ..none()
            },
            &[
                "[handler] message_rate accepted but ignored: ringpin has no delivery throttle, it bounds each connection's queue instead (--outbound-items-max)",
                "[handler] message_hwm accepted but ignored: ringpin has no delivery throttle, it bounds each connection's queue instead (--outbound-items-max)",
            ],
        )),
    );
}

#[test]
fn per_process_log_levels_and_repeated_keys_warn() {
    let none = ConfFile::default;
    check(
        "[runner]\nlog_level=2,pushpin-handler:3",
        Ok((
            ConfFile {
                runner: RunnerSection {
                    log_level: Some(log::LevelFilter::Info),
                    ..RunnerSection::default()
                },
                ..none()
            },
            &["per-process log level pushpin-handler:3 in [runner] log_level ignored (ringpin is one process)"],
        )),
    );
    check(
        "[proxy]\ndebug=false\ndebug=true",
        Ok((
            ConfFile {
                proxy: ProxySection {
                    debug: Some(true),
                    ..ProxySection::default()
                },
                ..none()
            },
            &["pushpin.conf key [proxy] debug repeated on line 3; the last value is used"],
        )),
    );
}

#[test]
fn malformed_lines_are_errors_with_the_line() {
    check(
        "[global",
        Err("pushpin.conf line 1: malformed section header [global"),
    );
    check(
        "\n[]",
        Err("pushpin.conf line 2: malformed section header []"),
    );
    check(
        "[proxy]\ndebug",
        Err("pushpin.conf line 2: expected key=value or [section], found \"debug\""),
    );
    check(
        "[proxy]\n=true",
        Err("pushpin.conf line 2: missing key before '=' in \"=true\""),
    );
}

#[test]
fn bad_values_for_supported_keys_are_errors_with_the_line() {
    let bad = |text: &str, prefix: &str| {
        let error = parse_conf(text).expect_err("value is refused").to_string();
        assert!(error.starts_with(prefix), "{text:?} gave {error}");
    };
    bad(
        "[global]\nport_offset=-1",
        "pushpin.conf line 2: [global] port_offset=-1: ",
    );
    bad(
        "[global]\nport_offset=70000",
        "pushpin.conf line 2: [global] port_offset=70000: ",
    );
    bad(
        "[runner]\nhttp_port=7999,x",
        "pushpin.conf line 2: [runner] http_port=7999,x: ",
    );
    bad(
        "[runner]\nlog_level=loud",
        "pushpin.conf line 2: [runner] log_level=loud: ",
    );
    bad(
        "[runner]\nlog_level=proxy:3",
        "pushpin.conf line 2: [runner] log_level=proxy:3: ",
    );
    bad(
        "[proxy]\ndebug=maybe",
        "pushpin.conf line 2: [proxy] debug=maybe: ",
    );
    bad(
        "[proxy]\nx_forwarded_for=prepend",
        "pushpin.conf line 2: [proxy] x_forwarded_for=prepend: ",
    );
    bad(
        "[proxy]\nauto_cross_origin=2",
        "pushpin.conf line 2: [proxy] auto_cross_origin=2: ",
    );
    bad(
        "[handler]\npush_in_http_addr=localhost",
        "pushpin.conf line 2: [handler] push_in_http_addr=localhost: ",
    );
    bad(
        "[handler]\npush_in_http_port=0x10",
        "pushpin.conf line 2: [handler] push_in_http_port=0x10: ",
    );
    bad(
        "[handler]\nmessage_wait=5s",
        "pushpin.conf line 2: [handler] message_wait=5s: ",
    );
    bad(
        "[handler]\nid_cache_ttl=-1",
        "pushpin.conf line 2: [handler] id_cache_ttl=-1: ",
    );
    bad(
        "[handler]\nconnection_subscription_max=0",
        "pushpin.conf line 2: [handler] connection_subscription_max=0: ",
    );
    bad(
        "[handler]\nmessage_rate=fast",
        "pushpin.conf line 2: [handler] message_rate=fast: ",
    );
}

/// A file shaped like Pushpin's shipped pushpin.conf (keys from PUSHPIN.md §7.3) loads with
/// one warning per unsupported key and no error, so users can point ringpin at theirs.
#[test]
fn a_pushpin_style_conf_loads_with_warnings_only() {
    let text = "\
[global]
include={libdir}/internal.conf
rundir={rundir}
port_offset=0
stats_connection_ttl=120

[runner]
services=condure,pushpin-proxy,pushpin-handler
http_port=7999
https_ports=443
local_ports={rundir}/{ipc_prefix}server
log_level=2
client_buffer_size=8192
client_maxconn=50000

[proxy]
routesfile=routes
debug=false
auto_cross_origin=false
accept_x_forwarded_protocol=false
set_x_forwarded_protocol=proto-only
x_forwarded_for=
x_forwarded_for_trusted=
orig_headers_need_mark=
accept_pushpin_route=false
log_from=false
log_user_agent=false
sig_iss=pushpin
sig_key=changeme
upstream_key=
sockjs_url=http://cdn.jsdelivr.net/sockjs/0.3.4/sockjs.min.js
updates_check=report
organization_name=

[handler]
push_in_spec=tcp://127.0.0.1:5560
push_in_http_addr=127.0.0.1
push_in_http_port=5561
message_rate=2500
message_hwm=25000
message_wait=5000
id_cache_ttl=60
connection_subscription_max=20
subscription_linger=60
stats_subscription_ttl=60
stats_report_interval=10
stats_format=tnetstring
";
    let (conf, warnings) = parse_conf(text).expect("shipped-style conf parses");
    assert_eq!(conf.runner.http_port, Some(vec![addr("0.0.0.0:7999")]));
    assert_eq!(conf.runner.https_ports, Some(vec![addr("0.0.0.0:443")]));
    assert_eq!(conf.proxy.x_forwarded_for, Some(vec![]));
    assert_eq!(conf.handler.connection_subscription_max, Some(20));
    let unsupported = warnings
        .iter()
        .filter(|w| w.starts_with("unsupported"))
        .count();
    assert_eq!(
        conf.handler.push_in_spec.as_deref(),
        Some("tcp://127.0.0.1:5560")
    );
    assert_eq!(unsupported, 22, "{warnings:#?}");
    assert_eq!(
        warnings.len(),
        24,
        "plus message_rate and message_hwm: {warnings:#?}"
    );
}
