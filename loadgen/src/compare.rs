//! Compare: one interleaved comparison of ringpin, Pushpin and the kernel floor, and the
//! 100K-subscriber `demo` (STYLE §12: comparisons are ratios from one interleaved run).
//!
//! Owns: the round loop (each target started fresh, measured by a `run`, stopped), the
//! medians and ratios, and the summary markdown.
//! Must not: measure anything itself: each measurement is a re-executed
//! `ringpin-loadgen run --json`, whose report is read back unchanged.
//! Invariants: every target it starts is stopped before the next starts; every `run` is
//! bounded by `--timeout-s` and killed if it overstays that by [`RUN_GRACE`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::args::Args;
use crate::scenario::{PublishVia, PER_WORKER_DEFAULT};
use crate::targets::{Ports, Target};

/// Time a `run` child gets beyond its own `--timeout-s` before it is killed.
const RUN_GRACE: Duration = Duration::from_secs(30);

/// Options shared by `compare` and `demo`.
#[derive(Debug, Clone)]
pub struct Plan {
    pub clients: u64,
    pub mode: String,
    pub messages: u64,
    pub size: u64,
    pub rounds: u64,
    pub json_dir: PathBuf,
    pub base_port: u16,
    pub timeout_s: u64,
    pub shards: u16,
    /// Extra ringpin flags (`--ringpin-args "--pin-shards no"`), split on whitespace.
    pub ringpin_args: Vec<String>,
    pub interval_ms: u64,
    /// `run --workers` for every target (`--loadgen-workers W`); 0 leaves `run`'s default,
    /// one worker per 18,000 clients.
    pub loadgen_workers: u64,
    pub pushpin_connect_rate: u64,
    /// Targets to measure, in round order (`--targets a,b`; default: all that apply).
    pub targets: Vec<String>,
    /// How to publish (`--publish http,zmq`, default http): each started target is measured
    /// once per method it has an input for, back to back.
    pub publish: Vec<PublishVia>,
    /// Proxy instances (`--instances N`); 0: as many as the descriptor cap needs.
    pub instances_wanted: u16,
    /// `run --channels` for every target.
    pub channels: u64,
    /// `run --items-per-post` for every target (`None`: as many as fit).
    pub items_per_post: Option<usize>,
    /// `run --item-formats mode` for every target.
    pub item_formats_mode_only: bool,
    /// `run --rate` for every target (a sustained run), or one rung of `--rates`.
    pub rate: Option<u64>,
    /// `run --publishers` for every sustained run.
    pub publishers: Option<u64>,
    /// `--rates r1,r2,…`: the rate ladder, ascending.
    pub rates: Vec<u64>,
}

