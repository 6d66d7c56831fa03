//! Worker (soak): one process, one epoll thread, holding a share of the soak's subscribers
//! of every transport, and carrying out the controller's client faults on them.
//!
//! Owns: the worker's logical subscribers (`subscriber.rs`), their connections
//! (`worker_conn.rs`), reconnect timing, the command loop on stdin and the status lines.
//! Must not: publish, touch ringpin or the backend, or judge a run (the controller does,
//! from the records this worker reports).
//! Invariants:
//! * subscriber `g` of the run (`first <= g < first + count`) listens on channel
//!   `g mod channels` over transport `MODES[(g / channels) mod 4]`, so every channel has
//!   subscribers of every transport; a replacement keeps the transport and channel of the
//!   subscriber it replaces;
//! * a connection that ends before its subscriber was held is retried, as is every
//!   long-poll connection that ends (the subscriber reconnects with `after=N`); a held
//!   stream, SSE or WebSocket subscriber whose connection ends is broken, and stays so;
//! * at most [`PENDING_CONNECTS_MAX`] connects are in flight, so a burst of reconnects
//!   never overflows ringpin's accept backlog;
//! * the worker exits at its own deadline, or when its stdin closes.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::net::SocketAddrV4;
use std::os::fd::AsRawFd;
use std::rc::Rc;

use crate::args::Args;
use crate::client::{Client, ClientConfig, Event};
use crate::clock;
use crate::message::{self, Framing};
use crate::scenario::{self, Mode};
use crate::sys::{self, Epoll, EV_READ};
use crate::wsframe;

use super::item;
use super::rng::Rng;
use super::subscriber::{Subscriber, JOIN_GRACE, MODES};
use super::wire::{Command, WorkerLine, WorkerReport};

/// Connects in flight at once.
pub(super) const PENDING_CONNECTS_MAX: u64 = 512;
/// epoll token of the controller pipe.
pub(super) const TOKEN_STDIN: u64 = u64::MAX;
/// One shared read buffer.
const READ_BUF_BYTES: usize = 64 << 10;
/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;
/// Period of `status` lines.
const STATUS_INTERVAL_NS: u64 = 250_000_000;

/// What a worker is given; also its argv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkerSpec {
    /// Worker number.
    pub(crate) index: u64,
    /// ringpin's client-facing address.
    pub(crate) proxy: SocketAddrV4,
    /// First run-wide subscriber number of this worker, and how many it holds.
    pub(crate) first: u64,
    pub(crate) count: u64,
    /// Logical channels of the run.
    pub(crate) channels: u64,
    /// Bytes per item encoding.
    pub(crate) size: usize,
    /// Seed of this worker's choices (which subscribers a disconnect hits, …).
    pub(crate) seed: u64,
    /// The worker exits by itself this long after starting.
    pub(crate) timeout_s: u64,
}

impl WorkerSpec {
    /// The argv (after `soak-worker`) that [`WorkerSpec::parse`] reads back.
    pub(crate) fn to_argv(&self) -> Vec<String> {
        [
            ("--index", self.index.to_string()),
            ("--proxy", self.proxy.to_string()),
            ("--first", self.first.to_string()),
            ("--count", self.count.to_string()),
            ("--channels", self.channels.to_string()),
            ("--size", self.size.to_string()),
            ("--seed", self.seed.to_string()),
            ("--timeout-s", self.timeout_s.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    /// Parses a worker argv.
    pub(crate) fn parse(argv: &[String]) -> Result<WorkerSpec, String> {
        let mut a = Args::parse(argv)?;
        let spec = WorkerSpec {
            index: a.parsed("--index", 0)?,
            proxy: scenario::loopback_v4(&a.required("--proxy")?)?,
            first: a.parsed("--first", 0)?,
            count: a.parsed("--count", 0)?,
            channels: a.parsed("--channels", 1)?,
            size: a.parsed("--size", 0)?,
            seed: a.parsed("--seed", 0)?,
            timeout_s: a.parsed("--timeout-s", 600)?,
        };
        a.finish()?;
        if spec.channels == 0 || spec.channels > item::CHANNELS_MAX {
            return Err("--channels out of range".into());
        }
        Ok(spec)
    }
}

/// Where a logical subscriber stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SubState {
    /// Queued to connect (first time, or again after an error).
    Waiting,
    /// Connection `token` is opening; not held yet.
    Connecting(usize),
    /// Held on connection `token` (a long-poll: its request is out).
    Held(usize),
    /// Closed on the controller's command; replaced.
    Faulted,
    /// Held, then its connection ended unexpectedly: the run fails.
    Broken(String),
}

/// A logical subscriber and its state.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) sub: Subscriber,
    pub(super) state: SubState,
}

/// Who a connection belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Owner {
    /// Carries subscriber `i`.
    Sub(usize),
    /// A slow reader: sends its request, then never reads.
    Slow,
    /// Closed with FIN on command: read and discarded until the proxy closes too, or until
    /// `deadline_ns`.
    Closing { deadline_ns: u64 },
}

