//! Coordinator: one `run` from start to report.
//!
//! Owns: the run's phases — sample the proxy, spawn workers, wait until every client is
//! held (and, where the proxy exposes `ringpin_subscriptions`, until the proxy agrees; with
//! `--publish-via zmq-sub`, also until the XPUB has seen every instance with subscribers
//! subscribe), publish, wait for the deliveries, gather and merge the workers' reports.
//! Must not: open subscriber sockets (workers do) or format figures (report.rs does).
//! Invariants: the whole run is bounded by `--timeout-s`; on timeout it reports what
//! arrived and exits nonzero. Proxy CPU is sampled just before the first publish and when
//! the last delivery is known to have arrived.

use std::time::{Duration, Instant};

use base64::Engine;
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::clock;
use crate::fleet::{Fleet, WaitEnd};
use crate::message;
use crate::procstat::{self, Sample};
use crate::progress::Progress;
use crate::protocol::WorkerReport;
use crate::publish_plan::{self, PublishPlan};
use crate::publisher::{PublishUrl, Publisher};
use crate::report::{ProxySample, PublishOutcome, Report, RunResult};
use crate::scenario::{Mode, PublishVia, Scenario};
use crate::sustained::{self, SustainedTotals};
use crate::tnetstring;
use crate::worker::LATENCY_US_MAX;
use crate::xpub_subscriptions::SubscribeWait;
use crate::zmq_publisher::ZmqPublisher;

/// After the last publish (and between long-poll rounds), stop waiting once no delivery
/// has arrived for this long: the rest are lost, and waiting longer will not find them.
const DELIVERY_IDLE_LIMIT: Duration = Duration::from_secs(5);
/// How often the proxy's subscription gauge is polled.
const SUBSCRIPTIONS_POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Longest wait for the proxy's gauge to reach the held count before publishing anyway.
const SUBSCRIPTIONS_WAIT_MAX: Duration = Duration::from_secs(30);
/// Longest wait for a proxy's subscription gauge to settle before a run starts.
const BASELINE_WAIT_MAX: Duration = Duration::from_secs(15);
/// The gauge counts as settled when it has not changed for this long.
const BASELINE_STABLE_FOR: Duration = Duration::from_millis(500);
/// Time the workers get to send their reports.
const REPORT_WAIT: Duration = Duration::from_secs(15);
/// Longest wait for the XPUB to see every expected subscription before publishing anyway.
const ZMQ_SUBSCRIBE_WAIT_MAX: Duration = Duration::from_secs(30);

/// The publish side: one keep-alive publisher per URL (always: the gauge is read there),
/// and the ZeroMQ sockets when messages go that way.
struct Publishers {
    list: Vec<Publisher>,
    /// The channels and each message's POSTs.
    plan: PublishPlan,
    /// PUSH sockets from the start (`zmq-push`), or the XPUB once every client is held
    /// (`zmq-sub`).
    zmq: Option<ZmqPublisher>,
    /// All endpoints expose `ringpin_subscriptions`.
    has_gauge: bool,
    /// Subscriptions the proxy held before this run's clients connected.
    baseline: u64,
}

impl Publishers {
    /// Connects to every publish URL and, for `zmq-push`, every PULL input, so those
    /// connections are up before the first publish; the XPUB connects later (connect_xpub).
    fn connect(s: &Scenario) -> Result<Publishers, String> {
        let mut list = Vec::new();
        for url in &s.publish_urls {
            list.push(Publisher::new(PublishUrl::parse(url)?));
        }
        let zmq = match s.publish_via {
            PublishVia::ZmqPush => {
                Some(ZmqPublisher::connect_push(&s.zmq_specs).map_err(|e| e.to_string())?)
            }
            PublishVia::Http | PublishVia::ZmqSub => None,
        };
        let mut p = Publishers {
            list,
            plan: PublishPlan::new(s)?,
            zmq,
            has_gauge: true,
            baseline: 0,
        };
        p.has_gauge = p.subscriptions()?.is_some();
        Ok(p)
    }

