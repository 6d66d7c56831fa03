//! `Config::resolve`: defaults < pushpin.conf < command line, in one pure function.
//!
//! Owns: the defaults (`impl Default for Config`, each citing Pushpin's value), precedence,
//! `port_offset`, the choice of routes source, key decoding and cross-setting checks.
//! Must not: read files or the environment; the conf file's path is used only to resolve
//! `routesfile` against its directory.
//! Invariants: a value from the command line always wins; every setting that is given but
//! not used (e.g. `--routes` next to `--route`) produces a warning.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::values::parse_sig_key;
use super::{
    CliArgs, ConfFile, Config, ConfigError, PublishAuth, RoutesSource, SendMode, SlowClientPolicy,
    XffRule,
};
use crate::limits;

/// Pushpin's client port (`[runner] http_port=7999`).
const LISTEN_PORT_DEFAULT: u16 = 7999;
/// Pushpin's publish port (`[handler] push_in_http_port=5561`).
const PUBLISH_PORT_DEFAULT: u16 = 5561;

impl Default for Config {
    fn default() -> Config {
        Config {
            // Pushpin: http_port=7999 on every interface.
            listen: vec![SocketAddr::new(
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                LISTEN_PORT_DEFAULT,
            )],
            // Pushpin: no https_ports unless set.
            listen_tls: Vec::new(),
            tls_cert: None,
            tls_dir: None,
            origin_ca: None,
            // Pushpin: push_in_http_addr=127.0.0.1, push_in_http_port=5561.
            publish_listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), PUBLISH_PORT_DEFAULT),
            // Pushpin ships a routes file holding `* test`.
            routes_source: RoutesSource::Builtin,
            shards: 0,
            pin_shards: true,
            send_mode: SendMode::Uring,
            socket_send_buffer: None,
            // Pushpin: sig_key=changeme, sig_iss=pushpin.
            sig_key: b"changeme".to_vec(),
            sig_iss: "pushpin".to_string(),
            // Pushpin: log_level=2 (info).
            log_level: log::LevelFilter::Info,
            debug: false,
            // Pushpin: auto_cross_origin=false.
            auto_cross_origin: false,
            outbound_bytes_max: limits::OUTBOUND_BYTES_MAX_DEFAULT,
            outbound_items_max: limits::OUTBOUND_ITEMS_MAX_DEFAULT,
            slow_client: SlowClientPolicy::Close,
            // Pushpin: empty (pass the client's header through); ringpin appends (DESIGN.md §4).
            x_forwarded_for: vec![XffRule::Append],
            client_idle_timeout: limits::CLIENT_IDLE_TIMEOUT,
            // ringpin's own bound: Pushpin's zurl waits 600 s (limits.rs says why not here).
            origin_timeout: limits::ORIGIN_TIMEOUT_DEFAULT,
            // Pushpin: push_in_spec=tcp://127.0.0.1:5560.
            push_in_spec: Some("tcp://127.0.0.1:5560".to_owned()),
            // Pushpin: push_in_sub_specs=tcp://127.0.0.1:5562, push_in_sub_connect=false.
            push_in_sub_specs: vec!["tcp://127.0.0.1:5562".to_owned()],
            push_in_sub_connect: false,
            // Pushpin: command_spec=tcp://127.0.0.1:5563.
            command_spec: Some("tcp://127.0.0.1:5563".to_owned()),
            // Pushpin has no publish authentication: anyone who reaches the port publishes.
            publish_auth: PublishAuth::default(),
            // Pushpin has no head timeout (condure's only timer is the 1800 s idle one).
            client_head_timeout: limits::CLIENT_HEAD_TIMEOUT_DEFAULT,
            // Pushpin has no per-address limit.
            connections_per_ip_max: None,
            // Pushpin: message_wait=5000.
            message_wait: Duration::from_millis(5000),
            // Pushpin's shipped pushpin.conf: id_cache_ttl=60.
            id_cache_ttl: Duration::from_secs(60),
            // Pushpin: connection_subscription_max=20.
            connection_subscriptions_max: limits::CONNECTION_SUBSCRIPTIONS_MAX,
            // Pushpin 1.36 always updates; 1.41 made it `update_on_first_subscription`.
            update_on_first_subscription: true,
            ws_message_bytes_max: limits::WS_MESSAGE_BYTES_MAX,
            // Pushpin: allow_compression=false.
            allow_compression: false,
        }
    }
}

