//! Scenario: what one run is — target, transport, clients, publishes, payload, spacing —
//! and the slice of it each worker process is given.
//!
//! Owns: validating `run` options once, before any socket opens, and the worker argv.
//! Must not: open sockets or spawn processes.
//! Invariants: every address is loopback (runs never leave the machine), ZeroMQ specs
//! included (`tcp://` on loopback, or `ipc://`); `size` is at least
//! [`crate::message::min_size`]; each worker holds at most [`PER_WORKER_MAX`] sockets.

use std::net::{SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::path::PathBuf;

use crate::args::Args;
use crate::message::{self, Framing};
use crate::tls::{TlsConfig, TlsTarget};

/// Sockets one worker may hold: RLIMIT_NOFILE is hard-capped at 20,000 per process on the
/// development machines (DESIGN.md §3), less room for pipes, epoll and stdio.
pub const PER_WORKER_MAX: u64 = 19_000;

/// Default sockets per worker.
pub const PER_WORKER_DEFAULT: u64 = 18_000;

/// How a subscriber listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// HTTP streaming (`Grip-Hold: stream`, chunked body of lines).
    Stream,
    /// Server-Sent Events (`Grip-Hold: stream`, `text/event-stream`).
    Sse,
    /// WebSocket (WebSocket-over-HTTP at the backend).
    Ws,
    /// HTTP long-polling (`Grip-Hold: response`), re-polling on the same connection.
    Longpoll,
}

impl Mode {
    /// Parses `stream|sse|ws|longpoll`.
    pub fn parse(s: &str) -> Result<Mode, String> {
        match s {
            "stream" => Ok(Mode::Stream),
            "sse" => Ok(Mode::Sse),
            "ws" => Ok(Mode::Ws),
            "longpoll" => Ok(Mode::Longpoll),
            _ => Err(format!("--mode: {s:?} is not stream|sse|ws|longpoll")),
        }
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Stream => "stream",
            Mode::Sse => "sse",
            Mode::Ws => "ws",
            Mode::Longpoll => "longpoll",
        }
    }

    /// How a message is framed for this mode.
    pub fn framing(self) -> Framing {
        match self {
            Mode::Sse => Framing::SseEvent,
            _ => Framing::Line,
        }
    }

    /// The backend path (loadgen's own backend answers each).
    pub fn path(self, channel: &str) -> String {
        format!("/{}?channel={channel}", self.name())
    }
}

/// How the coordinator publishes each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublishVia {
    /// `POST /publish/` to every `--publish` URL, one item per POST, on one keep-alive
    /// connection per URL, each waiting for its response.
    Http,
    /// Once, on one XPUB socket connected to every `--zmq-specs` SUB input (bound by the
    /// proxy), after every instance with subscribers has subscribed to the channel.
    ZmqSub,
    /// On one PUSH socket per `--zmq-specs` PULL input, each message to every one (a single
    /// PUSH would hand each message to one instance only).
    ZmqPush,
}

impl PublishVia {
    /// Parses `http|zmq-sub|zmq-push`; `zmq` is short for `zmq-sub`.
    pub fn parse(s: &str) -> Result<PublishVia, String> {
        match s {
            "http" => Ok(PublishVia::Http),
            "zmq" | "zmq-sub" => Ok(PublishVia::ZmqSub),
            "zmq-push" => Ok(PublishVia::ZmqPush),
            _ => Err(format!("{s:?} is not http|zmq|zmq-sub|zmq-push")),
        }
    }

    /// A comma-separated list of methods, in order, each at most once.
    pub fn parse_list(s: &str) -> Result<Vec<PublishVia>, String> {
        let mut list = Vec::new();
        for name in s.split(',') {
            let via = PublishVia::parse(name)?;
            if list.contains(&via) {
                return Err(format!("{name:?} is listed twice"));
            }
            list.push(via);
        }
        Ok(list)
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            PublishVia::Http => "http",
            PublishVia::ZmqSub => "zmq-sub",
            PublishVia::ZmqPush => "zmq-push",
        }
    }
}

