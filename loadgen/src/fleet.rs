//! Fleet: the worker processes of one run, seen from the coordinator.
//!
//! Owns: spawning workers by re-executing this binary (`ringpin-loadgen worker …`), one
//! reader thread per worker stdout, and the latest state each worker reported.
//! Must not: publish or measure the proxy (coordinator.rs does).
//! Invariants: only children this fleet spawned are ever killed, by their own handle;
//! a worker that reports an error or exits early fails the run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::protocol::{WorkerLine, WorkerReport};
use crate::scenario::WorkerSpec;

/// What one worker has reported so far.
#[derive(Debug, Default, Clone)]
pub struct WorkerState {
    /// Clients opened, held, failed (connect phase).
    pub progress: (u64, u64, u64),
    /// `held` line: held, failed, start_ns, end_ns.
    pub held: Option<(u64, u64, u64, u64)>,
    /// Unique messages received, live clients.
    pub recv: Option<(u64, u64)>,
    /// Highest message every live client has.
    pub done: u64,
    /// Final report.
    pub report: Option<WorkerReport>,
    /// Its stdout closed.
    pub exited: bool,
}

/// Why a wait ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitEnd {
    /// The condition held.
    Met,
    /// The run deadline passed.
    Deadline,
    /// Nothing changed for the idle limit.
    Idle,
}

/// The running workers.
#[derive(Debug)]
pub struct Fleet {
    children: Vec<Child>,
    stdins: Vec<Option<ChildStdin>>,
    rx: Receiver<(usize, Option<String>)>,
    /// Per-worker state, indexed like the specs.
    pub states: Vec<WorkerState>,
    last_change: Instant,
}

impl Fleet {
    /// Spawns one worker process per spec.
    pub fn spawn(specs: &[WorkerSpec]) -> Result<Fleet, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let mut fleet = Fleet {
            children: Vec::new(),
            stdins: Vec::new(),
            rx,
            states: vec![WorkerState::default(); specs.len()],
            last_change: Instant::now(),
        };
        for (i, spec) in specs.iter().enumerate() {
            let mut child = Command::new(&exe)
                .arg("worker")
                .args(spec.to_argv())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("spawn worker {i}: {e}"))?;
            let stdout = child.stdout.take().expect("stdout was piped");
            fleet.stdins.push(child.stdin.take());
            fleet.children.push(child);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send((i, Some(line))).is_err() {
                        return;
                    }
                }
                let _ = tx.send((i, None));
            });
        }
        Ok(fleet)
    }

    /// Handles one worker line, or returns after `until`.
    fn pump(&mut self, until: Instant) -> Result<(), String> {
        let wait = until.saturating_duration_since(Instant::now());
        let (i, line) = match self.rx.recv_timeout(wait) {
            Ok(x) => x,
            Err(RecvTimeoutError::Timeout) => return Ok(()),
            Err(RecvTimeoutError::Disconnected) => return Err("all workers are gone".into()),
        };
        let state = &mut self.states[i];
        let Some(line) = line else {
            state.exited = true;
            return match state.report {
                Some(_) => Ok(()),
                None => Err(format!("worker {i} exited without a report")),
            };
        };
        match WorkerLine::parse(&line).map_err(|e| format!("worker {i}: {e}"))? {
            WorkerLine::Progress {
                opened,
                held,
                failed,
            } => state.progress = (opened, held, failed),
            WorkerLine::Held {
                held,
                failed,
                start_ns,
                end_ns,
            } => {
                state.progress.1 = held;
                state.progress.2 = failed;
                state.held = Some((held, failed, start_ns, end_ns));
            }
            WorkerLine::Recv { received, live } => state.recv = Some((received, live)),
            WorkerLine::Done { seq } => state.done = seq,
            WorkerLine::Report(r) => state.report = Some(*r),
            WorkerLine::Error(e) => return Err(format!("worker {i}: {e}")),
        }
        self.last_change = Instant::now();
        Ok(())
    }

    /// Pumps worker lines until `cond` holds, the deadline passes, or (with `idle`)
    /// nothing has changed for that long. `on_tick` runs at least every 100 ms.
    pub fn wait_until(
        &mut self,
        deadline: Instant,
        idle: Option<Duration>,
        cond: impl Fn(&Fleet) -> bool,
        mut on_tick: impl FnMut(&Fleet),
    ) -> Result<WaitEnd, String> {
        let tick = Duration::from_millis(100);
        loop {
            if cond(self) {
                return Ok(WaitEnd::Met);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(WaitEnd::Deadline);
            }
            if idle.is_some_and(|limit| now.duration_since(self.last_change) >= limit) {
                return Ok(WaitEnd::Idle);
            }
            self.pump(deadline.min(now + tick))?;
            on_tick(self);
        }
    }

    /// Treats "now" as a change, so an idle limit counts from here.
    pub fn touch(&mut self) {
        self.last_change = Instant::now();
    }

    /// Process ids of the workers (to measure the load generator's own CPU).
    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(Child::id).collect()
    }

    /// True when every worker finished its connect phase.
    pub fn all_held(&self) -> bool {
        self.states.iter().all(|s| s.held.is_some())
    }

    /// Sum of held and failed clients (latest progress).
    pub fn held_failed(&self) -> (u64, u64) {
        self.states
            .iter()
            .fold((0, 0), |(h, f), s| (h + s.progress.1, f + s.progress.2))
    }

    /// Live held clients (held minus later disconnects), from the latest lines.
    pub fn live(&self) -> u64 {
        self.states
            .iter()
            .map(|s| s.recv.map_or(s.progress.1, |r| r.1))
            .sum()
    }

    /// Highest message that every worker reports as done.
    pub fn min_done(&self) -> u64 {
        self.states.iter().map(|s| s.done).min().unwrap_or(0)
    }

    /// Asks every worker for its report and collects them (bounded by `deadline`);
    /// children that do not answer are killed.
    pub fn collect_reports(&mut self, deadline: Instant) -> Result<Vec<WorkerReport>, String> {
        for stdin in self.stdins.iter_mut().flatten() {
            let _ = stdin.write_all(b"report\n").and_then(|()| stdin.flush());
        }
        let done = |f: &Fleet| f.states.iter().all(|s| s.report.is_some() || s.exited);
        let end = self.wait_until(deadline, None, done, |_| {});
        self.stdins.clear();
        for child in &mut self.children {
            if end != Ok(WaitEnd::Met) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        end?;
        self.states
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.report
                    .clone()
                    .ok_or_else(|| format!("worker {i} sent no report"))
            })
            .collect()
    }

    /// Kills and reaps every worker of this fleet (after a fatal error).
    pub fn abort(&mut self) {
        self.stdins.clear();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
