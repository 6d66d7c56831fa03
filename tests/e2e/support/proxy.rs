//! The ringpin process under test, and the publish/metrics calls tests make to it.
//!
//! Owns: `Proxy` (free ports, or the ports of a ringpin it replaces; spawn with the suite's
//! flags or a test's own argv, wait until ready, signals, `/proc/PID/status` memory figures,
//! SIGTERM then SIGKILL on drop, stderr in a temp dir printed when a test fails), `publish*`,
//! the publish item builders, `metric*`, `wait_subscribed`.
//! Must not: parse ringpin's logs beyond handing them to a test that counts lines
//! (`log_text`); the contract is the one written in `support/mod.rs`.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use super::client::{preview, request, Response, DEADLINE};
use super::hosts::Host;

/// Every metric name `/metrics` must expose from start-up (see `support/mod.rs`).
pub const METRIC_NAMES: [&str; 5] = [
    "ringpin_subscriptions",
    "ringpin_deliveries_total",
    "ringpin_deliveries_dropped_total",
    "ringpin_slow_clients_closed_total",
    "ringpin_connections",
];

/// Spawns with fresh ports this many times; another process may take a port between our
/// probe bind and ringpin's bind.
const START_ATTEMPTS: usize = 3;
const POLL_INTERVAL: Duration = Duration::from_millis(10);
/// SIGTERM must end ringpin within this (DESIGN.md §4: drain and exit within 10 s).
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(10);
const LOG_TAIL_LINES: usize = 80;

static NEXT_DIR: AtomicUsize = AtomicUsize::new(0);

/// A running ringpin. Dropping it stops the process; if the test is failing, the tail of
/// ringpin's stderr is printed, and if ringpin died during a passing test, the test fails.
pub struct Proxy {
    /// Client-facing listener (`--listen`).
    pub addr: SocketAddr,
    /// Publish/control listener (`--publish-listen`).
    pub publish_addr: SocketAddr,
    child: Child,
    dir: PathBuf,
    /// Set once both listeners answered; only then is an exit on its own a test failure.
    ready: bool,
    /// Set by `wait_exit`: the test ended the process itself, so its exit is no failure.
    exit_expected: bool,
}

/// The two listener addresses chosen for one start attempt.
#[derive(Clone, Copy, Debug)]
pub struct Ports {
    /// For `--listen` (or `[runner] http_port`).
    pub addr: SocketAddr,
    /// For `--publish-listen` (or `[handler] push_in_http_port`).
    pub publish_addr: SocketAddr,
}

impl Ports {
    /// `--listen ADDR --publish-listen ADDR`.
    pub fn listen_args(&self) -> Vec<String> {
        vec![
            "--listen".to_string(),
            self.addr.to_string(),
            "--publish-listen".to_string(),
            self.publish_addr.to_string(),
        ]
    }
}

/// A port that was free a moment ago (bound to 127.0.0.1:0, then released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

impl Proxy {
    /// Starts ringpin with `--route "* 127.0.0.1:<backend_port>"` and `extra` flags.
    pub fn start(backend_port: u16, extra: &[&str]) -> Proxy {
        let route = format!("* 127.0.0.1:{backend_port}");
        Proxy::start_with(|ports| {
            let mut args = ports.listen_args();
            args.extend(["--route".to_string(), route.clone()]);
            args.extend(extra.iter().map(|arg| arg.to_string()));
            args
        })
    }

    /// Starts ringpin with `--shards 2 --log-level debug` followed by `args(ports)`: the test
    /// decides how ringpin learns its listeners and routes (flags, a routes file, a
    /// pushpin.conf written by `args`). Readiness is checked on `ports`.
    pub fn start_with(args: impl Fn(Ports) -> Vec<String>) -> Proxy {
        Proxy::start_limited(None, None, args)
    }

    /// As `start_with`, on `host` (`support/hosts.rs`): run there, with both listeners on
    /// the host's address. Like a machine of its own, the host takes its routes and ZeroMQ
    /// specs from `args`, which must name `host.ip` or `host.peer_ip`.
    pub fn start_on(host: &Host, args: impl Fn(Ports) -> Vec<String>) -> Proxy {
        Proxy::start_limited(Some(host), None, args)
    }