    /// Sum of the gauge over all endpoints; `None` if any lacks it.
    fn subscriptions(&mut self) -> Result<Option<u64>, String> {
        let mut sum = 0;
        for p in &mut self.list {
            match p.subscriptions()? {
                Some(n) => sum += n,
                None => return Ok(None),
            }
        }
        Ok(Some(sum))
    }

    /// Endpoints whose gauge is above zero; `None` without the gauge.
    fn instances_with_subscriptions(&mut self) -> Result<Option<u64>, String> {
        let mut count = 0;
        for p in &mut self.list {
            match p.subscriptions()? {
                Some(n) => count += u64::from(n > 0),
                None => return Ok(None),
            }
        }
        Ok(Some(count))
    }

    /// With `zmq-sub`, connects the XPUB and waits until every instance with subscribers
    /// (every spec, without the gauge) has subscribed on it; `None` otherwise.
    fn connect_xpub(
        &mut self,
        s: &Scenario,
        deadline: Instant,
    ) -> Result<Option<SubscribeWait>, String> {
        if s.publish_via != PublishVia::ZmqSub {
            return Ok(None);
        }
        let expected = match self.instances_with_subscriptions()? {
            Some(n) => n,
            None => s.zmq_specs.len() as u64,
        };
        let xpub = ZmqPublisher::connect_xpub(&s.zmq_specs).map_err(|e| e.to_string())?;
        let zmq = self.zmq.insert(xpub);
        let give_up = deadline.min(Instant::now() + ZMQ_SUBSCRIBE_WAIT_MAX);
        let wait = zmq
            .wait_subscribed(&s.channel, expected, give_up)
            .map_err(|e| e.to_string())?;
        let ms = wait.waited.as_secs_f64() * 1e3;
        if wait.peers < wait.expected {
            eprintln!(
                "warning: the XPUB saw {} of {} instance(s) subscribe to {} within {ms:.0} ms; publishing anyway",
                wait.peers, wait.expected, s.channel
            );
        } else {
            eprintln!(
                "zmq-sub: {} instance(s) subscribed to {} {ms:.1} ms after the XPUB connected",
                wait.peers, s.channel
            );
        }
        Ok(Some(wait))
    }

    /// Items handed over per message: one per channel to each URL (in however many POSTs),
    /// one send per channel per PUSH socket, one XPUB send.
    fn items_per_message(&self, s: &Scenario) -> u64 {
        match s.publish_via {
            PublishVia::Http => self.list.len() as u64 * s.channels,
            PublishVia::ZmqPush => s.zmq_specs.len() as u64 * s.channels,
            PublishVia::ZmqSub => 1,
        }
    }

    /// Publishes message `seq` on the ZeroMQ sockets (one item per channel, each stamped
    /// just before its send), or else to every endpoint as the plan's POSTs, one after
    /// another, each POST's items stamped just before it is built and its round trip
    /// recorded; returns the first stamp (the message's send time for time-to-last-delivery).
    fn publish(&mut self, s: &Scenario, seq: u64, out: &mut PublishOutcome) -> Result<u64, String> {
        let mut first_ns = 0;
        if let Some(zmq) = &mut self.zmq {
            for name in self.plan.names() {
                let send_ns = clock::now_ns();
                let stream = message::encode_framed(seq, send_ns, s.size, s.mode.framing());
                let line = message::encode(seq, send_ns, s.size);
                let item = tnetstring::publish_item(name, &stream, &line);
                zmq.publish(name, &item).map_err(|e| e.to_string())?;
                if first_ns == 0 {
                    first_ns = send_ns;
                }
            }
            return Ok(first_ns);
        }
        for p in &mut self.list {
            for post in self.plan.posts() {
                let send_ns = clock::now_ns();
                let body = self
                    .plan
                    .body(post.clone(), &publish_plan::formats(s, seq, send_ns))?;
                let (sent, sent_at) = (Instant::now(), std::time::SystemTime::now());
                let answer = p.publish(&body)?;
                out.record_round_trip(sent.elapsed());
                // A stamp before the write began (a clock step) is not recorded.
                if let Some(took) = answer.arrived.and_then(|t| t.duration_since(sent_at).ok()) {
                    out.record_answered(took);
                }
                if first_ns == 0 {
                    first_ns = send_ns;
                }
            }
        }
        Ok(first_ns)
    }