/// One socket.
#[derive(Debug)]
pub(super) struct Conn {
    pub(super) stream: std::net::TcpStream,
    pub(super) client: Option<Client>,
    pub(super) owner: Owner,
    pub(super) connected: bool,
    /// Bytes to send after the client's own (long-poll requests, a slow reader's request).
    pub(super) out: Vec<u8>,
    pub(super) interest: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Report,
    ControllerGone,
    Deadline,
}

/// The worker's whole state.
#[derive(Debug)]
pub(super) struct Worker {
    pub(super) spec: WorkerSpec,
    pub(super) epoll: Epoll,
    pub(super) conns: Vec<Option<Conn>>,
    /// Tokens free for reuse, and those freed during the current batch of events.
    pub(super) free: Vec<usize>,
    pub(super) freed: Vec<usize>,
    pub(super) subs: Vec<Entry>,
    /// Subscribers to connect, each not before its time (ns), in time order.
    pub(super) waiting: VecDeque<(u64, usize)>,
    /// Client configs by `mode index * channels + channel`, and the long-poll one; shared,
    /// since the client state machine takes its config on every call.
    pub(super) configs: Vec<Rc<ClientConfig>>,
    pub(super) longpoll_config: Rc<ClientConfig>,
    pub(super) rng: Rng,
    pub(super) rst_next: bool,
    pub(super) next_source: u64,
    pub(super) connecting: u64,
    pub(super) slow: u64,
    pub(super) finals: Option<Vec<(u64, u64)>>,
    pub(super) report: WorkerReport,
    pub(super) read_buf: Vec<u8>,
    pub(super) events: Vec<Event>,
    pub(super) logged: u64,
    stdin_buf: Vec<u8>,
    stop: Option<Stop>,
    last_status_ns: u64,
}

/// Runs a worker to completion; returns the process exit code.
pub(crate) fn main(argv: &[String]) -> i32 {
    let result = WorkerSpec::parse(argv)
        .and_then(Worker::new)
        .and_then(|mut w| w.run());
    match result {
        Ok(Stop::Report | Stop::ControllerGone) => 0,
        Ok(Stop::Deadline) => {
            emit(&WorkerLine::Error("worker deadline passed".into()));
            1
        }
        Err(e) => {
            emit(&WorkerLine::Error(e));
            1
        }
    }
}

/// Writes one line to the controller; a broken pipe means it is gone, which stdin's EOF
/// also reports, so the error is ignored here.
fn emit(line: &WorkerLine) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(line.encode().as_bytes());
    let _ = out.flush();
}

fn client_configs(spec: &WorkerSpec) -> Vec<Rc<ClientConfig>> {
    let key = wsframe::generate_key();
    let mask = (spec.seed as u32 | 1).to_be_bytes();
    let mut configs = Vec::new();
    for mode in MODES {
        for c in 0..spec.channels {
            let request = match mode {
                Mode::Ws => wsframe::handshake_request(&mode.path(&item::channel_name(c)), &key),
                Mode::Sse => format!(
                    "GET {} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n",
                    mode.path(&item::sse_channel_name(c))
                )
                .into_bytes(),
                _ => format!(
                    "GET {} HTTP/1.1\r\nHost: localhost\r\n\r\n",
                    mode.path(&item::channel_name(c))
                )
                .into_bytes(),
            };
            configs.push(Rc::new(ClientConfig {
                mode,
                request,
                value_len: message::value_len(spec.size, mode.framing()),
                ws_accept: wsframe::expected_accept(&key),
                ws_mask: mask,
            }));
        }
    }
    configs
}