impl Plan {
    /// Parses `compare`/`demo` flags; `demo` passes its own defaults.
    pub fn parse(
        argv: &[String],
        messages: u64,
        rounds: u64,
        timeout_s: u64,
    ) -> Result<Plan, String> {
        let mut a = Args::parse(argv)?;
        let plan = Plan {
            clients: a.parsed("--clients", 1000)?,
            mode: a.parsed("--mode", "stream".to_string())?,
            messages: a.parsed("--messages", messages)?,
            size: a.parsed("--size", 128)?,
            rounds: a.parsed("--rounds", rounds)?,
            json_dir: PathBuf::from(a.parsed("--json-dir", "compare-out".to_string())?),
            base_port: a.parsed("--base-port", 47000)?,
            timeout_s: a.parsed("--timeout-s", timeout_s)?,
            shards: a.parsed("--ringpin-shards", 1)?,
            ringpin_args: a
                .take("--ringpin-args")
                .map(|s| s.split_whitespace().map(String::from).collect())
                .unwrap_or_default(),
            interval_ms: a.parsed("--interval-ms", 0)?,
            loadgen_workers: a.parsed("--loadgen-workers", 0)?,
            pushpin_connect_rate: a.parsed("--pushpin-connect-rate", 1000)?,
            targets: a
                .take("--targets")
                .map(|t| t.split(',').map(String::from).collect())
                .unwrap_or_default(),
            publish: PublishVia::parse_list(&a.parsed("--publish", "http".to_string())?)
                .map_err(|e| format!("--publish: {e}"))?,
            instances_wanted: a.parsed("--instances", 0)?,
            channels: a.parsed("--channels", 1)?,
            items_per_post: a.parsed_opt("--items-per-post")?,
            item_formats_mode_only: crate::scenario::parse_item_formats(
                a.take("--item-formats").as_deref(),
            )?,
            rate: a.parsed_opt("--rate")?,
            publishers: a.parsed_opt("--publishers")?,
            rates: parse_rates(a.take("--rates").as_deref())?,
        };
        a.finish()?;
        if !["stream", "sse", "ws", "longpoll"].contains(&plan.mode.as_str()) {
            return Err(format!(
                "--mode: {:?} is not stream|sse|ws|longpoll",
                plan.mode
            ));
        }
        if plan.clients == 0 || plan.messages == 0 || plan.rounds == 0 {
            return Err("--clients, --messages and --rounds must be positive".into());
        }
        if plan.channels == 0 || plan.channels > plan.clients || plan.items_per_post == Some(0) {
            return Err("--channels must be 1..=--clients and --items-per-post at least 1".into());
        }
        if plan.rate.is_some() && !plan.rates.is_empty() {
            return Err("give --rate or --rates, not both".into());
        }
        if plan.publishers.is_some() && plan.rate.is_none() && plan.rates.is_empty() {
            return Err("--publishers needs --rate or --rates".into());
        }
        if plan.instances_wanted != 0 && plan.instances_wanted < plan.instances_needed() {
            return Err(format!(
                "--instances: {} clients need at least {} ({PER_WORKER_DEFAULT} per process)",
                plan.clients,
                plan.instances_needed()
            ));
        }
        std::fs::create_dir_all(&plan.json_dir)
            .map_err(|e| format!("{}: {e}", plan.json_dir.display()))?;
        Ok(plan)
    }

    /// Proxy instances: `--instances`, or as many as needed so that none holds more than a
    /// worker's share of sockets.
    pub fn instances(&self) -> u16 {
        if self.instances_wanted == 0 {
            self.instances_needed()
        } else {
            self.instances_wanted
        }
    }

    fn instances_needed(&self) -> u16 {
        u16::try_from(self.clients.div_ceil(PER_WORKER_DEFAULT)).unwrap_or(u16::MAX)
    }

    /// Floor-server processes: enough for the descriptor cap, and for a burst never fewer
    /// than ringpin's shards per instance, so the floor gets as many cores as the proxy it is
    /// compared with. A sustained run's publishers send every POST to every publish URL, so
    /// there a second floor process would read every POST again instead of sharing the work:
    /// it runs as many processes as ringpin runs instances.
    pub fn floor_instances(&self) -> u16 {
        if self.is_sustained() {
            self.instances()
        } else {
            self.instances().max(self.shards.max(1))
        }
    }

    fn is_sustained(&self) -> bool {
        self.rate.is_some() || !self.rates.is_empty()
    }

    fn backend_port(&self) -> u16 {
        self.base_port + 3999
    }

    /// What a reader of a sustained table must know about the floor servers in it.
    pub fn floor_note(&self) -> Option<String> {
        self.is_sustained().then(|| {
            format!(
                "floor-send and floor-uring run as {} process(es) of one thread each, ringpin as {} instance(s) of {} shards: every POST must reach the process holding its subscriber, so the floor's rate is what one core does with only the kernel's work per item (read the POST, write the reply, write the delivery)",
                self.floor_instances(),
                self.instances(),
                self.shards
            )
        })
    }

    /// `MODE-CLIENTS`, plus `-cK` with more than one channel: names this scenario's files.
    pub fn scenario_tag(&self) -> String {
        let mut tag = format!("{}-{}", self.mode, self.clients);
        if self.channels > 1 {
            tag += &format!("-c{}", self.channels);
        }
        if let Some(r) = self.rate {
            tag += &format!("-rate{r}");
        } else if !self.rates.is_empty() {
            tag += "-rates";
        }
        tag
    }

