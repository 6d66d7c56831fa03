//! `Config::resolve` precedence, defaults, `from_args` and the file-reading `load_*` functions.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::*;
use crate::limits;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|arg| arg.to_string()).collect()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("test address parses")
}

fn cli(list: &[&str]) -> CliArgs {
    parse_args(&args(list)).expect("test command line parses")
}

fn conf(text: &str) -> ConfFile {
    parse_conf(text).expect("test conf parses").0
}

/// Resolves and returns the config with its warnings, or the error text.
fn resolve(list: &[&str], conf_text: Option<&str>) -> Result<(Config, Vec<String>), String> {
    let conf = conf_text.map(|text| (conf(text), PathBuf::from("/etc/pushpin/pushpin.conf")));
    Config::resolve(cli(list), conf).map_err(|error| error.to_string())
}

/// A fresh scratch directory for one test's files.
fn scratch_dir(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ringpin-config-{}-{test}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir is created");
    dir
}

#[test]
fn defaults_match_the_documented_values() {
    let (config, warnings) = resolve(&[], None).expect("empty command line resolves");
    assert_eq!(warnings, Vec::<String>::new());
    assert_eq!(config, Config::default());
    assert_eq!(config.listen, vec![addr("0.0.0.0:7999")]);
    assert_eq!(config.publish_listen, addr("127.0.0.1:5561"));
    assert_eq!(config.routes_source, RoutesSource::Builtin);
    assert_eq!(config.shards, 0);
    assert!(config.pin_shards);
    assert_eq!(config.send_mode, SendMode::Uring);
    assert_eq!(config.socket_send_buffer, None);
    assert_eq!(config.sig_key, b"changeme");
    assert_eq!(config.sig_iss, "pushpin");
    assert_eq!(config.log_level, log::LevelFilter::Info);
    assert!(!config.debug);
    assert_eq!(
        config.outbound_bytes_max,
        limits::OUTBOUND_BYTES_MAX_DEFAULT
    );
    assert_eq!(
        config.outbound_items_max,
        limits::OUTBOUND_ITEMS_MAX_DEFAULT
    );
    assert_eq!(config.slow_client, SlowClientPolicy::Close);
    assert_eq!(config.x_forwarded_for, vec![XffRule::Append]);
    assert_eq!(config.client_idle_timeout, limits::CLIENT_IDLE_TIMEOUT);
    assert_eq!(config.origin_timeout, limits::ORIGIN_TIMEOUT_DEFAULT);
    assert_eq!(config.push_in_spec.as_deref(), Some("tcp://127.0.0.1:5560"));
    assert_eq!(config.push_in_sub_specs, ["tcp://127.0.0.1:5562"]);
    assert!(!config.push_in_sub_connect);
    assert_eq!(config.command_spec.as_deref(), Some("tcp://127.0.0.1:5563"));
    assert_eq!(config.message_wait, Duration::from_millis(5000));
    assert_eq!(config.id_cache_ttl, Duration::from_secs(60));
    assert!(config.update_on_first_subscription);
    assert_eq!(
        config.connection_subscriptions_max,
        limits::CONNECTION_SUBSCRIPTIONS_MAX
    );
}

const CONF: &str = "\
[global]
port_offset=20000
[runner]
http_port=127.0.0.1:27999
log_level=3
allow_compression=true
[proxy]
routesfile=routes
debug=true
sig_iss=conf-iss
sig_key=base64:Y29uZg==
x_forwarded_for=truncate:0
auto_cross_origin=true
[handler]
push_in_http_addr=0.0.0.0
push_in_http_port=5561
message_wait=100
id_cache_ttl=0
connection_subscription_max=3
update_on_first_subscription=false
push_in_spec=tcp://127.0.0.1:7560
push_in_sub_specs=tcp://10.0.0.1:5562, tcp://10.0.0.2:5562
push_in_sub_connect=true
command_spec=ipc:///tmp/ringpin-command
";