impl Worker {
    fn new(spec: WorkerSpec) -> Result<Worker, String> {
        let limit = sys::raise_nofile_limit().map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
        if spec.count + 1024 > limit {
            return Err(format!(
                "{} subscribers need more than RLIMIT_NOFILE {limit}",
                spec.count
            ));
        }
        let epoll = Epoll::new(EVENTS_PER_WAIT).map_err(|e| format!("epoll: {e}"))?;
        let stdin = io::stdin().as_raw_fd();
        sys::set_nonblocking(stdin).map_err(|e| format!("stdin: {e}"))?;
        epoll
            .add(stdin, TOKEN_STDIN, EV_READ)
            .map_err(|e| format!("epoll stdin: {e}"))?;
        let subs: Vec<Entry> = (spec.first..spec.first + spec.count)
            .map(|g| {
                let mode = MODES[((g / spec.channels) % MODES.len() as u64) as usize];
                Entry {
                    sub: Subscriber::new(mode, g % spec.channels, true),
                    state: SubState::Waiting,
                }
            })
            .collect();
        Ok(Worker {
            configs: client_configs(&spec),
            longpoll_config: Rc::new(ClientConfig {
                mode: Mode::Longpoll,
                // Never sent: a long-poll's requests name its last item, so the worker
                // writes them itself and takes this marker back out (worker_conn.rs).
                request: b"-".to_vec(),
                value_len: message::value_len(spec.size, Framing::Line),
                ws_accept: String::new(),
                ws_mask: [0; 4],
            }),
            waiting: (0..subs.len()).map(|i| (0, i)).collect(),
            subs,
            conns: Vec::new(),
            free: Vec::new(),
            freed: Vec::new(),
            rng: Rng::new(spec.seed ^ spec.index.rotate_left(32)),
            rst_next: true,
            next_source: spec.first,
            connecting: 0,
            slow: 0,
            finals: None,
            report: WorkerReport {
                index: spec.index,
                ..WorkerReport::default()
            },
            read_buf: vec![0; READ_BUF_BYTES],
            events: Vec::new(),
            logged: 0,
            stdin_buf: Vec::new(),
            stop: None,
            last_status_ns: 0,
            epoll,
            spec,
        })
    }

    fn run(&mut self) -> Result<Stop, String> {
        let deadline_ns = clock::now_ns() + self.spec.timeout_s * 1_000_000_000;
        loop {
            let now = clock::now_ns();
            if now >= deadline_ns {
                self.stop = Some(Stop::Deadline);
            }
            if let Some(stop) = self.stop {
                if stop == Stop::Report {
                    self.send_report();
                }
                return Ok(stop);
            }
            self.connect_due(now);
            let ready = self
                .epoll
                .wait(self.wait_ms(now))
                .map_err(|e| format!("epoll_wait: {e}"))?;
            let now = clock::now_ns();
            for i in 0..ready {
                let (token, flags) = self.epoll.event(i);
                if token == TOKEN_STDIN {
                    self.on_stdin(now);
                } else {
                    self.on_ready(token as usize, flags, now);
                }
            }
            self.recycle_tokens();
            self.tick(now);
        }
    }

    /// Until the next queued connect is due, or the next status line.
    fn wait_ms(&self, now: u64) -> i32 {
        let next = match self.waiting.front() {
            Some(&(at, _)) if self.connecting < PENDING_CONNECTS_MAX => at.saturating_sub(now),
            _ => STATUS_INTERVAL_NS,
        };
        (next.min(STATUS_INTERVAL_NS) / 1_000_000) as i32
    }

    /// Opens the queued subscribers whose time has come, up to the pending cap.
    fn connect_due(&mut self, now: u64) {
        while self.connecting < PENDING_CONNECTS_MAX {
            match self.waiting.front() {
                Some(&(at, i)) if at <= now => {
                    self.waiting.pop_front();
                    self.open_sub(i, now);
                }
                _ => return,
            }
        }
    }

