//! Controller: one `soak` from start to report.
//!
//! Owns: the run's phases — start the backend and ringpin, spawn the workers and wait until
//! every subscriber is held (and ringpin's `ringpin_subscriptions` gauge agrees), then run
//! the publisher, the fault thread and the sampler side by side for the publish phase,
//! drain (send the finals, `POST /recover` so every long-poll re-asks, wait until every
//! healthy subscriber has its channel's last item), read `/metrics`, collect the workers'
//! records, stop ringpin, judge and write the report.
//! Must not: open subscriber sockets (workers do), inject faults (faults.rs does) or judge
//! (verdict.rs does).
//! Invariants: every phase is bounded; on a fatal error every thread is told to stop, every
//! child process is stopped by its own handle, and the run fails.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::census::{self, Census};
use super::faults::{self, FaultContext, FaultLog};
use super::fleet::Fleet;
use super::plan::Plan;
use super::plot::{self, Phases};
use super::probes;
use super::processes::{Backend, Ringpin};
use super::publish::{self, PublishJob, PublishLog};
use super::report::{Evidence, SoakReport};
use super::sampler::{self, Sample};
use super::schedule;
use super::state_file::PublishedCounts;
use super::verdict::{self, EndState};
use super::wire::{Command, WorkerReport};
use super::worker::WorkerSpec;

/// Longest wait for the gauge to count every subscriber.
const GAUGE_WAIT: Duration = Duration::from_secs(30);
/// Longest drain after the last publish.
const DRAIN_MAX: Duration = Duration::from_secs(30);
/// Time the workers get to send their records.
const REPORT_WAIT: Duration = Duration::from_secs(30);
/// Between progress lines on stderr.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(10);

