//! pushpin.conf (INI) → one struct per section, pure (PUSHPIN.md §7.3).
//!
//! Owns: the INI syntax (`[section]`, `key=value`, full-line `#`/`;` comments, whitespace
//! trimmed, one pair of surrounding double quotes removed) and the supported keys' values.
//! Must not: apply defaults or `port_offset` (`Config::resolve` does), or read the file.
//! Invariants: every key ringpin does not use yields exactly one warning
//! `unsupported pushpin.conf key [section] key (ignored)`; a malformed line or a bad value
//! for a supported key is a `ConfigError::Conf` with its line number; an empty value for a
//! supported key means "not set", except `x_forwarded_for`, where empty means "no rules".

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use super::values::{
    parse_bool, parse_count, parse_ip, parse_listen_addr, parse_log_level, parse_port,
    parse_positive, parse_xff_rules,
};
use super::{ConfigError, XffRule};

/// `[global]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GlobalSection {
    /// `port_offset`: added to `push_in_http_port`, not to `http_port` (Pushpin default 0).
    pub port_offset: Option<u16>,
}

/// `[runner]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunnerSection {
    /// `http_port`: comma list of `PORT` or `IP:PORT` (Pushpin default 7999).
    pub http_port: Option<Vec<SocketAddr>>,
    /// `https_ports`: TLS client listeners, the same syntax (Pushpin: none unless set; its
    /// shipped file has `https_ports=443` commented out).
    pub https_ports: Option<Vec<SocketAddr>>,
    /// `log_level`: the global part of `2,pushpin-handler:3` (Pushpin default 2 = info).
    pub log_level: Option<log::LevelFilter>,
    /// `allow_compression`: permessage-deflate with WebSocket clients (Pushpin 1.37;
    /// default false).
    pub allow_compression: Option<bool>,
}

/// `[proxy]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProxySection {
    /// `routesfile`, relative to the configuration file's directory (Pushpin default `routes`).
    pub routesfile: Option<String>,
    /// `debug` (Pushpin default false).
    pub debug: Option<bool>,
    /// `sig_iss` (Pushpin default `pushpin`).
    pub sig_iss: Option<String>,
    /// `sig_key`, as written (Pushpin default `changeme`).
    pub sig_key: Option<String>,
    /// `x_forwarded_for` (Pushpin default empty: no rules).
    pub x_forwarded_for: Option<Vec<XffRule>>,
    /// `auto_cross_origin`: CORS and JSONP on every route (Pushpin default false).
    pub auto_cross_origin: Option<bool>,
}

/// `[handler]`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HandlerSection {
    /// `push_in_http_addr` (Pushpin default 127.0.0.1).
    pub push_in_http_addr: Option<IpAddr>,
    /// `push_in_http_port`, before `port_offset` (Pushpin default 5561).
    pub push_in_http_port: Option<u16>,
    /// `message_wait`, milliseconds (Pushpin default 5000).
    pub message_wait: Option<Duration>,
    /// `id_cache_ttl`, seconds (Pushpin shipped conf 60, code default 0).
    pub id_cache_ttl: Option<Duration>,
    /// `connection_subscription_max` (Pushpin default 20).
    pub connection_subscription_max: Option<usize>,
    /// `message_rate`: accepted, but ringpin has no delivery throttle.
    pub message_rate: Option<u64>,
    /// `message_hwm`: accepted, but ringpin has no delivery throttle.
    pub message_hwm: Option<u64>,
    /// `update_on_first_subscription` (Pushpin 1.41; default true).
    pub update_on_first_subscription: Option<bool>,
    /// `push_in_spec`: the ZeroMQ PULL publish input; `Some("")` turns it off (Pushpin
    /// default `tcp://127.0.0.1:5560`).
    pub push_in_spec: Option<String>,
    /// `push_in_sub_specs`: the ZeroMQ SUB publish inputs, a comma list; `Some([])` turns them
    /// off (Pushpin default `tcp://127.0.0.1:5562`).
    pub push_in_sub_specs: Option<Vec<String>>,
    /// `push_in_sub_connect`: connect the SUB inputs to a publisher instead of binding them
    /// (Pushpin default false).
    pub push_in_sub_connect: Option<bool>,
    /// `command_spec`: the ZeroMQ command socket (REP); `Some("")` turns it off (Pushpin
    /// default `tcp://127.0.0.1:5563`).
    pub command_spec: Option<String>,
    /// `publish_key` (ringpin only): publishes need a Bearer JWT signed with it.
    pub publish_key: Option<String>,
    /// `publish_iss` (ringpin only): ... whose `iss` is this.
    pub publish_iss: Option<String>,
    /// `publish_token` (ringpin only): publishes may carry `Authorization: Bearer TOKEN`.
    pub publish_token: Option<String>,
}