#[test]
fn conf_values_override_defaults_and_port_offset_moves_the_bound_publish_ports() {
    let (config, warnings) = resolve(&[], Some(CONF)).expect("conf resolves");
    // The conf's push_in_http_addr=0.0.0.0 is the only thing warned about.
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("publish listener 0.0.0.0:25561"));
    let expected = Config {
        listen: vec![addr("127.0.0.1:27999")],
        publish_listen: addr("0.0.0.0:25561"),
        routes_source: RoutesSource::File("/etc/pushpin/routes".into()),
        sig_key: b"conf".to_vec(),
        sig_iss: "conf-iss".into(),
        log_level: log::LevelFilter::Debug,
        debug: true,
        auto_cross_origin: true,
        x_forwarded_for: vec![XffRule::Truncate(0)],
        message_wait: Duration::from_millis(100),
        id_cache_ttl: Duration::ZERO,
        connection_subscriptions_max: 3,
        update_on_first_subscription: false,
        allow_compression: true,
        // port_offset=20000 moves the bound specs (not the connected SUB ones, nor ipc).
        push_in_spec: Some("tcp://127.0.0.1:27560".into()),
        push_in_sub_specs: vec!["tcp://10.0.0.1:5562".into(), "tcp://10.0.0.2:5562".into()],
        push_in_sub_connect: true,
        command_spec: Some("ipc:///tmp/ringpin-command".into()),
        // Pushpin keeps certificates in runner/certs beside pushpin.conf.
        tls_dir: Some("/etc/pushpin/runner/certs".into()),
        ..Config::default()
    };
    assert_eq!(config, expected);
}

#[test]
fn https_ports_and_tls_flags_resolve_and_a_lone_cert_or_key_is_refused() {
    let conf = "[runner]\nhttps_ports=8443,127.0.0.1:9443\n";
    let (config, _) = resolve(&[], Some(conf)).expect("https_ports resolves");
    assert_eq!(
        config.listen_tls,
        [addr("0.0.0.0:8443"), addr("127.0.0.1:9443")]
    );
    let flags = [
        "--listen-tls=127.0.0.1:7443",
        "--tls-cert=/c.pem",
        "--tls-key=/k.pem",
        "--tls-dir=/certs",
        "--origin-ca=/ca.pem",
    ];
    let (config, _) = resolve(&flags, Some(conf)).expect("flags resolve");
    assert_eq!(config.listen_tls, [addr("127.0.0.1:7443")]);
    assert_eq!(config.tls_cert, Some(("/c.pem".into(), "/k.pem".into())));
    assert_eq!(config.tls_dir, Some("/certs".into()));
    assert_eq!(config.origin_ca, Some("/ca.pem".into()));
    let lone = resolve(&["--tls-cert=/c.pem"], None).expect_err("a cert needs its key");
    assert!(lone.contains("together"), "{lone}");
    let clash = resolve(&["--listen=7443", "--listen-tls=7443"], None).expect_err("one port");
    assert!(clash.contains("share port 7443"), "{clash}");
}

#[test]
fn port_offset_moves_only_tcp_ports_that_fit() {
    use super::resolve::with_port_offset;
    let cases = [
        ("tcp://127.0.0.1:5560", 1000, "tcp://127.0.0.1:6560"),
        ("tcp://[::1]:5560", 1, "tcp://[::1]:5561"),
        ("tcp://127.0.0.1:65535", 1, "tcp://127.0.0.1:65535"),
        ("ipc:///tmp/x", 5, "ipc:///tmp/x"),
        ("tcp://127.0.0.1:5560", 0, "tcp://127.0.0.1:5560"),
    ];
    for (spec, offset, want) in cases {
        assert_eq!(
            with_port_offset(spec.to_owned(), offset),
            want,
            "{spec} + {offset}"
        );
    }
}