impl Config {
    /// Merges the command line over a parsed pushpin.conf (and its path) over the defaults.
    /// Pure: nothing is read; the returned warnings are for the caller to log.
    pub fn resolve(
        cli: CliArgs,
        conf: Option<(ConfFile, PathBuf)>,
    ) -> Result<(Config, Vec<String>), ConfigError> {
        let (conf, conf_path) = match conf {
            Some((conf, path)) => (conf, Some(path)),
            None => (ConfFile::default(), None),
        };
        let mut warnings = Vec::new();
        let defaults = Config::default();
        let zmq = resolve_zmq(&cli, &conf, &defaults);
        let tls = resolve_tls(&cli, &conf, conf_path.as_deref())?;
        let mut config = Config {
            listen: resolve_listen(&cli, &conf, defaults.listen),
            listen_tls: tls.listen,
            tls_cert: tls.cert,
            tls_dir: tls.dir,
            origin_ca: tls.origin_ca,
            publish_listen: resolve_publish_listen(&cli, &conf)?,
            routes_source: resolve_routes_source(&cli, &conf, conf_path.as_deref(), &mut warnings),
            shards: cli.shards.unwrap_or(defaults.shards),
            pin_shards: cli.pin_shards.unwrap_or(defaults.pin_shards),
            send_mode: cli.send_mode.unwrap_or(defaults.send_mode),
            socket_send_buffer: cli
                .socket_send_buffer
                .filter(|&bytes| bytes > 0)
                .or(defaults.socket_send_buffer),
            sig_key: resolve_sig_key(&cli, &conf, defaults.sig_key)?,
            sig_iss: (cli.sig_iss.clone())
                .or_else(|| conf.proxy.sig_iss.clone())
                .unwrap_or(defaults.sig_iss),
            log_level: (cli.log_level)
                .or(conf.runner.log_level)
                .unwrap_or(defaults.log_level),
            debug: cli.debug || conf.proxy.debug.unwrap_or(defaults.debug),
            x_forwarded_for: (cli.x_forwarded_for.clone())
                .or_else(|| conf.proxy.x_forwarded_for.clone())
                .unwrap_or(defaults.x_forwarded_for),
            push_in_spec: zmq.push_in_spec,
            push_in_sub_specs: zmq.push_in_sub_specs,
            push_in_sub_connect: zmq.push_in_sub_connect,
            command_spec: zmq.command_spec,
            publish_auth: resolve_publish_auth(&cli, &conf)?,
            ..defaults
        };
        apply_limits(&cli, &conf, &mut config);
        check_listeners(&config)?;
        warnings.extend(publish_exposure_warning(
            config.publish_listen,
            &config.publish_auth,
        ));
        Ok((config, warnings))
    }
}

/// The queue bounds, timeouts and limits: each a flag (some also a pushpin.conf key) over
/// the default already in `config`.
fn apply_limits(cli: &CliArgs, conf: &ConfFile, config: &mut Config) {
    let handler = &conf.handler;
    let c = config;
    c.outbound_bytes_max = cli.outbound_bytes_max.unwrap_or(c.outbound_bytes_max);
    c.outbound_items_max = cli.outbound_items_max.unwrap_or(c.outbound_items_max);
    c.slow_client = cli.slow_client.unwrap_or(c.slow_client);
    c.client_idle_timeout = cli.client_idle_timeout.unwrap_or(c.client_idle_timeout);
    c.origin_timeout = cli.origin_timeout.unwrap_or(c.origin_timeout);
    c.client_head_timeout = cli.client_head_timeout.unwrap_or(c.client_head_timeout);
    c.connections_per_ip_max = match cli.connections_per_ip_max {
        Some(0) => None,
        Some(n) => Some(n),
        None => c.connections_per_ip_max,
    };
    c.message_wait = (cli.message_wait)
        .or(handler.message_wait)
        .unwrap_or(c.message_wait);
    c.id_cache_ttl = handler.id_cache_ttl.unwrap_or(c.id_cache_ttl);
    c.ws_message_bytes_max = cli.ws_message_bytes_max.unwrap_or(c.ws_message_bytes_max);
    c.connection_subscriptions_max =
        (handler.connection_subscription_max).unwrap_or(c.connection_subscriptions_max);
    c.update_on_first_subscription = (cli.update_on_first_subscription)
        .or(handler.update_on_first_subscription)
        .unwrap_or(c.update_on_first_subscription);
    c.allow_compression = (cli.allow_compression)
        .or(conf.runner.allow_compression)
        .unwrap_or(c.allow_compression);
    c.auto_cross_origin = (cli.auto_cross_origin)
        .or(conf.proxy.auto_cross_origin)
        .unwrap_or(c.auto_cross_origin);
}