/// A parsed pushpin.conf: the keys ringpin supports, by section.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfFile {
    /// `[global]`.
    pub global: GlobalSection,
    /// `[runner]`.
    pub runner: RunnerSection,
    /// `[proxy]`.
    pub proxy: ProxySection,
    /// `[handler]`.
    pub handler: HandlerSection,
}

/// Whether a key belongs to ringpin's supported set.
enum Key {
    Supported,
    Unsupported,
}

/// Parses pushpin.conf text into its sections and the warnings to log.
///
/// Keys before any `[section]` belong to Qt's implicit `[General]` section, which Pushpin
/// does not read, so they are warned about like any other unsupported key. A repeated
/// supported key keeps its last value and is warned about.
pub fn parse_conf(text: &str) -> Result<(ConfFile, Vec<String>), ConfigError> {
    let mut conf = ConfFile::default();
    let mut warnings = Vec::new();
    let mut section = String::from("General");
    let mut seen: Vec<(String, String)> = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        let error = |message: String| ConfigError::Conf { line, message };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(header) = trimmed.strip_prefix('[') {
            section = parse_section_header(header).map_err(error)?;
            continue;
        }
        let (key, value) = split_key_value(trimmed).map_err(error)?;
        let applied = apply_key(&mut conf, &section, key, value, &mut warnings)
            .map_err(|reason| error(format!("[{section}] {key}={value}: {reason}")))?;
        match applied {
            Key::Unsupported => warnings.push(format!(
                "unsupported pushpin.conf key [{section}] {key} (ignored)"
            )),
            Key::Supported if seen.iter().any(|(s, k)| *s == section && k == key) => warnings
                .push(format!(
                    "pushpin.conf key [{section}] {key} repeated on line {line}; the last value is used"
                )),
            Key::Supported => seen.push((section.clone(), key.to_string())),
        }
    }
    Ok((conf, warnings))
}

/// `name]` (the `[` is already stripped) → `name`.
fn parse_section_header(header: &str) -> Result<String, String> {
    match header.strip_suffix(']').map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_string()),
        _ => Err(format!("malformed section header [{header}")),
    }
}

/// `key = value` → (`key`, `value`), trimmed, one pair of surrounding quotes removed.
fn split_key_value(line: &str) -> Result<(&str, &str), String> {
    let (key, value) = line
        .split_once('=')
        .ok_or_else(|| format!("expected key=value or [section], found {line:?}"))?;
    let key = key.trim();
    if key.is_empty() {
        return Err(format!("missing key before '=' in {line:?}"));
    }
    let value = value.trim();
    let value = match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(unquoted) => unquoted,
        None => value,
    };
    Ok((key, value))
}

/// Stores one key's value; the dispatcher over sections.
fn apply_key(
    conf: &mut ConfFile,
    section: &str,
    key: &str,
    value: &str,
    warnings: &mut Vec<String>,
) -> Result<Key, String> {
    match section {
        "global" => apply_global(&mut conf.global, key, value),
        "runner" => apply_runner(&mut conf.runner, key, value, warnings),
        "proxy" => apply_proxy(&mut conf.proxy, key, value),
        "handler" => apply_handler(&mut conf.handler, key, value, warnings),
        _ => Ok(Key::Unsupported),
    }
}

/// `None` for an empty value (the key is then "not set"), else the parsed value.
fn optional<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    match value.is_empty() {
        true => Ok(None),
        false => parse(value).map(Some),
    }
}

fn apply_global(global: &mut GlobalSection, key: &str, value: &str) -> Result<Key, String> {
    match key {
        "port_offset" => global.port_offset = optional(value, parse_port)?,
        _ => return Ok(Key::Unsupported),
    }
    Ok(Key::Supported)
}