/// Everything a worker needs; also its argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerSpec {
    /// Worker number, 0-based.
    pub index: usize,
    /// Global index of this worker's first client (spreads source addresses).
    pub first: u64,
    /// Clients this worker opens.
    pub clients: u64,
    /// The proxy's client-facing address.
    pub proxy: SocketAddrV4,
    /// Transport.
    pub mode: Mode,
    /// GRIP channel every client subscribes to (the base name with `channels` > 1).
    pub channel: String,
    /// Channels: client with global index i holds channel `i mod channels`
    /// ([`crate::channels`]).
    pub channels: u64,
    /// Publishes in the run (sequence numbers `1..=messages`).
    pub messages: u64,
    /// Bytes per message.
    pub size: usize,
    /// This worker's share of `--connect-rate`, per second; 0 = unlimited.
    pub connect_rate: u64,
    /// The worker exits by itself this long after starting.
    pub timeout_s: u64,
    /// Subscribers speak TLS, checked against this CA and name.
    pub tls: Option<TlsTarget>,
}

impl WorkerSpec {
    /// The argv (after `worker`) that [`WorkerSpec::parse`] reads back.
    pub fn to_argv(&self) -> Vec<String> {
        let mut pairs = vec![
            ("--index", self.index.to_string()),
            ("--first", self.first.to_string()),
            ("--clients", self.clients.to_string()),
            ("--proxy", self.proxy.to_string()),
            ("--mode", self.mode.name().to_string()),
            ("--channel", self.channel.clone()),
            ("--channels", self.channels.to_string()),
            ("--messages", self.messages.to_string()),
            ("--size", self.size.to_string()),
            ("--connect-rate", self.connect_rate.to_string()),
            ("--timeout-s", self.timeout_s.to_string()),
        ];
        if let Some(tls) = &self.tls {
            pairs.push(("--tls-ca", tls.ca.display().to_string()));
            pairs.push(("--tls-server-name", tls.server_name.clone()));
        }
        pairs
            .into_iter()
            .flat_map(|(k, v)| [k.to_string(), v])
            .collect()
    }

    /// Parses a worker argv.
    pub fn parse(argv: &[String]) -> Result<WorkerSpec, String> {
        let mut a = Args::parse(argv)?;
        let spec = WorkerSpec {
            index: a.parsed("--index", 0)?,
            first: a.parsed("--first", 0)?,
            clients: a.parsed("--clients", 0)?,
            proxy: loopback_v4(&a.required("--proxy")?)?,
            mode: Mode::parse(&a.required("--mode")?)?,
            channel: a.required("--channel")?,
            channels: a.parsed("--channels", 1)?,
            messages: a.parsed("--messages", 0)?,
            size: a.parsed("--size", 0)?,
            connect_rate: a.parsed("--connect-rate", 0)?,
            timeout_s: a.parsed("--timeout-s", 120)?,
            tls: match (a.take("--tls-ca"), a.take("--tls-server-name")) {
                (Some(ca), Some(server_name)) => Some(TlsTarget {
                    ca: PathBuf::from(ca),
                    server_name,
                }),
                (None, None) => None,
                _ => return Err("a TLS worker needs --tls-ca and --tls-server-name".into()),
            },
        };
        a.finish()?;
        Ok(spec)
    }

    /// Length of a message value after framing is stripped.
    pub fn value_len(&self) -> usize {
        message::value_len(self.size, self.mode.framing())
    }
}

/// One `run`.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The proxy's client-facing address.
    pub proxy: SocketAddrV4,
    /// Publish endpoints, each `http://HOST:PORT`: every message goes to each with
    /// [`PublishVia::Http`]; they are always read for the `ringpin_subscriptions` gauge.
    pub publish_urls: Vec<String>,
    /// How each message is published.
    pub publish_via: PublishVia,
    /// The ZeroMQ inputs for [`PublishVia::ZmqSub`] / [`PublishVia::ZmqPush`].
    pub zmq_specs: Vec<String>,
    /// Transport.
    pub mode: Mode,
    /// Subscribers.
    pub clients: u64,
    /// Publishes.
    pub messages: u64,
    /// Bytes per message.
    pub size: usize,
    /// Pause between publish starts.
    pub interval_ms: u64,
    /// Worker processes.
    pub workers: u64,
    /// GRIP channel (the base name of `BASE-0` … with `channels` > 1).
    pub channel: String,
    /// `--channels K`: subscriber i holds channel `i mod K`; each message is one item per
    /// channel.
    pub channels: u64,
    /// `--items-per-post N`: the most items one publish POST carries (`None`: as many as fit
    /// in [`crate::batch::PUBLISH_BODY_BYTES_MAX`]).
    pub items_per_post: Option<usize>,
    /// `--rate R`: the sustained mode ([`crate::sustained`]): R items/s in total, one item
    /// per POST, every channel `messages` items; `None`: one burst per message, as before.
    pub rate: Option<u64>,
    /// `--publishers P` (with `--rate`): publisher threads, each with its own connections.
    pub publishers: u64,
    /// `--item-formats mode`: each HTTP item carries only the format the run's mode reads,
    /// instead of all three (`all`, the default), so 2,500 items of 128 B fit one POST.
    pub item_formats_mode_only: bool,
    /// Proxy processes whose CPU and RSS are measured.
    pub proxy_pids: Vec<u32>,
    /// Name of the proxy in reports.
    pub target_name: String,
    /// Where to write the JSON report.
    pub json_path: Option<PathBuf>,
    /// Print one markdown table row.
    pub markdown: bool,
    /// Whole-run bound.
    pub timeout_s: u64,
    /// New connections per second over all workers; 0 = unlimited.
    pub connect_rate: u64,
    /// Extra wait after all are held when the proxy has no `ringpin_subscriptions`.
    pub settle_ms: u64,
    /// `--tls`: subscribers speak TLS to `proxy`, checked against this CA and name.
    pub tls: Option<TlsTarget>,
}