    /// The scenario flags every target's `run` gets beyond the basic ones.
    fn scenario_args(&self) -> Vec<(&'static str, String)> {
        let mut args = Vec::new();
        if self.channels > 1 {
            args.push(("--channels", self.channels.to_string()));
        }
        if let Some(n) = self.items_per_post {
            args.push(("--items-per-post", n.to_string()));
        }
        if self.item_formats_mode_only {
            args.push(("--item-formats", "mode".to_string()));
        }
        if let Some(r) = self.rate {
            args.push(("--rate", r.to_string()));
            if let Some(p) = self.publishers {
                args.push(("--publishers", p.to_string()));
            }
        }
        args
    }

    /// This plan at one rung of the rate ladder.
    pub fn at_rate(&self, rate: u64) -> Plan {
        Plan {
            rate: Some(rate),
            rates: Vec::new(),
            ..self.clone()
        }
    }
}

/// `r1,r2,…`: positive, strictly ascending items/s.
fn parse_rates(s: Option<&str>) -> Result<Vec<u64>, String> {
    let Some(s) = s else { return Ok(Vec::new()) };
    let rates: Vec<u64> = s
        .split(',')
        .map(|r| {
            r.trim()
                .parse()
                .map_err(|_| format!("--rates: {r:?} is not a rate"))
        })
        .collect::<Result<_, _>>()?;
    if rates.first() == Some(&0) || rates.windows(2).any(|w| w[0] >= w[1]) {
        return Err("--rates: give positive rates in ascending order".into());
    }
    Ok(rates)
}

/// One measured run: the report, or why there is none.
pub enum Outcome {
    Report(Value),
    Failed(String),
}

/// Bind attempts per target: 4xxxx/5xxxx ports are inside the ephemeral range
/// (32768-60999), so a proxy's 15,000 origin connections of an earlier run (or their
/// TIME-WAIT) hold about half of them on 127.0.0.1; the next attempt moves on.
const START_ATTEMPTS: u16 = 16;

/// Starts the named target on fresh ports (attempt `a` shifts them by `337·a` within
/// `base .. base + 3400`; publish ports are 500 above).
fn start(plan: &Plan, name: &str, slot: u16) -> Result<Target, String> {
    let mut last = String::new();
    for a in 0..START_ATTEMPTS {
        let from = plan.base_port + (slot * 8 + a * 337) % 3400;
        let processes = plan.floor_instances(); // never fewer than ringpin needs
        let n = usize::from(processes);
        let mut free = crate::targets::free_ports(from, 3 * n + 1)?;
        let client = free.remove(0);
        let sub = free.split_off(2 * n);
        let pull = free.split_off(n);
        let ports = Ports {
            client,
            publish: free,
            pull,
            sub,
            backend: plan.backend_port(),
        };
        let started = match name {
            "ringpin" => Target::ringpin(plan.instances(), plan.shards, &plan.ringpin_args, &ports),
            "pushpin" => Target::pushpin(&ports, 1 + slot % 7),
            "floor-send" => Target::floor(plan.floor_instances(), "send", &ports),
            "floor-uring" => Target::floor(plan.floor_instances(), "uring", &ports),
            _ => return Err(format!("unknown target {name}")),
        };
        match started {
            Ok(t) => return Ok(t),
            Err(e) => {
                eprintln!("note: {e}; trying other ports");
                last = e;
            }
        }
    }
    Err(last)
}

/// Starts `name`, runs the scenario against it once per `(method, report path)` in `runs`
/// (same instances, fresh clients each time), stops it. A method the target has no input
/// for is a failed outcome.
pub fn measure(plan: &Plan, name: &str, slot: u16, runs: &[(PublishVia, PathBuf)]) -> Vec<Outcome> {
    let target = match start(plan, name, slot) {
        Ok(t) => t,
        Err(e) => return runs.iter().map(|_| Outcome::Failed(e.clone())).collect(),
    };
    let outcomes = runs
        .iter()
        .map(|(via, json)| {
            let run = run_args(plan, &target, json, *via)
                .and_then(|args| run_child(plan, args, json))
                .and_then(|()| read_report(json));
            match run {
                Ok(v) => Outcome::Report(v),
                Err(e) => Outcome::Failed(e),
            }
        })
        .collect();
    target.stop();
    outcomes
}