fn apply_runner(
    runner: &mut RunnerSection,
    key: &str,
    value: &str,
    warnings: &mut Vec<String>,
) -> Result<Key, String> {
    match key {
        "http_port" => runner.http_port = optional(value, parse_port_list)?,
        "https_ports" => runner.https_ports = optional(value, parse_port_list)?,
        "log_level" => runner.log_level = optional(value, |v| parse_runner_log_level(v, warnings))?,
        "allow_compression" => runner.allow_compression = optional(value, parse_bool)?,
        _ => return Ok(Key::Unsupported),
    }
    Ok(Key::Supported)
}

/// `7999` or `127.0.0.1:7999,[::1]:7999`.
fn parse_port_list(value: &str) -> Result<Vec<SocketAddr>, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(parse_listen_addr)
        .collect()
}

/// Pushpin's `2,pushpin-handler:3`: the bare level applies; per-process levels are warned
/// about, since ringpin is one process.
fn parse_runner_log_level(
    value: &str,
    warnings: &mut Vec<String>,
) -> Result<log::LevelFilter, String> {
    let mut level = None;
    for item in value.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        if item.contains(':') {
            warnings.push(format!(
                "per-process log level {item} in [runner] log_level ignored (ringpin is one process)"
            ));
        } else {
            level = Some(parse_log_level(item)?);
        }
    }
    level.ok_or_else(|| "no global level (e.g. 2)".to_string())
}

fn apply_proxy(proxy: &mut ProxySection, key: &str, value: &str) -> Result<Key, String> {
    let text = |value: &str| Ok(value.to_string());
    match key {
        "routesfile" => proxy.routesfile = optional(value, text)?,
        "debug" => proxy.debug = optional(value, parse_bool)?,
        "sig_iss" => proxy.sig_iss = optional(value, text)?,
        "sig_key" => proxy.sig_key = optional(value, text)?,
        "x_forwarded_for" => proxy.x_forwarded_for = Some(parse_xff_rules(value)?),
        "auto_cross_origin" => proxy.auto_cross_origin = optional(value, parse_bool)?,
        _ => return Ok(Key::Unsupported),
    }
    Ok(Key::Supported)
}

fn apply_handler(
    handler: &mut HandlerSection,
    key: &str,
    value: &str,
    warnings: &mut Vec<String>,
) -> Result<Key, String> {
    match key {
        "push_in_http_addr" => handler.push_in_http_addr = optional(value, parse_ip)?,
        "push_in_http_port" => handler.push_in_http_port = optional(value, parse_port)?,
        "push_in_spec" => handler.push_in_spec = Some(value.trim().to_owned()),
        "command_spec" => handler.command_spec = Some(value.trim().to_owned()),
        "publish_key" => handler.publish_key = Some(value.trim().to_owned()),
        "publish_iss" => handler.publish_iss = Some(value.trim().to_owned()),
        "publish_token" => handler.publish_token = Some(value.trim().to_owned()),
        "push_in_sub_specs" => handler.push_in_sub_specs = Some(spec_list(value)),
        "push_in_sub_connect" => handler.push_in_sub_connect = optional(value, parse_bool)?,
        "message_wait" => {
            handler.message_wait = optional(value, parse_count)?.map(Duration::from_millis)
        }
        "id_cache_ttl" => {
            handler.id_cache_ttl = optional(value, parse_count)?.map(Duration::from_secs)
        }
        "connection_subscription_max" => {
            handler.connection_subscription_max = optional(value, parse_positive)?
        }
        "update_on_first_subscription" => {
            handler.update_on_first_subscription = optional(value, parse_bool)?
        }
        "message_rate" | "message_hwm" => {
            let limit = optional(value, parse_count)?;
            match key {
                "message_rate" => handler.message_rate = limit,
                _ => handler.message_hwm = limit,
            }
            if limit.is_some() {
                warnings.push(format!(
                    "[handler] {key} accepted but ignored: ringpin has no delivery throttle, \
                     it bounds each connection's queue instead (--outbound-items-max)"
                ));
            }
        }
        _ => return Ok(Key::Unsupported),
    }
    Ok(Key::Supported)
}

/// A comma list of ZeroMQ specs, blanks dropped.
fn spec_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests;