/// Runs `soak`; Ok only when every check passed.
pub(crate) fn main(argv: &[String], command: Vec<String>) -> Result<(), String> {
    let plan = Plan::parse(argv)?;
    std::fs::create_dir_all(&plan.out).map_err(|e| format!("{}: {e}", plan.out.display()))?;
    let dir = std::env::temp_dir().join(format!("ringpin-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = run(&plan, &dir, command);
    // RINGPIN_LOADGEN_KEEP_LOGS=1 keeps ringpin's and the backend's logs for a look.
    if std::env::var_os("RINGPIN_LOADGEN_KEEP_LOGS").is_some_and(|v| v == "1") {
        eprintln!("soak: logs kept in {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    let report = result?;
    write_outputs(&plan, &report)?;
    let failed: Vec<&str> = report
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| c.name.as_str())
        .collect();
    if failed.is_empty() {
        eprintln!("soak: PASS ({} checks)", report.checks.len());
        Ok(())
    } else {
        Err(format!("soak: FAIL: {}", failed.join("; ")))
    }
}

fn write_outputs(plan: &Plan, report: &SoakReport) -> Result<(), String> {
    let write = |name: &str, text: &str| {
        let path: PathBuf = plan.out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))
    };
    write("soak.json", &(report.to_json() + "\n"))?;
    write("soak.md", &report.to_markdown())?;
    eprint!("{}", report.summary());
    eprintln!(
        "soak: the whole report is in {}",
        plan.out.join("soak.md").display()
    );
    Ok(())
}

/// What is started before the publish phase.
struct Started {
    ringpin: Ringpin,
    backend: Backend,
    fleet: Fleet,
    counts: PublishedCounts,
}

fn run(plan: &Plan, dir: &Path, command: Vec<String>) -> Result<SoakReport, String> {
    let ports = crate::targets::free_ports(plan.base_port, 3)?;
    let state = dir.join("published");
    let counts = PublishedCounts::create(&state, plan.channels)
        .map_err(|e| format!("{}: {e}", state.display()))?;
    let mut backend = Backend::start(ports[2], &state, plan.size, dir)?;
    let ports = (ports[0], ports[1], ports[2]);
    let mut ringpin = match Ringpin::start(
        &plan.ringpin,
        &plan.ringpin_args,
        plan.origin_timeout,
        ports,
        dir,
    ) {
        Ok(r) => r,
        Err(e) => {
            backend.kill();
            return Err(e);
        }
    };
    let fleet = match Fleet::spawn(&worker_specs(plan, &ringpin)) {
        Ok(f) => f,
        Err(e) => {
            let _ = ringpin.stop();
            backend.kill();
            return Err(e);
        }
    };
    let mut started = Started {
        ringpin,
        backend,
        fleet,
        counts,
    };
    if let Err(e) = connect_phase(plan, &mut started) {
        started.fleet.abort();
        let _ = started.ringpin.stop();
        started.backend.kill();
        return Err(e);
    }
    soak(plan, started, command)
}

fn worker_specs(plan: &Plan, ringpin: &Ringpin) -> Vec<WorkerSpec> {
    let (each, extra) = (
        plan.subscribers / plan.workers,
        plan.subscribers % plan.workers,
    );
    let mut first = 0;
    (0..plan.workers)
        .map(|w| {
            let count = each + u64::from(w < extra);
            let spec = WorkerSpec {
                index: w,
                proxy: ringpin.proxy,
                first,
                count,
                channels: plan.channels,
                size: plan.size,
                seed: plan.seed,
                timeout_s: connect_wait(plan).as_secs() + plan.publish.as_secs() + 300,
            };
            first += count;
            spec
        })
        .collect()
}

/// Bound on connecting every subscriber: generous for a shared two-core machine.
fn connect_wait(plan: &Plan) -> Duration {
    Duration::from_secs(60 + plan.subscribers / 100)
}

/// Waits until every subscriber is held, and ringpin counts as many subscriptions.
fn connect_phase(plan: &Plan, s: &mut Started) -> Result<(), String> {
    let t = Instant::now();
    let n = plan.subscribers;
    let all_held = s.fleet.wait_until(t + connect_wait(plan), |f| {
        f.all_reporting() && f.total().active == n
    })?;
    if !all_held {
        return Err(format!(
            "only {} of {n} subscribers were held",
            s.fleet.total().active
        ));
    }
    eprintln!(
        "soak: {n} subscribers held in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let gauge_deadline = Instant::now() + GAUGE_WAIT;
    loop {
        let metrics = probes::control_request(s.ringpin.publish, "GET", "/metrics")?;
        let gauge = verdict::metric_sum(&metrics, "ringpin_subscriptions").unwrap_or(0);
        if gauge >= n {
            return Ok(());
        }
        if Instant::now() >= gauge_deadline {
            return Err(format!(
                "ringpin counts {gauge} subscriptions of {n} held subscribers"
            ));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The threads of the publish phase.
struct PhaseThreads {
    stop: Arc<AtomicBool>,
    sampler: JoinHandle<Vec<Sample>>,
    publisher: JoinHandle<PublishLog>,
    flood: JoinHandle<(u64, u64)>,
    faults: JoinHandle<(FaultLog, Backend)>,
}

/// Starts the publish phase's threads; returns them, and the moment of the first publish.
fn start_threads(plan: &Plan, s: Started) -> (PhaseThreads, Ringpin, Fleet, Instant) {
    let Started {
        ringpin,
        backend,
        fleet,
        counts,
    } = s;
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let pid = ringpin.pid;
    let stop_sampler = Arc::clone(&stop);
    let sampler = std::thread::spawn(move || sampler::run(pid, start, stop_sampler));
    let job = PublishJob {
        publish: ringpin.publish,
        channels: plan.channels,
        rate_per_s: plan.rate_per_s,
        size: plan.size,
        duration: plan.publish,
        counts,
    };
    let stop_publisher = Arc::clone(&stop);
    let publisher = std::thread::spawn(move || publish::run(job, start, &stop_publisher));
    let (flood_to, flood_until) = (ringpin.publish, start + plan.faults_end());
    let stop_flood = Arc::clone(&stop);
    let flood = std::thread::spawn(move || publish::flood(flood_to, flood_until, &stop_flood));
    let schedule = schedule::schedule(
        plan.seed,
        plan.warmup,
        plan.faults_end(),
        plan.fault_interval,
    );
    let ctx = FaultContext {
        plan: plan.clone(),
        commander: fleet.commander(),
        backend,
        routes: ringpin.routes(),
        proxy: ringpin.proxy,
        start,
        with_gone: false,
        next_worker: 0,
        stop: Arc::clone(&stop),
    };
    let faults = std::thread::spawn(move || faults::run(ctx, &schedule));
    let threads = PhaseThreads {
        stop,
        sampler,
        publisher,
        flood,
        faults,
    };
    (threads, ringpin, fleet, start)
}

/// What the publish phase and the drain produced.
struct Gathered {
    census_end: Option<Census>,
    published: PublishLog,
    faults: FaultLog,
    samples: Vec<Sample>,
    workers: Vec<WorkerReport>,
    end: EndState,
}

fn soak(plan: &Plan, s: Started, command: Vec<String>) -> Result<SoakReport, String> {
    let (threads, mut ringpin, mut fleet, start) = start_threads(plan, s);
    let watched = watch(plan, &mut fleet, start);
    if watched.is_err() {
        threads.stop.store(true, Ordering::Relaxed);
    }
    let published = threads
        .publisher
        .join()
        .map_err(|_| "the publisher panicked")?;
    let flood = threads
        .flood
        .join()
        .map_err(|_| "the flood thread panicked")?;
    let (fault_log, mut backend) = threads
        .faults
        .join()
        .map_err(|_| "the fault thread panicked")?;
    let drained = watched.and_then(|()| drain(&published, &mut fleet, &ringpin));
    threads.stop.store(true, Ordering::Relaxed);
    let samples = threads.sampler.join().map_err(|_| "the sampler panicked")?;
    let metrics = probes::control_request(ringpin.publish, "GET", "/metrics");
    let census_end = census::take(ringpin.pid, ringpin.proxy.port(), backend.port).ok();
    let workers = match &drained {
        Ok(_) => fleet.collect(Instant::now() + REPORT_WAIT),
        Err(e) => {
            fleet.abort();
            Err(e.clone())
        }
    };
    let running_at_end = ringpin.is_running();
    let stopped = ringpin.stop();
    backend.kill();
    let workers = workers?;
    let (status, clean) = stopped?;
    let gathered = Gathered {
        census_end,
        end: EndState {
            metrics,
            running_at_end,
            stopped_cleanly: clean && status.success(),
            exit: format!(
                "{status}{}",
                if clean { "" } else { " (not within the grace)" }
            ),
            publish_errors: published.errors,
            flood,
            drained: drained.unwrap_or(false),
        },
        published,
        faults: fault_log,
        samples,
        workers,
    };
    finish(plan, &ringpin, gathered, command)
}

/// Pumps worker lines until the publish phase ends, printing progress.
fn watch(plan: &Plan, fleet: &mut Fleet, start: Instant) -> Result<(), String> {
    let end = start + plan.publish;
    let mut next = start + PROGRESS_INTERVAL;
    while Instant::now() < end {
        fleet.wait_until(next.min(end), |_| false)?;
        let t = fleet.total();
        eprintln!(
            "soak: {:>5.0} s  held {}  connecting {}  reconnecting {}  slow readers {}",
            start.elapsed().as_secs_f64(),
            t.active,
            t.connecting,
            t.waiting,
            t.slow
        );
        next += PROGRESS_INTERVAL;
    }
    Ok(())
}

/// Sends every worker the finals, asks ringpin to re-request every long-poll, and waits
/// until no healthy subscriber lacks its channel's last item; true if none does.
fn drain(published: &PublishLog, fleet: &mut Fleet, ringpin: &Ringpin) -> Result<bool, String> {
    let channels = published
        .items
        .iter()
        .map(|p| p.channel + 1)
        .max()
        .unwrap_or(0);
    let mut finals = vec![(0u64, 0u64); channels as usize];
    for p in &published.items {
        finals[p.channel as usize] = (p.n, p.send_ns);
    }
    fleet.commander().broadcast(&Command::Final(finals))?;
    probes::control_request(ringpin.publish, "POST", "/recover")?;
    let t = Instant::now();
    // Two status rounds first, so every worker has judged against the finals.
    std::thread::sleep(Duration::from_millis(600));
    let drained = fleet.wait_until(t + DRAIN_MAX, |f| f.total().behind == 0)?;
    eprintln!(
        "soak: drain {} after {:.1} s ({} subscribers behind)",
        if drained { "complete" } else { "incomplete" },
        t.elapsed().as_secs_f64(),
        fleet.total().behind
    );
    Ok(drained)
}

fn finish(
    plan: &Plan,
    ringpin: &Ringpin,
    g: Gathered,
    command: Vec<String>,
) -> Result<SoakReport, String> {
    let log = verdict::summarize_log(&std::fs::read_to_string(&ringpin.log).unwrap_or_default());
    let tallies = verdict::deliveries(&g.published, &g.workers);
    let flat = verdict::flatness(
        &g.samples,
        (plan.warmup.as_secs_f64(), plan.publish.as_secs_f64()),
        plan.rss_growth_pct,
        (g.faults.census_before, g.census_end),
    );
    let faults_end_s = plan.faults_end().as_secs_f64();
    let checks = verdict::checks(&tallies, &flat, &g.faults, &log, &g.end, faults_end_s);
    let phases = Phases {
        warmup_end_s: plan.warmup.as_secs_f64(),
        faults_end_s: plan.faults_end().as_secs_f64(),
        fault_times_s: g.faults.records.iter().map(|r| r.at_s).collect(),
    };
    let rss = plot::time_series(
        &g.samples,
        |s| s.rss_bytes as f64 / (1024.0 * 1024.0),
        "ringpin RSS",
        "MiB",
        &phases,
    )?;
    let fds = plot::time_series(
        &g.samples,
        |s| s.fds as f64,
        "ringpin open descriptors",
        "descriptors",
        &phases,
    )?;
    for (name, svg) in [("rss.svg", rss), ("fds.svg", fds)] {
        let path = plan.out.join(name);
        std::fs::write(&path, svg).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(SoakReport::build(Evidence {
        plan,
        command,
        ringpin_command: ringpin.command.clone(),
        published: &g.published,
        workers: &g.workers,
        faults: &g.faults,
        samples: &g.samples,
        end: &g.end,
        log,
        tallies,
        flat,
        checks,
    }))
}
