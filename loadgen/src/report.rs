//! Report: a run's figures as JSON (the schema other tools read), a human table, and a
//! markdown table row.
//!
//! Owns: the report schema and every derived figure (losses, percentiles, CDF, time to
//! last delivery, throughput, CPU and memory per delivery/connection).
//! Must not: measure anything itself (the coordinator hands in raw results).
//! Invariants: the JSON field names are a contract: `tool`, `version`, `date`, `command`,
//! `machine`, `target`, `mode`, `clients`, `messages`, `size`, `interval_ms`, `connect`,
//! `deliveries`, `latency_us`, `time_to_last_delivery_ms`, `time_to_last_delivery_ms_max`,
//! `deliveries_per_s`, `proxy`, `publish`, `tls`. Fields may be added, never renamed.

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::scenario::{PublishVia, Scenario};
use crate::sustained::SustainedTotals;
use crate::verdict::{self, RateFigures};
use crate::xpub_subscriptions::SubscribeWait;

/// Raw results of a run, gathered by the coordinator.
#[derive(Debug)]
pub struct RunResult {
    /// Worker processes used.
    pub workers: u64,
    /// First connect to last held, seconds.
    pub connect_seconds: f64,
    /// Clients held / failed before held / closed after held.
    pub held: u64,
    /// Clients that never became held.
    pub failed: u64,
    /// Held clients that closed later.
    pub disconnects: u64,
    /// Unique deliveries.
    pub received: u64,
    /// Repeated deliveries.
    pub duplicated: u64,
    /// Deliveries that filled a gap.
    pub reordered: u64,
    /// Invalid messages.
    pub malformed: u64,
    /// TLS connections closed before their handshake finished (also in `failed`).
    pub tls_handshake_failures: u64,
    /// `VERSION/SUITE` of the first completed TLS handshake any worker saw.
    pub tls_negotiated: Option<String>,
    /// Merged latency histogram, µs.
    pub latency_us: Histogram<u64>,
    /// Per message: send time of its first publish (0: never published).
    pub send_ns: Vec<u64>,
    /// Per message: latest receive time over all clients (0: nobody received it).
    pub last_recv_ns: Vec<u64>,
    /// Just before the first publish.
    pub publish_start_ns: u64,
    /// CPU µs of the worker processes over the same span as the proxy's.
    pub loadgen_cpu_us: Option<u64>,
    /// Proxy measurements, when pids were given.
    pub proxy: Option<ProxySample>,
    /// What the publish side did.
    pub publish: PublishOutcome,
    /// `--rate` runs: the publisher threads' totals.
    pub sustained: Option<SustainedTotals>,
    /// The run hit `--timeout-s`.
    pub timed_out: bool,
}

/// What the publish side did, raw.
#[derive(Debug, Clone)]
pub struct PublishOutcome {
    /// How messages were published.
    pub via: PublishVia,
    /// Items handed over: items in POSTs answered 2xx (messages × channels × URLs), or
    /// ZeroMQ messages queued (× sockets for PUSH).
    pub items: u64,
    /// When the last publish returned (0: nothing was published).
    pub end_ns: u64,
    /// The XPUB's wait for subscriptions (`zmq-sub` only).
    pub subscribe: Option<SubscribeWait>,
    /// HTTP: the most items one POST carried, and POSTs per message per URL (0 otherwise).
    pub items_per_post: u64,
    pub posts_per_message: u64,
    /// HTTP: every POST's round trip, write to whole response, µs.
    pub post_round_trip_us: Option<Histogram<u64>>,
    /// HTTP: every POST's answer time, write to the answer's arrival in the publisher's
    /// socket (the kernel's receive timestamp), µs: the round trip without the publisher's
    /// wait for a core.
    pub post_answered_us: Option<Histogram<u64>>,
}

impl PublishOutcome {
    /// Nothing published yet.
    pub fn new(via: PublishVia, subscribe: Option<SubscribeWait>) -> PublishOutcome {
        PublishOutcome {
            via,
            items: 0,
            end_ns: 0,
            subscribe,
            items_per_post: 0,
            posts_per_message: 0,
            post_round_trip_us: None,
            post_answered_us: None,
        }
    }

