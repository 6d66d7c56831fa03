//! Faults: the fault thread, which injects the scheduled faults one at a time and checks
//! ringpin's answer to each.
//!
//! Owns: carrying out each `FaultKind` — client disconnects and slow readers (through the
//! workers), backend restarts and hangs, SIGHUP with good and broken routes, malformed
//! input — the check that follows each, and the tally of what was injected.
//! Must not: start or stop ringpin, or judge deliveries.
//! Invariants: faults never overlap; none starts after the fault window ends; a hung
//! backend is always resumed, whatever happened meanwhile; slow readers still open are
//! closed when the window ends, so descriptors can settle before the last sample.

use std::collections::BTreeMap;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::census::{self, Census};
use super::fleet::Commander;
use super::plan::Plan;
use super::probes::{self, ProbeResult};
use super::processes::{self, Backend, RoutesHandle};
use super::schedule::{Fault, FaultKind};
use super::wire::Command;

/// How often a wait for the next fault looks at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(100);
/// How long the backend stays down when restarted.
const BACKEND_DOWN: Duration = Duration::from_secs(1);
/// How long a recovered backend, or a reloaded routes table, may take to show.
const RECOVERY_WAIT: Duration = Duration::from_secs(10);
/// After a broken reload: when ringpin's own file watcher has also read the file
/// (ringpin's 2 s settle time plus its 0.5 s poll, with room).
const WATCHER_READ_WAIT: Duration = Duration::from_millis(3500);

/// What one fault did and whether ringpin answered it as it must.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FaultRecord {
    /// Seconds since the first publish.
    pub(crate) at_s: f64,
    pub(crate) kind: FaultKind,
    pub(crate) detail: String,
    pub(crate) ok: bool,
}

/// Everything the fault thread did.
#[derive(Debug, Default)]
pub(crate) struct FaultLog {
    pub(crate) records: Vec<FaultRecord>,
    /// Every malformed input's result.
    pub(crate) probes: Vec<ProbeResult>,
    /// Counts of what was injected, by name.
    pub(crate) injected: BTreeMap<String, u64>,
    /// ringpin's descriptors just before the first fault.
    pub(crate) census_before: Option<Census>,
}

/// What the fault thread works with.
#[derive(Debug)]
pub(crate) struct FaultContext {
    pub(crate) plan: Plan,
    pub(crate) commander: Commander,
    pub(crate) backend: Backend,
    pub(crate) routes: RoutesHandle,
    pub(crate) proxy: SocketAddrV4,
    /// The first publish.
    pub(crate) start: Instant,
    /// Which routes variant is in force (see `processes::routes_text`).
    pub(crate) with_gone: bool,
    /// Round-robin position for slow readers and disconnect shares.
    pub(crate) next_worker: usize,
    /// Set when the run is ending early: no further fault starts.
    pub(crate) stop: Arc<AtomicBool>,
}

/// Runs `faults` in order; returns the log and the backend (to be stopped by the caller).
pub(crate) fn run(mut ctx: FaultContext, faults: &[Fault]) -> (FaultLog, Backend) {
    let mut log = FaultLog::default();
    let end = ctx.start + ctx.plan.faults_end();
    for fault in faults {
        let due = ctx.start + fault.at;
        while Instant::now() < due && !ctx.stop.load(Ordering::Relaxed) {
            std::thread::sleep(due.saturating_duration_since(Instant::now()).min(STOP_POLL));
        }
        if Instant::now() >= end || ctx.stop.load(Ordering::Relaxed) {
            break;
        }
        if log.census_before.is_none() {
            log.census_before =
                census::take(ctx.routes.pid, ctx.proxy.port(), ctx.backend.port).ok();
        }
        let at_s = ctx.start.elapsed().as_secs_f64();
        let (detail, ok) = match inject(&mut ctx, fault.kind, &mut log) {
            Ok(outcome) => outcome,
            Err(e) => (e, false),
        };
        *log.injected.entry(fault.kind.name().into()).or_default() += 1;
        log.records.push(FaultRecord {
            at_s,
            kind: fault.kind,
            detail,
            ok,
        });
    }
    if let Err(e) = ctx.commander.broadcast(&Command::CloseSlow) {
        log.records.push(FaultRecord {
            at_s: ctx.start.elapsed().as_secs_f64(),
            kind: FaultKind::SlowReaders,
            detail: format!("closing slow readers: {e}"),
            ok: false,
        });
    }
    (log, ctx.backend)
}

/// Injects one fault; its description and whether ringpin answered as it must.
fn inject(
    ctx: &mut FaultContext,
    kind: FaultKind,
    log: &mut FaultLog,
) -> Result<(String, bool), String> {
    match kind {
        FaultKind::Disconnect => disconnect(ctx, log),
        FaultKind::SlowReaders => {
            let k = ctx.plan.slow_per_fault;
            let w = ctx.next_worker % ctx.commander.workers().max(1);
            ctx.next_worker += 1;
            ctx.commander.send(w, &Command::Slow(k))?;
            *log.injected
                .entry("slow_readers_opened".into())
                .or_default() += k;
            Ok((format!("{k} slow readers on worker {w}"), true))
        }
        FaultKind::BackendRestart => backend_restart(ctx),
        FaultKind::BackendHang => backend_hang(ctx),
        FaultKind::HupGood => hup_good(ctx),
        FaultKind::HupBroken => hup_broken(ctx),
        FaultKind::Malformed => {
            let results = probes::malformed_inputs(ctx.proxy);
            let bad: Vec<String> = results
                .iter()
                .filter(|r| !r.ok)
                .map(|r| format!("{}: {}", r.name, r.outcome))
                .collect();
            let detail = format!(
                "{} inputs, {} answered wrongly {bad:?}",
                results.len(),
                bad.len()
            );
            for r in &results {
                let key = if r.name.starts_with("ws_") {
                    "broken_frames"
                } else {
                    "malformed_requests"
                };
                *log.injected.entry(key.into()).or_default() += 1;
            }
            log.probes.extend(results);
            Ok((detail, bad.is_empty()))
        }
    }
}

