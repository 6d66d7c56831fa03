//! Verdict: what the soak's evidence says — delivery to every healthy subscriber, panics,
//! whether ringpin survived, whether its memory and descriptors stayed flat, and whether
//! every fault got the answer it must.
//!
//! Owns: the definitions the report states, as code:
//! * a subscriber is *healthy* unless a fault chose it; a healthy subscriber's *join point*
//!   is item 1 for one held before the first publish, else the first item of its channel
//!   published [`JOIN_GRACE`] after it was held, or the first item it received if earlier;
//!   from there to its channel's last item it must receive every item, in order, once;
//! * *flat memory*: after warm-up, the largest RSS of the second half of the publish phase
//!   is at most the largest of the first half times `1 + rss_growth_pct / 100`, plus
//!   [`RSS_SLACK_BYTES`];
//! * *descriptors back to baseline*: at the end (faults stopped a settle period before
//!   the last publish), ringpin holds no more client sockets and no more non-socket
//!   descriptors than just before the first fault, give or take [`CENSUS_SLACK`] (every
//!   subscriber is then held again: disconnected, replaced, slow and probing clients must
//!   all have been closed), and its descriptors in all (origin sockets included, which
//!   its pool keeps up to a bound) are at most the last sample before the first fault plus
//!   [`fd_slack`].
//!
//! Must not: do I/O or read the clock.
//! Invariants: every check can fail, and says with numbers why it passed or failed.

use std::collections::BTreeMap;

use serde::Serialize;

use super::census::Census;
use super::faults::FaultLog;
use super::publish::PublishLog;
use super::sampler::Sample;
use super::schedule::FaultKind;
use super::subscriber::{SubRecord, JOIN_GRACE};
use super::wire::WorkerReport;

/// Allocator granularity allowed on top of the RSS growth bound: mimalloc and the kernel
/// hand out memory in MiB-sized steps, which would dominate small runs.
pub(crate) const RSS_SLACK_BYTES: u64 = 8 << 20;

/// Descriptors allowed above the baseline at the end: ringpin's pool of idle origin
/// connections grows and shrinks with traffic (ORIGIN_POOL_IDLE_PER_TARGET_MAX 256 per
/// shard, closed after 30 s idle), and long-poll subscribers are between connections at any
/// moment. 2% of the baseline, and at least 64.
pub(crate) fn fd_slack(baseline: u64) -> u64 {
    (baseline / 50).max(64)
}

/// Client sockets and non-socket descriptors allowed above their count before the first
/// fault: a connection ringpin is closing at the moment of the census.
pub(crate) const CENSUS_SLACK: u64 = 8;

/// Deliveries to the healthy subscribers of one transport.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    /// Subscribers of this transport, replacements included.
    pub(crate) subscribers: u64,
    /// Chosen for a fault (disconnected): not judged.
    pub(crate) faulted: u64,
    /// Healthy ones whose connection ended unexpectedly.
    pub(crate) broken: u64,
    /// Healthy replacements that were never held.
    pub(crate) never_held: u64,
    /// Healthy subscribers judged, and the items they had to receive.
    pub(crate) judged: u64,
    pub(crate) items_expected: u64,
    pub(crate) items_received: u64,
    pub(crate) lost: u64,
    pub(crate) duplicated: u64,
    pub(crate) reordered: u64,
    pub(crate) misrouted: u64,
    pub(crate) malformed: u64,
    /// Long-poll items the backend answered itself (recovered by `after=N`/`Grip-Last`).
    pub(crate) backend_served: u64,
}

/// Per channel: `(n, send_ns)` of every published item, in order.
fn items_by_channel(published: &PublishLog) -> BTreeMap<u64, Vec<(u64, u64)>> {
    let mut by: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for p in &published.items {
        by.entry(p.channel).or_default().push((p.n, p.send_ns));
    }
    by
}

/// Tallies every subscriber's record, per transport.
pub(crate) fn deliveries(
    published: &PublishLog,
    workers: &[WorkerReport],
) -> BTreeMap<String, Tally> {
    let items = items_by_channel(published);
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    let none = Vec::new();
    for r in workers.iter().flat_map(|w| &w.subscribers) {
        let t = tallies.entry(r.mode.clone()).or_default();
        t.subscribers += 1;
        if r.faulted {
            t.faulted += 1;
        } else if r.broken.is_some() {
            t.broken += 1;
        } else if r.join_ns == 0 {
            t.never_held += 1;
        } else {
            judge(r, items.get(&r.channel).unwrap_or(&none), t);
        }
    }
    tallies
}