    /// Records one POST's round trip.
    pub fn record_round_trip(&mut self, took: std::time::Duration) {
        record_us(&mut self.post_round_trip_us, took);
    }

    /// Records when one POST's answer reached the publisher's socket, after its write began.
    pub fn record_answered(&mut self, took: std::time::Duration) {
        record_us(&mut self.post_answered_us, took);
    }
}

/// Records `took` in µs, creating the histogram on first use.
fn record_us(hist: &mut Option<Histogram<u64>>, took: std::time::Duration) {
    let us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    let hist = hist.get_or_insert_with(|| {
        Histogram::new_with_bounds(1, ROUND_TRIP_US_MAX, 3)
            .expect("constant histogram bounds are valid")
    });
    hist.saturating_record(us.clamp(1, ROUND_TRIP_US_MAX));
}

/// Round trips recorded up to 60 s (the publisher's I/O timeout is 10 s).
const ROUND_TRIP_US_MAX: u64 = 60_000_000;

/// `publish.post_round_trip_us`: min / p50 / p99 / max over every POST.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct RoundTrip {
    pub count: u64,
    pub min: u64,
    pub p50: u64,
    pub p99: u64,
    pub max: u64,
}

impl RoundTrip {
    /// The figures of a histogram; `None` when it is empty.
    pub fn of(h: &Histogram<u64>) -> Option<RoundTrip> {
        (!h.is_empty()).then(|| RoundTrip {
            count: h.len(),
            min: h.min(),
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            max: h.max(),
        })
    }
}

/// Proxy process measurements.
#[derive(Debug, Clone)]
pub struct ProxySample {
    /// Measured pids.
    pub pids: Vec<u32>,
    /// CPU µs from just before the first publish to the last delivery.
    pub cpu_us_total: u64,
    /// RSS before any client connected.
    pub rss_bytes_before_connect: u64,
    /// RSS with every client held.
    pub rss_bytes_held: u64,
}

/// The machine a run ran on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    cpu: String,
    cores: usize,
    kernel: String,
    mem_gib: f64,
}

impl Machine {
    /// Reads `/proc` for the CPU model, kernel release and memory size.
    pub fn detect() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| {
                l.strip_prefix("model name")
                    .and_then(|r| r.split_once(':'))
                    .map(|(_, v)| v.trim().to_string())
            })
            .unwrap_or_else(|| "unknown".into());
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kb: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0.0);
        Machine {
            cpu,
            cores: std::thread::available_parallelism().map_or(0, |n| n.get()),
            kernel,
            mem_gib: (mem_kb / (1024.0 * 1024.0) * 10.0).round() / 10.0,
        }
    }
}

/// `connect` section.
#[derive(Debug, Serialize)]
pub struct Connect {
    seconds: f64,
    rate_per_s: f64,
    failures: u64,
    held: u64,
    disconnects: u64,
}

/// `deliveries` section.
#[derive(Debug, Serialize)]
pub struct Deliveries {
    expected: u64,
    received: u64,
    lost: u64,
    duplicated: u64,
    reordered: u64,
    malformed: u64,
}

/// `latency_us` section.
#[derive(Debug, Serialize)]
pub struct Latency {
    p50: u64,
    p90: u64,
    p99: u64,
    max: u64,
    cdf: Vec<(u64, f64)>,
}

/// `loadgen` section: the load generator's own cost, to tell when it is the bottleneck.
#[derive(Debug, Serialize)]
pub struct Loadgen {
    workers: u64,
    cpu_us_total: Option<u64>,
    cpu_us_per_delivery: Option<f64>,
}

/// `proxy` section.
#[derive(Debug, Serialize)]
pub struct Proxy {
    pids: Vec<u32>,
    cpu_us_total: u64,
    cpu_us_per_delivery: Option<f64>,
    rss_bytes_before_connect: u64,
    rss_bytes_held: u64,
    rss_bytes_per_connection: Option<f64>,
}

