//! Configuration: command line, pushpin.conf and routes text turned into one validated `Config`.
//!
//! Owns: `Config` (what the rest of ringpin sees), the setting enums, and the only two places
//! that read files: `Config::from_args` (the `--config` file) and `load_routes`.
//! Must not: open sockets, start threads, read the clock, or read files anywhere but here;
//! `cli`, `conf_file`, `routes` and `Config::resolve` are pure functions over text.
//! Invariants: precedence is defaults < pushpin.conf < command line, decided in one function
//! (`Config::resolve`); routes come from exactly one `RoutesSource`; every ignored setting or
//! route line produces a warning the caller logs.
//! Supported keys and flags are listed in `docs/config.md`.

pub mod cli;
pub mod conf_file;
pub mod routes;
pub mod watch;

mod error;
mod resolve;
mod route_line;
mod values;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use cli::{parse_args, usage, CliArgs};
pub use conf_file::{parse_conf, ConfFile};
pub use error::ConfigError;
pub use routes::{
    parse_routes, HttpTarget, JsonpConfig, JsonpMode, Proto, Route, RouteWarning, Routes, Target,
};
pub use values::parse_sig_key;
pub use watch::{check_reload, RoutesWatch};

/// What happens to a connection whose outbound queue is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlowClientPolicy {
    /// Drop the items that do not fit; the connection stays open (and misses them).
    Drop,
    /// Close the connection, so the client reconnects and recovers (with `Last-Event-ID`).
    Close,
}

/// How the delivery loop writes queued items to subscriber sockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendMode {
    /// One non-blocking `sendmsg(2)` per ready connection.
    Sendmsg,
    /// One `IORING_OP_SENDMSG` per ready connection, submitted in batches on a per-shard ring.
    Uring,
}

/// One `X-Forwarded-For` rule, applied in order (Pushpin's `x_forwarded_for`, PUSHPIN.md §1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XffRule {
    /// `truncate:N`: keep only the last N entries the client sent.
    Truncate(usize),
    /// `append`: append the client's IP address.
    Append,
}

/// Where the routes table comes from; chosen once by `Config::resolve`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoutesSource {
    /// No route configured: the built-in `* test` route.
    Builtin,
    /// `--route` lines, in order.
    Lines(Vec<String>),
    /// A routes file: `--routes`, or pushpin.conf's `routesfile` resolved against the
    /// configuration file's directory. SIGHUP re-reads it.
    File(PathBuf),
}

impl std::fmt::Display for RoutesSource {
    /// Where the routes come from, for the log: `the built-in test route`, `3 --route lines`
    /// or the file's path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RoutesSource::Builtin => f.write_str("the built-in test route"),
            RoutesSource::Lines(lines) => write!(f, "{} --route lines", lines.len()),
            RoutesSource::File(path) => write!(f, "{}", path.display()),
        }
    }
}

/// Credentials the publish endpoint accepts (`--publish-key`/`--publish-iss`,
/// `--publish-token`). With neither a key nor a token, anyone who reaches the endpoint may
/// publish, as in Pushpin. `Debug` shows which are set, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct PublishAuth {
    /// HS256 key for Bearer JWTs (decoded from `base64:`).
    pub key: Option<Vec<u8>>,
    /// The `iss` a JWT must carry, if set.
    pub iss: Option<String>,
    /// A static Bearer token.
    pub token: Option<String>,
}

impl PublishAuth {
    /// True when requests must carry a credential.
    pub fn is_required(&self) -> bool {
        self.key.is_some() || self.token.is_some()
    }
}

