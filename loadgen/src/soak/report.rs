//! Report (soak): the run's evidence and verdict as JSON, and the same as markdown.
//!
//! Owns: the soak report schema and its markdown rendering.
//! Must not: measure or judge (verdict.rs judges; the controller measures).
//! Invariants: field names are a contract, as for `run` reports: fields may be added,
//! never renamed. `ok` is true exactly when every check passed.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::report::Machine;

use super::faults::FaultLog;
use super::plan::Plan;
use super::publish::PublishLog;
use super::sampler::Sample;
use super::verdict::{Check, EndState, Flatness, LogSummary, Tally};
use super::wire::WorkerReport;

/// Metrics copied into the report from ringpin's `/metrics` at the end.
pub(crate) const REPORTED_METRICS: [&str; 12] = [
    "ringpin_connection_panics_total",
    "ringpin_slow_clients_closed_total",
    "ringpin_deliveries_total",
    "ringpin_deliveries_dropped_total",
    "ringpin_items_received_total",
    "ringpin_refetches_total",
    "ringpin_requests_total",
    "ringpin_requests_failed_total",
    "ringpin_connections_accepted_total",
    "ringpin_connections_refused_total",
    "ringpin_connections",
    "ringpin_subscriptions",
];

/// What the checks mean, under every markdown report (loadgen/README.md has the details).
const DEFINITIONS: &str = "
## Definitions

* Healthy subscriber: one no fault chose (replacements included). Its join point is item 1 if it was held before the first publish, else the first item of its channel published 5 s after it was held, or the first item it received if earlier; from there to its channel's last item it must receive every item, in order, once.
* Streams, SSE and WebSockets: one connection each; a healthy one whose connection ends fails the run.
* Long-polls are lossless by design: each request names the last item received (`after=N`); the backend answers item N+1 at once if it is published, else holds with `prev-id=N`, so ringpin delivers only N+1 and re-requests with `Grip-Last` on any gap. A long-poll that gets 502/503/504 during a backend fault reconnects with the same `after=N` and stays healthy.
* Flat RSS: after warm-up, the second half's largest RSS is at most the first half's times (1 + growth %) plus 8 MiB.
* Descriptors back to baseline: at the end, no more client sockets and non-socket descriptors than just before the first fault (give or take 8), and all descriptors at most that sample plus 2% (at least 64).
";

/// `argv` as one shell line: empty or spaced words quoted.
fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if a.is_empty() || a.contains([' ', '"', '\'']) {
                format!("{a:?}")
            } else {
                a.clone()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The run's settings.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PlanSummary {
    seconds: f64,
    subscribers: u64,
    channels: u64,
    rate_per_s: f64,
    size: usize,
    seed: u64,
    workers: u64,
    warmup_s: f64,
    settle_s: f64,
    fault_interval_s: f64,
    origin_timeout_s: u64,
    hang_s: f64,
    disconnect_per_fault: u64,
    slow_per_fault: u64,
    rss_growth_pct: f64,
}

impl PlanSummary {
    fn of(p: &Plan) -> PlanSummary {
        PlanSummary {
            seconds: p.publish.as_secs_f64(),
            subscribers: p.subscribers,
            channels: p.channels,
            rate_per_s: p.rate_per_s,
            size: p.size,
            seed: p.seed,
            workers: p.workers,
            warmup_s: p.warmup.as_secs_f64(),
            settle_s: p.settle.as_secs_f64(),
            fault_interval_s: p.fault_interval.as_secs_f64(),
            origin_timeout_s: p.origin_timeout.as_secs(),
            hang_s: p.hang.as_secs_f64(),
            disconnect_per_fault: p.disconnect_per_fault,
            slow_per_fault: p.slow_per_fault,
            rss_growth_pct: p.rss_growth_pct,
        }
    }
}

/// The client side of the faults, summed over the workers.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct ClientSummary {
    disconnected: BTreeMap<String, u64>,
    slow_opened: u64,
    slow_failed: u64,
    slow_closed_by_proxy_seen: u64,
    connect_retries: BTreeMap<String, u64>,
    longpoll_retries: BTreeMap<String, u64>,
}