/// A target's name in reports for a method: plain for HTTP (as before ZeroMQ existed),
/// `name/zmq-sub` or `name/zmq-push` otherwise.
pub fn label(target: &str, via: PublishVia) -> String {
    match via {
        PublishVia::Http => target.to_string(),
        _ => format!("{target}/{}", via.name()),
    }
}

/// True when `target` has an input for `via` (the floors take HTTP only).
pub fn supports(target: &str, via: PublishVia) -> bool {
    via == PublishVia::Http || target == "ringpin" || target == "pushpin"
}

/// `--publish-via` and `--zmq-specs` for `via` against `t`.
fn publish_args(t: &Target, via: PublishVia) -> Result<Vec<(&'static str, String)>, String> {
    let specs = match via {
        PublishVia::Http => return Ok(Vec::new()),
        PublishVia::ZmqSub => &t.zmq_sub_specs,
        PublishVia::ZmqPush => &t.zmq_pull_specs,
    };
    if specs.is_empty() {
        return Err(format!("{} has no input for {}", t.name, via.name()));
    }
    Ok(vec![
        ("--publish-via", via.name().to_string()),
        ("--zmq-specs", specs.join(",")),
    ])
}

fn run_args(plan: &Plan, t: &Target, json: &Path, via: PublishVia) -> Result<Vec<String>, String> {
    let pids: Vec<String> = t.pids.iter().map(u32::to_string).collect();
    let pairs = [
        ("--proxy", format!("127.0.0.1:{}", t.client_port)),
        ("--publish", t.publish_urls.join(",")),
        ("--mode", plan.mode.clone()),
        ("--clients", plan.clients.to_string()),
        ("--messages", plan.messages.to_string()),
        ("--size", plan.size.to_string()),
        ("--interval-ms", plan.interval_ms.to_string()),
        ("--proxy-pids", pids.join(",")),
        ("--target-name", t.name.clone()),
        ("--json", json.display().to_string()),
        ("--timeout-s", plan.timeout_s.to_string()),
    ];
    // Pushpin 1.36 fails part of an unpaced connect burst (502s); pacing only the connect
    // phase leaves the measured publish phase untouched.
    let rate = if t.name == "pushpin" {
        plan.pushpin_connect_rate
    } else {
        0
    };
    let workers =
        (plan.loadgen_workers > 0).then(|| ("--workers", plan.loadgen_workers.to_string()));
    let pairs = pairs
        .into_iter()
        .chain([("--connect-rate", rate.to_string())])
        .chain(workers)
        .chain(plan.scenario_args())
        .chain(publish_args(t, via)?);
    Ok(std::iter::once("run".to_string())
        .chain(pairs.flat_map(|(k, v)| [k.to_string(), v]))
        .collect())
}

/// Re-executes `ringpin-loadgen run`; its exit status only says whether the run was clean,
/// so a nonzero status with a report is still a measurement.
fn run_child(plan: &Plan, args: Vec<String>, json: &Path) -> Result<(), String> {
    let _ = std::fs::remove_file(json);
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let mut child = Command::new(exe)
        .args(args)
        .stdin(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting run: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(plan.timeout_s) + RUN_GRACE;
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return Ok(()),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(100)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err("run overstayed its timeout and was killed".into());
            }
            Err(e) => return Err(format!("waiting for run: {e}")),
        }
    }
}

fn read_report(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// A number at a JSON pointer, if present.
pub fn num(v: &Value, pointer: &str) -> Option<f64> {
    v.pointer(pointer).and_then(Value::as_f64)
}

/// Median of the present values.
pub fn median(mut xs: Vec<f64>) -> Option<f64> {
    xs.retain(|x| x.is_finite());
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(xs[n / 2]),
        _ => Some((xs[n / 2 - 1] + xs[n / 2]) / 2.0),
    }
}

/// `a / b` when both are present and b is positive.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => Some(a / b),
        _ => None,
    }
}

/// Formats an optional figure.
pub fn fmt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".to_string(), |x| format!("{x:.digits$}"))
}