    /// As `start_with`, with `RLIMIT_NOFILE` set to `nofile` (soft and hard) in the child
    /// before it runs, like `prlimit --nofile=N:N`.
    pub fn start_with_nofile(nofile: u64, args: impl Fn(Ports) -> Vec<String>) -> Proxy {
        Proxy::start_limited(None, Some(nofile), args)
    }

    /// As `start_with`, on `ports` exactly: a ringpin restarted where its clients and
    /// publishers knew the last one (`ports()` of the one it replaces). Each attempt retries
    /// the same ports, which the old process has just released.
    pub fn start_at(ports: Ports, args: impl Fn(Ports) -> Vec<String>) -> Proxy {
        let what = format!("start again on {ports:?}");
        Proxy::start_attempts(None, None, || ports, args, &what)
    }

    /// The two listener addresses, for `start_at`.
    pub fn ports(&self) -> Ports {
        Ports {
            addr: self.addr,
            publish_addr: self.publish_addr,
        }
    }

    fn start_limited(
        host: Option<&Host>,
        nofile: Option<u64>,
        args: impl Fn(Ports) -> Vec<String>,
    ) -> Proxy {
        let pick = || match host {
            Some(host) => Ports {
                addr: SocketAddr::from((host.ip, host.free_port())),
                publish_addr: SocketAddr::from((host.ip, host.free_port())),
            },
            None => Ports {
                addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
                publish_addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
            },
        };
        Proxy::start_attempts(host, nofile, pick, args, "start")
    }

    /// Up to `START_ATTEMPTS` starts on the ports `pick` gives, until one is ready; panics
    /// with every attempt's log tail, saying ringpin did not `what`.
    fn start_attempts(
        host: Option<&Host>,
        nofile: Option<u64>,
        pick: impl Fn() -> Ports,
        args: impl Fn(Ports) -> Vec<String>,
        what: &str,
    ) -> Proxy {
        let mut failures = String::new();
        for attempt in 1..=START_ATTEMPTS {
            let ports = pick();
            let argv = args(ports);
            let mut proxy = Proxy::spawn(host, ports, &argv, nofile);
            match proxy.wait_ready() {
                Ok(()) => {
                    proxy.ready = true;
                    return proxy;
                }
                Err(why) => {
                    failures.push_str(&format!(
                        "attempt {attempt} {argv:?}: {why}\n{}\n",
                        proxy.log_tail()
                    ));
                    proxy.stop();
                }
            }
        }
        panic!("ringpin did not {what}:\n{failures}");
    }