impl Scenario {
    /// Parses and validates `run` options.
    pub fn parse(argv: &[String]) -> Result<Scenario, String> {
        let mut a = Args::parse(argv)?;
        let clients: u64 = a.parsed("--clients", 0)?;
        let workers: Option<u64> = a.parsed_opt("--workers")?;
        let per_worker: u64 = a.parsed("--per-worker", PER_WORKER_DEFAULT)?;
        let s = Scenario {
            proxy: loopback_v4(&a.required("--proxy")?)?,
            publish_urls: parse_publish_urls(&a.required("--publish")?)?,
            publish_via: PublishVia::parse(&a.parsed("--publish-via", "http".to_string())?)
                .map_err(|e| format!("--publish-via: {e}"))?,
            zmq_specs: parse_zmq_specs(a.take("--zmq-specs").as_deref())?,
            mode: Mode::parse(&a.required("--mode")?)?,
            clients,
            messages: a.parsed("--messages", 0)?,
            size: a.parsed("--size", 0)?,
            interval_ms: a.parsed("--interval-ms", 0)?,
            workers: resolve_workers(clients, workers, per_worker)?,
            channel: a.parsed("--channel", "loadgen".to_string())?,
            channels: a.parsed("--channels", 1)?,
            items_per_post: a.parsed_opt("--items-per-post")?,
            rate: a.parsed_opt("--rate")?,
            publishers: a.parsed_opt("--publishers")?.unwrap_or(0),
            item_formats_mode_only: parse_item_formats(a.take("--item-formats").as_deref())?,
            proxy_pids: parse_pids(a.take("--proxy-pids").as_deref())?,
            target_name: a.parsed("--target-name", "proxy".to_string())?,
            json_path: a.take("--json").map(PathBuf::from),
            markdown: a.switch("--markdown"),
            timeout_s: a.parsed("--timeout-s", 120)?,
            connect_rate: a.parsed("--connect-rate", 0)?,
            settle_ms: a.parsed("--settle-ms", 500)?,
            tls: parse_tls(&mut a)?,
        };
        a.finish()?;
        s.validate()?;
        Ok(s)
    }