/// Shell-quoted command line of this process, for summaries.
pub fn command_line() -> String {
    std::env::args()
        .map(|a| if a.contains(' ') { format!("'{a}'") } else { a })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Starts the loadgen backend for a plan.
pub fn start_backend(plan: &Plan) -> Result<Target, String> {
    Target::backend(plan.backend_port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_ratio() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0]), Some(2.5));
        assert_eq!(median(vec![]), None);
        assert_eq!(ratio(Some(4.0), Some(2.0)), Some(2.0));
        assert_eq!(ratio(Some(4.0), Some(0.0)), None);
        assert_eq!(fmt(None, 1), "–");
    }

    fn plan(flags: &str) -> Result<Plan, String> {
        let dir = std::env::temp_dir().join(format!("loadgen-plan-{}", std::process::id()));
        let argv: Vec<String> = format!("--json-dir {} {flags}", dir.display())
            .split_whitespace()
            .map(String::from)
            .collect();
        let plan = Plan::parse(&argv, 1, 1, 300);
        let _ = std::fs::remove_dir(&dir);
        plan
    }

    #[test]
    fn publish_methods_and_instances_parse() {
        let p = plan("--clients 2000").expect("valid");
        assert_eq!(
            (p.publish.as_slice(), p.instances()),
            (&[PublishVia::Http][..], 1)
        );
        let p = plan("--clients 2000 --instances 2 --publish http,zmq").expect("valid");
        assert_eq!(p.publish, [PublishVia::Http, PublishVia::ZmqSub]);
        assert_eq!(p.instances(), 2);
        assert_eq!(p.floor_instances(), 2);
        assert_eq!(plan("--clients 100000").expect("valid").instances(), 6);
        for bad in [
            "--clients 100000 --instances 5",
            "--publish http,http",
            "--publish smtp",
            "--instances x",
        ] {
            assert!(plan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn channels_pass_through_to_every_run_and_the_floor_takes_them_too() {
        let p = plan("--clients 60 --channels 20 --items-per-post 7 --ringpin-shards 2")
            .expect("valid");
        assert_eq!(
            p.scenario_args(),
            [
                ("--channels", "20".to_string()),
                ("--items-per-post", "7".to_string())
            ]
        );
        assert_eq!(p.scenario_tag(), "stream-60-c20");
        assert_eq!(
            p.floor_instances(),
            2,
            "a burst's floor gets ringpin's two shards' cores"
        );
        assert!(p.floor_note().is_none());
        let p = plan("--clients 60").expect("valid");
        assert!(p.scenario_args().is_empty());
        assert_eq!(p.scenario_tag(), "stream-60");
        for bad in [
            "--clients 5 --channels 6",
            "--channels 0",
            "--items-per-post 0",
        ] {
            assert!(plan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rates_parse_ascending_and_each_rung_passes_its_rate() {
        let p =
            plan("--clients 20 --channels 20 --rates 100,200,400 --publishers 2").expect("valid");
        assert_eq!(p.rates, [100, 200, 400]);
        assert_eq!(p.scenario_tag(), "stream-20-c20-rates");
        assert_eq!(
            p.floor_instances(),
            1,
            "publishers POST to every floor process"
        );
        assert!(p
            .floor_note()
            .is_some_and(|note| note.contains("1 process(es)")));
        let rung = p.at_rate(200);
        assert_eq!(rung.scenario_tag(), "stream-20-c20-rate200");
        assert!(rung
            .scenario_args()
            .contains(&("--rate", "200".to_string())));
        assert!(rung
            .scenario_args()
            .contains(&("--publishers", "2".to_string())));
        for bad in [
            "--rates 200,100",
            "--rates 0,100",
            "--rates 100,x",
            "--rate 100 --rates 100,200",
            "--publishers 2",
        ] {
            assert!(plan(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn http_keeps_the_plain_target_name_and_floors_take_http_only() {
        assert_eq!(label("ringpin", PublishVia::Http), "ringpin");
        assert_eq!(label("ringpin", PublishVia::ZmqSub), "ringpin/zmq-sub");
        assert_eq!(label("pushpin", PublishVia::ZmqPush), "pushpin/zmq-push");
        assert!(supports("ringpin", PublishVia::ZmqSub));
        assert!(supports("pushpin", PublishVia::ZmqPush));
        assert!(supports("floor-send", PublishVia::Http));
        assert!(!supports("floor-send", PublishVia::ZmqSub));
        assert!(!supports("floor-uring", PublishVia::ZmqPush));
    }
}