    fn spawn(host: Option<&Host>, ports: Ports, args: &[String], nofile: Option<u64>) -> Proxy {
        let dir = std::env::temp_dir().join(format!(
            "ringpin-e2e-{}-{}",
            std::process::id(),
            NEXT_DIR.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("create temp dir");
        let program = std::path::Path::new(env!("CARGO_BIN_EXE_ringpin"));
        let mut command = match host {
            Some(host) => host.command(program),
            None => Command::new(program),
        };
        if let Some(nofile) = nofile {
            let limit = libc::rlimit {
                rlim_cur: nofile as libc::rlim_t,
                rlim_max: nofile as libc::rlim_t,
            };
            // SAFETY: the closure runs in the forked child before exec and calls only
            // setrlimit(2), which is async-signal-safe; `limit` is a plain copied value.
            unsafe {
                command.pre_exec(move || {
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) == 0 {
                        Ok(())
                    } else {
                        Err(std::io::Error::last_os_error())
                    }
                });
            }
        }
        let child = command
            .args(["--shards", "2", "--log-level", "debug"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(File::create(dir.join("stdout.log")).expect("stdout log"))
            .stderr(File::create(dir.join("stderr.log")).expect("stderr log"))
            .spawn()
            .expect("spawn ringpin");
        Proxy {
            addr: ports.addr,
            publish_addr: ports.publish_addr,
            child,
            dir,
            ready: false,
            exit_expected: false,
        }
    }

    /// Ready = both listeners accept TCP connections while the process is still running.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("ringpin exited with {status} before listening"));
            }
            let accepts = |addr| TcpStream::connect_timeout(&addr, POLL_INTERVAL * 10).is_ok();
            if accepts(self.addr) && accepts(self.publish_addr) {
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(format!("ringpin exited with {status}; a port was taken"));
                }
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not listening on {} and {} after {DEADLINE:?}",
                    self.addr, self.publish_addr
                ));
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// Sends `signal` (`libc::SIGHUP`, `libc::SIGTERM`, ...) to the running process.
    pub fn signal(&mut self, signal: libc::c_int) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "ringpin already exited ({status}) before signal {signal}\n{}",
                self.log_tail()
            );
        }
        // SAFETY: kill(2) has no memory effects. `pid` is our own child, and it has not been
        // reaped (try_wait above saw it running), so the pid cannot belong to another process.
        let result = unsafe { libc::kill(self.child.id() as libc::pid_t, signal) };
        assert_eq!(result, 0, "kill({}, {signal})", self.child.id());
    }

    /// Waits until the process exits, at the latest at `deadline`, and returns its status.
    /// From then on its exit is the test's doing, not a failure.
    pub fn wait_exit(&mut self, deadline: Instant) -> ExitStatus {
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.exit_expected = true;
                return status;
            }
            if Instant::now() >= deadline {
                panic!(
                    "ringpin has not exited by the deadline\n{}",
                    self.log_tail()
                );
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    /// A `kB` field of `/proc/PID/status` (`VmRSS`, `VmHWM`, ...), in bytes.
    pub fn proc_status_bytes(&self, field: &str) -> u64 {
        let path = format!("/proc/{}/status", self.child.id());
        let status = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path}: {e}"));
        let line = status
            .lines()
            .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {field} in {path}:\n{status}"));
        let kib: u64 = line
            .trim()
            .strip_suffix("kB")
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("unparsable {field} line {line:?}"));
        kib * 1024
    }

    /// How many descriptors the process has open now (`/proc/PID/fd`).
    pub fn open_fds(&self) -> usize {
        let path = format!("/proc/{}/fd", self.child.id());
        fs::read_dir(&path)
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
            .count()
    }

    /// The process id, for tests that change its limits (`prlimit`) or count its descriptors.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything ringpin wrote to stderr so far: for the start-up warnings the contract
    /// names, and for tests that bound how much it logs (`support/mod.rs`).
    pub fn log(&self) -> String {
        let log = fs::read(self.dir.join("stderr.log")).unwrap_or_default();
        String::from_utf8_lossy(&log).into_owned()
    }

    /// The last lines ringpin wrote to stderr.
    pub fn log_tail(&self) -> String {
        let path = self.dir.join("stderr.log");
        let log = fs::read(&path).unwrap_or_default();
        let log = String::from_utf8_lossy(&log);
        let lines: Vec<&str> = log.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        format!(
            "--- ringpin stderr ({}), last {LOG_TAIL_LINES} lines ---\n{tail}",
            path.display()
        )
    }

    /// SIGTERM, wait, then SIGKILL. Returns whether the process was already gone.
    fn stop(&mut self) -> bool {
        if let Ok(Some(_)) = self.child.try_wait() {
            return true;
        }
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: kill(2) has no memory effects. `pid` is our own child, and it has not been
        // reaped (try_wait above saw it running), so the pid cannot belong to another process.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let deadline = Instant::now() + EXIT_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            thread::sleep(POLL_INTERVAL);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        false
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let died_early = self.stop();
        if thread::panicking() {
            eprintln!("{}", self.log_tail());
            eprintln!("(kept {})", self.dir.display());
            return;
        }
        if died_early && self.ready && !self.exit_expected {
            let status = self.child.try_wait().ok().flatten();
            panic!(
                "ringpin exited during the test ({status:?})\n{}",
                self.log_tail()
            );
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// `method path` on the publish listener with `headers` and `body`.
pub fn publish_request(
    proxy: &Proxy,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
    for (name, value) in headers {
        raw.push_str(&format!("{name}: {value}\r\n"));
    }
    if method == "POST" || !body.is_empty() {
        raw.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    raw.push_str("\r\n");
    let mut raw = raw.into_bytes();
    raw.extend_from_slice(body);
    request(proxy.publish_addr, &raw)
}

/// `POST /publish/` with a JSON body; returns the status and body text.
pub fn publish(proxy: &Proxy, json: &str) -> (u16, String) {
    let response = publish_request(proxy, "POST", "/publish/", &[], json.as_bytes());
    (response.status, response.body_text())
}

/// Publishes and asserts Pushpin's success reply `200 Published\n`.
pub fn publish_ok(proxy: &Proxy, json: &str) {
    let (status, body) = publish(proxy, json);
    assert_eq!(
        (status, body.as_str()),
        (200, "Published\n"),
        "publish of {}",
        preview(json.as_bytes())
    );
}

/// One item with an `http-stream` format.
pub fn stream_item(channel: &str, content: &str) -> String {
    let format = json!({ "content": content });
    item(channel, "http-stream", format)
}

/// One item with the `http-stream` `close` action.
pub fn stream_close_item(channel: &str) -> String {
    item(channel, "http-stream", json!({ "action": "close" }))
}

/// One item with an `http-response` format (`code`, `reason`, `headers`, `body`, ...).
pub fn response_item(channel: &str, format: serde_json::Value) -> String {
    item(channel, "http-response", format)
}

fn item(channel: &str, format_name: &str, format: serde_json::Value) -> String {
    json!({ "items": [ { "channel": channel, "formats": { format_name: format } } ] }).to_string()
}

/// The Prometheus text from `GET /metrics` on the publish listener.
pub fn metrics(proxy: &Proxy) -> String {
    let raw = b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    let response = request(proxy.publish_addr, raw);
    assert_eq!(response.status, 200, "GET /metrics: {response:?}");
    response.body_text()
}

/// Sum of every sample of `name` (all label sets); `None` when the name is absent.
/// `name` may instead be one sample, `name{labels}` with the labels exactly as ringpin
/// writes them (`ringpin_items_received_total{input="zmq_sub"}`): then its value alone.
pub fn parse_metric(text: &str, name: &str) -> Option<f64> {
    if name.contains('{') {
        return text.lines().find_map(|line| {
            let (key, value) = line.trim().rsplit_once([' ', '\t'])?;
            (key.trim_end() == name).then(|| {
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("unparsable {line:?}"))
            })
        });
    }
    let mut sum = None;
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let name_end = line.find(['{', ' ', '\t']).unwrap_or(line.len());
        if &line[..name_end] != name {
            continue;
        }
        let rest = match line[name_end..].strip_prefix('{') {
            Some(labelled) => &labelled[labelled.rfind('}').map_or(0, |i| i + 1)..],
            None => &line[name_end..],
        };
        let value: f64 = rest
            .split_whitespace()
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("unparsable metric line {line:?}"));
        *sum.get_or_insert(0.0) += value;
    }
    sum
}

pub fn metric(proxy: &Proxy, name: &str) -> Option<f64> {
    parse_metric(&metrics(proxy), name)
}

/// Polls `/metrics` until `name` satisfies `accept`; returns the accepted value.
pub fn wait_metric(proxy: &Proxy, name: &str, want: &str, accept: impl Fn(f64) -> bool) -> f64 {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let text = metrics(proxy);
        let value = parse_metric(&text, name);
        if let Some(v) = value.filter(|v| accept(*v)) {
            return v;
        }
        if Instant::now() >= deadline {
            panic!("{name} is {value:?} after {DEADLINE:?}, want {want}; /metrics:\n{text}");
        }
        thread::sleep(POLL_INTERVAL);
    }
}

/// Waits until at least `total` (connection, channel) subscriptions are live across all
/// shards, so that a publish sent now reaches them (the race described in `support/mod.rs`).
pub fn wait_subscribed(proxy: &Proxy, total: usize) {
    wait_metric(
        proxy,
        "ringpin_subscriptions",
        &format!(">= {total}"),
        |v| v >= total as f64,
    );
}
