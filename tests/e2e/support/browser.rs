//! A real browser for the suite: Debian's headless Chromium, driven by playwright-core in
//! `tests/browser/driver.mjs` (its header documents the JSON-line protocol spoken here).
//!
//! Owns: `Browser` (the node process, which owns Chromium and its fresh profile directory,
//! made in a `TempDir` of the test's; end of stdin closes both, and drop kills node by pid if
//! it lingers), the installation of playwright-core (`tests/browser/bootstrap.sh`, `npm ci`
//! when `node_modules` is missing or stale), and the check that `/usr/bin/chromium` exists:
//! without it a browser test fails with the command that installs it, never skips.
//! Invariants: every wait has a deadline; what the page reports is kept in arrival order;
//! every line the driver printed is shown when a test fails.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::DEADLINE;
use super::files::TempDir;

/// Where Debian's `chromium` package puts the browser.
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// How long node may take to start Chromium and say it is ready, on a loaded machine.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long node may take to exit once its stdin is closed (it closes Chromium first).
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// One `npm ci` at a time, should several tests launch a browser at once.
static BOOTSTRAP: Mutex<()> = Mutex::new(());

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Installs playwright-core if `tests/browser/node_modules` lacks this package-lock.json.
fn bootstrap() {
    let _one = BOOTSTRAP
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let output = Command::new("sh")
        .arg(browser_dir().join("bootstrap.sh"))
        .output()
        .unwrap_or_else(|e| panic!("run tests/browser/bootstrap.sh: {e}"));
    assert!(
        output.status.success(),
        "tests/browser/bootstrap.sh (npm ci; needs node 20 or later and npm) failed: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A page in headless Chromium. Dropping it closes the browser.
pub struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<Value>,
    /// What the page passed to `window.report`, not yet taken by `next_report`.
    reports: VecDeque<Value>,
    /// Every request the page sent so far: `{"url", "type", "headers"}`.
    requests: Vec<Value>,
    /// Every line the driver printed, for the failure message.
    transcript: Vec<String>,
    dir: TempDir,
}

impl Browser {
    /// Starts Chromium with one blank page; panics, saying how to install it, when Debian's
    /// chromium is missing.
    pub fn launch() -> Browser {
        assert!(
            Path::new(CHROMIUM).exists(),
            "{CHROMIUM} is missing: the browser tests need Debian's headless Chromium; \
             install it with `apt-get install -y chromium` as root (or run .ci/browser-setup)"
        );
        bootstrap();
        let dir = TempDir::new("browser");
        let stderr = File::create(dir.path().join("driver.stderr")).expect("driver stderr");
        let mut child = Command::new("node")
            .arg(browser_dir().join("driver.mjs"))
            .arg(dir.path().join("profile"))
            .current_dir(browser_dir())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("start node tests/browser/driver.mjs: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value =
                    serde_json::from_str(&line).unwrap_or_else(|_| json!({ "stdout": line }));
                if sender.send(value).is_err() {
                    return;
                }
            }
        });
        let mut browser = Browser {
            stdin: child.stdin.take(),
            child,
            lines,
            reports: VecDeque::new(),
            requests: Vec::new(),
            transcript: Vec::new(),
            dir,
        };
        browser.wait_ready();
        browser
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + LAUNCH_TIMEOUT;
        loop {
            let line = self.next_line(deadline, "the browser to start");
            if line.get("ready").is_some() {
                return;
            }
        }
    }

    /// Loads `url` and returns the HTTP status of the document.
    pub fn goto(&mut self, url: &str) -> u16 {
        let status = self.command(json!({ "op": "goto", "url": url }));
        let status = status
            .as_u64()
            .unwrap_or_else(|| self.fail(&format!("no status: {status}")));
        status as u16
    }

    /// Evaluates the JavaScript expression `js` in the page (a promise is awaited).
    pub fn eval(&mut self, js: &str) -> Value {
        self.command(json!({ "op": "eval", "js": js }))
    }

    /// Polls the JavaScript expression `js` in the page until it is truthy, within `DEADLINE`;
    /// returns that value.
    pub fn wait_for(&mut self, js: &str) -> Value {
        let timeout_ms = DEADLINE.as_millis() as u64;
        self.command(json!({ "op": "wait", "js": js, "timeout_ms": timeout_ms }))
    }

    /// Writes a PNG of the whole page (1000 pixels wide) to `path`.
    pub fn screenshot(&mut self, path: &Path) {
        self.command(json!({ "op": "screenshot", "path": path }));
    }

    /// The next value the page passed to `window.report`, waiting up to `DEADLINE`.
    pub fn next_report(&mut self) -> Value {
        let deadline = Instant::now() + DEADLINE;
        while self.reports.is_empty() {
            self.next_line(deadline, "a report from the page");
        }
        self.reports.pop_front().expect("a report is queued")
    }

    /// The first `n` requests of resource type `kind` (`document`, `eventsource`, `fetch`,
    /// `websocket`, …) the page sent, waiting up to `DEADLINE` for them.
    pub fn requests(&mut self, kind: &str, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let of_kind: Vec<Value> = (self.requests.iter())
                .filter(|r| r["type"] == kind)
                .take(n)
                .cloned()
                .collect();
            if of_kind.len() == n {
                return of_kind;
            }
            self.next_line(deadline, &format!("{n} {kind} requests"));
        }
    }

    /// Sends one command and returns its reply's value; panics on an `error` reply.
    fn command(&mut self, command: Value) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin is open until drop");
        if let Err(e) = writeln!(stdin, "{command}") {
            self.fail(&format!("write {command} to the driver: {e}"));
        }
        // The driver's own timeouts are below this; it answers every command.
        let deadline = Instant::now() + DEADLINE + LAUNCH_TIMEOUT;
        loop {
            let line = self.next_line(deadline, &format!("the reply to {command}"));
            if let Some(error) = line.get("error") {
                self.fail(&format!("{command}: {error}"));
            }
            if line.get("reply").is_some() {
                return line["value"].clone();
            }
        }
    }

    /// Receives one line, files it (`take`) and returns it; panics at `deadline`, or when
    /// the driver has exited.
    fn next_line(&mut self, deadline: Instant, what: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.lines.recv_timeout(left) {
            Ok(line) => {
                self.take(line.clone());
                line
            }
            Err(RecvTimeoutError::Timeout) => self.fail(&format!("timed out waiting for {what}")),
            Err(RecvTimeoutError::Disconnected) => {
                let status = self.child.wait().ok();
                self.fail(&format!(
                    "the driver exited ({status:?}) waiting for {what}"
                ))
            }
        }
    }

    fn take(&mut self, line: Value) {
        self.transcript.push(line.to_string());
        if let Some(error) = line.get("pageerror") {
            self.fail(&format!("the page threw: {error}"));
        }
        if let Some(report) = line.get("report") {
            self.reports.push_back(report.clone());
        }
        if let Some(request) = line.get("request") {
            self.requests.push(request.clone());
        }
    }

    /// Fails the test; `drop` then prints what the driver said.
    fn fail(&self, why: &str) -> ! {
        panic!("browser: {why}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if thread::panicking() {
            let stderr = std::fs::read_to_string(self.dir.path().join("driver.stderr"));
            eprintln!(
                "--- browser driver lines ---\n{}\n--- browser driver stderr ---\n{}",
                self.transcript.join("\n"),
                stderr.unwrap_or_default()
            );
        }
        drop(self.stdin.take());
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