/// Adds one healthy subscriber's deliveries to `t`; `items` are its channel's.
fn judge(r: &SubRecord, items: &[(u64, u64)], t: &mut Tally) {
    let last = items.last().map_or(0, |&(n, _)| n);
    let grace_ns = JOIN_GRACE.as_nanos() as u64;
    let by_time = if r.initial {
        1
    } else {
        items
            .iter()
            .find(|&&(_, sent)| sent >= r.join_ns + grace_ns)
            .map_or(last + 1, |&(n, _)| n)
    };
    let join = if r.first > 0 {
        by_time.min(r.first)
    } else {
        by_time
    };
    let expected = (last + 1).saturating_sub(join);
    let lost = if r.first == 0 {
        expected
    } else {
        (r.first - join) + r.missing + last.saturating_sub(r.highest)
    };
    t.judged += 1;
    t.items_expected += expected;
    t.items_received += expected.saturating_sub(lost);
    t.lost += lost;
    t.duplicated += r.duplicated;
    t.reordered += r.reordered;
    // An item beyond the channel's last was never published: count it as misrouted.
    t.misrouted += r.misrouted + r.highest.saturating_sub(last);
    t.malformed += r.malformed;
    t.backend_served += r.backend_served;
}

/// The flatness figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Flatness {
    pub(crate) warmup_end_s: f64,
    pub(crate) publish_end_s: f64,
    pub(crate) rss_max_first_half_bytes: u64,
    pub(crate) rss_max_second_half_bytes: u64,
    pub(crate) rss_limit_bytes: u64,
    pub(crate) fd_baseline: u64,
    pub(crate) fd_end: u64,
    pub(crate) fd_limit: u64,
    pub(crate) fd_max: u64,
    pub(crate) samples_judged: u64,
    /// ringpin's descriptors by kind before the first fault and at the end.
    pub(crate) census_before: Option<Census>,
    pub(crate) census_end: Option<Census>,
}

/// Splits `[warmup_end, publish_end]` in halves and computes the bounds.
pub(crate) fn flatness(
    samples: &[Sample],
    (warmup_end_s, publish_end_s): (f64, f64),
    growth_pct: f64,
    census: (Option<Census>, Option<Census>),
) -> Flatness {
    let mid = (warmup_end_s + publish_end_s) / 2.0;
    let window: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t_s >= warmup_end_s && s.t_s <= publish_end_s)
        .collect();
    let max_rss = |keep: &dyn Fn(f64) -> bool| {
        window
            .iter()
            .filter(|s| keep(s.t_s))
            .map(|s| s.rss_bytes)
            .max()
            .unwrap_or(0)
    };
    let first = max_rss(&|t| t < mid);
    let fd_baseline = samples
        .iter()
        .rfind(|s| s.t_s <= warmup_end_s)
        .map_or(0, |s| s.fds);
    let fd_end = window.last().map_or(0, |s| s.fds);
    Flatness {
        warmup_end_s,
        publish_end_s,
        rss_max_first_half_bytes: first,
        rss_max_second_half_bytes: max_rss(&|t| t >= mid),
        rss_limit_bytes: (first as f64 * (1.0 + growth_pct / 100.0)) as u64 + RSS_SLACK_BYTES,
        fd_baseline,
        fd_end,
        fd_limit: fd_baseline + fd_slack(fd_baseline),
        fd_max: window.iter().map(|s| s.fds).max().unwrap_or(0),
        samples_judged: window.len() as u64,
        census_before: census.0,
        census_end: census.1,
    }
}

/// One pass/fail line of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Check {
    pub(crate) name: String,
    pub(crate) ok: bool,
    pub(crate) detail: String,
}

fn check(name: &str, ok: bool, detail: String) -> Check {
    Check {
        name: name.to_string(),
        ok,
        detail,
    }
}

/// What ringpin's log says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct LogSummary {
    pub(crate) lines: u64,
    pub(crate) errors: u64,
    pub(crate) warnings: u64,
    pub(crate) panics: u64,
    pub(crate) refused_reloads: u64,
    /// The first few error lines, verbatim.
    pub(crate) first_errors: Vec<String>,
}