/// `tls` section (null for plain TCP): what the subscribers checked and got.
#[derive(Debug, Serialize)]
pub struct Tls {
    server_name: String,
    /// `VERSION/SUITE`, e.g. `TLSv1_3/TLS13_AES_256_GCM_SHA384`; null if no handshake ended.
    negotiated: Option<String>,
    /// Connections closed before their handshake finished (they count in
    /// `connect.failures` too).
    handshake_failures: u64,
}

/// `publish` section: how fast items went in, and end to end.
#[derive(Debug, Serialize)]
pub struct Publish {
    via: &'static str,
    items: u64,
    /// First publish start to last publish return.
    seconds: f64,
    items_per_s: Option<f64>,
    /// Messages over first publish start to last delivery.
    messages_delivered_per_s: Option<f64>,
    subscribe_wait_ms: Option<f64>,
    subscribed_instances: Option<u64>,
    expected_instances: Option<u64>,
    /// HTTP: the most items in one POST (null over ZeroMQ).
    items_per_post: Option<u64>,
    /// HTTP: POSTs per message to each publish URL (null over ZeroMQ).
    posts_per_message: Option<u64>,
    /// `all` (every format in each item) or `mode` (only the run's mode's format).
    item_formats: &'static str,
    /// HTTP: round trip of every POST, µs (null over ZeroMQ).
    post_round_trip_us: Option<RoundTrip>,
    /// HTTP: every POST's write to its answer's arrival in the socket, µs (null over ZeroMQ,
    /// in sustained runs, or when the kernel gave no receive timestamps).
    post_answered_us: Option<RoundTrip>,
}

impl Publish {
    fn build(s: &Scenario, r: &RunResult, last_ns: u64) -> Publish {
        let p = &r.publish;
        let seconds = p.end_ns.saturating_sub(r.publish_start_ns) as f64 / 1e9;
        let span_s = last_ns.saturating_sub(r.publish_start_ns) as f64 / 1e9;
        Publish {
            via: p.via.name(),
            items: p.items,
            seconds,
            items_per_s: ratio(p.items as f64, seconds),
            messages_delivered_per_s: (last_ns != 0)
                .then(|| ratio(s.messages as f64, span_s))
                .flatten(),
            subscribe_wait_ms: p.subscribe.map(|w| w.waited.as_secs_f64() * 1e3),
            subscribed_instances: p.subscribe.map(|w| w.peers),
            expected_instances: p.subscribe.map(|w| w.expected),
            items_per_post: (p.posts_per_message > 0).then_some(p.items_per_post),
            posts_per_message: (p.posts_per_message > 0).then_some(p.posts_per_message),
            item_formats: if s.item_formats_mode_only {
                "mode"
            } else {
                "all"
            },
            post_round_trip_us: p.post_round_trip_us.as_ref().and_then(RoundTrip::of),
            post_answered_us: p.post_answered_us.as_ref().and_then(RoundTrip::of),
        }
    }
}

/// `sustained` section: the rate run's figures and its verdict.
#[derive(Debug, Serialize)]
pub struct Sustained {
    /// `--rate`: items/s the schedule offered in total.
    rate_per_s: u64,
    publishers: u64,
    items_offered: u64,
    items_accepted: u64,
    items_refused: u64,
    /// Items sent over the schedule's start to the last send's return.
    offered_per_s: Option<f64>,
    /// Items answered 2xx over the same span (ZeroMQ: sends).
    accepted_per_s: Option<f64>,
    /// How far behind the schedule the publishers sent, ms: worst, mean, and the last item's.
    schedule_lag_ms_max: f64,
    schedule_lag_ms_mean: f64,
    schedule_lag_ms_end: f64,
    verdict: SustainedVerdict,
}