impl ClientSummary {
    fn of(workers: &[WorkerReport]) -> ClientSummary {
        let mut s = ClientSummary::default();
        let add = |to: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>| {
            for (k, v) in from {
                *to.entry(k.clone()).or_default() += v;
            }
        };
        for w in workers {
            add(&mut s.disconnected, &w.disconnected);
            add(&mut s.connect_retries, &w.connect_retries);
            add(&mut s.longpoll_retries, &w.longpoll_retries);
            s.slow_opened += w.slow_opened;
            s.slow_failed += w.slow_failed;
            s.slow_closed_by_proxy_seen += w.slow_closed_by_proxy;
        }
        s
    }
}

/// One fault as it happened.
#[derive(Debug, Clone, Serialize)]
struct FaultEvent {
    at_s: f64,
    kind: &'static str,
    detail: String,
    ok: bool,
}

/// Every malformed input: how often it was sent and what it got.
#[derive(Debug, Clone, Default, Serialize)]
struct ProbeSummary {
    sent: u64,
    wrong: u64,
    outcomes: Vec<String>,
}

/// Faults injected and what came of them.
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct FaultSummary {
    injected: BTreeMap<String, u64>,
    events: Vec<FaultEvent>,
    inputs: BTreeMap<String, ProbeSummary>,
}

impl FaultSummary {
    fn of(log: &FaultLog) -> FaultSummary {
        let mut inputs: BTreeMap<String, ProbeSummary> = BTreeMap::new();
        for p in &log.probes {
            let s = inputs.entry(p.name.to_string()).or_default();
            s.sent += 1;
            s.wrong += u64::from(!p.ok);
            if !s.outcomes.contains(&p.outcome) {
                s.outcomes.push(p.outcome.clone());
            }
        }
        FaultSummary {
            injected: log.injected.clone(),
            events: log
                .records
                .iter()
                .map(|r| FaultEvent {
                    at_s: (r.at_s * 10.0).round() / 10.0,
                    kind: r.kind.name(),
                    detail: r.detail.clone(),
                    ok: r.ok,
                })
                .collect(),
            inputs,
        }
    }
}

/// The publisher's figures.
#[derive(Debug, Clone, Serialize)]
struct PublishSummary {
    items: u64,
    flood_items: u64,
    flood_errors: u64,
    errors: u64,
    retries: u64,
    first_error: Option<String>,
    seconds: f64,
    items_per_s: f64,
}

/// ringpin's command and end.
#[derive(Debug, Clone, Serialize)]
struct RingpinSummary {
    command: Vec<String>,
    running_at_end: bool,
    stopped_cleanly: bool,
    exit: String,
}

/// The whole soak report.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SoakReport {
    tool: &'static str,
    version: &'static str,
    date: String,
    command: Vec<String>,
    machine: Machine,
    /// True when every check passed.
    pub(crate) ok: bool,
    plan: PlanSummary,
    ringpin: RingpinSummary,
    publish: PublishSummary,
    pub(crate) checks: Vec<Check>,
    deliveries: BTreeMap<String, Tally>,
    clients: ClientSummary,
    faults: FaultSummary,
    resources: Flatness,
    /// `[seconds since the first publish, RSS bytes, open descriptors, CPU µs]`.
    samples: Vec<(f64, u64, u64, u64)>,
    metrics: BTreeMap<String, u64>,
    ringpin_log: LogSummary,
    drained: bool,
}

/// Everything the report is made from.
#[derive(Debug)]
pub(crate) struct Evidence<'a> {
    pub(crate) plan: &'a Plan,
    pub(crate) command: Vec<String>,
    pub(crate) ringpin_command: Vec<String>,
    pub(crate) published: &'a PublishLog,
    pub(crate) workers: &'a [WorkerReport],
    pub(crate) faults: &'a FaultLog,
    pub(crate) samples: &'a [Sample],
    pub(crate) end: &'a EndState,
    pub(crate) log: LogSummary,
    pub(crate) tallies: BTreeMap<String, Tally>,
    pub(crate) flat: Flatness,
    pub(crate) checks: Vec<Check>,
}

