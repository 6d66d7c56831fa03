//! `compare` subcommand: rounds of ringpin, Pushpin and the floor servers, interleaved, then a
//! table of medians and ratios, printed and written as `summary-<mode>-<clients>.md`.
//!
//! Owns: the round order and the summary table. With `--publish http,zmq` each started
//! target is measured once per method it has an input for (`ringpin`, `ringpin/zmq-sub`).
//! Must not: start or measure targets itself (compare.rs does).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::compare::{self, fmt, median, num, ratio, Outcome, Plan};
use crate::compare_ladder;
use crate::scenario::PublishVia;

/// Per-target results over the rounds.
#[derive(Default)]
pub struct Column {
    pub reports: Vec<Value>,
    pub notes: Vec<String>,
}

impl Column {
    /// The median over the rounds of the figure at a JSON pointer.
    pub fn med(&self, pointer: &str) -> Option<f64> {
        median(
            self.reports
                .iter()
                .filter_map(|r| num(r, pointer))
                .collect(),
        )
    }
}

/// Runs `compare`; returns Ok when every round of every target produced a report.
pub fn main(argv: &[String]) -> Result<(), String> {
    let plan = Plan::parse(argv, 5, 3, 120)?;
    let mut names = vec!["ringpin", "pushpin"];
    if plan.mode == "stream" {
        names.extend(["floor-send", "floor-uring"]);
    }
    if !plan.targets.is_empty() {
        names.retain(|n| plan.targets.iter().any(|t| t == n));
    }
    let labels: Vec<String> = names
        .iter()
        .flat_map(|n| methods(&plan, n).map(|via| compare::label(n, via)))
        .collect();
    let ceiling = compare_ladder::measure_ceiling(&plan);
    let backend = compare::start_backend(&plan)?;
    let columns = run_rounds(&plan, &names);
    backend.stop();
    let text = if plan.rates.is_empty() {
        summary(&plan, &labels, &columns)
    } else {
        compare_ladder::summary(&plan, &labels, &columns, ceiling)
    };
    print!("{text}");
    let path = plan
        .json_dir
        .join(format!("summary-{}.md", plan.scenario_tag()));
    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    let complete = columns.values().all(|c| c.notes.is_empty());
    complete
        .then_some(())
        .ok_or_else(|| "some runs produced no report (see the summary)".into())
}

/// Every round: each target, fresh, once per rung of the rate ladder (once without one)
/// and per publish method. Columns are keyed by label, or `label@RATE` on a ladder.
fn run_rounds(plan: &Plan, names: &[&str]) -> BTreeMap<String, Column> {
    let rungs: Vec<Plan> = match plan.rates.as_slice() {
        [] => vec![plan.clone()],
        rates => rates.iter().map(|&r| plan.at_rate(r)).collect(),
    };
    let mut columns: BTreeMap<String, Column> = BTreeMap::new();
    for round in 0..plan.rounds {
        for (k, name) in names.iter().enumerate() {
            for (i, rung) in rungs.iter().enumerate() {
                let slot = (round as usize * names.len() + k) * rungs.len() + i;
                let slot = u16::try_from(slot).unwrap_or(0);
                let runs: Vec<_> = methods(rung, name)
                    .map(|via| {
                        let label = compare::label(name, via).replace('/', "-");
                        let file = format!("{}-{label}-r{}.json", rung.scenario_tag(), round + 1);
                        (via, rung.json_dir.join(file))
                    })
                    .collect();
                let at = rung
                    .rate
                    .map_or(String::new(), |r| format!(" at {r} items/s"));
                eprintln!("== round {} / {}: {name}{at}", round + 1, plan.rounds);
                let outcomes = compare::measure(rung, name, slot, &runs);
                for ((via, _), outcome) in runs.iter().zip(outcomes) {
                    let label = compare::label(name, *via);
                    let key = match plan.rates.is_empty() {
                        true => label,
                        false => compare_ladder::key(&label, rung.rate.unwrap_or(0)),
                    };
                    let col = columns.entry(key).or_default();
                    match outcome {
                        Outcome::Report(v) => col.reports.push(v),
                        Outcome::Failed(why) => col.notes.push(format!("failed: {why}")),
                    }
                }
            }
        }
    }
    columns
}

/// The plan's publish methods that `target` has an input for.
fn methods<'a>(plan: &'a Plan, target: &'a str) -> impl Iterator<Item = PublishVia> + 'a {
    plan.publish
        .iter()
        .copied()
        .filter(move |via| compare::supports(target, *via))
}

