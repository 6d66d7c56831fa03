//! Worker: one process, one thread, one epoll loop holding up to ~18,000 subscribers.
//!
//! Owns: the sockets, connect pacing, time-stamping each read, and the per-worker counters,
//! latency histogram and per-message latest-receive times. `conn.rs` moves each
//! connection's bytes between its socket, its TLS session (with `--tls`) and its client.
//! Must not: parse protocol bytes (client.rs does), encrypt or decrypt (tls.rs does), or
//! publish (the coordinator does).
//! Invariants:
//! * every read is stamped with `CLOCK_MONOTONIC` right after it returns, and a message's
//!   latency is that stamp minus the send time the publisher wrote into the message;
//! * `settled[k]` counts held clients that have message `k` or a later one, or are gone;
//!   `done k` is reported when it reaches `held`, so the coordinator never waits for a
//!   connection that cannot deliver;
//! * at most [`PENDING_CONNECTS_MAX`] clients are between connect and held at once, so a
//!   burst never overflows the proxy's accept backlog;
//! * a TLS connection closed after its TCP connect completed and before its handshake did is
//!   one handshake failure (a bad chain, an alert, the proxy closing), and a connect failure.

use std::io::{self, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

use base64::Engine;
use hdrhistogram::serialization::{Serializer, V2Serializer};
use hdrhistogram::Histogram;

use crate::channels;
use crate::client::{Client, ClientConfig, Event, Failure};
use crate::clock;
use crate::message::Stamp;
use crate::protocol::{WorkerLine, WorkerReport};
use crate::scenario::{Mode, WorkerSpec};
use crate::seqtrack::SeqTracker;
use crate::sys::{self, Epoll, EV_ERROR, EV_READ, EV_WRITE};
use crate::tls::{TlsConfig, TlsError};
use crate::wsframe;

mod conn;

use conn::{feed, write_plain, write_tls, Conn};

/// Clients between connect and held at once, per worker.
pub const PENDING_CONNECTS_MAX: u64 = 512;
/// epoll token of the coordinator pipe.
const TOKEN_STDIN: u64 = u64::MAX;
/// One shared read buffer: 64 KiB holds hundreds of messages.
const READ_BUF_BYTES: usize = 64 << 10;
/// One shared buffer that TLS plaintext passes through on its way to a client (rustls hands
/// out at most a record, 16 KiB, at a time).
const PLAIN_BUF_BYTES: usize = 16 << 10;
/// Events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;
/// Period of `progress` and `recv` lines.
const STATUS_INTERVAL_NS: u64 = 100_000_000;
/// Source addresses 127.0.0.2 ..= 127.0.0.250.
const SOURCE_ADDRS: u64 = 249;
/// Histogram range: 1 µs .. 60 s, 3 significant figures.
pub const LATENCY_US_MAX: u64 = 60_000_000;
/// Connection failures described on stderr, per worker (the rest are only counted).
const FAILURES_LOGGED_MAX: u64 = 5;

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    opened: u64,
    held: u64,
    failed: u64,
    disconnects: u64,
    received: u64,
    duplicated: u64,
    reordered: u64,
    malformed: u64,
    tls_handshake_failures: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Report,
    CoordinatorGone,
    Deadline,
}

/// The worker's whole state.
pub struct Worker {
    spec: WorkerSpec,
    /// One per channel (they differ only in the request's `?channel=`), indexed by
    /// [`Conn::channel`].
    cfgs: Vec<ClientConfig>,
    tls: Option<TlsConfig>,
    /// `VERSION/SUITE` of the first completed TLS handshake.
    tls_negotiated: Option<String>,
    epoll: Epoll,
    conns: Vec<Option<Conn>>,
    n: Counters,
    hist: Histogram<u64>,
    last_recv_ns: Vec<u64>,
    settled: Vec<u64>,
    done_seq: u64,
    start_ns: u64,
    connect_end_ns: u64,
    held_reported: bool,
    last_status_ns: u64,
    last_recv_line: (u64, u64),
    stdin_buf: Vec<u8>,
    read_buf: Vec<u8>,
    plain_buf: Vec<u8>,
    events: Vec<Event>,
    stop: Option<Stop>,
}

/// Runs a worker to completion; returns the process exit code.
pub fn run(spec: WorkerSpec) -> i32 {
    let mut worker = match Worker::new(spec) {
        Ok(w) => w,
        Err(e) => {
            emit(&WorkerLine::Error(e));
            return 1;
        }
    };
    match worker.run_loop() {
        Ok(Stop::Report) | Ok(Stop::CoordinatorGone) => 0,
        Ok(Stop::Deadline) => 1,
        Err(e) => {
            emit(&WorkerLine::Error(e));
            1
        }
    }
}