/// `--publish-*` > `[handler] publish_*`; an empty value is unset. An issuer needs a key.
fn resolve_publish_auth(cli: &CliArgs, conf: &ConfFile) -> Result<PublishAuth, ConfigError> {
    let handler = &conf.handler;
    let pick = |flag: &Option<String>, key: &Option<String>, name| {
        let (setting, value) = match (flag, key) {
            (Some(v), _) => (format!("--publish-{name}"), v.clone()),
            (None, Some(v)) => (format!("[handler] publish_{name}"), v.clone()),
            (None, None) => return None,
        };
        (!value.is_empty()).then_some((setting, value))
    };
    let key = match pick(&cli.publish_key, &handler.publish_key, "key") {
        Some((setting, raw)) => Some(
            // The error names the setting but never echoes a secret.
            parse_sig_key(&raw).map_err(|reason| ConfigError::invalid(&setting, "…", reason))?,
        ),
        None => None,
    };
    let iss = pick(&cli.publish_iss, &handler.publish_iss, "iss");
    if let (Some((setting, raw)), None) = (&iss, &key) {
        let reason = "an issuer needs --publish-key (publish_key) too".to_owned();
        return Err(ConfigError::invalid(setting, raw, reason));
    }
    Ok(PublishAuth {
        key,
        iss: iss.map(|(_, iss)| iss),
        token: pick(&cli.publish_token, &handler.publish_token, "token").map(|(_, t)| t),
    })
}

/// `--listen`/`--port` > `[runner] http_port` > default. `port_offset` does not apply, as in
/// Pushpin (PUSHPIN.md §7.3).
fn resolve_listen(cli: &CliArgs, conf: &ConfFile, default: Vec<SocketAddr>) -> Vec<SocketAddr> {
    if !cli.listen.is_empty() {
        return cli.listen.clone();
    }
    match &conf.runner.http_port {
        Some(addrs) if !addrs.is_empty() => addrs.clone(),
        _ => default,
    }
}

/// The ZeroMQ sockets' settings, flag over conf over default.
struct ZmqSettings {
    push_in_spec: Option<String>,
    push_in_sub_specs: Vec<String>,
    push_in_sub_connect: bool,
    command_spec: Option<String>,
}

/// A spec from pushpin.conf or the defaults, when bound, gets `[global] port_offset` added to
/// its TCP port, as Pushpin adds it to every bind; a spec given on the command line is taken
/// as written.
fn resolve_zmq(cli: &CliArgs, conf: &ConfFile, defaults: &Config) -> ZmqSettings {
    let handler = &conf.handler;
    let offset = conf.global.port_offset.unwrap_or(0);
    let bind = |spec: String| with_port_offset(spec, offset);
    let push_in_sub_connect = (cli.push_in_sub_connect)
        .or(handler.push_in_sub_connect)
        .unwrap_or(defaults.push_in_sub_connect);
    let sub_specs = match &cli.push_in_sub_specs {
        Some(specs) => specs.clone(),
        None => (handler.push_in_sub_specs.clone())
            .unwrap_or(defaults.push_in_sub_specs.clone())
            .into_iter()
            .map(|spec| {
                if push_in_sub_connect {
                    spec
                } else {
                    bind(spec)
                }
            })
            .collect(),
    };
    ZmqSettings {
        push_in_spec: match &cli.push_in_spec {
            Some(spec) => or_off(Some(spec.clone()), None),
            None => or_off(handler.push_in_spec.clone(), defaults.push_in_spec.clone()).map(bind),
        },
        push_in_sub_specs: sub_specs,
        push_in_sub_connect,
        command_spec: match &cli.command_spec {
            Some(spec) => or_off(Some(spec.clone()), None),
            None => or_off(handler.command_spec.clone(), defaults.command_spec.clone()).map(bind),
        },
    }
}

/// `tcp://HOST:PORT` with `offset` added to the port; any other spec (or one whose port would
/// pass 65535) unchanged.
pub(crate) fn with_port_offset(spec: String, offset: u16) -> String {
    if offset == 0 {
        return spec;
    }
    let Some(rest) = spec.strip_prefix("tcp://") else {
        return spec;
    };
    let Some((host, port)) = rest.rsplit_once(':') else {
        return spec;
    };
    match port.parse::<u16>().ok().and_then(|p| p.checked_add(offset)) {
        Some(port) => format!("tcp://{host}:{port}"),
        None => spec,
    }
}

/// A ZeroMQ spec as given (flag over conf), else `default`; an empty one turns the socket off.
fn or_off(given: Option<String>, default: Option<String>) -> Option<String> {
    match given {
        Some(spec) if spec.is_empty() => None,
        Some(spec) => Some(spec),
        None => default,
    }
}

/// `--publish-listen` > `[handler] push_in_http_addr` and `push_in_http_port + port_offset`.
fn resolve_publish_listen(cli: &CliArgs, conf: &ConfFile) -> Result<SocketAddr, ConfigError> {
    if let Some(addr) = cli.publish_listen {
        return Ok(addr);
    }
    let addr = (conf.handler.push_in_http_addr).unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST));
    let port = conf
        .handler
        .push_in_http_port
        .unwrap_or(PUBLISH_PORT_DEFAULT);
    let offset = conf.global.port_offset.unwrap_or(0);
    let port = port.checked_add(offset).ok_or_else(|| {
        ConfigError::invalid(
            "[global] port_offset",
            &offset.to_string(),
            format!("push_in_http_port {port} + port_offset exceeds 65535"),
        )
    })?;
    Ok(SocketAddr::new(addr, port))
}