/// Counts levels, panics and refused route reloads in ringpin's stderr.
pub(crate) fn summarize_log(text: &str) -> LogSummary {
    let mut s = LogSummary::default();
    for line in text.lines() {
        s.lines += 1;
        if line.contains(" ERROR ") {
            s.errors += 1;
            if s.first_errors.len() < 5 {
                s.first_errors.push(line.chars().take(300).collect());
            }
        } else if line.contains(" WARN ") {
            s.warnings += 1;
        }
        if line.contains("panicked") {
            s.panics += 1;
        }
        if line.contains(super::processes::REFUSED_RELOAD) {
            s.refused_reloads += 1;
        }
    }
    s
}

/// The sum of every sample of metric `name` (any labels) in Prometheus text.
pub(crate) fn metric_sum(text: &str, name: &str) -> Option<u64> {
    let mut found = None;
    for line in text.lines() {
        let Some(rest) = line.strip_prefix(name) else {
            continue;
        };
        if !(rest.starts_with(' ') || rest.starts_with('{')) {
            continue;
        }
        let value = rest.rsplit(' ').next()?.trim().parse::<f64>().ok()?;
        *found.get_or_insert(0) += value as u64;
    }
    found
}

/// The run's end state, as the controller saw it.
#[derive(Debug, Clone)]
pub(crate) struct EndState {
    /// `/metrics` at the end, or why it could not be read.
    pub(crate) metrics: Result<String, String>,
    pub(crate) running_at_end: bool,
    pub(crate) stopped_cleanly: bool,
    pub(crate) exit: String,
    pub(crate) publish_errors: u64,
    /// Flood items published, and flood publishes that failed.
    pub(crate) flood: (u64, u64),
    pub(crate) drained: bool,
}

/// A slow reader added this long before the fault window ends must have been closed by
/// ringpin by then: the flood fills its buffers in about 8 s.
pub(crate) const SLOW_CLOSE_WITHIN_S: f64 = 20.0;

/// Every check of the run; `faults_end_s` is when the fault window closed.
pub(crate) fn checks(
    tallies: &BTreeMap<String, Tally>,
    flat: &Flatness,
    faults: &FaultLog,
    log: &LogSummary,
    end: &EndState,
    faults_end_s: f64,
) -> Vec<Check> {
    let mut out = delivery_checks(tallies);
    out.push(slow_reader_check(faults, end, faults_end_s));
    let panics = end
        .metrics
        .as_ref()
        .ok()
        .and_then(|m| metric_sum(m, "ringpin_connection_panics_total"));
    out.push(check(
        "no connection panicked",
        panics == Some(0) && log.panics == 0,
        format!(
            "ringpin_connection_panics_total = {}; 'panicked' in ringpin's log: {}",
            panics.map_or_else(
                || format!("unreadable ({:?})", end.metrics.as_ref().err()),
                |p| p.to_string()
            ),
            log.panics
        ),
    ));
    out.push(check(
        "ringpin ran to the end and stopped cleanly",
        end.running_at_end && end.stopped_cleanly,
        format!(
            "running at the end: {}; on SIGTERM: {}",
            end.running_at_end, end.exit
        ),
    ));
    out.extend(resource_checks(flat));
    out.extend(fault_checks(faults));
    out.push(check(
        "every item was published",
        end.publish_errors == 0 && end.flood.1 == 0,
        format!(
            "{} items failed every attempt; {} of {} flood items failed",
            end.publish_errors,
            end.flood.1,
            end.flood.0 + end.flood.1
        ),
    ));
    out
}

/// ringpin applied its slow-client policy (`--slow-client close` closes the connection,
/// `drop` drops items for it), if a slow reader was added early enough to overflow.
fn slow_reader_check(faults: &FaultLog, end: &EndState, faults_end_s: f64) -> Check {
    let due = faults
        .records
        .iter()
        .filter(|r| {
            r.kind == FaultKind::SlowReaders && r.at_s + SLOW_CLOSE_WITHIN_S <= faults_end_s
        })
        .count();
    let metric = |name| end.metrics.as_ref().ok().and_then(|m| metric_sum(m, name));
    let closed = metric("ringpin_slow_clients_closed_total");
    let dropped = metric("ringpin_deliveries_dropped_total");
    check(
        "slow readers met ringpin's slow-client policy",
        due == 0 || closed.is_some_and(|n| n > 0) || dropped.is_some_and(|n| n > 0),
        format!(
            "{due} slow-reader faults at least {SLOW_CLOSE_WITHIN_S} s before the faults ended; ringpin_slow_clients_closed_total = {closed:?}, ringpin_deliveries_dropped_total = {dropped:?}"
        ),
    )
}

