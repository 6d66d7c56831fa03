//! The command line (DESIGN.md §4): `&[String]` → `CliArgs`, pure.
//!
//! Owns: flag names, their value syntax, and the `--help` text.
//! Must not: read files (`--config` and `--routes` are paths here; `config/mod.rs` reads
//! them), apply defaults (`Config::resolve` does), or exit the process.
//! Invariants: every flag accepts both `--flag value` and `--flag=value`; an unknown flag or
//! a bad value is an error naming the flag; a repeated single-value flag keeps the last value.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use super::values::{
    parse_bool, parse_count, parse_listen_addr, parse_log_level, parse_positive, parse_xff_rules,
};
use super::{ConfigError, SendMode, SlowClientPolicy, XffRule};

/// The command line as given: `None`/empty means "not given", so pushpin.conf or the default
/// applies (`Config::resolve`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CliArgs {
    /// `--listen ADDR` (repeatable) and `--port PORT`, in order.
    pub listen: Vec<SocketAddr>,
    /// `--listen-tls ADDR` (repeatable): TLS client listeners.
    pub listen_tls: Vec<SocketAddr>,
    /// `--tls-cert FILE`: the default certificate chain (PEM).
    pub tls_cert: Option<PathBuf>,
    /// `--tls-key FILE`: its private key (PEM).
    pub tls_key: Option<PathBuf>,
    /// `--tls-dir DIR`: a directory of `NAME.crt` + `NAME.key` certificates chosen by SNI.
    pub tls_dir: Option<PathBuf>,
    /// `--origin-ca FILE`: more CA certificates (PEM) to trust for `ssl` origins.
    pub origin_ca: Option<PathBuf>,
    /// `--publish-listen ADDR`.
    pub publish_listen: Option<SocketAddr>,
    /// `--route LINE` (repeatable), unparsed; they replace any routes file.
    pub routes: Vec<String>,
    /// `--routes FILE`.
    pub routes_file: Option<PathBuf>,
    /// `--config FILE`: a pushpin.conf.
    pub config: Option<PathBuf>,
    /// `--shards N` (0 = one per core).
    pub shards: Option<usize>,
    /// `--pin-shards yes|no`.
    pub pin_shards: Option<bool>,
    /// `--send-mode sendmsg|uring`.
    pub send_mode: Option<SendMode>,
    /// `--socket-send-buffer BYTES` (0 = the kernel's autotuning).
    pub socket_send_buffer: Option<usize>,
    /// `--sig-key KEY`, as written (`base64:` is decoded by `Config::resolve`).
    pub sig_key: Option<String>,
    /// `--sig-iss ISS`.
    pub sig_iss: Option<String>,
    /// `--log-level LEVEL`.
    pub log_level: Option<log::LevelFilter>,
    /// `--debug`.
    pub debug: bool,
    /// `--auto-cross-origin BOOL`.
    pub auto_cross_origin: Option<bool>,
    /// `--outbound-bytes-max N`.
    pub outbound_bytes_max: Option<usize>,
    /// `--outbound-items-max N`.
    pub outbound_items_max: Option<usize>,
    /// `--slow-client drop|close`.
    pub slow_client: Option<SlowClientPolicy>,
    /// `--x-forwarded-for RULES`; `Some(vec![])` for an explicit empty list.
    pub x_forwarded_for: Option<Vec<XffRule>>,
    /// `--client-idle-timeout SECS`.
    pub client_idle_timeout: Option<Duration>,
    /// `--origin-timeout SECS`.
    pub origin_timeout: Option<Duration>,
    /// `--publish-key KEY`, as written (`base64:` is decoded by `Config::resolve`).
    pub publish_key: Option<String>,
    /// `--publish-iss ISS`.
    pub publish_iss: Option<String>,
    /// `--publish-token TOKEN`.
    pub publish_token: Option<String>,
    /// `--push-in-spec SPEC` (empty: no ZeroMQ PULL input).
    pub push_in_spec: Option<String>,
    /// `--push-in-sub-spec SPEC`, repeatable (one empty value: no SUB input).
    pub push_in_sub_specs: Option<Vec<String>>,
    /// `--push-in-sub-connect yes|no`.
    pub push_in_sub_connect: Option<bool>,
    /// `--command-spec SPEC` (empty: no ZeroMQ command socket).
    pub command_spec: Option<String>,
    /// `--client-head-timeout SECS`.
    pub client_head_timeout: Option<Duration>,
    /// `--connections-per-ip-max N` (0 = no limit).
    pub connections_per_ip_max: Option<u32>,
    /// `--message-wait MS`.
    pub message_wait: Option<Duration>,
    /// `--update-on-first-subscription BOOL`.
    pub update_on_first_subscription: Option<bool>,
    /// `--allow-compression BOOL`.
    pub allow_compression: Option<bool>,
    /// `--ws-message-bytes-max N`.
    pub ws_message_bytes_max: Option<usize>,
    /// `--help` or `-h`.
    pub help: bool,
    /// `--version`.
    pub version: bool,
}