/// Writes one line to the coordinator; a broken pipe means it is gone, which the
/// stdin EOF also reports, so the error is ignored here.
fn emit(line: &WorkerLine) {
    let mut out = io::stdout().lock();
    let _ = out.write_all(line.encode().as_bytes());
    let _ = out.flush();
}

/// The client configuration of every channel, in channel order: one WebSocket key and
/// mask for the worker, a request per channel.
fn client_configs(spec: &WorkerSpec) -> Vec<ClientConfig> {
    let key = wsframe::generate_key();
    let seed = clock::now_ns() ^ (spec.index as u64).rotate_left(32);
    (0..spec.channels.max(1))
        .map(|c| {
            let name = channels::channel_name(&spec.channel, spec.channels, c);
            ClientConfig {
                mode: spec.mode,
                request: subscribe_request(spec.mode, &name, &key),
                value_len: spec.value_len(),
                ws_accept: wsframe::expected_accept(&key),
                ws_mask: (seed as u32 | 1).to_be_bytes(),
            }
        })
        .collect()
}

fn subscribe_request(mode: Mode, channel: &str, ws_key: &str) -> Vec<u8> {
    let path = mode.path(channel);
    match mode {
        Mode::Ws => wsframe::handshake_request(&path, ws_key),
        Mode::Sse => {
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n")
                .into_bytes()
        }
        _ => format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").into_bytes(),
    }
}

impl Worker {
    fn new(spec: WorkerSpec) -> Result<Worker, String> {
        let limit = sys::raise_nofile_limit().map_err(|e| format!("RLIMIT_NOFILE: {e}"))?;
        if spec.clients + 64 > limit {
            return Err(format!(
                "{} clients need more than RLIMIT_NOFILE {limit} descriptors",
                spec.clients
            ));
        }
        let epoll = Epoll::new(EVENTS_PER_WAIT).map_err(|e| format!("epoll: {e}"))?;
        let stdin = io::stdin().as_raw_fd();
        sys::set_nonblocking(stdin).map_err(|e| format!("stdin: {e}"))?;
        epoll
            .add(stdin, TOKEN_STDIN, EV_READ)
            .map_err(|e| format!("epoll stdin: {e}"))?;
        let hist = Histogram::new_with_bounds(1, LATENCY_US_MAX, 3)
            .map_err(|e| format!("histogram: {e}"))?;
        let messages = spec.messages as usize;
        let tls = spec.tls.as_ref().map(TlsConfig::load).transpose()?;
        Ok(Worker {
            cfgs: client_configs(&spec),
            plain_buf: if tls.is_some() {
                vec![0; PLAIN_BUF_BYTES]
            } else {
                Vec::new()
            },
            tls,
            tls_negotiated: None,
            conns: Vec::with_capacity(spec.clients as usize),
            n: Counters::default(),
            hist,
            last_recv_ns: vec![0; messages],
            settled: vec![0; messages + 1],
            done_seq: 0,
            start_ns: clock::now_ns(),
            connect_end_ns: 0,
            held_reported: false,
            last_status_ns: 0,
            last_recv_line: (0, 0),
            stdin_buf: Vec::new(),
            read_buf: vec![0; READ_BUF_BYTES],
            events: Vec::new(),
            stop: None,
            epoll,
            spec,
        })
    }

    fn run_loop(&mut self) -> Result<Stop, String> {
        let deadline_ns = self.start_ns + self.spec.timeout_s * 1_000_000_000;
        loop {
            let now = clock::now_ns();
            if now >= deadline_ns {
                self.stop = Some(Stop::Deadline);
            }
            if let Some(stop) = self.stop {
                if stop != Stop::CoordinatorGone {
                    emit(&WorkerLine::Report(Box::new(
                        self.report(stop == Stop::Deadline)?,
                    )));
                }
                return Ok(stop);
            }
            self.open_more(now);
            let ready = self
                .epoll
                .wait(self.wait_ms(now))
                .map_err(|e| format!("epoll_wait: {e}"))?;
            for i in 0..ready {
                let (token, flags) = self.epoll.event(i);
                self.on_ready(token, flags);
            }
            self.tick(clock::now_ns());
        }
    }