    fn validate(&self) -> Result<(), String> {
        if self.clients == 0 || self.messages == 0 {
            return Err("--clients and --messages must be at least 1".into());
        }
        let min = message::min_size(self.messages, self.mode.framing());
        if self.size < min {
            return Err(format!(
                "--size must be at least {min} bytes for {} messages in {} mode",
                self.messages,
                self.mode.name()
            ));
        }
        if self.channel.is_empty()
            || !self
                .channel
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            return Err("--channel: use letters, digits, '-', '_' or '.'".into());
        }
        if self.timeout_s == 0 {
            return Err("--timeout-s must be at least 1".into());
        }
        self.validate_channels()?;
        self.validate_rate()?;
        self.validate_publish_via()
    }

    /// `--publishers` was parsed as 0 when absent; this also settles its default (1).
    fn validate_rate(&self) -> Result<(), String> {
        let Some(rate) = self.rate else {
            return match self.publishers {
                0 => Ok(()),
                _ => Err("--publishers needs --rate".into()),
            };
        };
        let refuse = |why: &str| Err(format!("--rate: {why}"));
        if rate == 0 {
            return refuse("must be at least 1 item/s");
        }
        if self.publishers > self.channels {
            return refuse(
                "--publishers must be at most --channels (a channel has one publisher thread)",
            );
        }
        if self.items_per_post.is_some() {
            return refuse("one item per POST; --items-per-post does not apply");
        }
        if self.interval_ms > 0 {
            return refuse("the schedule paces every item; --interval-ms does not apply");
        }
        if self.mode == Mode::Longpoll {
            return refuse("--mode longpoll cannot take items faster than it re-polls");
        }
        if self.publish_via == PublishVia::ZmqSub {
            return refuse("use --publish-via http or zmq-push");
        }
        Ok(())
    }

    /// Publisher threads of the sustained mode (1 unless `--publishers` says).
    pub fn publisher_threads(&self) -> u64 {
        self.publishers.max(1)
    }

    fn validate_channels(&self) -> Result<(), String> {
        if self.channels == 0 {
            return Err("--channels must be at least 1".into());
        }
        if self.channels > self.clients {
            return Err(format!(
                "--channels {} exceeds --clients {}: a channel without a subscriber measures nothing",
                self.channels, self.clients
            ));
        }
        if self.items_per_post == Some(0) {
            return Err("--items-per-post must be at least 1".into());
        }
        if self.items_per_post.is_some() && self.publish_via != PublishVia::Http {
            return Err("--items-per-post applies to --publish-via http only".into());
        }
        // The XPUB would have to wait for every channel's subscription on every instance
        // that holds one, which the gauge cannot tell per channel.
        if self.channels > 1 && self.publish_via == PublishVia::ZmqSub {
            return Err(
                "--publish-via zmq-sub supports --channels 1 only (use http or zmq-push)".into(),
            );
        }
        Ok(())
    }

    fn validate_publish_via(&self) -> Result<(), String> {
        let via = self.publish_via.name();
        match (self.publish_via, self.zmq_specs.is_empty()) {
            (PublishVia::Http, false) => {
                Err("--zmq-specs needs --publish-via zmq-sub|zmq-push".into())
            }
            (PublishVia::ZmqSub | PublishVia::ZmqPush, true) => {
                Err(format!("--publish-via {via} needs --zmq-specs"))
            }
            // Each long-poll response ends a subscription, so an instance may unsubscribe
            // between rounds and the XPUB would drop the next message.
            (PublishVia::ZmqSub, false) if self.mode == Mode::Longpoll => {
                Err("--publish-via zmq-sub does not support --mode longpoll".into())
            }
            _ => Ok(()),
        }
    }

    /// Splits the clients over the workers, as evenly as possible.
    pub fn worker_specs(&self) -> Vec<WorkerSpec> {
        let base = self.clients / self.workers;
        let extra = self.clients % self.workers;
        let mut first = 0;
        (0..self.workers)
            .map(|w| {
                let clients = base + u64::from(w < extra);
                let rate = self.connect_rate.div_ceil(self.workers);
                let spec = WorkerSpec {
                    index: w as usize,
                    first,
                    clients,
                    proxy: self.proxy,
                    mode: self.mode,
                    channel: self.channel.clone(),
                    channels: self.channels,
                    messages: self.messages,
                    size: self.size,
                    connect_rate: rate,
                    timeout_s: self.timeout_s + WORKER_GRACE_S,
                    tls: self.tls.clone(),
                };
                first += clients;
                spec
            })
            .collect()
    }
}

/// `--item-formats all|mode` (default all): true for `mode`.
pub fn parse_item_formats(value: Option<&str>) -> Result<bool, String> {
    match value {
        None | Some("all") => Ok(false),
        Some("mode") => Ok(true),
        Some(other) => Err(format!("--item-formats: {other:?} is not all|mode")),
    }
}

/// The name a TLS proxy's certificate must be valid for unless `--tls-server-name` says.
pub const TLS_SERVER_NAME_DEFAULT: &str = "localhost";