/// `sustained.verdict`: whether the proxy holds this rate (rule in verdict.rs).
#[derive(Debug, Serialize)]
pub struct SustainedVerdict {
    held: bool,
    reasons: Vec<String>,
    first_quarter_round_lag_ms: Option<f64>,
    last_quarter_round_lag_ms: Option<f64>,
}

impl Sustained {
    fn build(t: &SustainedTotals, r: &RunResult, expected: u64, ttld: &[Option<f64>]) -> Sustained {
        let span_s = t.end_ns.saturating_sub(t.start_ns) as f64 / 1e9;
        let accepted_per_s = ratio(t.items_accepted as f64, span_s);
        let v = verdict::judge(&RateFigures {
            offered_per_s: t.rate_per_s as f64,
            accepted_per_s: accepted_per_s.unwrap_or(0.0),
            lost: expected.saturating_sub(r.received),
            duplicated: r.duplicated,
            timed_out: r.timed_out || t.stopped_early,
            round_lag_ms: ttld.to_vec(),
        });
        Sustained {
            rate_per_s: t.rate_per_s,
            publishers: t.publishers,
            items_offered: t.items_offered,
            items_accepted: t.items_accepted,
            items_refused: t.items_refused,
            offered_per_s: ratio(t.items_offered as f64, span_s),
            accepted_per_s,
            schedule_lag_ms_max: t.lag.max_ns as f64 / 1e6,
            schedule_lag_ms_mean: t.lag.mean_ns() as f64 / 1e6,
            schedule_lag_ms_end: t.lag.last_ns as f64 / 1e6,
            verdict: SustainedVerdict {
                held: v.held,
                reasons: v.reasons,
                first_quarter_round_lag_ms: v.first_quarter_lag_ms,
                last_quarter_round_lag_ms: v.last_quarter_lag_ms,
            },
        }
    }

    /// The table's `sustained` and `verdict` lines.
    fn lines(&self, publish: &Publish) -> String {
        let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
        let rt = publish.post_round_trip_us;
        let mut t = format!(
            "sustained      rate {}/s  publishers {}  offered {}/s  accepted {}/s ({}/{} accepted, {} refused)  publish round trip µs p50 {} p99 {} max {}\n",
            self.rate_per_s,
            self.publishers,
            opt(self.offered_per_s),
            opt(self.accepted_per_s),
            self.items_accepted,
            self.items_offered,
            self.items_refused,
            rt.map_or("-".into(), |r| r.p50.to_string()),
            rt.map_or("-".into(), |r| r.p99.to_string()),
            rt.map_or("-".into(), |r| r.max.to_string()),
        );
        t += &format!(
            "schedule lag   max {:.1} ms  mean {:.1} ms  at the end {:.1} ms\n",
            self.schedule_lag_ms_max, self.schedule_lag_ms_mean, self.schedule_lag_ms_end
        );
        let v = &self.verdict;
        t += &match v.held {
            true => format!("verdict        HOLDS {} items/s\n", self.rate_per_s),
            false => format!(
                "verdict        DOES NOT HOLD {} items/s: {}\n",
                self.rate_per_s,
                v.reasons.join("; ")
            ),
        };
        t
    }
}

/// The whole report (the JSON schema).
#[derive(Debug, Serialize)]
pub struct Report {
    tool: &'static str,
    version: &'static str,
    date: String,
    command: Vec<String>,
    machine: Machine,
    target: String,
    mode: &'static str,
    clients: u64,
    /// `--channels`: subscriber i holds channel `i mod channels`.
    channels: u64,
    messages: u64,
    size: usize,
    interval_ms: u64,
    connect: Connect,
    deliveries: Deliveries,
    latency_us: Latency,
    time_to_last_delivery_ms: Vec<Option<f64>>,
    time_to_last_delivery_ms_max: Option<f64>,
    deliveries_per_s: Option<f64>,
    proxy: Option<Proxy>,
    loadgen: Loadgen,
    publish: Publish,
    /// `--rate` runs only (null otherwise).
    sustained: Option<Sustained>,
    tls: Option<Tls>,
    timed_out: bool,
}

