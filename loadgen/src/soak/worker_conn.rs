//! Worker connections (soak): opening, reading, writing and closing one soak worker's
//! sockets — subscribers, slow readers, and subscribers being closed with FIN.
//!
//! Owns: the connection slab and its epoll registrations, feeding bytes to each
//! subscriber's `Client` state machine, long-poll requests, the abortive (RST) and orderly
//! (FIN) closes of a disconnect fault, and slow readers.
//! Must not: decide which faults happen (the controller does) or judge deliveries
//! (`subscriber.rs` records them).
//! Invariants: a long-poll's `Client` is built with a marker request that is taken back
//! out at once; when a response completes, the client queues the marker again, which is
//! how the worker knows to send the next request, naming the last item received. A token
//! freed while handling a batch of epoll events is reused only in the next batch, so a
//! stale event never reaches a new connection. A slow reader sends its request and is then
//! watched only for errors: its receive buffer fills and stays full.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::rc::Rc;

use crate::client::{Client, ClientConfig, Event, Failure};
use crate::scenario::Mode;
use crate::sys::{self, EV_ERROR, EV_READ, EV_WRITE};

use super::item;
use super::os;
use super::publish::FLOOD_CHANNEL;
use super::subscriber::{Subscriber, MODES};
use super::worker::{Conn, Entry, Owner, SubState, Worker};

/// Source addresses 127.0.0.2 ..= 127.0.0.250.
const SOURCE_ADDRS: u64 = 249;
/// Pause before a subscriber connects again, plus up to the jitter.
const RETRY_DELAY_NS: u64 = 250_000_000;
const RETRY_JITTER_NS: u64 = 250_000_000;
/// How long a connection closed with FIN waits for the proxy's FIN before it is dropped.
const FIN_CLOSE_WAIT_NS: u64 = 5_000_000_000;
/// Channels a slow reader subscribes to besides the flood channel: with it, ringpin's
/// per-connection maximum of 20, so that it shares its channels with healthy subscribers.
const SLOW_READER_CHANNELS_MAX: u64 = 19;
/// A slow reader's `SO_RCVBUF` request (the kernel doubles it).
const SLOW_READER_RECEIVE_BUFFER_BYTES: i32 = 1024;
/// Unexpected closes described on stderr, per worker (the rest are only counted).
const LOGGED_MAX: u64 = 5;

fn failure_reason(why: Failure) -> String {
    match why {
        Failure::Status(code) => format!("status_{code}"),
        Failure::BadHead => "bad_head".into(),
        Failure::BadChunk => "bad_chunk".into(),
        Failure::BadWs => "bad_ws".into(),
        Failure::Closed => "closed".into(),
    }
}

fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
    )
}

