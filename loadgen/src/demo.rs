//! `demo` subcommand: 100K stream subscribers over as many ringpin instances as the
//! per-process descriptor cap needs (sharing one client port, one publish port each), then the
//! same N over floor-server (send) instances, and the ratio of their times to last delivery.
//!
//! Owns: the demo's two runs and its printed/written result (`demo-summary.md`).
//! Must not: start or measure targets itself (compare.rs does).
//! Invariants: bounded by `--timeout-s` per run (default 300); stops everything it started.

use std::fmt::Write as _;

use serde_json::Value;

use crate::compare::{self, fmt, num, ratio, Outcome, Plan};

/// Runs `demo`; Ok when ringpin delivered everything.
pub fn main(argv: &[String]) -> Result<(), String> {
    let mut argv = argv.to_vec();
    if !argv.iter().any(|a| a.starts_with("--clients")) {
        argv.extend(["--clients".to_string(), "100000".to_string()]);
    }
    let plan = Plan::parse(&argv, 1, 1, 300)?;
    if plan.mode != "stream" {
        return Err("demo runs --mode stream only".into());
    }
    let backend = compare::start_backend(&plan)?;
    let mut reports = Vec::new();
    for (slot, name) in ["ringpin", "floor-send"].into_iter().enumerate() {
        let json = plan
            .json_dir
            .join(format!("demo-{}-{name}.json", plan.clients));
        eprintln!("== demo: {name}, {} instance(s)", plan.instances());
        let slot = u16::try_from(slot).unwrap_or(0) + 40;
        match compare::measure(&plan, name, slot, &json) {
            Outcome::Report(v) => reports.push((name, Some(v), String::new())),
            Outcome::Failed(why) => reports.push((name, None, why)),
        }
    }
    backend.stop();
    let text = summary(&plan, &reports);
    print!("{text}");
    let path = plan
        .json_dir
        .join(format!("demo-summary-{}.md", plan.clients));
    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    let clean = reports
        .first()
        .and_then(|(_, v, _)| v.as_ref())
        .is_some_and(|v| {
            num(v, "/deliveries/lost") == Some(0.0) && num(v, "/deliveries/duplicated") == Some(0.0)
        });
    clean
        .then_some(())
        .ok_or_else(|| "ringpin did not deliver every message exactly once".into())
}

fn summary(plan: &Plan, reports: &[(&str, Option<Value>, String)]) -> String {
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
        "| target | held | delivered/expected | lost | duplicated | time to last ms | p99 µs | CPU µs/delivery | note |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    for (name, v, note) in reports {
        let get = |p: &str| v.as_ref().and_then(|v| num(v, p));
        let _ = writeln!(
            s,
            "| {name} | {} | {}/{} | {} | {} | {} | {} | {} | {note} |",
            fmt(get("/connect/held"), 0),
            fmt(get("/deliveries/received"), 0),
            fmt(get("/deliveries/expected"), 0),
            fmt(get("/deliveries/lost"), 0),
            fmt(get("/deliveries/duplicated"), 0),
            fmt(get("/time_to_last_delivery_ms_max"), 1),
            fmt(get("/latency_us/p99"), 0),
            fmt(get("/proxy/cpu_us_per_delivery"), 3),
        );
    }
    let ttl = |i: usize| {
        reports
            .get(i)
            .and_then(|(_, v, _)| v.as_ref())
            .and_then(|v| num(v, "/time_to_last_delivery_ms_max"))
    };
    let _ = writeln!(
        s,
        "\nringpin / floor-send time to last delivery: {}",
        fmt(ratio(ttl(0), ttl(1)), 2)
    );
    s
}