#[test]
fn command_line_overrides_conf() {
    let list = [
        "--port=8000",
        "--publish-listen=127.0.0.1:6000",
        "--routes=/r",
        "--shards=2",
        "--pin-shards=no",
        "--send-mode=sendmsg",
        "--socket-send-buffer=16384",
        "--sig-key=cli",
        "--sig-iss=cli-iss",
        "--log-level=error",
        "--outbound-bytes-max=1000",
        "--outbound-items-max=10",
        "--slow-client=drop",
        "--x-forwarded-for=",
        "--client-idle-timeout=9",
        "--origin-timeout=4",
        "--push-in-spec=",
        "--push-in-sub-spec=",
        "--push-in-sub-connect=no",
        "--command-spec=",
        "--client-head-timeout=4",
        "--connections-per-ip-max=12",
        "--message-wait=7",
        "--update-on-first-subscription=yes",
        "--ws-message-bytes-max=4096",
        "--allow-compression=no",
        "--auto-cross-origin=no",
    ];
    let (config, _) = resolve(&list, Some(CONF)).expect("conf and flags resolve");
    let expected = Config {
        listen: vec![addr("0.0.0.0:8000")],
        listen_tls: vec![],
        tls_cert: None,
        tls_dir: Some("/etc/pushpin/runner/certs".into()),
        origin_ca: None,
        publish_listen: addr("127.0.0.1:6000"),
        routes_source: RoutesSource::File("/r".into()),
        shards: 2,
        pin_shards: false,
        send_mode: SendMode::Sendmsg,
        socket_send_buffer: Some(16384),
        sig_key: b"cli".to_vec(),
        sig_iss: "cli-iss".into(),
        log_level: log::LevelFilter::Error,
        debug: true,              // --debug cannot switch off a conf `debug=true`
        auto_cross_origin: false, // --auto-cross-origin no overrides the conf's true
        outbound_bytes_max: 1000,
        outbound_items_max: 10,
        slow_client: SlowClientPolicy::Drop,
        x_forwarded_for: vec![],
        client_idle_timeout: Duration::from_secs(9),
        origin_timeout: Duration::from_secs(4),
        push_in_spec: None,
        push_in_sub_specs: vec![],
        push_in_sub_connect: false,
        command_spec: None,
        publish_auth: PublishAuth::default(),
        client_head_timeout: Duration::from_secs(4),
        connections_per_ip_max: Some(12),
        message_wait: Duration::from_millis(7),
        id_cache_ttl: Duration::ZERO,
        connection_subscriptions_max: 3,
        update_on_first_subscription: true,
        ws_message_bytes_max: 4096,
        allow_compression: false,
    };
    assert_eq!(config, expected);
}

#[test]
fn routes_source_follows_the_documented_order() {
    let check = |list: &[&str], conf_text: Option<&str>, expected: RoutesSource, warned: bool| {
        let (config, warnings) = resolve(list, conf_text).expect("resolves");
        assert_eq!(config.routes_source, expected, "{list:?} {conf_text:?}");
        assert_eq!(!warnings.is_empty(), warned, "{list:?}: {warnings:?}");
    };
    let lines = |l: &[&str]| RoutesSource::Lines(args(l));
    check(&[], None, RoutesSource::Builtin, false);
    check(
        &[],
        Some("[proxy]\ndebug=false"),
        RoutesSource::Builtin,
        false,
    );
    check(
        &[],
        Some("[proxy]\nroutesfile=routes"),
        RoutesSource::File("/etc/pushpin/routes".into()),
        false,
    );
    check(
        &[],
        Some("[proxy]\nroutesfile=/abs/routes"),
        RoutesSource::File("/abs/routes".into()),
        false,
    );
    check(
        &["--routes=r2"],
        Some("[proxy]\nroutesfile=routes"),
        RoutesSource::File("r2".into()),
        false,
    );
    check(
        &["--route=* test"],
        Some("[proxy]\nroutesfile=routes"),
        lines(&["* test"]),
        false,
    );
    check(
        &["--route=* test", "--routes=r2"],
        None,
        lines(&["* test"]),
        true,
    );
    // A conf path without a directory resolves `routesfile` against the working directory.
    let conf = Some((
        conf("[proxy]\nroutesfile=routes"),
        PathBuf::from("pushpin.conf"),
    ));
    let (config, _) = Config::resolve(CliArgs::default(), conf).expect("resolves");
    assert_eq!(config.routes_source, RoutesSource::File("routes".into()));
}

