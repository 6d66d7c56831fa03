//! Compare ladder: the sustained-rate side of `compare` (`--rate R` and `--rates r1,r2,…`):
//! the per-rate tables, each target's highest rate that holds, the ringpin/Pushpin ratio,
//! and the loadgen publishers' own ceiling.
//!
//! Owns: how a ladder's columns are keyed, the "highest rate that holds" rule over rounds,
//! and the summary text for rate runs.
//! Must not: start targets or runs (compare.rs and compare_cmd.rs do).
//! Invariants: a rate holds for a target only if every round of it produced a report and
//! every report's verdict held (verdict.rs); the ceiling is measured before any target
//! starts, with the same channels, publishers, size and mode, against an in-process sink
//! that answers 200 at once (publish_sink.rs).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::compare::{self, fmt, Plan};
use crate::compare_cmd::Column;
use crate::publish_sink;

/// A ladder column's key: `label@RATE`.
pub fn key(label: &str, rate: u64) -> String {
    format!("{label}@{rate}")
}

/// True when the column has a report for every round and each one held.
fn holds(c: &Column, rounds: u64) -> bool {
    c.notes.is_empty()
        && c.reports.len() as u64 == rounds
        && c.reports.iter().all(|r| {
            r.pointer("/sustained/verdict/held")
                .and_then(Value::as_bool)
                .unwrap_or(false)
        })
}

/// The highest rate of the ladder at which `label` holds (`None`: none does).
fn highest_holding(
    label: &str,
    rates: &[u64],
    rounds: u64,
    columns: &BTreeMap<String, Column>,
) -> Option<u64> {
    rates
        .iter()
        .copied()
        .filter(|&r| {
            columns
                .get(&key(label, r))
                .is_some_and(|c| holds(c, rounds))
        })
        .max()
}

/// With a ladder, the loadgen publishers' ceiling at its top rate: accepted items/s
/// against the in-process sink (`None` without a ladder, or when it could not run).
pub fn measure_ceiling(plan: &Plan) -> Option<f64> {
    let top = *plan.rates.last()?;
    let publishers = plan.publishers.unwrap_or(1);
    eprintln!("== loadgen's own ceiling: unpaced publishers into a sink that answers 200 at once");
    let measured = publish_sink::start().and_then(|url| {
        publish_sink::ceiling(&url, &plan.mode, plan.channels, publishers, plan.size, top)
    });
    match measured {
        Ok(t) => Some(publish_sink::accepted_per_s(&t)),
        Err(e) => {
            eprintln!("warning: the ceiling run failed: {e}");
            None
        }
    }
}

/// One `--rate` run per target: the sustained figures and the verdict over the rounds.
pub fn sustained_table(names: &[String], columns: &BTreeMap<String, Column>) -> String {
    let mut s = String::from(
        "| target | rate/s | accepted/s | deliveries/s | publish p50 µs | publish p99 µs | schedule lag max ms | held (rounds) |\n|---|---|---|---|---|---|---|---|\n",
    );
    for name in names {
        if let Some(c) = columns.get(name) {
            s += &sustained_row(name, c);
        }
    }
    s.push('\n');
    s
}

fn sustained_row(name: &str, c: &Column) -> String {
    let held = c
        .reports
        .iter()
        .filter(|r| r.pointer("/sustained/verdict/held") == Some(&Value::Bool(true)))
        .count();
    format!(
        "| {name} | {} | {} | {} | {} | {} | {} | {held}/{} |\n",
        fmt(c.med("/sustained/rate_per_s"), 0),
        fmt(c.med("/sustained/accepted_per_s"), 0),
        fmt(c.med("/deliveries_per_s"), 0),
        fmt(c.med("/publish/post_round_trip_us/p50"), 0),
        fmt(c.med("/publish/post_round_trip_us/p99"), 0),
        fmt(c.med("/sustained/schedule_lag_ms_max"), 1),
        c.reports.len() + c.notes.len(),
    )
}

/// The ladder's summary: a row per target and rate, each target's highest rate that holds,
/// the ratio ringpin/Pushpin, and the publishers' ceiling.
pub fn summary(
    plan: &Plan,
    labels: &[String],
    columns: &BTreeMap<String, Column>,
    ceiling: Option<f64>,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# compare: sustained publishing into {} channels ({} {} subscribers), {} items per channel, rates {:?}, {} rounds (medians)\n",
        plan.channels, plan.clients, plan.mode, plan.messages, plan.rates, plan.rounds
    );
    let _ = writeln!(s, "Command: `{}`\n", compare::command_line());
    if let Some(why) = plan.floor_note() {
        let _ = writeln!(s, "Note: {why}.\n");
    }
    let _ = writeln!(
        s,
        "Loadgen's own ceiling (the same publishers, unpaced, into an in-process sink that answers 200 at once): {} items/s. A rate near it measures loadgen, not the proxy.\n",
        fmt(ceiling, 0)
    );
    let rungs: Vec<String> = labels
        .iter()
        .flat_map(|l| plan.rates.iter().map(move |&r| key(l, r)))
        .collect();
    s += &sustained_table(&rungs, columns);
    s += "| target | highest rate that holds (items/s) |\n|---|---|\n";
    let mut best = BTreeMap::new();
    for label in labels {
        let h = highest_holding(label, &plan.rates, plan.rounds, columns);
        best.insert(label.as_str(), h);
        let text = h.map_or("none of the ladder".to_string(), |r| r.to_string());
        let _ = writeln!(s, "| {label} | {text} |");
    }
    let ratio = compare::ratio(
        best.get("ringpin").copied().flatten().map(|r| r as f64),
        best.get("pushpin").copied().flatten().map(|r| r as f64),
    );
    if let Some(r) = ratio {
        let _ = writeln!(s, "\nringpin / pushpin highest rate that holds: {r:.2}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn column(held: &[bool]) -> Column {
        Column {
            reports: held
                .iter()
                .map(|&h| serde_json::json!({ "sustained": { "verdict": { "held": h } } }))
                .collect(),
            notes: Vec::new(),
        }
    }

    #[test]
    fn the_highest_rate_that_holds_needs_every_round_to_hold() {
        let mut columns = BTreeMap::new();
        columns.insert(key("ringpin", 100), column(&[true, true]));
        columns.insert(key("ringpin", 200), column(&[true, true]));
        columns.insert(key("ringpin", 400), column(&[true, false]));
        columns.insert(key("pushpin", 100), column(&[true, true]));
        columns.insert(key("pushpin", 200), column(&[true]));
        let rates = [100, 200, 400];
        assert_eq!(highest_holding("ringpin", &rates, 2, &columns), Some(200));
        assert_eq!(highest_holding("pushpin", &rates, 2, &columns), Some(100));
        assert_eq!(highest_holding("floor-send", &rates, 2, &columns), None);
        let mut failed = column(&[true]);
        failed.notes.push("failed: x".into());
        columns.insert(key("pushpin", 100), failed);
        assert_eq!(highest_holding("pushpin", &rates, 1, &columns), Some(200));
    }
}