    /// How long epoll may sleep: until the next paced connect, or the next status line.
    fn wait_ms(&self, now: u64) -> i32 {
        let rate = self.spec.connect_rate;
        if rate > 0 && self.n.opened < self.spec.clients {
            let next_ns = self.start_ns + self.n.opened * 1_000_000_000 / rate;
            return (next_ns.saturating_sub(now) / 1_000_000).min(STATUS_INTERVAL_NS / 1_000_000)
                as i32;
        }
        (STATUS_INTERVAL_NS / 1_000_000) as i32
    }

    fn pending(&self) -> u64 {
        self.n.opened - self.n.held - self.n.failed
    }

    /// Opens clients up to the pacing allowance and the pending cap.
    fn open_more(&mut self, now: u64) {
        let rate = self.spec.connect_rate;
        let allowed = if rate == 0 {
            self.spec.clients
        } else {
            (now.saturating_sub(self.start_ns) as u128 * rate as u128 / 1_000_000_000) as u64 + 1
        };
        while self.n.opened < self.spec.clients.min(allowed)
            && self.pending() < PENDING_CONNECTS_MAX
        {
            self.open_one();
        }
    }

    fn open_one(&mut self) {
        let token = self.n.opened;
        self.n.opened += 1;
        match self.connect(token) {
            Ok(conn) => self.conns.push(Some(conn)),
            Err(e) => {
                self.conns.push(None);
                self.count_failure(&e);
            }
        }
        debug_assert_eq!(self.conns.len() as u64, self.n.opened, "token = index");
    }

    fn connect(&self, token: u64) -> Result<Conn, String> {
        let global = self.spec.first + token;
        let channel = channels::channel_of_subscriber(global, self.spec.channels) as usize;
        let src = Ipv4Addr::new(127, 0, 0, 2 + (global % SOURCE_ADDRS) as u8);
        let stream = sys::connect_nonblocking(src, self.spec.proxy)
            .map_err(|e| format!("connect from {src}: {e}"))?;
        let tls = match &self.tls {
            Some(config) => Some(Box::new(config.session().map_err(|e| e.to_string())?)),
            None => None,
        };
        self.epoll
            .add(stream.as_raw_fd(), token, EV_READ | EV_WRITE)
            .map_err(|e| format!("epoll add: {e}"))?;
        Ok(Conn {
            stream,
            tls,
            client: Client::new(&self.cfgs[channel]),
            channel,
            tracker: SeqTracker::default(),
            connected: false,
            held: false,
            want_write: true,
        })
    }

    /// A client failed before it was held.
    fn count_failure(&mut self, why: &str) {
        self.n.failed += 1;
        if self.n.failed <= FAILURES_LOGGED_MAX {
            eprintln!("worker {}: client failed: {why}", self.spec.index);
        }
        self.note_connect_progress();
    }

    fn note_connect_progress(&mut self) {
        if self.connect_end_ns == 0 && self.n.held + self.n.failed == self.spec.clients {
            self.connect_end_ns = clock::now_ns();
        }
    }
}

/// Event handling.
impl Worker {
    fn on_ready(&mut self, token: u64, flags: u32) {
        if token == TOKEN_STDIN {
            return self.on_stdin();
        }
        let idx = token as usize;
        let Some(conn) = self.conns.get_mut(idx).and_then(Option::as_mut) else {
            return;
        };
        if !conn.connected {
            if flags & (EV_WRITE | EV_ERROR) == 0 {
                return;
            }
            match conn.stream.take_error() {
                Ok(None) => conn.connected = true,
                Ok(Some(e)) | Err(e) => return self.close(idx, &format!("connect: {e}")),
            }
        }
        if flags & (EV_READ | EV_ERROR) != 0 {
            self.on_readable(idx);
        }
        self.flush(idx);
    }

    fn on_stdin(&mut self) {
        let mut buf = [0u8; 256];
        match sys::read_fd(io::stdin().as_raw_fd(), &mut buf) {
            Ok(0) => self.stop = Some(Stop::CoordinatorGone),
            Ok(n) => self.stdin_buf.extend_from_slice(&buf[..n]),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.stop = Some(Stop::CoordinatorGone),
        }
        while let Some(nl) = self.stdin_buf.iter().position(|&b| b == b'\n') {
            if &self.stdin_buf[..nl] == b"report" {
                self.stop = Some(Stop::Report);
            }
            self.stdin_buf.drain(..=nl);
        }
    }