#[test]
fn bad_keys_and_colliding_listeners_are_errors() {
    let check = |list: &[&str], conf_text: Option<&str>, expected: &str| {
        let error = resolve(list, conf_text).expect_err("refused");
        assert!(
            error.starts_with(expected),
            "{list:?} {conf_text:?} gave {error}"
        );
    };
    check(
        &["--sig-key=base64:@@"],
        None,
        "invalid value \"base64:@@\" for --sig-key: bad base64",
    );
    check(
        &["--sig-key=file:/k.pem"],
        None,
        "invalid value \"file:/k.pem\" for --sig-key: file:",
    );
    check(
        &[],
        Some("[proxy]\nsig_key=base64:@@"),
        "invalid value \"base64:@@\" for [proxy] sig_key",
    );
    check(
        &[],
        Some("[global]\nport_offset=60000\n[handler]\npush_in_http_port=6000"),
        "invalid value \"60000\" for [global] port_offset: push_in_http_port 6000 + port_offset",
    );
    check(
        &["--port=5561"],
        None,
        "conflicting settings: listeners 0.0.0.0:5561 and 127.0.0.1:5561",
    );
    check(
        &["--listen=7999", "--port=7999"],
        None,
        "conflicting settings: listeners 0.0.0.0:7999 and 0.0.0.0:7999",
    );
    check(
        &["--publish-listen=0.0.0.0:7999"],
        None,
        "conflicting settings",
    );
    // Different addresses, families or port 0 do not collide.
    assert!(resolve(&["--listen=127.0.0.1:80", "--listen=127.0.0.2:80"], None).is_ok());
    assert!(resolve(&["--listen=0.0.0.0:80", "--listen=[::]:80"], None).is_ok());
    assert!(resolve(
        &["--listen=127.0.0.1:0", "--publish-listen=127.0.0.1:0"],
        None
    )
    .is_ok());
    // A CLI key wins before the conf key is ever decoded.
    assert!(resolve(&["--sig-key=ok"], Some("[proxy]\nsig_key=base64:@@")).is_ok());
}

#[test]
fn from_args_handles_help_version_and_reads_the_conf_file() {
    assert!(matches!(
        Config::from_args(&args(&["-h"])),
        Ok(CliOutcome::Help)
    ));
    assert!(matches!(
        Config::from_args(&args(&["--version"])),
        Ok(CliOutcome::Version)
    ));
    assert!(matches!(
        Config::from_args(&args(&["--nope"])),
        Err(ConfigError::UnknownFlag { .. })
    ));
    let dir = scratch_dir("from-args");
    let conf_path = dir.join("pushpin.conf");
    std::fs::write(&conf_path, "[proxy]\nroutesfile=routes\nupstream_key=\n").expect("written");
    let outcome = Config::from_args(&args(&["--config", &conf_path.to_string_lossy()]));
    let Ok(CliOutcome::Run(config, warnings)) = outcome else {
        panic!("expected Run, got {outcome:?}");
    };
    assert_eq!(config.routes_source, RoutesSource::File(dir.join("routes")));
    assert_eq!(
        warnings,
        vec!["unsupported pushpin.conf key [proxy] upstream_key (ignored)"]
    );
    std::fs::write(&conf_path, "[proxy]\n\nbroken line\n").expect("written");
    let error = Config::from_args(&args(&["--config", &conf_path.to_string_lossy()]))
        .expect_err("malformed conf is refused")
        .to_string();
    assert_eq!(
        error,
        format!(
            "{}:3: expected key=value or [section], found \"broken line\"",
            conf_path.display()
        )
    );
    let missing = dir.join("missing.conf");
    let error = load_conf(&missing)
        .expect_err("missing file is refused")
        .to_string();
    assert!(
        error.starts_with(&format!("cannot read {}: ", missing.display())),
        "{error}"
    );
    std::fs::remove_dir_all(&dir).expect("scratch dir is removed");
}