/// `--tls` with `--tls-ca FILE` and `--tls-server-name NAME`. The CA file is read here, so a
/// bad one fails the run before any worker starts (each worker reads it again).
fn parse_tls(a: &mut Args) -> Result<Option<TlsTarget>, String> {
    let on = a.switch("--tls");
    let ca = a.take("--tls-ca");
    let server_name = a.take("--tls-server-name");
    if !on {
        return match (ca, server_name) {
            (None, None) => Ok(None),
            _ => Err("--tls-ca and --tls-server-name need --tls".into()),
        };
    }
    let ca = ca.ok_or("--tls needs --tls-ca FILE, the CA that signed the proxy's certificate")?;
    let target = TlsTarget {
        ca: PathBuf::from(ca),
        server_name: server_name.unwrap_or_else(|| TLS_SERVER_NAME_DEFAULT.into()),
    };
    TlsConfig::load(&target)?;
    Ok(Some(target))
}

/// A worker outlives the coordinator's timeout by this much, so the coordinator can still
/// collect its report; after it, the worker exits on its own.
pub const WORKER_GRACE_S: u64 = 30;

fn resolve_workers(clients: u64, workers: Option<u64>, per_worker: u64) -> Result<u64, String> {
    if per_worker == 0 || per_worker > PER_WORKER_MAX {
        return Err(format!(
            "--per-worker must be 1..={PER_WORKER_MAX} (RLIMIT_NOFILE)"
        ));
    }
    let w = workers.unwrap_or_else(|| clients.div_ceil(per_worker).max(1));
    if w == 0 {
        return Err("--workers must be at least 1".into());
    }
    if clients.div_ceil(w) > PER_WORKER_MAX {
        return Err(format!(
            "{clients} clients over {w} workers exceeds {PER_WORKER_MAX} sockets per worker"
        ));
    }
    Ok(w)
}

/// Resolves `HOST:PORT` to an IPv4 loopback address (runs never leave the machine).
pub fn loopback_v4(s: &str) -> Result<SocketAddrV4, String> {
    let addrs = s.to_socket_addrs().map_err(|e| format!("{s}: {e}"))?;
    for addr in addrs {
        if let SocketAddr::V4(v4) = addr {
            if v4.ip().is_loopback() {
                return Ok(v4);
            }
        }
    }
    Err(format!(
        "{s}: not an IPv4 loopback address (loadgen targets loopback only)"
    ))
}

fn parse_publish_urls(s: &str) -> Result<Vec<String>, String> {
    let urls: Vec<String> = s
        .split(',')
        .filter(|u| !u.is_empty())
        .map(String::from)
        .collect();
    for url in &urls {
        crate::publisher::PublishUrl::parse(url)?;
    }
    if urls.is_empty() {
        return Err("--publish needs at least one URL".into());
    }
    Ok(urls)
}

/// `SPEC[,SPEC...]`, each `tcp://` on IPv4 loopback or `ipc://PATH`.
fn parse_zmq_specs(s: Option<&str>) -> Result<Vec<String>, String> {
    let Some(s) = s else { return Ok(Vec::new()) };
    let specs: Vec<String> = s
        .split(',')
        .filter(|p| !p.is_empty())
        .map(String::from)
        .collect();
    for spec in &specs {
        if let Some(hostport) = spec.strip_prefix("tcp://") {
            loopback_v4(hostport).map_err(|e| format!("--zmq-specs: {e}"))?;
        } else if spec.strip_prefix("ipc://").is_none_or(str::is_empty) {
            return Err(format!(
                "--zmq-specs: {spec:?} is neither tcp://HOST:PORT nor ipc://PATH"
            ));
        }
    }
    Ok(specs)
}