impl SoakReport {
    /// Builds the report.
    pub(crate) fn build(e: Evidence<'_>) -> SoakReport {
        let metrics = match &e.end.metrics {
            Ok(text) => REPORTED_METRICS
                .iter()
                .filter_map(|m| Some((m.to_string(), super::verdict::metric_sum(text, m)?)))
                .collect(),
            Err(_) => BTreeMap::new(),
        };
        let p = e.published;
        SoakReport {
            tool: "ringpin-loadgen soak",
            version: env!("CARGO_PKG_VERSION"),
            date: crate::report::utc_iso8601(std::time::SystemTime::now()),
            command: e.command,
            machine: Machine::detect(),
            ok: e.checks.iter().all(|c| c.ok),
            plan: PlanSummary::of(e.plan),
            ringpin: RingpinSummary {
                command: e.ringpin_command,
                running_at_end: e.end.running_at_end,
                stopped_cleanly: e.end.stopped_cleanly,
                exit: e.end.exit.clone(),
            },
            publish: PublishSummary {
                items: p.items.len() as u64,
                flood_items: e.end.flood.0,
                flood_errors: e.end.flood.1,
                errors: p.errors,
                retries: p.retries,
                first_error: p.first_error.clone(),
                seconds: p.seconds,
                items_per_s: p.items.len() as f64 / p.seconds.max(1e-9),
            },
            checks: e.checks,
            deliveries: e.tallies,
            clients: ClientSummary::of(e.workers),
            faults: FaultSummary::of(e.faults),
            resources: e.flat,
            samples: e
                .samples
                .iter()
                .map(|s| ((s.t_s * 10.0).round() / 10.0, s.rss_bytes, s.fds, s.cpu_us))
                .collect(),
            metrics,
            ringpin_log: e.log,
            drained: e.end.drained,
        }
    }