#[test]
fn load_routes_reads_each_source() {
    let (routes, warnings) = load_routes(&RoutesSource::Builtin).expect("builtin loads");
    assert_eq!((routes, warnings), (Routes::builtin_test(), vec![]));
    let lines = RoutesSource::Lines(args(&["* h:1", "bad", "a.com h:2"]));
    let (routes, warnings) = load_routes(&lines).expect("lines load");
    let kept: Vec<usize> = routes.routes.iter().map(|r| r.line).collect();
    assert_eq!(kept, vec![1, 3]);
    assert_eq!(warnings.iter().map(|w| w.line).collect::<Vec<_>>(), vec![2]);
    let dir = scratch_dir("load-routes");
    let file = dir.join("routes");
    std::fs::write(&file, "# routes\n* 127.0.0.1:8080,over_http\n").expect("written");
    let (routes, warnings) = load_routes(&RoutesSource::File(file.clone())).expect("file loads");
    assert_eq!(
        (routes.len(), routes.routes[0].line, warnings),
        (1, 2, vec![])
    );
    let missing = RoutesSource::File(dir.join("nope"));
    assert!(matches!(
        load_routes(&missing),
        Err(ConfigError::Read { path, .. }) if path == Path::new(&dir.join("nope"))
    ));
    std::fs::remove_dir_all(&dir).expect("scratch dir is removed");
}

#[test]
fn a_publish_listener_off_loopback_is_warned_about_at_start() {
    // (publish listener, warned?)
    let cases = [
        ("127.0.0.1:5561", false),
        ("127.0.0.2:5561", false),
        ("[::1]:5561", false),
        ("0.0.0.0:5561", true),
        ("[::]:5561", true),
        ("192.0.2.7:5561", true),
    ];
    for (publish, warned) in cases {
        let (_, warnings) = resolve(&["--publish-listen", publish], None).expect("resolves");
        let found = warnings
            .iter()
            .any(|w| w.contains("publish listener") && w.contains("authentication"));
        assert_eq!(found, warned, "{publish}: {warnings:?}");
    }
    // With a credential required, an exposed listener is a choice, not a mistake.
    let flags = ["--publish-listen", "0.0.0.0:5561", "--publish-token", "t"];
    let (_, warnings) = resolve(&flags, None).expect("resolves");
    assert!(
        warnings.iter().all(|w| !w.contains("publish listener")),
        "{warnings:?}"
    );
}

#[test]
fn publish_credentials_come_from_flags_over_conf_and_never_appear_in_errors() {
    let (config, _) = resolve(&[], None).expect("defaults");
    assert!(!config.publish_auth.is_required());
    let handler = "[handler]\npublish_key=base64:c2VjcmV0\npublish_iss=backend\npublish_token=t1\n";
    let (config, _) = resolve(&[], Some(handler)).expect("conf");
    assert_eq!(config.publish_auth.key.as_deref(), Some(&b"secret"[..]));
    assert_eq!(config.publish_auth.iss.as_deref(), Some("backend"));
    assert_eq!(config.publish_auth.token.as_deref(), Some("t1"));
    let flags = ["--publish-key", "k2", "--publish-token", ""];
    let (config, _) = resolve(&flags, Some(handler)).expect("flags");
    assert_eq!(config.publish_auth.key.as_deref(), Some(&b"k2"[..]));
    assert_eq!(
        config.publish_auth.token, None,
        "an empty flag turns the token off"
    );
    let shown = format!("{:?}", config.publish_auth);
    assert!(!shown.contains("k2") && shown.contains("<set>"), "{shown}");

    let err = resolve(&["--publish-iss", "backend"], None).expect_err("iss without key");
    assert!(err.contains("--publish-iss"), "{err}");
    let err = resolve(&["--publish-key", "base64:!!not-base64-secret"], None).expect_err("bad");
    assert!(
        err.contains("--publish-key") && !err.contains("not-base64-secret"),
        "{err}"
    );
}