/// `--route` lines > `--routes` > `[proxy] routesfile` (relative to the conf file) > `* test`.
fn resolve_routes_source(
    cli: &CliArgs,
    conf: &ConfFile,
    conf_path: Option<&Path>,
    warnings: &mut Vec<String>,
) -> RoutesSource {
    if !cli.routes.is_empty() {
        if let Some(file) = &cli.routes_file {
            warnings.push(format!(
                "--routes {} ignored: --route lines replace the routes file",
                file.display()
            ));
        }
        return RoutesSource::Lines(cli.routes.clone());
    }
    if let Some(file) = &cli.routes_file {
        return RoutesSource::File(file.clone());
    }
    match &conf.proxy.routesfile {
        Some(name) => {
            let dir = conf_path.and_then(Path::parent).unwrap_or(Path::new(""));
            RoutesSource::File(dir.join(name))
        }
        None => RoutesSource::Builtin,
    }
}

/// The TLS settings, flag over conf.
struct TlsSettings {
    listen: Vec<SocketAddr>,
    cert: Option<(PathBuf, PathBuf)>,
    dir: Option<PathBuf>,
    origin_ca: Option<PathBuf>,
}

/// `--listen-tls` > `[runner] https_ports` > none; `--tls-cert` and `--tls-key` come together
/// or not at all; `--tls-dir` > `runner/certs` beside pushpin.conf (where Pushpin's runner
/// keeps them).
fn resolve_tls(
    cli: &CliArgs,
    conf: &ConfFile,
    conf_path: Option<&Path>,
) -> Result<TlsSettings, ConfigError> {
    let cert = match (&cli.tls_cert, &cli.tls_key) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        _ => {
            return Err(ConfigError::Conflict {
                message: "--tls-cert and --tls-key must be given together".to_owned(),
            })
        }
    };
    let listen = match &conf.runner.https_ports {
        _ if !cli.listen_tls.is_empty() => cli.listen_tls.clone(),
        Some(ports) => ports.clone(),
        None => Vec::new(),
    };
    let conf_dir = conf_path.and_then(Path::parent);
    Ok(TlsSettings {
        listen,
        cert,
        dir: (cli.tls_dir.clone()).or_else(|| Some(conf_dir?.join("runner").join("certs"))),
        origin_ca: cli.origin_ca.clone(),
    })
}

/// `--sig-key` > `[proxy] sig_key` > `changeme`, decoded (`base64:`).
fn resolve_sig_key(
    cli: &CliArgs,
    conf: &ConfFile,
    default: Vec<u8>,
) -> Result<Vec<u8>, ConfigError> {
    let (setting, raw) = match (&cli.sig_key, &conf.proxy.sig_key) {
        (Some(key), _) => ("--sig-key", key),
        (None, Some(key)) => ("[proxy] sig_key", key),
        (None, None) => return Ok(default),
    };
    parse_sig_key(raw).map_err(|reason| ConfigError::invalid(setting, raw, reason))
}

/// The start-up warning for a publish listener that other hosts may reach while publishing
/// needs no credential (no `--publish-key` or `--publish-token`), so anyone who reaches it can
/// publish to every channel and read `/metrics`.
fn publish_exposure_warning(addr: SocketAddr, auth: &PublishAuth) -> Option<String> {
    (!addr.ip().is_loopback() && !auth.is_required()).then(|| {
        format!(
            "the publish listener {addr} is not on a loopback address, and publish requests \
             need no authentication: anyone who can reach it can publish to every channel; \
             set --publish-key or --publish-token, bind it to 127.0.0.1, or firewall it"
        )
    })
}

/// Two listeners on one port cannot both bind; a wildcard address overlaps every address of
/// its family (IPv4 and IPv6 wildcards are left to the kernel's `IPV6_V6ONLY` setting).
fn check_listeners(config: &Config) -> Result<(), ConfigError> {
    let all = config
        .listen
        .iter()
        .chain(&config.listen_tls)
        .chain(std::iter::once(&config.publish_listen));
    for (index, a) in all.clone().enumerate() {
        for b in all.clone().skip(index + 1) {
            let same_family = a.is_ipv4() == b.is_ipv4();
            let overlap = a.ip() == b.ip()
                || (same_family && (a.ip().is_unspecified() || b.ip().is_unspecified()));
            if a.port() != 0 && a.port() == b.port() && overlap {
                return Err(ConfigError::Conflict {
                    message: format!("listeners {a} and {b} share port {}", a.port()),
                });
            }
        }
    }
    Ok(())
}