/// Messages whose time to last delivery the human table lists (the JSON has all).
const TABLE_MESSAGES_MAX: usize = 20;

/// Quantiles at which the CDF is sampled: every percent, then the tail.
fn cdf_quantiles() -> Vec<f64> {
    let mut q: Vec<f64> = (0..100).map(|i| f64::from(i) / 100.0).collect();
    q.extend([0.995, 0.999, 0.9999, 1.0]);
    q
}

fn latency(h: &Histogram<u64>) -> Latency {
    if h.is_empty() {
        return Latency {
            p50: 0,
            p90: 0,
            p99: 0,
            max: 0,
            cdf: Vec::new(),
        };
    }
    Latency {
        p50: h.value_at_quantile(0.5),
        p90: h.value_at_quantile(0.9),
        p99: h.value_at_quantile(0.99),
        max: h.max(),
        cdf: cdf_quantiles()
            .into_iter()
            .map(|q| (h.value_at_quantile(q), q))
            .collect(),
    }
}

fn ratio(num: f64, den: f64) -> Option<f64> {
    (den > 0.0).then(|| num / den)
}

/// Per message: last receive minus first send, ms (`None` if it was never delivered).
fn time_to_last_delivery_ms(r: &RunResult) -> Vec<Option<f64>> {
    r.send_ns
        .iter()
        .zip(&r.last_recv_ns)
        .map(|(&send, &last)| {
            (send != 0 && last != 0).then(|| last.saturating_sub(send) as f64 / 1e6)
        })
        .collect()
}

impl Report {
    /// Derives every figure from a run's raw results.
    pub fn build(s: &Scenario, command: Vec<String>, r: &RunResult) -> Report {
        let expected = r.held * s.messages;
        let ttld = time_to_last_delivery_ms(r);
        let sustained = r
            .sustained
            .map(|t| Sustained::build(&t, r, expected, &ttld));
        let last_ns = r.last_recv_ns.iter().copied().max().unwrap_or(0);
        let publish_s = last_ns.saturating_sub(r.publish_start_ns) as f64 / 1e9;
        Report {
            tool: "ringpin-loadgen",
            version: env!("CARGO_PKG_VERSION"),
            date: utc_iso8601(std::time::SystemTime::now()),
            command,
            machine: Machine::detect(),
            target: s.target_name.clone(),
            mode: s.mode.name(),
            clients: s.clients,
            channels: s.channels,
            messages: s.messages,
            size: s.size,
            interval_ms: s.interval_ms,
            connect: Connect {
                seconds: r.connect_seconds,
                rate_per_s: ratio(r.held as f64, r.connect_seconds).unwrap_or(0.0),
                failures: r.failed,
                held: r.held,
                disconnects: r.disconnects,
            },
            deliveries: Deliveries {
                expected,
                received: r.received,
                lost: expected.saturating_sub(r.received),
                duplicated: r.duplicated,
                reordered: r.reordered,
                malformed: r.malformed,
            },
            latency_us: latency(&r.latency_us),
            time_to_last_delivery_ms_max: ttld.iter().flatten().copied().reduce(f64::max),
            time_to_last_delivery_ms: ttld,
            deliveries_per_s: if last_ns == 0 {
                None
            } else {
                ratio(r.received as f64, publish_s)
            },
            proxy: r.proxy.as_ref().map(|p| Proxy {
                pids: p.pids.clone(),
                cpu_us_total: p.cpu_us_total,
                cpu_us_per_delivery: ratio(p.cpu_us_total as f64, r.received as f64),
                rss_bytes_before_connect: p.rss_bytes_before_connect,
                rss_bytes_held: p.rss_bytes_held,
                rss_bytes_per_connection: ratio(
                    p.rss_bytes_held as f64 - p.rss_bytes_before_connect as f64,
                    r.held as f64,
                ),
            }),
            loadgen: Loadgen {
                workers: r.workers,
                cpu_us_total: r.loadgen_cpu_us,
                cpu_us_per_delivery: r
                    .loadgen_cpu_us
                    .and_then(|c| ratio(c as f64, r.received as f64)),
            },
            publish: Publish::build(s, r, last_ns),
            sustained,
            tls: s.tls.as_ref().map(|t| Tls {
                server_name: t.server_name.clone(),
                negotiated: r.tls_negotiated.clone(),
                handshake_failures: r.tls_handshake_failures,
            }),
            timed_out: r.timed_out,
        }
    }