impl std::fmt::Debug for PublishAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishAuth")
            .field("key", &self.key.as_ref().map(|_| "<set>"))
            .field("iss", &self.iss)
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// The validated, immutable configuration; shared with the shards behind an `Arc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Client-facing HTTP/WebSocket listeners. Default `0.0.0.0:7999`.
    pub listen: Vec<SocketAddr>,
    /// Client-facing TLS listeners (`--listen-tls`, `[runner] https_ports`). Default none.
    pub listen_tls: Vec<SocketAddr>,
    /// The default certificate chain and key files (`--tls-cert`, `--tls-key`).
    pub tls_cert: Option<(PathBuf, PathBuf)>,
    /// The directory of certificates chosen by SNI: `--tls-dir`, else `runner/certs` beside
    /// the pushpin.conf (Pushpin's place for them).
    pub tls_dir: Option<PathBuf>,
    /// More CA certificates (PEM) trusted for `ssl` origin targets (`--origin-ca`).
    pub origin_ca: Option<PathBuf>,
    /// The publish/control HTTP listener. Default `127.0.0.1:5561`.
    pub publish_listen: SocketAddr,
    /// Where to load routes from: `--route` lines > `--routes` > conf `routesfile` > `* test`.
    pub routes_source: RoutesSource,
    /// Shard (thread) count; 0 means one per available core, resolved by the runtime.
    pub shards: usize,
    /// Pin each shard to its own core when there are no more shards than cores. Default yes;
    /// `no` lets the scheduler move shards, which helps when other busy processes (a load
    /// generator on the same cores) would otherwise share a pinned shard's core.
    pub pin_shards: bool,
    /// How deliveries are written (`--send-mode`).
    pub send_mode: SendMode,
    /// `SO_SNDBUF` for accepted client sockets; `None` leaves them to the kernel's autotuning
    /// (`--socket-send-buffer`, 0 = `None`). A fixed buffer caps kernel memory per subscriber.
    pub socket_send_buffer: Option<usize>,
    /// Grip-Sig HS256 key, decoded (`base64:` keys). Default `changeme`.
    pub sig_key: Vec<u8>,
    /// Grip-Sig issuer. Default `pushpin`.
    pub sig_iss: String,
    /// Log level. Default info (Pushpin's 2).
    pub log_level: log::LevelFilter,
    /// Detailed error bodies for every route (`[proxy] debug`, `--debug`).
    pub debug: bool,
    /// CORS headers and JSONP for every route (`[proxy] auto_cross_origin`,
    /// `--auto-cross-origin`), as the `aco` route prop does for one. Default off.
    pub auto_cross_origin: bool,
    /// Bytes one connection may have queued before `slow_client` applies.
    pub outbound_bytes_max: usize,
    /// Items one connection may have queued before `slow_client` applies.
    pub outbound_items_max: usize,
    /// What happens to a connection whose outbound queue is full. Default `Close`.
    pub slow_client: SlowClientPolicy,
    /// `X-Forwarded-For` rules for untrusted clients. Default `[Append]`; Pushpin's default
    /// is none (a deliberate difference, DESIGN.md §4).
    pub x_forwarded_for: Vec<XffRule>,
    /// A client connection with no traffic for this long is closed.
    pub client_idle_timeout: Duration,
    /// Longest wait for an origin's response head (and for the body of a GRIP answer) after
    /// the request was sent; then the client gets `504` (`--origin-timeout`). Pushpin has no
    /// such key; its zurl gives up after 600 s of silence.
    pub origin_timeout: Duration,
    /// The ZeroMQ PULL socket publish items arrive on (`push_in_spec`), bound at start;
    /// `None` when turned off.
    pub push_in_spec: Option<String>,
    /// The ZeroMQ SUB sockets publish items arrive on as `[channel, item]` (`push_in_sub_specs`);
    /// empty when turned off.
    pub push_in_sub_specs: Vec<String>,
    /// Connect the SUB inputs to a publisher's PUB/XPUB instead of binding them
    /// (`push_in_sub_connect`).
    pub push_in_sub_connect: bool,
    /// The ZeroMQ command socket (`command_spec`, a REP socket answering Pushpin's ZRPC);
    /// `None` when turned off.
    pub command_spec: Option<String>,
    /// Who may use the publish endpoint's `/publish/`, `/recover` and `/metrics`.
    pub publish_auth: PublishAuth,
    /// A request head must arrive whole within this, counted from accept for the first
    /// request and from its first byte for later ones; else 408 and close.
    pub client_head_timeout: Duration,
    /// Client connections one source address may hold, over all shards; `None` = no limit.
    pub connections_per_ip_max: Option<u32>,
    /// How long the router holds an out-of-order item waiting for its `prev-id` (Pushpin's
    /// `message_wait`). Default 5000 ms.
    pub message_wait: Duration,
    /// How long published ids are remembered for de-duplication (Pushpin's `id_cache_ttl`).
    /// Default 60 s (Pushpin's shipped pushpin.conf; its code default is 0).
    pub id_cache_ttl: Duration,
    /// Channels one connection may subscribe to (Pushpin's `connection_subscription_max`).
    pub connection_subscriptions_max: usize,
    /// Refetch the holds on a channel about 1 s after it gets its first subscriber
    /// (PUSHPIN.md §3.4; Pushpin 1.41's `update_on_first_subscription`). Default on, as
    /// Pushpin 1.36 always does it.
    pub update_on_first_subscription: bool,
    /// Largest WebSocket message (and frame) a client may send; more gets close 1009.
    pub ws_message_bytes_max: usize,
    /// Accept a WebSocket client's permessage-deflate offer (Pushpin 1.37's
    /// `allow_compression`). Default off, as in Pushpin.
    pub allow_compression: bool,
}