    /// Records the subscriptions the proxy holds before any client of this run connects.
    /// A proxy still closing a previous run's clients counts them for a while, which would
    /// let the gauge reach the held count early, so wait until it stops changing.
    fn measure_baseline(&mut self, deadline: Instant) -> Result<(), String> {
        if !self.has_gauge {
            return Ok(());
        }
        let give_up = deadline.min(Instant::now() + BASELINE_WAIT_MAX);
        let mut last = self.subscriptions()?.unwrap_or(0);
        while last != 0 && Instant::now() < give_up {
            std::thread::sleep(BASELINE_STABLE_FOR);
            let now = self.subscriptions()?.unwrap_or(0);
            if now == last {
                break;
            }
            last = now;
        }
        if last != 0 {
            eprintln!(
                "note: the proxy already holds {last} subscriptions; counting this run's on top"
            );
        }
        self.baseline = last;
        Ok(())
    }

    /// Waits until the proxy holds `target` subscriptions on top of the baseline
    /// (no-op without the gauge).
    fn wait_subscribed(&mut self, target: u64, deadline: Instant) -> Result<(), String> {
        if !self.has_gauge {
            return Ok(());
        }
        let target = self.baseline + target;
        let give_up = deadline.min(Instant::now() + SUBSCRIPTIONS_WAIT_MAX);
        loop {
            let n = self.subscriptions()?.unwrap_or(0);
            if n >= target {
                return Ok(());
            }
            if Instant::now() >= give_up {
                eprintln!("warning: proxy reports {n} subscriptions, {target} clients held; publishing anyway");
                return Ok(());
            }
            std::thread::sleep(SUBSCRIPTIONS_POLL_INTERVAL);
        }
    }
}

/// What the publish phase measured.
struct PublishPhase {
    send_ns: Vec<u64>,
    start_ns: u64,
    publish: PublishOutcome,
    cpu_us: Option<u64>,
    loadgen_cpu_us: Option<u64>,
    timed_out: bool,
    /// `--rate` runs: what the publisher threads did.
    sustained: Option<SustainedTotals>,
}

impl PublishPhase {
    fn new(
        s: &Scenario,
        start_ns: u64,
        subscribe: Option<SubscribeWait>,
        timed_out: bool,
    ) -> PublishPhase {
        PublishPhase {
            send_ns: vec![0; s.messages as usize],
            start_ns,
            publish: PublishOutcome::new(s.publish_via, subscribe),
            cpu_us: None,
            loadgen_cpu_us: None,
            timed_out,
            sustained: None,
        }
    }
}