    fn on_stdin(&mut self, now: u64) {
        let mut buf = [0u8; 4096];
        match sys::read_fd(io::stdin().as_raw_fd(), &mut buf) {
            Ok(0) => self.stop = Some(Stop::ControllerGone),
            Ok(n) => self.stdin_buf.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.stop = Some(Stop::ControllerGone),
        }
        while let Some(nl) = self.stdin_buf.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.stdin_buf.drain(..=nl).collect();
            match Command::parse(&String::from_utf8_lossy(&line)) {
                Ok(command) => self.on_command(command, now),
                Err(e) => emit(&WorkerLine::Error(e)),
            }
        }
    }

    fn on_command(&mut self, command: Command, now: u64) {
        match command {
            Command::Disconnect(k) => self.disconnect(k, now),
            Command::Slow(k) => self.open_slow(k),
            Command::CloseSlow => self.close_slow(),
            Command::Final(list) => self.finals = Some(list),
            Command::Report => self.stop = Some(Stop::Report),
        }
    }

    fn tick(&mut self, now: u64) {
        if now.saturating_sub(self.last_status_ns) < STATUS_INTERVAL_NS {
            return;
        }
        self.last_status_ns = now;
        self.sweep_closing(now);
        let (mut active, mut connecting, mut waiting) = (0, 0, 0);
        for e in &self.subs {
            match e.state {
                SubState::Held(_) => active += 1,
                SubState::Connecting(_) => connecting += 1,
                SubState::Waiting => waiting += 1,
                SubState::Faulted | SubState::Broken(_) => {}
            }
        }
        emit(&WorkerLine::Status {
            active,
            connecting,
            waiting,
            slow: self.slow,
            behind: self.behind(),
        });
    }

    /// Healthy subscribers that should have their channel's final item and do not yet
    /// (every one until the controller has sent the finals).
    fn behind(&self) -> u64 {
        let Some(finals) = &self.finals else {
            return self.subs.len() as u64;
        };
        let grace_ns = JOIN_GRACE.as_nanos() as u64;
        let is_behind = |e: &Entry| {
            let Some(&(last, last_ns)) = finals.get(e.sub.channel as usize) else {
                return false;
            };
            let joined = e.sub.join_ns != 0 && e.sub.join_ns + grace_ns <= last_ns;
            let expects = last > 0 && (e.sub.initial || joined);
            expects && e.sub.highest().unwrap_or(0) < last
        };
        self.subs
            .iter()
            .filter(|e| !matches!(e.state, SubState::Faulted | SubState::Broken(_)))
            .filter(|e| is_behind(e))
            .count() as u64
    }

    fn send_report(&mut self) {
        let mut report = std::mem::take(&mut self.report);
        report.subscribers = self
            .subs
            .iter()
            .map(|e| match &e.state {
                SubState::Faulted => e.sub.record(true, None),
                SubState::Broken(why) => e.sub.record(false, Some(why.clone())),
                _ => e.sub.record(false, None),
            })
            .collect();
        emit(&WorkerLine::Report(Box::new(report)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_argv_round_trips() {
        let spec = WorkerSpec {
            index: 1,
            proxy: "127.0.0.1:7999".parse().expect("addr"),
            first: 5000,
            count: 5000,
            channels: 100,
            size: 256,
            seed: 9,
            timeout_s: 300,
        };
        assert_eq!(WorkerSpec::parse(&spec.to_argv()), Ok(spec));
    }

    #[test]
    fn every_channel_gets_every_transport() {
        let spec = WorkerSpec {
            index: 0,
            proxy: "127.0.0.1:7999".parse().expect("addr"),
            first: 0,
            count: 80,
            channels: 20,
            size: 256,
            seed: 1,
            timeout_s: 10,
        };
        let configs = client_configs(&spec);
        assert_eq!(configs.len(), 80);
        let path = |i: usize| String::from_utf8_lossy(&configs[i].request).into_owned();
        assert!(path(3).starts_with("GET /stream?channel=soak-3 "));
        assert!(path(20 + 3).starts_with("GET /sse?channel=soak-3-sse "));
        assert!(path(60 + 3).starts_with("GET /ws?channel=soak-3 "));
        let mut seen = std::collections::HashSet::new();
        for g in 0..80u64 {
            seen.insert(((g / 20) % 4, g % 20));
        }
        assert_eq!(seen.len(), 80, "each (transport, channel) pair once");
    }
}