    /// The report as pretty JSON.
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }

    /// The verdict and the checks, for the terminal.
    pub(crate) fn summary(&self) -> String {
        let mut s = format!("# Soak: {}\n\n", if self.ok { "PASS" } else { "FAIL" });
        self.checks_markdown(&mut s);
        s
    }

    /// The report as markdown.
    pub(crate) fn to_markdown(&self) -> String {
        let mut s = String::new();
        let verdict = if self.ok { "PASS" } else { "FAIL" };
        let _ = writeln!(s, "# Soak: {verdict}\n");
        let _ = writeln!(s, "- date: {}", self.date);
        let m = serde_json::to_value(&self.machine).unwrap_or_default();
        let _ = writeln!(
            s,
            "- machine: {} ({} cores), kernel {}, {} GiB",
            m["cpu"].as_str().unwrap_or("?"),
            m["cores"],
            m["kernel"].as_str().unwrap_or("?"),
            m["mem_gib"]
        );
        let _ = writeln!(s, "- command: `{}`", shell_words(&self.command));
        let _ = writeln!(s, "- ringpin: `{}`", shell_words(&self.ringpin.command));
        let p = &self.plan;
        let _ = writeln!(
            s,
            "- {} s of publishing, {} subscribers over {} channels, {} items/s of {} B, seed {}; warm-up {} s, faults until {} s, then {} s to settle\n",
            p.seconds, p.subscribers, p.channels, p.rate_per_s, p.size, p.seed, p.warmup_s, p.seconds - p.settle_s, p.settle_s
        );
        self.checks_markdown(&mut s);
        self.deliveries_markdown(&mut s);
        self.faults_markdown(&mut s);
        self.resources_markdown(&mut s);
        s.push_str(DEFINITIONS);
        s
    }

    fn checks_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "## Checks\n\n| check | result | detail |\n|---|---|---|");
        for c in &self.checks {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                c.name,
                if c.ok { "pass" } else { "**FAIL**" },
                c.detail
            );
        }
        s.push('\n');
    }

    fn deliveries_markdown(&self, s: &mut String) {
        let _ = writeln!(
            s,
            "## Deliveries to healthy subscribers\n\n\
             | transport | subscribers | faulted | judged | items due | received | lost | duplicated | reordered | other channel | malformed | closed unexpectedly | served by the backend |\n\
             |---|---|---|---|---|---|---|---|---|---|---|---|---|"
        );
        for (mode, t) in &self.deliveries {
            let _ = writeln!(
                s,
                "| {mode} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                t.subscribers,
                t.faulted,
                t.judged,
                t.items_expected,
                t.items_received,
                t.lost,
                t.duplicated,
                t.reordered,
                t.misrouted,
                t.malformed,
                t.broken,
                t.backend_served
            );
        }
        let pb = &self.publish;
        let _ = writeln!(
            s,
            "\nPublished {} items in {:.1} s ({:.1}/s), {} failed, {} attempts retried; {} flood items of 128 KiB for the slow readers, {} failed.\n",
            pb.items, pb.seconds, pb.items_per_s, pb.errors, pb.retries, pb.flood_items, pb.flood_errors
        );
    }

    fn faults_markdown(&self, s: &mut String) {
        let _ = writeln!(s, "## Faults injected\n\n| fault | count |\n|---|---|");
        for (k, v) in &self.faults.injected {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let c = &self.clients;
        let _ = writeln!(
            s,
            "\nClient side: disconnected {:?}; slow readers opened {} (failed {}, seen closed by ringpin {}); connects retried {:?}; long-poll reconnects {:?}.\n",
            c.disconnected, c.slow_opened, c.slow_failed, c.slow_closed_by_proxy_seen, c.connect_retries, c.longpoll_retries
        );
        let _ = writeln!(
            s,
            "| malformed input | sent | wrong | outcomes |\n|---|---|---|---|"
        );
        for (name, p) in &self.faults.inputs {
            let _ = writeln!(
                s,
                "| {name} | {} | {} | {} |",
                p.sent,
                p.wrong,
                p.outcomes.join(", ")
            );
        }
        let _ = writeln!(s, "\n| at s | fault | ok | detail |\n|---|---|---|---|");
        for e in &self.faults.events {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} |",
                e.at_s,
                e.kind,
                if e.ok { "yes" } else { "**no**" },
                e.detail
            );
        }
        s.push('\n');
    }

    fn resources_markdown(&self, s: &mut String) {
        let r = &self.resources;
        let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
        let _ = writeln!(
            s,
            "## ringpin's memory and descriptors\n\n\
             RSS: max {:.1} MiB in the first half after warm-up, {:.1} MiB in the second (limit {:.1} MiB).\n\
             Descriptors: {} before the first fault, {} at the end (limit {}), peak {}.\n\n\
             ![RSS](rss.svg)\n![descriptors](fds.svg)\n",
            mib(r.rss_max_first_half_bytes), mib(r.rss_max_second_half_bytes), mib(r.rss_limit_bytes),
            r.fd_baseline, r.fd_end, r.fd_limit, r.fd_max
        );
        let _ = writeln!(s, "| metric at the end | value |\n|---|---|");
        for (k, v) in &self.metrics {
            let _ = writeln!(s, "| {k} | {v} |");
        }
        let l = &self.ringpin_log;
        let _ = writeln!(
            s,
            "\nringpin's log (warn level): {} lines, {} errors, {} warnings, {} panics, {} refused route reloads.",
            l.lines, l.errors, l.warnings, l.panics, l.refused_reloads
        );
        for line in &l.first_errors {
            let _ = writeln!(s, "    {line}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_show_empty_and_spaced_words_quoted() {
        let argv = [
            "ringpin",
            "--push-in-spec",
            "",
            "--ringpin-args",
            "--slow-client drop",
        ];
        let argv: Vec<String> = argv.iter().map(|s| s.to_string()).collect();
        assert_eq!(
            shell_words(&argv),
            r#"ringpin --push-in-spec "" --ringpin-args "--slow-client drop""#
        );
    }
}