/// Splits the fault's disconnects over the workers, starting at a rotating one.
fn disconnect(ctx: &mut FaultContext, log: &mut FaultLog) -> Result<(String, bool), String> {
    let total = ctx.plan.disconnect_per_fault;
    let workers = ctx.commander.workers().max(1);
    let (each, extra) = (total / workers as u64, total % workers as u64);
    for j in 0..workers {
        let w = (ctx.next_worker + j) % workers;
        let k = each + u64::from((j as u64) < extra);
        if k > 0 {
            ctx.commander.send(w, &Command::Disconnect(k))?;
        }
    }
    ctx.next_worker += 1;
    *log.injected
        .entry("subscribers_disconnected".into())
        .or_default() += total;
    Ok((format!("{total} subscribers, half RST, half FIN"), true))
}

fn backend_restart(ctx: &mut FaultContext) -> Result<(String, bool), String> {
    ctx.backend.kill();
    std::thread::sleep(BACKEND_DOWN);
    ctx.backend.restart()?;
    let t = Instant::now();
    let back = processes::wait_for_status(ctx.proxy, "/probe", 200, RECOVERY_WAIT);
    let detail = format!(
        "down {} s; requests through ringpin answered again after {} ms",
        BACKEND_DOWN.as_secs(),
        t.elapsed().as_millis()
    );
    Ok((detail, back))
}

fn backend_hang(ctx: &mut FaultContext) -> Result<(String, bool), String> {
    ctx.backend.hang()?;
    let t = Instant::now();
    let status = probes::get_status(
        ctx.proxy,
        "/probe",
        ctx.plan.origin_timeout + probes::PROBE_TIMEOUT,
    );
    let waited = t.elapsed();
    std::thread::sleep((t + ctx.plan.hang).saturating_duration_since(Instant::now()));
    let resumed = ctx.backend.resume();
    let back = processes::wait_for_status(ctx.proxy, "/probe", 200, RECOVERY_WAIT);
    resumed?;
    let detail = format!(
        "hung {:.1} s; a request meanwhile got {status} after {:.1} s (origin timeout {} s); answered again after: {back}",
        ctx.plan.hang.as_secs_f64(),
        waited.as_secs_f64(),
        ctx.plan.origin_timeout.as_secs()
    );
    // 504: the request reached the hung backend and ringpin gave up after the origin
    // timeout. 503: every origin socket the shard may use was already stuck on the hung
    // backend, and the request gave up waiting for one after the same timeout (README).
    Ok((detail, matches!(status, 503 | 504) && back))
}

/// `GET /gone` answers 502 with the `/gone` route (nothing listens there), else the
/// backend's 404.
fn gone_status(with_gone: bool) -> u16 {
    if with_gone {
        502
    } else {
        404
    }
}

fn hup_good(ctx: &mut FaultContext) -> Result<(String, bool), String> {
    ctx.with_gone = !ctx.with_gone;
    let port = ctx.backend.port;
    ctx.routes
        .write(&processes::routes_text(port, ctx.with_gone))?;
    ctx.routes.hup()?;
    let want = gone_status(ctx.with_gone);
    let applied = processes::wait_for_status(ctx.proxy, "/gone", want, RECOVERY_WAIT);
    let detail = format!(
        "routes {} a /gone route; GET /gone {} {want}",
        if ctx.with_gone { "with" } else { "without" },
        if applied {
            "answered"
        } else {
            "never answered"
        }
    );
    Ok((detail, applied))
}

fn hup_broken(ctx: &mut FaultContext) -> Result<(String, bool), String> {
    let refused_before = ctx.routes.refused_reloads();
    ctx.routes.write(processes::BROKEN_ROUTES)?;
    ctx.routes.hup()?;
    // ringpin says it refused the reload; only then does the old table prove anything.
    let deadline = Instant::now() + RECOVERY_WAIT;
    while ctx.routes.refused_reloads() == refused_before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let refused = ctx.routes.refused_reloads() > refused_before;
    let after_hup = probes::get_status(ctx.proxy, "/gone", probes::PROBE_TIMEOUT);
    std::thread::sleep(WATCHER_READ_WAIT);
    let after_watch = probes::get_status(ctx.proxy, "/gone", probes::PROBE_TIMEOUT);
    let probe = probes::get_status(ctx.proxy, "/probe", probes::PROBE_TIMEOUT);
    let port = ctx.backend.port;
    ctx.routes
        .write(&processes::routes_text(port, ctx.with_gone))?;
    let want = gone_status(ctx.with_gone);
    let kept = refused && after_hup == want && after_watch == want && probe == 200;
    let detail = format!(
        "ringpin logged the refusal: {refused}; GET /gone answered {after_hup} after it and {after_watch} after the file watcher (old routes: {want}); GET /probe {probe}"
    );
    Ok((detail, kept))
}