    /// True when every client was held, every message delivered, and no timeout hit.
    pub fn is_clean(&self) -> bool {
        !self.timed_out && self.deliveries.lost == 0 && self.connect.failures == 0
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// The human-readable table.
    pub fn to_table(&self) -> String {
        let d = &self.deliveries;
        let l = &self.latency_us;
        let opt =
            |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}"));
        let mut t = format!(
            "target {}  mode {}  clients {}  messages {}  size {} B  interval {} ms  workers {}\n",
            self.target,
            self.mode,
            self.clients,
            self.messages,
            self.size,
            self.interval_ms,
            self.loadgen.workers
        );
        t += &format!(
            "connect        {:.2} s  {:.0}/s  held {}  failures {}  disconnects {}\n",
            self.connect.seconds,
            self.connect.rate_per_s,
            self.connect.held,
            self.connect.failures,
            self.connect.disconnects
        );
        if let Some(tls) = &self.tls {
            t += &format!(
                "tls            {} for {}  handshake failures {}\n",
                tls.negotiated.as_deref().unwrap_or("no handshake finished"),
                tls.server_name,
                tls.handshake_failures
            );
        }
        t += &format!(
            "deliveries     expected {}  received {}  lost {}  duplicated {}  reordered {}  malformed {}\n",
            d.expected, d.received, d.lost, d.duplicated, d.reordered, d.malformed
        );
        t += &format!(
            "latency µs     p50 {}  p90 {}  p99 {}  max {}\n",
            l.p50, l.p90, l.p99, l.max
        );
        t += &format!(
            "last delivery  max {} ms  per message [{}]\n",
            opt(self.time_to_last_delivery_ms_max, 1),
            self.time_to_last_listed()
        );
        t += &format!(
            "throughput     {} deliveries/s\n",
            opt(self.deliveries_per_s, 0)
        );
        t += &self.publish_line();
        if self.channels > 1 && self.sustained.is_none() {
            t += &self.posts_line();
        }
        if let Some(sustained) = &self.sustained {
            t += &sustained.lines(&self.publish);
        }
        if let Some(p) = &self.proxy {
            t += &format!(
                "proxy          cpu {} µs ({} µs/delivery)  rss {:.1} -> {:.1} MiB ({} B/connection)\n",
                p.cpu_us_total,
                opt(p.cpu_us_per_delivery, 2),
                p.rss_bytes_before_connect as f64 / 1048576.0,
                p.rss_bytes_held as f64 / 1048576.0,
                opt(p.rss_bytes_per_connection, 0)
            );
        }
        t += &format!(
            "loadgen        cpu {} µs ({} µs/delivery) in {} worker(s)\n",
            self.loadgen
                .cpu_us_total
                .map_or("-".into(), |c| c.to_string()),
            opt(self.loadgen.cpu_us_per_delivery, 2),
            self.loadgen.workers
        );
        if self.timed_out {
            t += "TIMED OUT: figures cover what arrived before --timeout-s\n";
        }
        t
    }

    /// The first [`TABLE_MESSAGES_MAX`] times to last delivery, space-separated.
    fn time_to_last_listed(&self) -> String {
        let all = &self.time_to_last_delivery_ms;
        let mut listed: Vec<String> = all
            .iter()
            .take(TABLE_MESSAGES_MAX)
            .map(|v| v.map_or("-".to_string(), |v| format!("{v:.1}")))
            .collect();
        if all.len() > TABLE_MESSAGES_MAX {
            listed.push("…".into());
        }
        listed.join(" ")
    }