    /// One read per readiness event (level-triggered epoll comes back for the rest), so
    /// one busy connection cannot starve the others of time-stamps.
    fn on_readable(&mut self, idx: usize) {
        let Worker {
            conns,
            cfgs,
            read_buf,
            plain_buf,
            events,
            ..
        } = self;
        let Some(conn) = conns[idx].as_mut() else {
            return;
        };
        events.clear();
        let n = match conn.stream.read(read_buf) {
            Ok(n) => n,
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock
                    || e.kind() == io::ErrorKind::Interrupted =>
            {
                return
            }
            Err(e) => return self.close(idx, &format!("read: {e}")),
        };
        let now = clock::now_ns();
        let cfg = &cfgs[conn.channel];
        let fed = feed(conn, cfg, &read_buf[..n], plain_buf, &mut |e| {
            events.push(e)
        });
        if self.tls_negotiated.is_none() {
            self.tls_negotiated = conn.tls.as_ref().and_then(|t| t.negotiated());
        }
        for i in 0..self.events.len() {
            let event = self.events[i];
            self.on_client_event(idx, event, now);
        }
        if let Err(e) = fed {
            self.on_tls_error(idx, &e);
        }
    }

    /// Sends the alert rustls queued (best effort: the proxy learns why), then closes.
    fn on_tls_error(&mut self, idx: usize, e: &TlsError) {
        if let Some(Conn {
            stream,
            tls: Some(tls),
            ..
        }) = self.conns[idx].as_mut()
        {
            let _ = tls.write_ciphertext(stream);
        }
        self.close(idx, &e.to_string());
    }

    fn on_client_event(&mut self, idx: usize, event: Event, now: u64) {
        match event {
            Event::Held => self.mark_held(idx),
            Event::Message(stamp) => self.on_message(idx, stamp, now),
            Event::Malformed => self.n.malformed += 1,
            Event::Failed(why) => self.close(idx, &describe(why)),
        }
    }

    fn mark_held(&mut self, idx: usize) {
        let Some(conn) = self.conns[idx].as_mut() else {
            return;
        };
        if !conn.held {
            conn.held = true;
            self.n.held += 1;
            self.note_connect_progress();
        }
    }

    fn on_message(&mut self, idx: usize, stamp: Stamp, now: u64) {
        self.mark_held(idx);
        let Some(conn) = self.conns[idx].as_mut() else {
            return;
        };
        let before = conn.tracker.highest();
        let arrival = conn.tracker.on_seq(stamp.seq, self.spec.messages);
        for k in before + 1..=conn.tracker.highest() {
            self.settled[k as usize] += 1;
        }
        use crate::seqtrack::Arrival;
        match arrival {
            Arrival::OutOfRange => self.n.malformed += 1,
            Arrival::Duplicate => self.n.duplicated += 1,
            Arrival::Reordered => self.n.reordered += 1,
            Arrival::InOrder | Arrival::Ahead { .. } => {}
        }
        if arrival.is_new() {
            self.n.received += 1;
            let latency_us = (now.saturating_sub(stamp.send_ns) / 1000).clamp(1, LATENCY_US_MAX);
            self.hist.saturating_record(latency_us);
            let last = &mut self.last_recv_ns[stamp.seq as usize - 1];
            *last = (*last).max(now);
        }
    }

    /// Sends what the client has queued (through its TLS session, if any); arms EPOLLOUT
    /// only while something is left that the socket refused.
    fn flush(&mut self, idx: usize) {
        let Some(conn) = self.conns[idx].as_mut() else {
            return;
        };
        if !conn.connected {
            return;
        }
        let sent = match conn.tls.as_mut() {
            None => write_plain(&mut conn.stream, &mut conn.client),
            Some(tls) => write_tls(&mut conn.stream, &mut conn.client, tls),
        };
        let want_write = match sent {
            Ok(left) => left,
            Err(e) => return self.close(idx, &format!("write: {e}")),
        };
        if want_write != conn.want_write {
            conn.want_write = want_write;
            let interest = EV_READ | if want_write { EV_WRITE } else { 0 };
            if let Err(e) = self
                .epoll
                .modify(conn.stream.as_raw_fd(), idx as u64, interest)
            {
                return self.close(idx, &format!("epoll modify: {e}"));
            }
        }
        // A long-poll subscriber is held once its request is out: the proxy answers only
        // when there is something to deliver.
        let request_out = !want_write
            && conn.client.pending_output().is_empty()
            && !conn.tls.as_ref().is_some_and(|t| t.is_handshaking());
        if self.spec.mode == Mode::Longpoll && request_out && !conn.held {
            self.mark_held(idx);
        }
    }

