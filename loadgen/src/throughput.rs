//! `throughput` subcommand: how many items per second ringpin takes in and delivers, per
//! publish input, into a channel that has subscribers.
//!
//! One ringpin target (one instance unless `--instances`) is started; for each `--publish`
//! method (default `http,zmq-push`) a `run` holds `--clients` stream subscribers (default 100)
//! on the channel and publishes `--messages` items (default 10,000) back to back
//! (`--interval-ms 0`), then waits for every delivery:
//! * `http`: one item per `POST /publish/`, on one keep-alive connection per instance, each
//!   POST waiting for its response (what a simple publisher does; no batching);
//! * `zmq-push`: one item per frame on one PUSH socket per instance's PULL input;
//! * `zmq-sub`: one `[channel, item]` message per item on one XPUB (accepted too).
//!
//! Owns: the method loop and the throughput summary (`throughput-summary-C-M.md`).
//! Must not: start or measure targets itself (compare.rs does) or time anything (each
//! figure comes from a `run` report, kept as `throughput-C-M-ringpin-METHOD.json`).
//! Invariants: every run is bounded by `--timeout-s` (default 120); the target is stopped
//! before returning; exits nonzero unless every run delivered every item exactly once.

use std::fmt::Write as _;

use serde_json::Value;

use crate::compare::{self, fmt, num, Outcome, Plan};
use crate::scenario::PublishVia;

/// Defaults that differ from `compare`'s: few subscribers, many items, both inputs.
const DEFAULT_FLAGS: [(&str, &str); 2] = [("--clients", "100"), ("--publish", "http,zmq-push")];
/// Items published per method unless `--messages` says otherwise.
const DEFAULT_ITEMS: u64 = 10_000;
/// A run's bound unless `--timeout-s` says otherwise.
const DEFAULT_TIMEOUT_S: u64 = 120;
/// Port slot (see compare.rs), clear of `demo`'s.
const THROUGHPUT_PORT_SLOT: u16 = 60;

/// Runs `throughput`; Ok when every method delivered every item exactly once.
pub fn main(argv: &[String]) -> Result<(), String> {
    let mut argv = argv.to_vec();
    for (flag, value) in DEFAULT_FLAGS {
        if !argv.iter().any(|a| a.starts_with(flag)) {
            argv.extend([flag.to_string(), value.to_string()]);
        }
    }
    let plan = Plan::parse(&argv, DEFAULT_ITEMS, 1, DEFAULT_TIMEOUT_S)?;
    if plan.mode == "longpoll" {
        return Err(
            "throughput: long-poll re-subscribes per message; use stream, sse or ws".into(),
        );
    }
    let tag = format!("{}-{}", plan.clients, plan.messages);
    let runs: Vec<_> = plan
        .publish
        .iter()
        .map(|&via| {
            let file = format!("throughput-{tag}-ringpin-{}.json", via.name());
            (via, plan.json_dir.join(file))
        })
        .collect();
    let backend = compare::start_backend(&plan)?;
    eprintln!("== throughput: ringpin, {} instance(s)", plan.instances());
    let outcomes = compare::measure(&plan, "ringpin", THROUGHPUT_PORT_SLOT, &runs);
    backend.stop();
    let rows: Vec<(PublishVia, Outcome)> = runs.iter().map(|(via, _)| *via).zip(outcomes).collect();
    let text = summary(&plan, &rows);
    print!("{text}");
    let path = plan.json_dir.join(format!("throughput-summary-{tag}.md"));
    std::fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
    let exact = rows.iter().all(|(_, o)| match o {
        Outcome::Report(v) => is_exact(v),
        Outcome::Failed(_) => false,
    });
    exact
        .then_some(())
        .ok_or_else(|| "some items were lost, duplicated or not measured".into())
}

fn is_exact(v: &Value) -> bool {
    num(v, "/deliveries/lost") == Some(0.0)
        && num(v, "/deliveries/duplicated") == Some(0.0)
        && v.pointer("/timed_out").and_then(Value::as_bool) == Some(false)
}

fn summary(plan: &Plan, rows: &[(PublishVia, Outcome)]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# throughput: {} items of {} B into one channel with {} {} subscribers, {} ringpin instance(s)\n",
        plan.messages,
        plan.size,
        plan.clients,
        plan.mode,
        plan.instances()
    );
    let _ = writeln!(s, "Command: `{}`\n", compare::command_line());
    let _ = writeln!(
        s,
        "| publish | items in | items/s in | items/s delivered | deliveries/s | delivered/expected | lost | duplicated | all arrived | time to last max ms | proxy CPU µs/delivery | note |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (via, outcome) in rows {
        let (v, note) = match outcome {
            Outcome::Report(v) => (Some(v), String::new()),
            Outcome::Failed(why) => (None, format!("failed: {why}")),
        };
        let get = |p: &str| v.and_then(|v| num(v, p));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {}/{} | {} | {} | {} | {} | {} | {note} |",
            via.name(),
            fmt(get("/publish/items"), 0),
            fmt(get("/publish/items_per_s"), 0),
            fmt(get("/publish/messages_delivered_per_s"), 0),
            fmt(get("/deliveries_per_s"), 0),
            fmt(get("/deliveries/received"), 0),
            fmt(get("/deliveries/expected"), 0),
            fmt(get("/deliveries/lost"), 0),
            fmt(get("/deliveries/duplicated"), 0),
            if v.is_some_and(is_exact) { "yes" } else { "no" },
            fmt(get("/time_to_last_delivery_ms_max"), 1),
            fmt(get("/proxy/cpu_us_per_delivery"), 3),
        );
    }
    s.push_str(NOTES);
    s
}

/// What the columns mean, under the table.
const NOTES: &str = "
* items in / items/s in: items handed over, from the first publish to the last publish call's return. \
An HTTP item counts when its POST got a 2xx (one item per POST, one keep-alive connection per instance, sequential); \
a zmq-push item when libzmq queued it, and ringpin's PULL input buffers up to 101,000 items, so for shorter runs \
this is loadgen's send rate, not ringpin's intake.
* items/s delivered: items over the span from the first publish to the last delivery of any item, \
the figure to compare between inputs.
* deliveries/s: deliveries (items × subscribers) over the same span.
";