/// Sends what `client` and then `out` hold; true when nothing is left.
fn write_pending(
    stream: &mut TcpStream,
    client: Option<&mut Client>,
    out: &mut Vec<u8>,
) -> io::Result<bool> {
    if let Some(client) = client {
        while !client.pending_output().is_empty() {
            match stream.write(client.pending_output()) {
                Ok(n) => client.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
    while !out.is_empty() {
        match stream.write(out) {
            Ok(n) => {
                out.drain(..n);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// The slab and epoll.
impl Worker {
    fn insert_conn(&mut self, conn: Conn) -> Result<usize, String> {
        let token = match self.free.pop() {
            Some(t) => t,
            None => {
                self.conns.push(None);
                self.conns.len() - 1
            }
        };
        self.epoll
            .add(conn.stream.as_raw_fd(), token as u64, conn.interest)
            .map_err(|e| format!("epoll add: {e}"))?;
        self.conns[token] = Some(conn);
        Ok(token)
    }

    /// Takes a connection out; closing its socket also removes it from epoll.
    fn remove_conn(&mut self, token: usize) -> Option<Conn> {
        let conn = self.conns.get_mut(token)?.take()?;
        self.freed.push(token);
        Some(conn)
    }

    /// Makes tokens freed during the last batch of events available again.
    pub(super) fn recycle_tokens(&mut self) {
        self.free.append(&mut self.freed);
    }

    fn set_interest(&mut self, token: usize, interest: u32) -> Result<(), String> {
        let Some(conn) = self.conns[token].as_mut() else {
            return Ok(());
        };
        if conn.interest != interest {
            conn.interest = interest;
            self.epoll
                .modify(conn.stream.as_raw_fd(), token as u64, interest)
                .map_err(|e| format!("epoll modify: {e}"))?;
        }
        Ok(())
    }

    /// A non-blocking connect to the proxy from the next source address.
    fn connect(&mut self) -> io::Result<TcpStream> {
        let src = Ipv4Addr::new(127, 0, 0, 2 + (self.next_source % SOURCE_ADDRS) as u8);
        self.next_source += 1;
        sys::connect_nonblocking(src, self.spec.proxy)
    }

    fn config(&self, sub: &Subscriber) -> Rc<ClientConfig> {
        let config = match MODES.iter().position(|&m| m == sub.mode) {
            Some(m) if sub.mode != Mode::Longpoll => {
                &self.configs[m * self.spec.channels as usize + sub.channel as usize]
            }
            _ => &self.longpoll_config,
        };
        Rc::clone(config)
    }

    /// Queues subscriber `i` to connect again after a short pause.
    fn retry(&mut self, i: usize, now: u64) {
        self.subs[i].state = SubState::Waiting;
        let at = now + RETRY_DELAY_NS + self.rng.below(RETRY_JITTER_NS);
        self.waiting.push_back((at, i));
    }
}

/// Subscriber connections.
impl Worker {
    /// Opens a connection for subscriber `i`.
    pub(super) fn open_sub(&mut self, i: usize, now: u64) {
        let stream = match self.connect() {
            Ok(s) => s,
            Err(_) => {
                *self
                    .report
                    .connect_retries
                    .entry("connect_error".into())
                    .or_default() += 1;
                return self.retry(i, now);
            }
        };
        let sub = &self.subs[i].sub;
        let mut client = Client::new(&self.config(sub));
        let mut out = Vec::new();
        if sub.mode == Mode::Longpoll {
            client.consume_output(client.pending_output().len());
            out = sub.longpoll_request();
        }
        let conn = Conn {
            stream,
            client: Some(client),
            owner: Owner::Sub(i),
            connected: false,
            out,
            interest: EV_READ | EV_WRITE,
        };
        match self.insert_conn(conn) {
            Ok(token) => {
                let entry = &mut self.subs[i];
                entry.state = SubState::Connecting(token);
                self.connecting += 1;
                if entry.sub.mode == Mode::Longpoll
                    && (entry.sub.join_ns == 0 || entry.sub.highest().is_none())
                {
                    entry.sub.join_ns = now;
                }
            }
            Err(_) => {
                *self
                    .report
                    .connect_retries
                    .entry("epoll_error".into())
                    .or_default() += 1;
                self.retry(i, now);
            }
        }
    }

    /// Readiness of any connection.
    pub(super) fn on_ready(&mut self, token: usize, flags: u32, now: u64) {
        let Some(owner) = self
            .conns
            .get(token)
            .and_then(|c| c.as_ref().map(|c| c.owner))
        else {
            return;
        };
        match owner {
            Owner::Sub(i) => self.on_sub_ready(token, i, flags, now),
            Owner::Slow => self.on_slow_ready(token, flags),
            Owner::Closing { .. } => self.on_closing_ready(token),
        }
    }

    fn on_sub_ready(&mut self, token: usize, i: usize, flags: u32, now: u64) {
        let Some(conn) = self.conns[token].as_mut() else {
            return;
        };
        if !conn.connected {
            if flags & (EV_WRITE | EV_ERROR) == 0 {
                return;
            }
            match conn.stream.take_error() {
                Ok(None) => conn.connected = true,
                Ok(Some(_)) | Err(_) => return self.lose(token, "connect_error", now),
            }
        }
        if flags & (EV_READ | EV_ERROR) != 0 {
            self.read_sub(token, i, now);
        }
        self.flush_sub(token, i, now);
    }

    /// One read per readiness event (level-triggered epoll comes back for the rest).
    fn read_sub(&mut self, token: usize, i: usize, now: u64) {
        let mut events = std::mem::take(&mut self.events);
        events.clear();
        let mut read_buf = std::mem::take(&mut self.read_buf);
        let outcome = self.feed_client(token, i, &mut read_buf, &mut events);
        self.read_buf = read_buf;
        let response_done = match outcome {
            Ok(done) => done,
            Err(reason) => {
                self.events = events;
                return self.lose(token, &reason, now);
            }
        };
        for &event in &events {
            match event {
                Event::Held => self.mark_held(i, token, now),
                Event::Message(stamp) => self.subs[i].sub.on_message(stamp),
                Event::Malformed => self.subs[i].sub.on_malformed(),
                Event::Failed(why) => {
                    self.events = events;
                    return self.lose(token, &failure_reason(why), now);
                }
            }
        }
        self.events = events;
        if response_done {
            // The long-poll's response is complete: ask for the item after the last one.
            let request = self.subs[i].sub.longpoll_request();
            if let Some(conn) = self.conns[token].as_mut() {
                conn.out.extend_from_slice(&request);
            }
        }
    }

    /// Reads once into the client; Ok(true) when a long-poll response completed.
    fn feed_client(
        &mut self,
        token: usize,
        i: usize,
        read_buf: &mut [u8],
        events: &mut Vec<Event>,
    ) -> Result<bool, String> {
        let cfg = self.config(&self.subs[i].sub);
        let Some(conn) = self.conns[token].as_mut() else {
            return Ok(false);
        };
        let Some(client) = conn.client.as_mut() else {
            return Ok(false);
        };
        let n = match conn.stream.read(read_buf) {
            Ok(n) => n,
            Err(e) if is_transient(&e) => return Ok(false),
            Err(_) => return Err("read_error".into()),
        };
        if n == 0 {
            client.on_eof(&cfg, &mut |e| events.push(e));
        } else {
            client.on_bytes(&cfg, &read_buf[..n], &mut |e| events.push(e));
        }
        let queued = client.pending_output().len();
        let done = cfg.mode == Mode::Longpoll && queued > 0 && !client.is_closed();
        if cfg.mode == Mode::Longpoll {
            client.consume_output(queued);
        }
        Ok(done)
    }

    fn mark_held(&mut self, i: usize, token: usize, now: u64) {
        let entry = &mut self.subs[i];
        if entry.state == SubState::Connecting(token) {
            entry.state = SubState::Held(token);
            self.connecting -= 1;
            if entry.sub.mode != Mode::Longpoll {
                entry.sub.join_ns = now;
            }
        }
    }

    /// Sends what is queued; arms EPOLLOUT only while something is left. A long-poll is
    /// held once its first request is out: ringpin answers only when it has an item.
    fn flush_sub(&mut self, token: usize, i: usize, now: u64) {
        let Some(conn) = self.conns[token].as_mut() else {
            return;
        };
        if !conn.connected {
            return;
        }
        let all_sent = match write_pending(&mut conn.stream, conn.client.as_mut(), &mut conn.out) {
            Ok(all) => all,
            Err(_) => return self.lose(token, "write_error", now),
        };
        let interest = EV_READ | if all_sent { 0 } else { EV_WRITE };
        if let Err(e) = self.set_interest(token, interest) {
            return self.lose(token, &e, now);
        }
        if all_sent && self.subs[i].sub.mode == Mode::Longpoll {
            self.mark_held(i, token, now);
        }
    }

    /// A subscriber's connection ended: retried before it was held and for long-polls,
    /// otherwise the subscriber is broken.
    fn lose(&mut self, token: usize, reason: &str, now: u64) {
        let Some(conn) = self.remove_conn(token) else {
            return;
        };
        let Owner::Sub(i) = conn.owner else { return };
        drop(conn);
        let entry = &mut self.subs[i];
        let counts = match entry.state {
            SubState::Connecting(t) if t == token => {
                self.connecting -= 1;
                &mut self.report.connect_retries
            }
            SubState::Held(t) if t == token && entry.sub.mode == Mode::Longpoll => {
                &mut self.report.longpoll_retries
            }
            SubState::Held(t) if t == token => {
                entry.state = SubState::Broken(reason.to_string());
                self.logged += 1;
                if self.logged <= LOGGED_MAX {
                    eprintln!(
                        "soak worker {}: a healthy {} subscriber of channel {} was closed: {reason}",
                        self.spec.index,
                        entry.sub.mode.name(),
                        entry.sub.channel
                    );
                }
                return;
            }
            _ => return,
        };
        *counts.entry(reason.to_string()).or_default() += 1;
        self.retry(i, now);
    }
}

/// Client faults: disconnects and slow readers.
impl Worker {
    /// Closes `k` random held subscribers, alternately with RST and FIN, and queues a
    /// replacement for each.
    pub(super) fn disconnect(&mut self, k: u64, now: u64) {
        let mut held: Vec<(usize, usize)> = (0..self.subs.len())
            .filter_map(|i| match self.subs[i].state {
                SubState::Held(token) => Some((i, token)),
                _ => None,
            })
            .collect();
        let k = (k as usize).min(held.len());
        for j in 0..k {
            let pick = j + self.rng.below((held.len() - j) as u64) as usize;
            held.swap(j, pick);
            let (i, token) = held[j];
            let how = if self.rst_next { "rst" } else { "fin" };
            self.rst_next = !self.rst_next;
            self.close_for_fault(token, how == "rst", now);
            *self.report.disconnected.entry(how.into()).or_default() += 1;
            self.subs[i].state = SubState::Faulted;
            let old = &self.subs[i].sub;
            let replacement = Subscriber::new(old.mode, old.channel, false);
            self.subs.push(Entry {
                sub: replacement,
                state: SubState::Waiting,
            });
            self.waiting.push_back((now, self.subs.len() - 1));
        }
    }

    /// RST: `SO_LINGER` 0, then close. FIN: shut the write side and read until the proxy
    /// closes too (a close with unread data would send RST instead).
    fn close_for_fault(&mut self, token: usize, rst: bool, now: u64) {
        if rst {
            if let Some(conn) = self.remove_conn(token) {
                let _ = os::set_linger_zero(conn.stream.as_raw_fd());
            }
            return;
        }
        let Some(conn) = self.conns[token].as_mut() else {
            return;
        };
        let _ = conn.stream.shutdown(Shutdown::Write);
        conn.owner = Owner::Closing {
            deadline_ns: now + FIN_CLOSE_WAIT_NS,
        };
        conn.client = None;
        conn.out.clear();
        if self.set_interest(token, EV_READ).is_err() {
            self.remove_conn(token);
        }
    }

    fn on_closing_ready(&mut self, token: usize) {
        let Some(conn) = self.conns[token].as_mut() else {
            return;
        };
        match conn.stream.read(&mut self.read_buf) {
            Ok(0) => drop(self.remove_conn(token)),
            Ok(_) => {}
            Err(e) if is_transient(&e) => {}
            Err(_) => drop(self.remove_conn(token)),
        }
    }

    /// Drops connections closed with FIN whose proxy side never closed.
    pub(super) fn sweep_closing(&mut self, now: u64) {
        for token in 0..self.conns.len() {
            let expired = matches!(
                self.conns[token].as_ref().map(|c| c.owner),
                Some(Owner::Closing { deadline_ns }) if deadline_ns <= now
            );
            if expired {
                self.remove_conn(token);
            }
        }
    }

    /// Opens `k` slow readers, each a stream on the flood channel and up to 19 random
    /// channels, that reads nothing.
    pub(super) fn open_slow(&mut self, k: u64) {
        for _ in 0..k {
            let mut channels: Vec<u64> = (0..self.spec.channels).collect();
            self.rng.shuffle(&mut channels);
            channels.truncate(SLOW_READER_CHANNELS_MAX as usize);
            let names: Vec<String> = std::iter::once(FLOOD_CHANNEL.to_string())
                .chain(channels.iter().map(|&c| item::channel_name(c)))
                .collect();
            let request = format!(
                "GET /stream?channel={} HTTP/1.1\r\nHost: localhost\r\n\r\n",
                names.join(",")
            );
            let Ok(stream) = self.connect() else {
                self.report.slow_failed += 1;
                continue;
            };
            let _ = os::set_receive_buffer(stream.as_raw_fd(), SLOW_READER_RECEIVE_BUFFER_BYTES);
            let conn = Conn {
                stream,
                client: None,
                owner: Owner::Slow,
                connected: false,
                out: request.into_bytes(),
                interest: EV_WRITE,
            };
            match self.insert_conn(conn) {
                Ok(_) => {
                    self.slow += 1;
                    self.report.slow_opened += 1;
                }
                Err(_) => self.report.slow_failed += 1,
            }
        }
    }

    /// A slow reader sends its request and then waits with no interest but errors: an
    /// error or hang-up means the proxy closed it (with RST).
    fn on_slow_ready(&mut self, token: usize, flags: u32) {
        let Some(conn) = self.conns[token].as_mut() else {
            return;
        };
        let mut dead = flags & EV_ERROR != 0;
        if !dead && !conn.connected {
            conn.connected = matches!(conn.stream.take_error(), Ok(None));
            dead = !conn.connected;
        }
        if !dead {
            match write_pending(&mut conn.stream, None, &mut conn.out) {
                Ok(true) => dead = self.set_interest(token, 0).is_err(),
                Ok(false) => {}
                Err(_) => dead = true,
            }
        }
        if dead {
            let request_sent = self.conns[token].as_ref().is_some_and(|c| c.out.is_empty());
            self.remove_conn(token);
            self.slow -= 1;
            if request_sent {
                self.report.slow_closed_by_proxy += 1;
            } else {
                self.report.slow_failed += 1;
            }
        }
    }

    /// Closes every slow reader still open, with RST.
    pub(super) fn close_slow(&mut self) {
        for token in 0..self.conns.len() {
            if self.conns[token].as_ref().map(|c| c.owner) == Some(Owner::Slow) {
                if let Some(conn) = self.remove_conn(token) {
                    let _ = os::set_linger_zero(conn.stream.as_raw_fd());
                }
            }
        }
        self.slow = 0;
    }
}