/// Flags that take a value.
const VALUE_FLAGS: &[&str] = &[
    "--listen",
    "--listen-tls",
    "--tls-cert",
    "--tls-key",
    "--tls-dir",
    "--origin-ca",
    "--publish-listen",
    "--route",
    "--routes",
    "--config",
    "--shards",
    "--pin-shards",
    "--send-mode",
    "--socket-send-buffer",
    "--sig-key",
    "--sig-iss",
    "--log-level",
    "--outbound-bytes-max",
    "--outbound-items-max",
    "--slow-client",
    "--x-forwarded-for",
    "--client-idle-timeout",
    "--origin-timeout",
    "--publish-key",
    "--publish-iss",
    "--publish-token",
    "--push-in-spec",
    "--push-in-sub-spec",
    "--push-in-sub-connect",
    "--command-spec",
    "--client-head-timeout",
    "--connections-per-ip-max",
    "--message-wait",
    "--update-on-first-subscription",
    "--allow-compression",
    "--auto-cross-origin",
    "--ws-message-bytes-max",
    "--port",
];

/// Flags that take no value.
const SWITCHES: &[&str] = &["--debug", "--help", "-h", "--version"];

/// Parses the arguments after argv\[0\].
pub fn parse_args(args: &[String]) -> Result<CliArgs, ConfigError> {
    let mut cli = CliArgs::default();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if !arg.starts_with('-') || arg == "-" || arg == "--" {
            return Err(ConfigError::UnexpectedArgument { arg: arg.clone() });
        }
        let (flag, inline_value) = match arg.split_once('=') {
            Some((flag, value)) if arg.starts_with("--") => (flag, Some(value)),
            _ => (arg.as_str(), None),
        };
        if SWITCHES.contains(&flag) {
            if inline_value.is_some() {
                return Err(ConfigError::UnexpectedValue { flag: flag.into() });
            }
            apply_switch(&mut cli, flag);
        } else if VALUE_FLAGS.contains(&flag) {
            let value = match inline_value {
                Some(value) => value,
                None => rest.next().ok_or_else(|| ConfigError::MissingValue {
                    flag: flag.to_string(),
                })?,
            };
            apply_value(&mut cli, flag, value)?;
        } else {
            return Err(ConfigError::UnknownFlag { flag: flag.into() });
        }
    }
    Ok(cli)
}

fn apply_switch(cli: &mut CliArgs, flag: &str) {
    match flag {
        "--debug" => cli.debug = true,
        "--version" => cli.version = true,
        _ => cli.help = true,
    }
}

