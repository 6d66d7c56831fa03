//! Fleet (soak): the worker processes, seen from the controller.
//!
//! Owns: spawning workers by re-executing this binary (`ringpin-loadgen soak-worker …`), one
//! reader thread per worker's stdout, the latest status of each, and the command pipes,
//! which the fault thread shares through a [`Commander`].
//! Must not: publish or judge (the controller does).
//! Invariants: only children this fleet spawned are ever killed, by their own handle; a
//! worker that reports an error or exits without a report fails the run.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command as Process, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::wire::{Command, WorkerLine, WorkerReport};
use super::worker::WorkerSpec;

/// A worker's latest `status` line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Status {
    pub(crate) active: u64,
    pub(crate) connecting: u64,
    pub(crate) waiting: u64,
    pub(crate) slow: u64,
    pub(crate) behind: u64,
}

/// What one worker has said so far.
#[derive(Debug, Default)]
struct WorkerState {
    status: Option<Status>,
    report: Option<WorkerReport>,
    exited: bool,
}

/// Sends commands to the workers; cheap to clone and share with the fault thread.
#[derive(Debug, Clone)]
pub(crate) struct Commander {
    stdins: Arc<Mutex<Vec<Option<ChildStdin>>>>,
}

impl Commander {
    /// Sends `command` to worker `w`.
    pub(crate) fn send(&self, w: usize, command: &Command) -> Result<(), String> {
        let mut stdins = self.stdins.lock().map_err(|_| "worker pipes poisoned")?;
        let stdin = stdins
            .get_mut(w)
            .and_then(Option::as_mut)
            .ok_or_else(|| format!("worker {w} has no command pipe"))?;
        stdin
            .write_all(command.encode().as_bytes())
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("worker {w}: {e}"))
    }

    /// Sends `command` to every worker.
    pub(crate) fn broadcast(&self, command: &Command) -> Result<(), String> {
        (0..self.workers()).try_for_each(|w| self.send(w, command))
    }

    /// How many workers there are.
    pub(crate) fn workers(&self) -> usize {
        self.stdins.lock().map_or(0, |s| s.len())
    }

    fn close_all(&self) {
        if let Ok(mut stdins) = self.stdins.lock() {
            stdins.iter_mut().for_each(|s| *s = None);
        }
    }
}

/// The running workers.
#[derive(Debug)]
pub(crate) struct Fleet {
    children: Vec<Child>,
    commander: Commander,
    rx: Receiver<(usize, Option<String>)>,
    states: Vec<WorkerState>,
}

impl Fleet {
    /// Spawns one worker process per spec.
    pub(crate) fn spawn(specs: &[WorkerSpec]) -> Result<Fleet, String> {
        let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
        let (tx, rx) = mpsc::channel();
        let mut children = Vec::new();
        let mut stdins = Vec::new();
        for (i, spec) in specs.iter().enumerate() {
            let mut child = Process::new(&exe)
                .arg("soak-worker")
                .args(spec.to_argv())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| format!("spawn worker {i}: {e}"))?;
            let stdout = child.stdout.take().expect("stdout was piped");
            stdins.push(child.stdin.take());
            children.push(child);
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
        Ok(Fleet {
            states: specs.iter().map(|_| WorkerState::default()).collect(),
            commander: Commander {
                stdins: Arc::new(Mutex::new(stdins)),
            },
            children,
            rx,
        })
    }

    /// A handle to send commands with.
    pub(crate) fn commander(&self) -> Commander {
        self.commander.clone()
    }

    /// Handles one worker line, or returns at `until`.
    fn pump(&mut self, until: Instant) -> Result<(), String> {
        let wait = until.saturating_duration_since(Instant::now());
        let (i, line) = match self.rx.recv_timeout(wait) {
            Ok(x) => x,
            Err(RecvTimeoutError::Timeout) => return Ok(()),
            Err(RecvTimeoutError::Disconnected) => {
                if self.states.iter().all(|s| s.exited && s.report.is_some()) {
                    // Every worker reported and exited; wait out the rest as asked.
                    std::thread::sleep(wait);
                    return Ok(());
                }
                return Err("all workers are gone".into());
            }
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
            WorkerLine::Status {
                active,
                connecting,
                waiting,
                slow,
                behind,
            } => {
                state.status = Some(Status {
                    active,
                    connecting,
                    waiting,
                    slow,
                    behind,
                })
            }
            WorkerLine::Report(r) => state.report = Some(*r),
            WorkerLine::Error(e) => return Err(format!("worker {i}: {e}")),
        }
        Ok(())
    }

    /// Handles worker lines until `cond` holds (true) or `deadline` passes (false).
    pub(crate) fn wait_until(
        &mut self,
        deadline: Instant,
        cond: impl Fn(&Fleet) -> bool,
    ) -> Result<bool, String> {
        loop {
            if cond(self) {
                return Ok(true);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(false);
            }
            self.pump(deadline.min(now + Duration::from_millis(100)))?;
        }
    }

    /// The sum of every worker's latest status (zeros for a worker that sent none yet).
    pub(crate) fn total(&self) -> Status {
        self.states
            .iter()
            .filter_map(|s| s.status)
            .fold(Status::default(), |a, s| Status {
                active: a.active + s.active,
                connecting: a.connecting + s.connecting,
                waiting: a.waiting + s.waiting,
                slow: a.slow + s.slow,
                behind: a.behind + s.behind,
            })
    }

    /// True when every worker has sent a status.
    pub(crate) fn all_reporting(&self) -> bool {
        self.states.iter().all(|s| s.status.is_some())
    }

    /// Asks every worker for its report and collects them; workers that do not answer by
    /// `deadline` are killed and fail the run.
    pub(crate) fn collect(&mut self, deadline: Instant) -> Result<Vec<WorkerReport>, String> {
        let sent = self.commander.broadcast(&Command::Report);
        let done = self.wait_until(deadline, |f| {
            f.states.iter().all(|s| s.report.is_some() || s.exited)
        });
        self.commander.close_all();
        for child in &mut self.children {
            if !matches!(done, Ok(true)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
        sent?;
        if !done? {
            return Err("workers did not report in time".into());
        }
        self.states
            .iter_mut()
            .enumerate()
            .map(|(i, s)| {
                s.report
                    .take()
                    .ok_or_else(|| format!("worker {i} sent no report"))
            })
            .collect()
    }

    /// Kills and reaps every worker (after a fatal error).
    pub(crate) fn abort(&mut self) {
        self.commander.close_all();
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