/// What the command line asks for.
// Built once at start-up and matched at once, so boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum CliOutcome {
    /// Run with this configuration; log the warnings first.
    Run(Config, Vec<String>),
    /// `--help`/`-h`: print `usage()` and exit 0.
    Help,
    /// `--version`: print the version and exit 0.
    Version,
}

impl Config {
    /// Parses the command line (without argv\[0\]), reads the `--config` file if one is given,
    /// and resolves both into a `Config` with its warnings.
    pub fn from_args(args: &[String]) -> Result<CliOutcome, ConfigError> {
        let cli = parse_args(args)?;
        if cli.help {
            return Ok(CliOutcome::Help);
        }
        if cli.version {
            return Ok(CliOutcome::Version);
        }
        let mut warnings = Vec::new();
        let conf = match &cli.config {
            Some(path) => {
                let (conf, conf_warnings) = load_conf(path)?;
                warnings.extend(conf_warnings);
                Some((conf, path.clone()))
            }
            None => None,
        };
        let (config, resolve_warnings) = Config::resolve(cli, conf)?;
        warnings.extend(resolve_warnings);
        Ok(CliOutcome::Run(config, warnings))
    }
}

/// Reads and parses a pushpin.conf file; line errors carry the path.
pub fn load_conf(path: &Path) -> Result<(ConfFile, Vec<String>), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_conf(&text).map_err(|error| match error {
        ConfigError::Conf { line, message } => ConfigError::ConfFile {
            path: path.to_path_buf(),
            line,
            message,
        },
        other => other,
    })
}

/// Loads the routes table from its source; only a `File` source can fail (unreadable file).
/// Bad lines are warnings, not errors, so a reload with one typo keeps every other route.
pub fn load_routes(source: &RoutesSource) -> Result<(Routes, Vec<RouteWarning>), ConfigError> {
    match source {
        RoutesSource::Builtin => Ok((Routes::builtin_test(), Vec::new())),
        RoutesSource::Lines(lines) => Ok(parse_routes(&lines.join("\n"))),
        RoutesSource::File(path) => {
            let text = read_unchanging(path).map_err(|source| ConfigError::Read {
                path: path.clone(),
                source,
            })?;
            Ok(parse_routes(&text))
        }
    }
}

/// What identifies one version of a file: modification time, size, inode.
pub type FileSignature = Option<(std::time::SystemTime, u64, u64)>;

/// The signature of the file at `path`, `None` when it cannot be seen.
pub fn file_signature(path: &Path) -> FileSignature {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len(), meta.ino()))
}

/// Reads a file whose signature is the same before and after the read, and whose length is
/// the size it had: a read that overlapped a write is done again, up to
/// `ROUTES_FILE_READ_ATTEMPTS_MAX` times, then refused.
fn read_unchanging(path: &Path) -> std::io::Result<String> {
    for _ in 0..crate::limits::ROUTES_FILE_READ_ATTEMPTS_MAX {
        let before = file_signature(path);
        let text = std::fs::read_to_string(path)?;
        let after = file_signature(path);
        if before == after && after.is_some_and(|(_, len, _)| len == text.len() as u64) {
            return Ok(text);
        }
        std::thread::sleep(crate::limits::ROUTES_FILE_REREAD_INTERVAL);
    }
    Err(std::io::Error::other(
        "the file kept changing while it was read",
    ))
}

#[cfg(test)]
mod tests;
