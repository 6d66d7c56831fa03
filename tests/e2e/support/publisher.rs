//! A Python publisher: pubcontrol's or gripcontrol's unmodified publishing, over ZeroMQ or
//! HTTP (`tests/zmq/publisher.py`), run with the venv of `tests/django/` and driven line by
//! line.
//!
//! Owns: the `python` process (killed by pid on drop), its stdin (one command a line), a
//! thread that reads its stdout (one event a line) into an inbox, and its stderr, kept in a
//! temp dir and printed with the events when a test fails.
//! Invariants: every wait has a deadline (`DEADLINE`); events are kept, not consumed, so a
//! test may wait for one that was printed before it asked.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::Instant;

use super::client::DEADLINE;
use super::django::venv;
use super::files::TempDir;

/// A running `publisher.py`.
pub struct Publisher {
    child: Child,
    stdin: ChildStdin,
    events: Receiver<String>,
    /// Every event line received so far, in order.
    seen: Vec<String>,
    dir: TempDir,
}

impl Publisher {
    /// `PubControl(config)`, as pubcontrol's README configures it (`zmq_push_uri`,
    /// `zmq_pub_uri`, `zmq_uri`, `require_subscribers`; a list for several endpoints).
    pub fn pubcontrol(config: &serde_json::Value) -> Publisher {
        Publisher::start("pubcontrol", config)
    }

    /// `GripPubControl(config)` (`control_zmq_uri`, `require_subscribers`, ...).
    pub fn gripcontrol(config: &serde_json::Value) -> Publisher {
        Publisher::start("gripcontrol", config)
    }

    fn start(kind: &str, config: &serde_json::Value) -> Publisher {
        let python = venv().join("bin/python");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/zmq/publisher.py");
        let dir = TempDir::new("publisher");
        let stderr = File::create(dir.path().join("stderr.log")).expect("create stderr.log");
        let mut child = Command::new(&python)
            .arg(&script)
            .arg(kind)
            .arg(config.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start {} {}: {e}", python.display(), script.display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, events) = mpsc::channel();
        thread::Builder::new()
            .name("publisher-stdout".to_string())
            .spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { return };
                    if sender.send(line).is_err() {
                        return;
                    }
                }
            })
            .expect("spawn stdout reader");
        let mut publisher = Publisher {
            child,
            stdin,
            events,
            seen: Vec::new(),
            dir,
        };
        publisher.wait_event("ready");
        publisher
    }

    /// Sends one command line without waiting for its outcome.
    pub fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}")
            .and_then(|()| self.stdin.flush())
            .unwrap_or_else(|e| panic!("write {command:?} to the publisher: {e}"));
    }

    /// Publishes the items `"CHANNEL N\n"` for N in `first..=last` and waits until pubcontrol
    /// has taken every one (a ZeroMQ send returns before the bytes leave).
    pub fn publish(&mut self, channel: &str, first: u32, last: u32) {
        let from = self.seen.len();
        self.send(&format!("publish {channel} {first} {last}"));
        self.wait_event_after(from, &format!("published {channel} {last}"));
    }

    /// Publishes as `publish` does; `Err` with pubcontrol's message when it raised.
    pub fn try_publish(&mut self, channel: &str, first: u32, last: u32) -> Result<(), String> {
        let from = self.seen.len();
        self.send(&format!("publish {channel} {first} {last}"));
        let done = format!("published {channel} {last}");
        let failed = format!("failed {channel} ");
        let deadline = Instant::now() + DEADLINE;
        loop {
            let outcome = self.seen[from.min(self.seen.len())..].iter().find_map(|e| {
                if *e == done {
                    Some(Ok(()))
                } else {
                    e.strip_prefix(&failed).map(|why| Err(why.to_owned()))
                }
            });
            if let Some(outcome) = outcome {
                return outcome;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!(
                    "the publisher printed neither {done:?} nor a failure: {:?}\n{}",
                    self.seen,
                    self.stderr()
                ),
            }
        }
    }

    /// Waits until the publisher has printed `event` (now or earlier).
    pub fn wait_event(&mut self, event: &str) {
        self.wait_event_after(0, event);
    }

    /// Every event printed so far.
    pub fn events(&mut self) -> &[String] {
        while let Ok(line) = self.events.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    fn wait_event_after(&mut self, from: usize, event: &str) {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if self.seen[from.min(self.seen.len())..]
                .iter()
                .any(|e| e == event)
            {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Timeout) => panic!(
                    "the publisher has not printed {event:?} after {DEADLINE:?}; it printed \
                     {:?}\n{}",
                    self.seen,
                    self.stderr()
                ),
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait().ok();
                    panic!(
                        "the publisher exited ({status:?}) before printing {event:?}; it \
                         printed {:?}\n{}",
                        self.seen,
                        self.stderr()
                    )
                }
            }
        }
    }

    fn stderr(&self) -> String {
        let path = self.dir.path().join("stderr.log");
        let text = fs::read_to_string(&path).unwrap_or_default();
        format!("--- publisher stderr ({}) ---\n{text}", path.display())
    }
}

impl Drop for Publisher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if thread::panicking() {
            let events = self.events().to_vec();
            eprintln!("--- publisher events ---\n{}", events.join("\n"));
            eprintln!("{}", self.stderr());
        }
    }
}