fn parse_pids(s: Option<&str>) -> Result<Vec<u32>, String> {
    let Some(s) = s else { return Ok(Vec::new()) };
    s.split([',', ' '])
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse()
                .map_err(|_| format!("--proxy-pids: {p:?} is not a pid"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    const BASE: &str = "--proxy 127.0.0.1:7999 --publish http://127.0.0.1:5561 --mode stream --messages 5 --size 128";

    #[test]
    fn clients_split_evenly_over_workers() {
        let s = Scenario::parse(&argv(&format!("{BASE} --clients 40001 --per-worker 18000")))
            .expect("valid");
        assert_eq!(s.workers, 3);
        let specs = s.worker_specs();
        let counts: Vec<u64> = specs.iter().map(|w| w.clients).collect();
        assert_eq!(counts, [13334, 13334, 13333]);
        assert_eq!(specs[2].first, 26668);
    }

    #[test]
    fn worker_argv_round_trips() {
        let s = Scenario::parse(&argv(&format!(
            "{BASE} --clients 10 --connect-rate 100 --workers 2"
        )))
        .expect("valid");
        for spec in s.worker_specs() {
            assert_eq!(WorkerSpec::parse(&spec.to_argv()), Ok(spec));
        }
    }

    #[test]
    fn publish_methods_parse_by_name_and_as_lists() {
        assert_eq!(PublishVia::parse("http"), Ok(PublishVia::Http));
        assert_eq!(PublishVia::parse("zmq"), Ok(PublishVia::ZmqSub));
        assert_eq!(PublishVia::parse("zmq-sub"), Ok(PublishVia::ZmqSub));
        assert_eq!(PublishVia::parse("zmq-push"), Ok(PublishVia::ZmqPush));
        for bad in ["", "HTTP", "zmq-pub", "push"] {
            assert!(PublishVia::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            PublishVia::parse_list("http,zmq"),
            Ok(vec![PublishVia::Http, PublishVia::ZmqSub])
        );
        assert_eq!(
            PublishVia::parse_list("zmq-push,http"),
            Ok(vec![PublishVia::ZmqPush, PublishVia::Http])
        );
        for bad in ["", "http,", "zmq,zmq-sub", "http,http", "http,tcp"] {
            assert!(PublishVia::parse_list(bad).is_err(), "{bad:?}");
        }
        for via in [PublishVia::Http, PublishVia::ZmqSub, PublishVia::ZmqPush] {
            assert_eq!(PublishVia::parse(via.name()), Ok(via));
        }
    }

    #[test]
    fn zmq_runs_take_loopback_or_ipc_specs() {
        let run = |extra: &str| Scenario::parse(&argv(&format!("{BASE} --clients 10 {extra}")));
        let s = run("").expect("valid");
        assert_eq!((s.publish_via, s.zmq_specs.len()), (PublishVia::Http, 0));
        let s = run("--publish-via zmq --zmq-specs tcp://127.0.0.1:5562,tcp://localhost:5662")
            .expect("valid");
        assert_eq!(s.publish_via, PublishVia::ZmqSub);
        assert_eq!(
            s.zmq_specs,
            ["tcp://127.0.0.1:5562", "tcp://localhost:5662"]
        );
        let s = run("--publish-via zmq-push --zmq-specs ipc:///tmp/x/push-in").expect("valid");
        assert_eq!(s.publish_via, PublishVia::ZmqPush);
        assert_eq!(s.zmq_specs, ["ipc:///tmp/x/push-in"]);
        for bad in [
            "--publish-via zmq-sub",
            "--publish-via zmq-push --zmq-specs ,",
            "--zmq-specs tcp://127.0.0.1:5562",
            "--publish-via zmq --zmq-specs tcp://10.0.0.1:5562",
            "--publish-via zmq --zmq-specs tcp://127.0.0.1",
            "--publish-via zmq --zmq-specs ipc://",
            "--publish-via zmq --zmq-specs inproc://x",
            "--publish-via carrier-pigeon --zmq-specs ipc://x",
            "--publish-via zmq --zmq-specs ipc://x --mode longpoll",
        ] {
            assert!(run(bad).is_err(), "{bad}");
        }
        // Long-poll over a PULL input is fine: it has no subscriptions to lose.
        assert!(run("--publish-via zmq-push --zmq-specs ipc://x --mode longpoll").is_ok());
    }

    #[test]
    fn tls_runs_need_a_readable_ca_and_pass_it_to_every_worker() {
        let set = crate::tls_cert::generate(&["localhost".into()]).expect("certificates");
        let dir = std::env::temp_dir().join(format!("loadgen-scenario-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let ca = dir.join("ca.pem");
        std::fs::write(&ca, &set.ca_pem).expect("write CA");
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "not a certificate").expect("write garbage");
        let run = |extra: &str| {
            Scenario::parse(&argv(&format!("{BASE} --clients 10 --workers 2 {extra}")))
        };
        let s = run(&format!("--tls --tls-ca {}", ca.display())).expect("valid");
        let target = s.tls.clone().expect("tls");
        assert_eq!(
            (target.ca.as_path(), target.server_name.as_str()),
            (ca.as_path(), "localhost")
        );
        for spec in s.worker_specs() {
            assert_eq!(spec.tls.as_ref(), Some(&target));
            assert_eq!(WorkerSpec::parse(&spec.to_argv()), Ok(spec));
        }
        let s = run(&format!(
            "--tls --tls-ca {} --tls-server-name 127.0.0.1",
            ca.display()
        ));
        assert_eq!(
            s.expect("valid").tls.map(|t| t.server_name),
            Some("127.0.0.1".into())
        );
        assert_eq!(run("").expect("valid").tls, None);
        for bad in [
            "--tls".to_string(),
            format!("--tls-ca {}", ca.display()),
            "--tls-server-name localhost".to_string(),
            format!("--tls --tls-ca {}", garbage.display()),
            format!("--tls --tls-ca {}", dir.join("missing.pem").display()),
            format!("--tls --tls-ca {} --tls-server-name bad!name", ca.display()),
        ] {
            assert!(run(&bad).is_err(), "{bad}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn channels_reach_every_worker_and_impossible_channel_runs_are_refused() {
        let run = |extra: &str| Scenario::parse(&argv(&format!("{BASE} {extra}")));
        let s = run("--clients 60 --channels 20 --workers 2 --items-per-post 7").expect("valid");
        assert_eq!((s.channels, s.items_per_post), (20, Some(7)));
        for spec in s.worker_specs() {
            assert_eq!(spec.channels, 20);
            assert_eq!(WorkerSpec::parse(&spec.to_argv()), Ok(spec));
        }
        assert_eq!(run("--clients 5").expect("valid").channels, 1);
        assert!(run("--clients 5 --channels 3 --publish-via zmq-push --zmq-specs ipc://x").is_ok());
        for (bad, why) in [
            ("--clients 5 --channels 0", "at least 1"),
            ("--clients 5 --channels 6", "exceeds --clients"),
            ("--clients 5 --items-per-post 0", "at least 1"),
            (
                "--clients 5 --items-per-post 2 --publish-via zmq-push --zmq-specs ipc://x",
                "http only",
            ),
            (
                "--clients 5 --channels 2 --publish-via zmq-sub --zmq-specs ipc://x",
                "--channels 1 only",
            ),
        ] {
            let e = run(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn rate_runs_need_a_rate_and_refuse_what_cannot_be_paced() {
        let run = |extra: &str| Scenario::parse(&argv(&format!("{BASE} --clients 20 {extra}")));
        let s = run("--channels 20 --rate 200 --publishers 4").expect("valid");
        assert_eq!((s.rate, s.publisher_threads()), (Some(200), 4));
        let s = run("--channels 20 --rate 200").expect("valid");
        assert_eq!(s.publisher_threads(), 1);
        assert_eq!(run("").expect("valid").rate, None);
        for (bad, why) in [
            ("--publishers 2", "needs --rate"),
            ("--rate 0", "at least 1"),
            (
                "--channels 3 --rate 10 --publishers 4",
                "at most --channels",
            ),
            ("--rate 10 --items-per-post 2", "one item per POST"),
            ("--rate 10 --interval-ms 5", "--interval-ms"),
            ("--rate 10 --mode longpoll", "longpoll"),
            (
                "--rate 10 --publish-via zmq-sub --zmq-specs ipc://x",
                "zmq-push",
            ),
        ] {
            let e = run(bad).expect_err(bad);
            assert!(e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn unsafe_or_impossible_runs_are_refused() {
        for bad in [
            format!("{BASE} --clients 0"),
            format!("{BASE} --clients 10 --size 10"),
            format!("{BASE} --clients 30000 --workers 1"),
            format!("{BASE} --clients 10 --per-worker 25000"),
            format!("{BASE} --clients 10 --channel a/b"),
            "--proxy 10.1.2.3:80 --publish http://127.0.0.1:5561 --mode stream --clients 1 --messages 1 --size 64".to_string(),
            "--proxy 127.0.0.1:80 --publish http://127.0.0.1:5561 --mode tcp --clients 1 --messages 1 --size 64".to_string(),
        ] {
            assert!(Scenario::parse(&argv(&bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn item_formats_are_all_or_mode() {
        let run = |extra: &str| Scenario::parse(&argv(&format!("{BASE} --clients 10 {extra}")));
        assert!(!run("").expect("valid").item_formats_mode_only);
        assert!(
            !run("--item-formats all")
                .expect("valid")
                .item_formats_mode_only
        );
        assert!(
            run("--item-formats mode")
                .expect("valid")
                .item_formats_mode_only
        );
        let err = run("--item-formats some").expect_err("refused");
        assert!(err.contains("--item-formats"), "{err}");
    }
}