fn summary(plan: &Plan, names: &[String], columns: &BTreeMap<String, Column>) -> String {
    let mut s = String::new();
    let channels = match plan.channels {
        1 => String::new(),
        k => format!(" over {k} channels"),
    };
    let _ = writeln!(
        s,
        "# compare: {} × {} clients{channels}, {} messages of {} B, {} rounds (medians)\n",
        plan.mode, plan.clients, plan.messages, plan.size, plan.rounds
    );
    let _ = writeln!(s, "Command: `{}`\n", compare::command_line());
    let _ = writeln!(
        s,
        "| target | runs | delivered/expected | lost | time to last ms | p50 µs | p99 µs | proxy CPU µs/delivery | proxy B/conn | note |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    for name in names {
        let Some(c) = columns.get(name) else { continue };
        let _ = writeln!(
            s,
            "| {name} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} |",
            c.reports.len(),
            fmt(c.med("/deliveries/received"), 0),
            fmt(c.med("/deliveries/expected"), 0),
            fmt(c.med("/deliveries/lost"), 0),
            fmt(c.med("/time_to_last_delivery_ms_max"), 1),
            fmt(c.med("/latency_us/p50"), 0),
            fmt(c.med("/latency_us/p99"), 0),
            fmt(c.med("/proxy/cpu_us_per_delivery"), 3),
            fmt(c.med("/proxy/rss_bytes_per_connection"), 0),
            c.notes.join("; "),
        );
    }
    s.push('\n');
    if plan.channels > 1 && plan.rate.is_none() {
        s.push_str(&posts_table(names, columns));
    }
    if plan.rate.is_some() {
        s.push_str(&compare_ladder::sustained_table(names, columns));
    }
    s.push_str(&ratios(columns));
    s
}

/// The publish POSTs of a many-channel run: their size, round trip and answer time (issue
/// 14's key figure is how soon a 2,500-item POST is answered). "Answered" is the write to
/// the answer's arrival in the publisher's socket; the round trip adds the publisher's wait
/// for a core to read it.
fn posts_table(names: &[String], columns: &BTreeMap<String, Column>) -> String {
    let mut s = String::from(
        "| target | items/POST | POSTs/message | POST round trip p50 µs | p99 µs | max µs | answered p50 µs | max µs |\n|---|---|---|---|---|---|---|---|\n",
    );
    for name in names {
        let Some(c) = columns.get(name) else { continue };
        let _ = writeln!(
            s,
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            fmt(c.med("/publish/items_per_post"), 0),
            fmt(c.med("/publish/posts_per_message"), 0),
            fmt(c.med("/publish/post_round_trip_us/p50"), 0),
            fmt(c.med("/publish/post_round_trip_us/p99"), 0),
            fmt(c.med("/publish/post_round_trip_us/max"), 0),
            fmt(c.med("/publish/post_answered_us/p50"), 0),
            fmt(c.med("/publish/post_answered_us/max"), 0),
        );
    }
    s.push('\n');
    s
}

fn ratios(columns: &BTreeMap<String, Column>) -> String {
    let med = |name: &str, p: &str| columns.get(name).and_then(|c| c.med(p));
    let ttl = "/time_to_last_delivery_ms_max";
    let cpu = "/proxy/cpu_us_per_delivery";
    let rows = [
        (
            "pushpin / ringpin time to last",
            med("pushpin", ttl),
            med("ringpin", ttl),
        ),
        (
            "pushpin / ringpin CPU per delivery",
            med("pushpin", cpu),
            med("ringpin", cpu),
        ),
        (
            "ringpin / floor-send CPU per delivery",
            med("ringpin", cpu),
            med("floor-send", cpu),
        ),
        (
            "ringpin / floor-uring CPU per delivery",
            med("ringpin", cpu),
            med("floor-uring", cpu),
        ),
        (
            "ringpin / floor-send time to last",
            med("ringpin", ttl),
            med("floor-send", ttl),
        ),
        (
            "ringpin/zmq-sub / ringpin time to last",
            med("ringpin/zmq-sub", ttl),
            med("ringpin", ttl),
        ),
        (
            "pushpin/zmq-sub / ringpin/zmq-sub time to last",
            med("pushpin/zmq-sub", ttl),
            med("ringpin/zmq-sub", ttl),
        ),
    ];
    let mut s = String::from("| ratio (of medians) | value |\n|---|---|\n");
    for (label, a, b) in rows {
        if let Some(r) = ratio(a, b) {
            let _ = writeln!(s, "| {label} | {r:.2} |");
        }
    }
    s
}
