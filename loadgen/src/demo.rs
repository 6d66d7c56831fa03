//! `demo` subcommand: 100K stream subscribers over as many ringpin instances as the
//! per-process descriptor cap needs (sharing one client port, one publish port and one
//! ZeroMQ SUB input each), then the same N over floor-server (send) instances, and the ratios
//! of their times to last delivery.
//!
//! With `--publish http,zmq` ringpin is measured twice, back to back, in the order given:
//! each message POSTed to every instance's `/publish/`, then each message sent once on an XPUB
//! connected to every instance's SUB input, published only once every instance with
//! subscribers has subscribed. Each method gets fresh instances and fresh clients: a second
//! run on the same instances started with the first run's 100,000 connections still being
//! torn down and its memory still held, and was 18-29% slower whichever method it
//! measured (results/2026-12-06-zmq-scaleout-epyc2c). The floor takes HTTP only.
//!
//! Owns: the demo's runs and its printed/written result (`demo-summary-N.md`).
//! Must not: start or measure targets itself (compare.rs does).
//! Invariants: bounded by `--timeout-s` per run (default 300); stops everything it started;
//! exits nonzero unless every ringpin run delivered every message exactly once.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::Value;

use crate::compare::{self, fmt, num, ratio, Outcome, Plan};
use crate::scenario::PublishVia;

/// The demo's targets, in run order.
const DEMO_TARGETS: [&str; 2] = ["ringpin", "floor-send"];

/// One row of the summary: a target measured with one publish method.
struct Row {
    target: &'static str,
    via: PublishVia,
    report: Option<Value>,
    note: String,
}

impl Row {
    fn get(&self, pointer: &str) -> Option<f64> {
        self.report.as_ref().and_then(|v| num(v, pointer))
    }

    fn is_exact(&self) -> bool {
        self.get("/deliveries/lost") == Some(0.0) && self.get("/deliveries/duplicated") == Some(0.0)
    }
}

/// Runs `demo`; Ok when every ringpin run delivered everything exactly once.
pub fn main(argv: &[String]) -> Result<(), String> {
    let mut argv = argv.to_vec();
    if !argv.iter().any(|a| a.starts_with("--clients")) {
        argv.extend(["--clients".to_string(), "100000".to_string()]);
    }
    let plan = Plan::parse(&argv, 1, 1, 300)?;
    if plan.mode != "stream" {
        return Err("demo runs --mode stream only".into());
    }
    let targets: Vec<&'static str> = DEMO_TARGETS
        .into_iter()
        .filter(|t| plan.targets.is_empty() || plan.targets.iter().any(|p| p == t))
        .collect();
    if targets.is_empty() {
        return Err("--targets: the demo measures ringpin and/or floor-send".into());
    }
    let backend = compare::start_backend(&plan)?;
    let mut rows = Vec::new();
    let all: Vec<_> = (targets.into_iter())
        .flat_map(|name| runs(&plan, name).into_iter().map(move |run| (name, run)))
        .collect();
    for (slot, (name, run)) in all.into_iter().enumerate() {
        eprintln!(
            "== demo: {name} ({}), {} fresh instance(s)",
            run.0.name(),
            plan.instances()
        );
        let slot = u16::try_from(slot).unwrap_or(0) + 40;
        let outcomes = compare::measure(&plan, name, slot, std::slice::from_ref(&run));
        for ((via, _), outcome) in std::iter::once(&run).zip(outcomes) {
            let (report, note) = match outcome {
                Outcome::Report(v) => (Some(v), String::new()),
                Outcome::Failed(why) => (None, why),
            };
            rows.push(Row {
                target: name,
                via: *via,
                report,
                note,
            });
        }
    }
    backend.stop();
    let text = summary(&plan, &rows);
    print!("{text}");
    let path = plan
        .json_dir
        .join(format!("demo-summary-{}.md", plan.clients));
    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    let ringpin: Vec<&Row> = rows.iter().filter(|r| r.target == "ringpin").collect();
    let clean = ringpin.iter().all(|r| r.is_exact());
    clean
        .then_some(())
        .ok_or_else(|| "ringpin did not deliver every message exactly once".into())
}

/// The runs of one target: ringpin once per `--publish` method, the floor over HTTP (its only
/// input). Report files keep their pre-ZeroMQ names for HTTP (`demo-N-ringpin.json`).
fn runs(plan: &Plan, target: &str) -> Vec<(PublishVia, PathBuf)> {
    let methods = if target == "ringpin" {
        plan.publish.clone()
    } else {
        vec![PublishVia::Http]
    };
    methods
        .into_iter()
        .map(|via| {
            let label = compare::label(target, via).replace('/', "-");
            let file = format!("demo-{}-{label}.json", plan.clients);
            (via, plan.json_dir.join(file))
        })
        .collect()
}

fn summary(plan: &Plan, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# demo: {} stream clients, {} message(s) of {} B, {} instance(s) per target\n",
        plan.clients,
        plan.messages,
        plan.size,
        plan.instances()
    );
    let _ = writeln!(s, "Command: `{}`\n", compare::command_line());
    let _ = writeln!(
        s,
        "| target | publish | held | delivered/expected | lost | duplicated | time to last ms | p99 µs | CPU µs/delivery | XPUB subscribed after ms | note |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.via.name(),
            fmt(r.get("/connect/held"), 0),
            fmt(r.get("/deliveries/received"), 0),
            fmt(r.get("/deliveries/expected"), 0),
            fmt(r.get("/deliveries/lost"), 0),
            fmt(r.get("/deliveries/duplicated"), 0),
            fmt(r.get("/time_to_last_delivery_ms_max"), 1),
            fmt(r.get("/latency_us/p99"), 0),
            fmt(r.get("/proxy/cpu_us_per_delivery"), 3),
            fmt(r.get("/publish/subscribe_wait_ms"), 1),
            r.note,
        );
    }
    s.push('\n');
    s.push_str(&ratios(rows));
    s
}

/// Time-to-last-delivery ratios: ringpin zmq-sub over ringpin http, and each ringpin run
/// over the floor.
fn ratios(rows: &[Row]) -> String {
    let ttl = |target: &str, via: PublishVia| {
        rows.iter()
            .find(|r| r.target == target && r.via == via)
            .and_then(|r| r.get("/time_to_last_delivery_ms_max"))
    };
    let floor = ttl("floor-send", PublishVia::Http);
    let mut s = String::new();
    let lines = [
        (
            "ringpin zmq-sub / http",
            ttl("ringpin", PublishVia::ZmqSub),
            ttl("ringpin", PublishVia::Http),
        ),
        (
            "ringpin (http) / floor-send",
            ttl("ringpin", PublishVia::Http),
            floor,
        ),
        (
            "ringpin (zmq-sub) / floor-send",
            ttl("ringpin", PublishVia::ZmqSub),
            floor,
        ),
    ];
    for (what, a, b) in lines {
        if a.is_some() && b.is_some() {
            let _ = writeln!(s, "{what} time to last delivery: {}", fmt(ratio(a, b), 2));
        }
    }
    s
}