    /// Closes a connection; before held it is a failure, after it a disconnect, and
    /// every message it had not received yet is settled (it will never arrive).
    fn close(&mut self, idx: usize, why: &str) {
        let Some(conn) = self.conns[idx].take() else {
            return;
        };
        if conn.connected && conn.tls.as_ref().is_some_and(|t| t.is_handshaking()) {
            self.n.tls_handshake_failures += 1;
        }
        if !conn.held {
            return self.count_failure(why);
        }
        self.n.disconnects += 1;
        if self.n.disconnects <= FAILURES_LOGGED_MAX {
            eprintln!("worker {}: held client closed: {why}", self.spec.index);
        }
        for k in conn.tracker.highest() + 1..=self.spec.messages {
            self.settled[k as usize] += 1;
        }
    }
}

fn describe(why: Failure) -> String {
    match why {
        Failure::Status(code) => format!("response status {code}"),
        Failure::BadHead => "malformed response head".into(),
        Failure::BadChunk => "malformed chunked body".into(),
        Failure::BadWs => "websocket handshake or frame error".into(),
        Failure::Closed => "closed by peer".into(),
    }
}

/// Status lines and the final report.
impl Worker {
    fn tick(&mut self, now: u64) {
        if !self.held_reported {
            if self.connect_end_ns != 0 {
                self.held_reported = true;
                emit(&WorkerLine::Held {
                    held: self.n.held,
                    failed: self.n.failed,
                    start_ns: self.start_ns,
                    end_ns: self.connect_end_ns,
                });
            } else if now.saturating_sub(self.last_status_ns) >= STATUS_INTERVAL_NS {
                self.last_status_ns = now;
                emit(&WorkerLine::Progress {
                    opened: self.n.opened,
                    held: self.n.held,
                    failed: self.n.failed,
                });
            }
            return;
        }
        let done_before = self.done_seq;
        while self.done_seq < self.spec.messages
            && self.settled[self.done_seq as usize + 1] >= self.n.held
        {
            self.done_seq += 1;
        }
        if self.done_seq != done_before {
            emit(&WorkerLine::Done { seq: self.done_seq });
        }
        let recv = (self.n.received, self.n.held - self.n.disconnects);
        if recv != self.last_recv_line
            && now.saturating_sub(self.last_status_ns) >= STATUS_INTERVAL_NS
        {
            self.last_status_ns = now;
            self.last_recv_line = recv;
            emit(&WorkerLine::Recv {
                received: recv.0,
                live: recv.1,
            });
        }
    }

    fn report(&self, timed_out: bool) -> Result<WorkerReport, String> {
        let mut hist_bytes = Vec::new();
        V2Serializer::new()
            .serialize(&self.hist, &mut hist_bytes)
            .map_err(|e| format!("histogram: {e:?}"))?;
        Ok(WorkerReport {
            index: self.spec.index,
            clients: self.spec.clients,
            held: self.n.held,
            failed: self.n.failed,
            disconnects: self.n.disconnects,
            connect_start_ns: self.start_ns,
            connect_end_ns: if self.connect_end_ns == 0 {
                clock::now_ns()
            } else {
                self.connect_end_ns
            },
            received: self.n.received,
            duplicated: self.n.duplicated,
            reordered: self.n.reordered,
            malformed: self.n.malformed,
            tls_handshake_failures: self.n.tls_handshake_failures,
            tls_negotiated: self.tls_negotiated.clone(),
            latency_us_hist: base64::engine::general_purpose::STANDARD.encode(hist_bytes),
            last_recv_ns: self.last_recv_ns.clone(),
            timed_out,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_channel_has_its_own_subscribe_request() {
        let argv: Vec<String> = "--proxy 127.0.0.1:7999 --publish http://127.0.0.1:5561 --mode sse --clients 6 --channels 3 --messages 1 --size 128"
            .split_whitespace()
            .map(String::from)
            .collect();
        let spec = crate::scenario::Scenario::parse(&argv)
            .expect("valid")
            .worker_specs()
            .remove(0);
        let cfgs = client_configs(&spec);
        assert_eq!(cfgs.len(), 3);
        for (c, cfg) in cfgs.iter().enumerate() {
            let request = String::from_utf8_lossy(&cfg.request).to_string();
            assert!(
                request.starts_with(&format!("GET /sse?channel=loadgen-{c} HTTP/1.1\r\n")),
                "{request}"
            );
        }
        let one = client_configs(&WorkerSpec {
            channels: 1,
            ..spec
        });
        assert!(
            String::from_utf8_lossy(&one[0].request).starts_with("GET /sse?channel=loadgen HTTP")
        );
    }
}