/// Stores one flag's value; the dispatcher over `VALUE_FLAGS`.
fn apply_value(cli: &mut CliArgs, flag: &str, value: &str) -> Result<(), ConfigError> {
    let invalid = |reason: String| ConfigError::invalid(flag, value, reason);
    match flag {
        "--listen" => cli.listen.push(parse_listen_addr(value).map_err(invalid)?),
        "--port" => cli.listen.push(parse_port_flag(value).map_err(invalid)?),
        "--listen-tls" => cli
            .listen_tls
            .push(parse_listen_addr(value).map_err(invalid)?),
        "--tls-cert" => cli.tls_cert = Some(non_empty(value).map_err(invalid)?.into()),
        "--tls-key" => cli.tls_key = Some(non_empty(value).map_err(invalid)?.into()),
        "--tls-dir" => cli.tls_dir = Some(non_empty(value).map_err(invalid)?.into()),
        "--origin-ca" => cli.origin_ca = Some(non_empty(value).map_err(invalid)?.into()),
        "--publish-listen" => cli.publish_listen = Some(parse_listen_addr(value).map_err(invalid)?),
        "--route" => cli.routes.push(value.to_string()),
        "--routes" => cli.routes_file = Some(non_empty(value).map_err(invalid)?.into()),
        "--config" => cli.config = Some(non_empty(value).map_err(invalid)?.into()),
        "--shards" => cli.shards = Some(parse_count(value).map_err(invalid)?),
        "--pin-shards" => cli.pin_shards = Some(parse_yes_no(value).map_err(invalid)?),
        "--send-mode" => cli.send_mode = Some(parse_send_mode(value).map_err(invalid)?),
        "--socket-send-buffer" => {
            cli.socket_send_buffer = Some(parse_count(value).map_err(invalid)?)
        }
        "--sig-key" => cli.sig_key = Some(value.to_string()),
        "--sig-iss" => cli.sig_iss = Some(value.to_string()),
        "--log-level" => cli.log_level = Some(parse_log_level(value).map_err(invalid)?),
        "--outbound-bytes-max" => {
            cli.outbound_bytes_max = Some(parse_positive(value).map_err(invalid)?)
        }
        "--outbound-items-max" => {
            cli.outbound_items_max = Some(parse_positive(value).map_err(invalid)?)
        }
        "--ws-message-bytes-max" => {
            cli.ws_message_bytes_max = Some(parse_positive(value).map_err(invalid)?)
        }
        "--slow-client" => cli.slow_client = Some(parse_slow_client(value).map_err(invalid)?),
        "--x-forwarded-for" => cli.x_forwarded_for = Some(parse_xff_rules(value).map_err(invalid)?),
        "--client-idle-timeout" => {
            let seconds = parse_positive(value).map_err(invalid)? as u64;
            cli.client_idle_timeout = Some(Duration::from_secs(seconds));
        }
        "--publish-key" => cli.publish_key = Some(value.to_string()),
        "--publish-iss" => cli.publish_iss = Some(value.to_string()),
        "--publish-token" => cli.publish_token = Some(value.to_string()),
        "--push-in-spec" => cli.push_in_spec = Some(value.trim().to_owned()),
        "--command-spec" => cli.command_spec = Some(value.trim().to_owned()),
        "--push-in-sub-spec" => {
            let specs = cli.push_in_sub_specs.get_or_insert_with(Vec::new);
            if !value.trim().is_empty() {
                specs.push(value.trim().to_owned());
            }
        }
        "--push-in-sub-connect" => {
            cli.push_in_sub_connect = Some(parse_yes_no(value).map_err(invalid)?)
        }
        "--origin-timeout" => {
            let seconds = parse_positive(value).map_err(invalid)? as u64;
            cli.origin_timeout = Some(Duration::from_secs(seconds));
        }
        "--client-head-timeout" => {
            let seconds = parse_positive(value).map_err(invalid)? as u64;
            cli.client_head_timeout = Some(Duration::from_secs(seconds));
        }
        "--connections-per-ip-max" => {
            cli.connections_per_ip_max = Some(parse_count(value).map_err(invalid)?)
        }
        "--message-wait" => {
            let millis = parse_count(value).map_err(invalid)?;
            cli.message_wait = Some(Duration::from_millis(millis));
        }
        "--auto-cross-origin" => cli.auto_cross_origin = Some(parse_bool(value).map_err(invalid)?),
        "--update-on-first-subscription" => {
            cli.update_on_first_subscription = Some(parse_bool(value).map_err(invalid)?)
        }
        "--allow-compression" => cli.allow_compression = Some(parse_bool(value).map_err(invalid)?),
        _ => return Err(ConfigError::UnknownFlag { flag: flag.into() }),
    }
    Ok(())
}

/// Pushpin's runner `--port`: a bare port means all interfaces, like `--listen 0.0.0.0:PORT`;
/// `IP:PORT` is accepted too.
fn parse_port_flag(value: &str) -> Result<SocketAddr, String> {
    match value.trim().parse::<u16>() {
        Ok(port) => Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port)),
        Err(_) => parse_listen_addr(value),
    }
}

fn parse_send_mode(value: &str) -> Result<SendMode, String> {
    match value {
        "sendmsg" => Ok(SendMode::Sendmsg),
        "uring" => Ok(SendMode::Uring),
        _ => Err("expected sendmsg or uring".to_string()),
    }
}

fn parse_yes_no(value: &str) -> Result<bool, String> {
    match value {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("expected yes or no".to_string()),
    }
}