    fn publish_line(&self) -> String {
        let p = &self.publish;
        let opt =
            |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}"));
        let mut line = format!(
            "publish        via {}  {} items in {:.3} s ({} items/s)  {} messages/s delivered",
            p.via,
            p.items,
            p.seconds,
            opt(p.items_per_s, 0),
            opt(p.messages_delivered_per_s, 0)
        );
        if let (Some(ms), Some(n), Some(k)) = (
            p.subscribe_wait_ms,
            p.subscribed_instances,
            p.expected_instances,
        ) {
            line += &format!("  subscribed {n}/{k} instance(s) after {ms:.1} ms");
        }
        line + "\n"
    }

    /// `channels K  N items/POST  P POSTs/message  POST round trip µs min … max …  answered
    /// µs p50 … max …`.
    fn posts_line(&self) -> String {
        let p = &self.publish;
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let (rt, answered) = (p.post_round_trip_us, p.post_answered_us);
        format!(
            "posts          channels {}  {} items/POST  {} POSTs/message  POST round trip µs min {} p50 {} p99 {} max {}  answered µs p50 {} max {}\n",
            self.channels,
            opt(p.items_per_post),
            opt(p.posts_per_message),
            opt(rt.map(|r| r.min)),
            opt(rt.map(|r| r.p50)),
            opt(rt.map(|r| r.p99)),
            opt(rt.map(|r| r.max)),
            opt(answered.map(|r| r.p50)),
            opt(answered.map(|r| r.max)),
        )
    }

    /// One markdown table row, columns: target | mode | clients | messages | size |
    /// p50 µs | p99 µs | max µs | last delivery max ms | deliveries/s | proxy µs/delivery |
    /// proxy B/connection | lost; with more than one channel, then: channels | items/POST |
    /// POSTs/message | POST round trip p50 µs | p99 µs | max µs; for a `--rate` run
    /// instead: channels | rate/s | accepted/s | deliveries/s | publish p99 µs |
    /// schedule lag max ms | verdict.
    pub fn to_markdown_row(&self) -> String {
        let row = self.to_markdown_row_common();
        if let Some(t) = &self.sustained {
            let opt = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.0}"));
            let p99 = self.publish.post_round_trip_us.map(|r| r.p99.to_string());
            return format!(
                "{row} {} | {} | {} | {} | {} | {:.1} | {} |",
                self.channels,
                t.rate_per_s,
                opt(t.accepted_per_s),
                opt(self.deliveries_per_s),
                p99.unwrap_or_else(|| "-".into()),
                t.schedule_lag_ms_max,
                if t.verdict.held {
                    "holds"
                } else {
                    "does not hold"
                },
            );
        }
        if self.channels == 1 {
            return row;
        }
        let p = &self.publish;
        let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
        let rt = p.post_round_trip_us;
        format!(
            "{row} {} | {} | {} | {} | {} | {} |",
            self.channels,
            opt(p.items_per_post),
            opt(p.posts_per_message),
            opt(rt.map(|r| r.p50)),
            opt(rt.map(|r| r.p99)),
            opt(rt.map(|r| r.max)),
        )
    }

    fn to_markdown_row_common(&self) -> String {
        let opt =
            |v: Option<f64>, prec: usize| v.map_or("-".to_string(), |v| format!("{v:.prec$}"));
        let cpu = self.proxy.as_ref().and_then(|p| p.cpu_us_per_delivery);
        let rss = self.proxy.as_ref().and_then(|p| p.rss_bytes_per_connection);
        format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            self.target,
            self.mode,
            self.clients,
            self.messages,
            self.size,
            self.latency_us.p50,
            self.latency_us.p99,
            self.latency_us.max,
            opt(self.time_to_last_delivery_ms_max, 1),
            opt(self.deliveries_per_s, 0),
            opt(cpu, 2),
            opt(rss, 0),
            self.deliveries.lost
        )
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date crate: days to civil date after
/// Howard Hinnant's `civil_from_days`.
pub fn utc_iso8601(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests;