fn delivery_checks(tallies: &BTreeMap<String, Tally>) -> Vec<Check> {
    let sum = |f: fn(&Tally) -> u64| tallies.values().map(f).sum::<u64>();
    let (judged, expected) = (sum(|t| t.judged), sum(|t| t.items_expected));
    let bad = sum(|t| t.lost + t.duplicated + t.reordered + t.misrouted + t.malformed);
    vec![
        check(
            "every healthy subscriber got every item of its channel, in order, once",
            bad == 0 && judged > 0 && expected > 0,
            format!(
                "{judged} healthy subscribers, {expected} items due: lost {}, duplicated {}, reordered {}, from another channel {}, malformed {}",
                sum(|t| t.lost),
                sum(|t| t.duplicated),
                sum(|t| t.reordered),
                sum(|t| t.misrouted),
                sum(|t| t.malformed)
            ),
        ),
        check(
            "no healthy subscriber was closed, and every replacement was held",
            sum(|t| t.broken) == 0 && sum(|t| t.never_held) == 0,
            format!(
                "closed unexpectedly: {}; replacements never held: {}",
                sum(|t| t.broken),
                sum(|t| t.never_held)
            ),
        ),
    ]
}

fn resource_checks(f: &Flatness) -> Vec<Check> {
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    vec![
        check(
            "RSS stayed flat after warm-up",
            f.samples_judged >= 4 && f.rss_max_second_half_bytes <= f.rss_limit_bytes,
            format!(
                "max {:.1} MiB in the second half against {:.1} MiB in the first (limit {:.1} MiB), {} samples from {:.0} s to {:.0} s",
                mib(f.rss_max_second_half_bytes),
                mib(f.rss_max_first_half_bytes),
                mib(f.rss_limit_bytes),
                f.samples_judged,
                f.warmup_end_s,
                f.publish_end_s
            ),
        ),
        check(
            "descriptors came back to their baseline after the faults",
            f.fd_baseline > 0 && f.fd_end <= f.fd_limit && census_settled(f),
            format!(
                "{} at the end against {} before the first fault (limit {}), peak {}; by kind before {:?}, at the end {:?}",
                f.fd_end, f.fd_baseline, f.fd_limit, f.fd_max, f.census_before, f.census_end
            ),
        ),
    ]
}

/// Client sockets and non-socket descriptors at the end within [`CENSUS_SLACK`] of their
/// count before the first fault.
fn census_settled(f: &Flatness) -> bool {
    match (f.census_before, f.census_end) {
        (Some(b), Some(e)) => {
            e.client_sockets <= b.client_sockets + CENSUS_SLACK
                && e.not_sockets <= b.not_sockets + CENSUS_SLACK
        }
        _ => false,
    }
}

/// One check per fault kind: it was injected, and ringpin answered every instance of it.
fn fault_checks(faults: &FaultLog) -> Vec<Check> {
    let kinds = [
        FaultKind::Disconnect,
        FaultKind::SlowReaders,
        FaultKind::BackendRestart,
        FaultKind::BackendHang,
        FaultKind::HupGood,
        FaultKind::HupBroken,
        FaultKind::Malformed,
    ];
    kinds
        .iter()
        .map(|&kind| {
            let of_kind: Vec<_> = faults.records.iter().filter(|r| r.kind == kind).collect();
            let failed: Vec<String> = of_kind
                .iter()
                .filter(|r| !r.ok)
                .map(|r| format!("at {:.1} s: {}", r.at_s, r.detail))
                .collect();
            check(
                &format!("fault {}: injected and answered as it must", kind.name()),
                !of_kind.is_empty() && failed.is_empty(),
                format!(
                    "{} injected, {} wrong {failed:?}",
                    of_kind.len(),
                    failed.len()
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