fn parse_slow_client(value: &str) -> Result<SlowClientPolicy, String> {
    match value {
        "drop" => Ok(SlowClientPolicy::Drop),
        "close" => Ok(SlowClientPolicy::Close),
        _ => Err("expected drop or close".to_string()),
    }
}

fn non_empty(value: &str) -> Result<&str, String> {
    match value.is_empty() {
        true => Err("expected a path".to_string()),
        false => Ok(value),
    }
}

/// The `--help` text: one line per flag with its default.
pub fn usage() -> &'static str {
    "\
Usage: ringpin [OPTIONS]

A thread-per-core GRIP proxy, a drop-in for Pushpin. Every option is optional.

Options (as --flag VALUE or --flag=VALUE):
  --listen ADDR               client HTTP/WebSocket listener, PORT or IP:PORT, repeatable (default 0.0.0.0:7999)
  --port PORT                 Pushpin compatibility: same as --listen 0.0.0.0:PORT (default none)
  --listen-tls ADDR           client HTTPS/WSS listener, PORT or IP:PORT, repeatable (default none)
  --tls-cert FILE             default TLS certificate chain, PEM, with --tls-key (default none)
  --tls-key FILE              its private key, PEM (default none)
  --tls-dir DIR               NAME.crt + NAME.key certificates chosen by SNI (default: runner/certs beside --config)
  --origin-ca FILE            more CA certificates (PEM) trusted for ssl origin targets (default none)
  --publish-listen ADDR       publish/control HTTP listener (default 127.0.0.1:5561)
  --route LINE                a routes line, repeatable; replaces any routes file (default none)
  --routes FILE               routes file, reloaded on SIGHUP (default: pushpin.conf routesfile, else `* test`)
  --config FILE               a pushpin.conf to read supported keys from (default none)
  --shards N                  shard threads, 0 = one per core (default 0)
  --pin-shards yes|no         pin each shard to its own core when shards <= cores (default yes)
  --send-mode sendmsg|uring   deliver with one sendmsg(2) each, or batched io_uring (default uring)
  --socket-send-buffer BYTES  SO_SNDBUF of client sockets, 0 = kernel autotuning (default 0)
  --sig-key KEY               Grip-Sig key, plain or base64:... (default changeme)
  --sig-iss ISS               Grip-Sig issuer (default pushpin)
  --log-level LEVEL           error|warn|info|debug|trace, or Pushpin's 0-3 (default info)
  --debug                     detailed error bodies on every route (default off)
  --auto-cross-origin BOOL    CORS headers and JSONP on every route, as the aco route prop (default no)
  --outbound-bytes-max N      bytes queued per connection before --slow-client applies (default 262144)
  --outbound-items-max N      items queued per connection before --slow-client applies (default 100)
  --slow-client drop|close    what a full queue does to its connection (default close)
  --x-forwarded-for RULES     comma list of append, truncate:N; empty = pass through (default append)
  --client-idle-timeout SECS  close client connections idle this long (default 1800)
  --origin-timeout SECS       wait this long for an origin's response head, then 504 (default 60)
  --publish-key KEY           publish/recover/metrics need a Bearer JWT (HS256) signed with KEY (default none)
  --publish-iss ISS           ... whose iss is ISS (default any)
  --publish-token TOKEN       publish/recover/metrics accept `Authorization: Bearer TOKEN` (default none)
  --push-in-spec SPEC         ZeroMQ PULL publish input; empty: none (default tcp://127.0.0.1:5560)
  --push-in-sub-spec SPEC     ZeroMQ SUB publish input, repeatable; empty: none (default tcp://127.0.0.1:5562)
  --push-in-sub-connect BOOL  connect the SUB inputs to a publisher instead of binding (default no)
  --command-spec SPEC         ZeroMQ command socket (REP); empty: none (default tcp://127.0.0.1:5563)
  --client-head-timeout SECS  a request head must arrive whole within this, else 408 (default 30)
  --connections-per-ip-max N  client connections one source address may hold, 0 = no limit (default 0)
  --message-wait MS           wait for an out-of-order prev-id this long (default 5000)
  --update-on-first-subscription BOOL  refetch holds 1 s after a first subscriber (default true)
  --allow-compression BOOL    accept WebSocket clients' permessage-deflate offers (default false)
  --ws-message-bytes-max N    largest WebSocket message a client may send; more gets close 1009 (default 131072)
  -h, --help                  print this help and exit
  --version                   print the version and exit
"
}

#[cfg(test)]
mod tests;