/// Runs a whole scenario; returns the process exit code.
pub fn run(s: &Scenario, command: Vec<String>) -> i32 {
    match run_inner(s, command) {
        Ok(report) => {
            print!("{}", report.to_table());
            if s.markdown {
                println!("{}", report.to_markdown_row());
            }
            if let Some(path) = &s.json_path {
                if let Err(e) = std::fs::write(path, report.to_json() + "\n") {
                    eprintln!("error: writing {}: {e}", path.display());
                    return 1;
                }
            }
            i32::from(!report.is_clean())
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn sample_proxy(s: &Scenario) -> Result<Option<Sample>, String> {
    if s.proxy_pids.is_empty() {
        return Ok(None);
    }
    procstat::sample(&s.proxy_pids).map(Some)
}

fn run_inner(s: &Scenario, command: Vec<String>) -> Result<Report, String> {
    let deadline = Instant::now() + Duration::from_secs(s.timeout_s);
    let mut publishers = Publishers::connect(s)?;
    if !publishers.has_gauge {
        eprintln!("note: no ringpin_subscriptions gauge at the publish URL; waiting {} ms after held instead", s.settle_ms);
    }
    publishers.measure_baseline(deadline)?;
    let before = sample_proxy(s)?;
    let mut fleet = Fleet::spawn(&s.worker_specs())?;
    let result = drive(s, &mut fleet, &mut publishers, deadline, before);
    if result.is_err() {
        fleet.abort();
    }
    Ok(Report::build(s, command, &result?))
}

fn drive(
    s: &Scenario,
    fleet: &mut Fleet,
    publishers: &mut Publishers,
    deadline: Instant,
    before: Option<Sample>,
) -> Result<RunResult, String> {
    let mut progress = Progress::new(s.clients);
    let connected = fleet.wait_until(deadline, None, Fleet::all_held, |f| {
        let (held, failed) = f.held_failed();
        progress.update(held, failed);
    })?;
    let (held, failed) = fleet.held_failed();
    progress.finish(held, failed);
    let mut phase = PublishPhase::new(s, 0, None, true);
    let mut held_sample = None;
    if connected == WaitEnd::Met {
        wait_held_by_proxy(s, publishers, held, deadline)?;
        let subscribe = publishers.connect_xpub(s, deadline)?;
        held_sample = sample_proxy(s)?;
        phase = publish_phase(s, fleet, publishers, deadline, subscribe)?;
    }
    let reports = fleet.collect_reports(Instant::now() + REPORT_WAIT)?;
    let proxy = match (before, held_sample) {
        (Some(b), Some(h)) => Some(ProxySample {
            pids: s.proxy_pids.clone(),
            cpu_us_total: phase.cpu_us.unwrap_or(0),
            rss_bytes_before_connect: b.rss_bytes,
            rss_bytes_held: h.rss_bytes,
        }),
        _ => None,
    };
    merge(&reports, phase, proxy)
}

/// Waits until the proxy holds `target` subscriptions, or (without the gauge) settles.
fn wait_held_by_proxy(
    s: &Scenario,
    p: &mut Publishers,
    target: u64,
    deadline: Instant,
) -> Result<(), String> {
    if p.has_gauge {
        p.wait_subscribed(target, deadline)
    } else {
        std::thread::sleep(Duration::from_millis(s.settle_ms));
        Ok(())
    }
}

fn publish_phase(
    s: &Scenario,
    fleet: &mut Fleet,
    p: &mut Publishers,
    deadline: Instant,
    subscribe: Option<SubscribeWait>,
) -> Result<PublishPhase, String> {
    let loadgen_before = procstat::sample(&fleet.pids()).ok();
    let cpu_before = sample_proxy(s)?;
    let mut phase = PublishPhase::new(s, clock::now_ns(), subscribe, false);
    if s.publish_via == PublishVia::Http {
        phase.publish.items_per_post = p.plan.items_per_post_max() as u64;
        phase.publish.posts_per_message = p.plan.posts().len() as u64;
    }
    let published = match s.rate {
        Some(_) => publish_sustained(s, p, deadline, &mut phase)?,
        None => publish_all(s, fleet, p, deadline, &mut phase)?,
    };
    if !published {
        phase.timed_out = true;
        return Ok(phase);
    }
    fleet.touch();
    let end = fleet.wait_until(
        deadline,
        Some(DELIVERY_IDLE_LIMIT),
        |f| f.min_done() >= s.messages,
        |_| {},
    )?;
    phase.timed_out = end == WaitEnd::Deadline;
    if end == WaitEnd::Idle {
        eprintln!(
            "warning: no delivery for {} s after the last publish; some were lost",
            DELIVERY_IDLE_LIMIT.as_secs()
        );
    }
    let cpu_after = sample_proxy(s)?;
    if let (Some(a), Some(b)) = (cpu_before, cpu_after) {
        phase.cpu_us = Some(b.cpu_us.saturating_sub(a.cpu_us));
    }
    if let (Some(a), Ok(b)) = (loadgen_before, procstat::sample(&fleet.pids())) {
        phase.loadgen_cpu_us = Some(b.cpu_us.saturating_sub(a.cpu_us));
    }
    Ok(phase)
}

/// Publishes every message, `--interval-ms` apart, and records when the last one returned;
/// false when a long-poll round ran into the deadline.
fn publish_all(
    s: &Scenario,
    fleet: &mut Fleet,
    p: &mut Publishers,
    deadline: Instant,
    phase: &mut PublishPhase,
) -> Result<bool, String> {
    let interval = Duration::from_millis(s.interval_ms);
    let items_per_message = p.items_per_message(s);
    let mut last_start = Instant::now();
    for seq in 1..=s.messages {
        if seq > 1 && s.mode == Mode::Longpoll {
            // Each long-poll response ends a subscription; wait for every client to have
            // re-polled and the proxy to hold it again, or the next publish finds no one.
            fleet.touch();
            let end = fleet.wait_until(
                deadline,
                Some(DELIVERY_IDLE_LIMIT),
                |f| f.min_done() >= seq - 1,
                |_| {},
            )?;
            if end == WaitEnd::Deadline {
                return Ok(false);
            }
            wait_held_by_proxy(s, p, fleet.live(), deadline)?;
        }
        let next = if seq > 1 {
            last_start + interval
        } else {
            last_start
        };
        if next >= deadline {
            // The next publish would start after the deadline; the final wait reports
            // the timeout with what arrived.
            break;
        }
        std::thread::sleep(next.saturating_duration_since(Instant::now()));
        last_start = Instant::now();
        phase.send_ns[seq as usize - 1] = p.publish(s, seq, &mut phase.publish)?;
        phase.publish.items += items_per_message;
        phase.publish.end_ns = clock::now_ns();
    }
    Ok(true)
}

/// The sustained mode: the publisher threads run the whole schedule; false when the
/// deadline stopped them.
fn publish_sustained(
    s: &Scenario,
    p: &Publishers,
    deadline: Instant,
    phase: &mut PublishPhase,
) -> Result<bool, String> {
    let out = sustained::run(s, p.plan.names(), deadline)?;
    phase.start_ns = out.totals.start_ns;
    phase.send_ns = out.first_send_ns;
    phase.publish = out.publish;
    phase.sustained = Some(out.totals);
    Ok(!out.totals.stopped_early)
}

fn decode_histogram(b64: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| format!("histogram base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram: {e:?}"))
}

/// Merges the workers' reports into one result.
fn merge(
    reports: &[WorkerReport],
    phase: PublishPhase,
    proxy: Option<ProxySample>,
) -> Result<RunResult, String> {
    let mut latency_us =
        Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).map_err(|e| format!("histogram: {e}"))?;
    let mut last_recv_ns = vec![0u64; phase.send_ns.len()];
    let sum = |f: fn(&WorkerReport) -> u64| reports.iter().map(f).sum::<u64>();
    for r in reports {
        latency_us
            .add(decode_histogram(&r.latency_us_hist)?)
            .map_err(|e| format!("histogram merge: {e:?}"))?;
        for (m, &t) in last_recv_ns.iter_mut().zip(&r.last_recv_ns) {
            *m = (*m).max(t);
        }
    }
    let start = reports
        .iter()
        .map(|r| r.connect_start_ns)
        .min()
        .unwrap_or(0);
    let end = reports.iter().map(|r| r.connect_end_ns).max().unwrap_or(0);
    Ok(RunResult {
        workers: reports.len() as u64,
        connect_seconds: end.saturating_sub(start) as f64 / 1e9,
        held: sum(|r| r.held),
        failed: sum(|r| r.failed),
        disconnects: sum(|r| r.disconnects),
        received: sum(|r| r.received),
        duplicated: sum(|r| r.duplicated),
        reordered: sum(|r| r.reordered),
        malformed: sum(|r| r.malformed),
        tls_handshake_failures: sum(|r| r.tls_handshake_failures),
        tls_negotiated: reports.iter().find_map(|r| r.tls_negotiated.clone()),
        latency_us,
        send_ns: phase.send_ns,
        last_recv_ns,
        publish_start_ns: phase.start_ns,
        publish: phase.publish,
        sustained: phase.sustained,
        loadgen_cpu_us: phase.loadgen_cpu_us,
        proxy,
        timed_out: phase.timed_out || reports.iter().any(|r| r.timed_out),
    })
}
