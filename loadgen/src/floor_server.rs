//! `floor-server`: the kernel floor, ringpin's delivery with no proxy logic.
//!
//! What it measures. A ringpin delivery is: accept a client, answer its request with a chunked
//! head, hold the socket, and when a publish arrives encode the item once and write that one
//! buffer to every held socket. The floor server does exactly that on the same sockets over the
//! same loopback TCP, and nothing else: no HTTP routing, no origin request, no GRIP instruction,
//! no channel subscription map, no cross-shard inbox, no per-connection queue beyond the bytes
//! the kernel did not take. What remains is the cost the kernel charges for the deliveries
//! themselves (TCP transmit on the sender, loopback receive on the client), plus one syscall or
//! one io_uring entry per socket. The loadgen runs it under the same coordinator as ringpin and
//! Pushpin, so "ringpin / floor" is the share of delivery cost that ringpin adds, and no proxy
//! can beat the floor with the same sockets. That makes it the fair baseline (STYLE §12:
//! comparisons are ratios from one interleaved run).
//!
//! Channels are kept as a proxy must keep them: a subscriber holds the channel its request's
//! `?channel=` names, and an item goes to its channel's subscribers only. With one channel
//! that is every subscriber; with `--channels K` it is what `run --channels K` asks of
//! ringpin, at the cost of one map lookup per item (see `channels.rs`).
//!
//! Bursts are handled as ringpin handles them. A publish is answered as soon as its items are
//! queued, and a delivery pass takes each channel's queued items as one buffer, so items
//! published while a pass runs reach each subscriber together, in one send, on the next pass
//! (ringpin's shards take every item waiting in their inbox the same way). Between slices of
//! a pass the server answers whatever arrived, standing in for ringpin's router thread.
//!
//! Two delivery modes (`--mode`), matching DESIGN §2's question of whether the syscall path
//! matters: `send` is a loop of non-blocking send(2) calls, as glommio's `TcpStream` does;
//! `uring` submits one IORING_OP_SEND per socket in batches of `--batch`. Bytes a socket does
//! not take are kept in a small per-connection pending buffer and finished on EPOLLOUT.
//!
//! It speaks just enough of ringpin's contract for the coordinator to drive it unchanged: a
//! GET on `--listen` with `?channel=C` subscribes to C; `POST /publish/` on
//! `--publish-listen` takes Pushpin's JSON and answers `Published`; `GET /metrics` reports
//! `ringpin_subscriptions`; `GET /pid` answers the process id so the coordinator can read its
//! CPU time from /proc. One thread, level-triggered epoll, an SO_REUSEPORT listener, so
//! several processes share one client port past the per-process descriptor limit (DESIGN §3).
//! SIGTERM or SIGINT stops it.
//!
//! Owns: the listeners, the signalfd, every connection, the counters.
//! Must not: block, or let one slow subscriber delay the next (the pending buffer absorbs it).

mod channels;
mod conns;
mod delivery;
mod sys;
mod wire;

use channels::Channels;
use conns::{Conn, Conns, Key, Role, WriteError, TOKEN_RESERVED_MIN};
use delivery::{Delivery, Outgoing, Tally, UringSender, BATCH_DEFAULT, BATCH_MAX};
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, OwnedFd};
use sys::{Epoll, INTEREST_READ};

const USAGE: &str = "usage: ringpin-loadgen floor-server --listen ADDR --publish-listen ADDR --mode send|uring [--batch N]

  --listen ADDR          client listener, IP:PORT or PORT (SO_REUSEPORT: processes may share it)
  --publish-listen ADDR  publish/control listener: POST /publish/, GET /metrics, GET /pid
  --mode send|uring      deliver with non-blocking send(2), or with batched IORING_OP_SEND
  --batch N              sends per io_uring submission, 1-32768 (default 256; uring mode only)";

/// The client listener's backlog: large enough for a connect storm of thousands of clients.
const LISTEN_BACKLOG: i32 = 4096;
/// Events taken from epoll per wait.
const EVENTS_MAX: usize = 1024;
/// Bytes read from one socket per readiness event, so one busy socket cannot starve the rest.
const READ_BYTES_MAX_PER_EVENT: usize = 64 * 1024;

const TOKEN_CLIENT_LISTENER: u64 = u64::MAX;
const TOKEN_CONTROL_LISTENER: u64 = u64::MAX - 1;
const TOKEN_SIGNAL: u64 = u64::MAX - 2;
const _: () = assert!(TOKEN_SIGNAL >= TOKEN_RESERVED_MIN);

/// Subscriber sockets written between two looks at the other connections during a pass.
const SLICE: usize = 512;
/// Events taken per look between slices.
const SLICE_EVENTS_MAX: usize = 64;

/// Whether the server keeps running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// How chunks reach the sockets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Send,
    Uring,
}

/// The parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Args {
    listen: SocketAddr,
    publish_listen: SocketAddr,
    mode: Mode,
    batch: usize,
}

/// Runs `floor-server` with the arguments after the subcommand name, until SIGTERM or SIGINT.
pub fn main(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let args = parse_args(args).map_err(|e| format!("{e}\n{USAGE}"))?;
    let nofile = sys::raise_nofile_limit().map_err(|e| format!("raising RLIMIT_NOFILE: {e}"))?;
    let mut server = Server::start(&args)?;
    eprintln!(
        "floor-server: pid {} listen {} publish-listen {} mode {:?} batch {} nofile {nofile}",
        std::process::id(),
        args.listen,
        args.publish_listen,
        args.mode,
        args.batch
    );
    let result = server.run();
    eprintln!("floor-server: stopped; {}", server.stats.summary());
    result
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let (mut listen, mut publish_listen, mut mode, mut batch) = (None, None, None, BATCH_DEFAULT);
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_string())),
            _ => (arg.as_str(), None),
        };
        let value = match inline {
            Some(value) => value,
            None => rest
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?
                .clone(),
        };
        match flag {
            "--listen" => listen = Some(parse_addr(&value)?),
            "--publish-listen" => publish_listen = Some(parse_addr(&value)?),
            "--mode" => {
                mode = Some(match value.as_str() {
                    "send" => Mode::Send,
                    "uring" => Mode::Uring,
                    _ => return Err(format!("--mode must be send or uring, not {value:?}")),
                })
            }
            "--batch" => {
                batch = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=BATCH_MAX).contains(n))
                    .ok_or_else(|| format!("--batch must be 1-{BATCH_MAX}, not {value:?}"))?
            }
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    Ok(Args {
        listen: listen.ok_or("--listen is required")?,
        publish_listen: publish_listen.ok_or("--publish-listen is required")?,
        mode: mode.ok_or("--mode is required")?,
        batch,
    })
}

/// `IP:PORT`, or a bare `PORT` meaning every address, as ringpin's `--listen` takes it.
fn parse_addr(value: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = value.parse::<u16>() {
        return Ok(SocketAddr::from(([0, 0, 0, 0], port)));
    }
    value
        .parse()
        .map_err(|_| format!("{value:?} is not IP:PORT or PORT"))
}

/// Counters, reported by `/metrics` and at exit.
#[derive(Debug, Default)]
struct Stats {
    connections: u64,
    subscribers: u64,
    accepted: u64,
    publishes: u64,
    items: u64,
    /// Items published to a channel nobody held (dropped, as a proxy drops them).
    items_unheld: u64,
    deliveries: u64,
    sends_whole: u64,
    sends_partial: u64,
    sends_queued: u64,
    closed_write_error: u64,
    closed_pending_full: u64,
    /// Times a listener was paused because the process ran out of descriptors.
    accept_pauses: u64,
    /// The most recent write error, for the exit summary (one line, not one per socket).
    last_write_error: Option<String>,
}

impl Stats {
    /// Counts one slice of a delivery pass.
    fn add(&mut self, tally: &Tally) {
        self.sends_whole += tally.whole;
        self.sends_partial += tally.partial;
        self.sends_queued += tally.queued;
        self.deliveries += tally.deliveries;
    }

    fn render(&self) -> String {
        let rows: [(&str, &str, u64); 10] = [
            ("ringpin_connections", "gauge", self.connections),
            ("ringpin_subscriptions", "gauge", self.subscribers),
            (
                "ringpin_connections_accepted_total",
                "counter",
                self.accepted,
            ),
            ("ringpin_publishes_total", "counter", self.publishes),
            ("ringpin_items_total", "counter", self.items),
            ("ringpin_deliveries_total", "counter", self.deliveries),
            (
                "ringpin_deliveries_dropped_total",
                "counter",
                self.closed_pending_full,
            ),
            (
                "ringpin_floor_sends_partial_total",
                "counter",
                self.sends_partial,
            ),
            (
                "ringpin_floor_sends_queued_total",
                "counter",
                self.sends_queued,
            ),
            (
                "ringpin_floor_write_errors_total",
                "counter",
                self.closed_write_error,
            ),
        ];
        let mut out = String::with_capacity(1024);
        for (name, kind, value) in rows {
            out.push_str(&format!("# TYPE {name} {kind}\n{name} {value}\n"));
        }
        out
    }

    fn summary(&self) -> String {
        format!(
            "accepted {} publishes {} items {} (to no subscriber {}) deliveries {} \
             (whole {} partial {} queued {}) closed: write error {} pending full {} \
             (last write error: {}); accept pauses at the descriptor limit {}",
            self.accepted,
            self.publishes,
            self.items,
            self.items_unheld,
            self.deliveries,
            self.sends_whole,
            self.sends_partial,
            self.sends_queued,
            self.closed_write_error,
            self.closed_pending_full,
            self.last_write_error.as_deref().unwrap_or("none"),
            self.accept_pauses
        )
    }
}

/// The whole server: one thread, one epoll.
#[derive(Debug)]
struct Server {
    epoll: Epoll,
    client_listener: OwnedFd,
    control_listener: OwnedFd,
    signals: OwnedFd,
    conns: Conns,
    delivery: Delivery,
    stats: Stats,
    /// Listeners taken off epoll after EMFILE/ENFILE, re-armed when a connection closes.
    paused_listeners: Vec<u64>,
    /// Each channel's subscribers, and the chunks published to it since the current delivery
    /// pass took its batches: the next pass writes them to each subscriber in one send, as
    /// ringpin's shards do with the items waiting in their inbox.
    channels: Channels,
    /// Events buffer for the polls between delivery slices.
    slice_events: Vec<libc::epoll_event>,
}

impl Server {
    fn start(args: &Args) -> Result<Server, String> {
        let bind = |addr: SocketAddr| {
            sys::bind_listener(addr, LISTEN_BACKLOG).map_err(|e| format!("binding {addr}: {e}"))
        };
        let client_listener = bind(args.listen)?;
        let control_listener = bind(args.publish_listen)?;
        let signals =
            sys::signal_fd(&[libc::SIGTERM, libc::SIGINT]).map_err(|e| format!("signalfd: {e}"))?;
        let delivery = match args.mode {
            Mode::Send => Delivery::Send,
            Mode::Uring => {
                let sender = UringSender::new(args.batch).map_err(|e| {
                    format!("io_uring setup: {e} (see /proc/sys/kernel/io_uring_disabled and RLIMIT_MEMLOCK)")
                })?;
                Delivery::Uring(Box::new(sender))
            }
        };
        let epoll = Epoll::new().map_err(|e| format!("epoll: {e}"))?;
        let registrations = [
            (&client_listener, TOKEN_CLIENT_LISTENER),
            (&control_listener, TOKEN_CONTROL_LISTENER),
            (&signals, TOKEN_SIGNAL),
        ];
        for (fd, token) in registrations {
            epoll
                .add(fd.as_raw_fd(), libc::EPOLLIN as u32, token)
                .map_err(|e| format!("epoll_ctl: {e}"))?;
        }
        Ok(Server {
            epoll,
            client_listener,
            control_listener,
            signals,
            conns: Conns::default(),
            delivery,
            stats: Stats::default(),
            paused_listeners: Vec::new(),
            channels: Channels::default(),
            slice_events: vec![libc::epoll_event { events: 0, u64: 0 }; SLICE_EVENTS_MAX],
        })
    }

    fn run(&mut self) -> Result<(), String> {
        let empty = libc::epoll_event { events: 0, u64: 0 };
        let mut events = vec![empty; EVENTS_MAX];
        loop {
            let ready = self
                .epoll
                .wait(&mut events, -1)
                .map_err(|e| format!("epoll_wait: {e}"))?;
            if self.on_events(&events[..ready])? == Flow::Stop {
                return Ok(());
            }
            while self.channels.has_pending() {
                if self.deliver_pending()? == Flow::Stop {
                    return Ok(());
                }
            }
        }
    }

    fn on_events(&mut self, events: &[libc::epoll_event]) -> Result<Flow, String> {
        for event in events {
            let (token, flags) = (event.u64, event.events);
            match token {
                TOKEN_SIGNAL => {
                    if let Some(signal) =
                        sys::read_signal(&self.signals).map_err(|e| format!("signalfd: {e}"))?
                    {
                        eprintln!("floor-server: signal {signal}, stopping");
                        return Ok(Flow::Stop);
                    }
                }
                TOKEN_CLIENT_LISTENER => self.on_acceptable(token, Role::ClientHead)?,
                TOKEN_CONTROL_LISTENER => self.on_acceptable(token, Role::Control)?,
                _ => self.on_conn_event(Key::from_token(token), flags)?,
            }
        }
        Ok(Flow::Continue)
    }

    /// One delivery pass: takes every channel's pending chunks as one buffer per channel and
    /// writes it to that channel's subscribers, `SLICE` sockets at a time. Between slices it
    /// answers whatever arrived (publishes are queued for the next pass), as ringpin's router
    /// does while its shards deliver. Subscribers that fail are closed.
    fn deliver_pending(&mut self) -> Result<Flow, String> {
        let batches = self.channels.take_pending();
        let mut sends = Vec::with_capacity(SLICE);
        let mut subscribers = batches.iter().flat_map(|batch| {
            batch.subscribers.iter().map(|&key| Outgoing {
                key,
                chunks: &batch.chunks,
                items: batch.items,
            })
        });
        loop {
            sends.clear();
            sends.extend(subscribers.by_ref().take(SLICE));
            if sends.is_empty() {
                return Ok(Flow::Continue);
            }
            let tally = self
                .delivery
                .deliver(&sends, &mut self.conns, &self.epoll)
                .map_err(|e| format!("io_uring delivery: {e}"))?;
            self.stats.add(&tally);
            for (key, error) in tally.failed {
                match error {
                    WriteError::Overflow => self.stats.closed_pending_full += 1,
                    WriteError::Io(e) => {
                        self.stats.closed_write_error += 1;
                        self.stats.last_write_error = Some(e.to_string());
                    }
                }
                self.close(key);
            }
            let mut events = std::mem::take(&mut self.slice_events);
            let ready = self
                .epoll
                .wait(&mut events, 0)
                .map_err(|e| format!("epoll_wait: {e}"))?;
            let flow = self.on_events(&events[..ready]);
            self.slice_events = events;
            if flow? == Flow::Stop {
                return Ok(Flow::Stop);
            }
        }
    }

    fn on_acceptable(&mut self, token: u64, role: Role) -> Result<(), String> {
        let listener = if token == TOKEN_CLIENT_LISTENER {
            &self.client_listener
        } else {
            &self.control_listener
        };
        loop {
            let fd = match sys::accept(listener) {
                Ok(fd) => fd,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // Out of descriptors: stop polling this listener (level-triggered epoll would
                    // spin) until a connection closes. Waiting clients stay in the backlog. Logged
                    // once; the count is in the exit summary.
                    self.stats.accept_pauses += 1;
                    if self.stats.accept_pauses == 1 {
                        eprintln!(
                            "floor-server: accept: {e}; accepts wait for a connection to close"
                        );
                    }
                    self.epoll
                        .modify(listener.as_raw_fd(), 0, token)
                        .map_err(|e| format!("epoll_ctl: {e}"))?;
                    self.paused_listeners.push(token);
                    return Ok(());
                }
                // The peer gave up between SYN and accept; the next one may be fine.
                Err(e) if matches!(e.raw_os_error(), Some(libc::ECONNABORTED | libc::EPROTO)) => {
                    continue
                }
                Err(e) => return Err(format!("accept: {e}")),
            };
            if role == Role::ClientHead {
                // Ignored on failure: a client without TCP_NODELAY still gets every byte.
                let _ = sys::set_nodelay(&fd);
            }
            let raw = fd.as_raw_fd();
            let key = self.conns.insert(Conn::new(fd, role));
            self.epoll
                .add(raw, INTEREST_READ, key.token())
                .map_err(|e| format!("epoll_ctl add: {e}"))?;
            self.stats.accepted += 1;
            self.stats.connections += 1;
        }
    }

    fn on_conn_event(&mut self, key: Key, flags: u32) -> Result<(), String> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(()); // closed earlier in this batch of events
        };
        if flags & libc::EPOLLERR as u32 != 0 {
            self.close(key);
            return Ok(());
        }
        if flags & libc::EPOLLOUT as u32 != 0 {
            match conn.on_writable(&self.epoll, key) {
                Ok(true) if conn.close_when_flushed => {
                    self.close(key);
                    return Ok(());
                }
                Ok(_) => {}
                Err(_) => {
                    self.stats.closed_write_error += 1;
                    self.close(key);
                    return Ok(());
                }
            }
        }
        let readable = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLHUP) as u32;
        if flags & readable != 0 {
            self.on_readable(key)?;
        }
        Ok(())
    }

    /// Reads what the socket has (bounded per event) and acts on it by role.
    fn on_readable(&mut self, key: Key) -> Result<(), String> {
        let Some(conn) = self.conns.get_mut(key) else {
            return Ok(());
        };
        let mut scratch = [0u8; 16 * 1024];
        let mut total = 0;
        let mut is_eof = false;
        while total < READ_BYTES_MAX_PER_EVENT {
            match sys::recv(conn.fd.as_raw_fd(), &mut scratch) {
                Ok(0) => {
                    is_eof = true;
                    break;
                }
                Ok(n) => {
                    total += n;
                    // A subscriber has nothing more to say; anything it sends is discarded.
                    if conn.role != Role::Subscriber {
                        conn.inbuf.extend_from_slice(&scratch[..n]);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(_) => {
                    is_eof = true;
                    break;
                }
            }
        }
        match conn.role {
            Role::ClientHead => self.on_client_head(key),
            Role::Control => self.on_control_bytes(key)?,
            Role::Subscriber => {}
        }
        if is_eof {
            self.close(key);
        }
        Ok(())
    }

    fn on_client_head(&mut self, key: Key) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let response = match wire::parse_client_head(&conn.inbuf) {
            wire::ClientHead::Incomplete => return,
            wire::ClientHead::Get { channel } => {
                conn.role = Role::Subscriber;
                conn.inbuf = Vec::new();
                conn.subscription = Some(self.channels.subscribe(&channel, key));
                self.stats.subscribers += 1;
                wire::OPEN_RESPONSE.to_vec()
            }
            wire::ClientHead::Reject(response) => {
                conn.close_when_flushed = true;
                conn.inbuf = Vec::new();
                response
            }
        };
        self.respond(key, &response);
    }

    /// Handles every complete request in a control connection's buffer, in order.
    fn on_control_bytes(&mut self, key: Key) -> Result<(), String> {
        loop {
            let Some(conn) = self.conns.get_mut(key) else {
                return Ok(());
            };
            if conn.close_when_flushed {
                conn.inbuf.clear(); // answered its last request; ignore anything after it
                return Ok(());
            }
            let (response, is_last) = match wire::parse_control_request(&conn.inbuf) {
                Ok(None) => return Ok(()),
                Ok(Some((request, used))) => {
                    conn.inbuf.drain(..used);
                    (self.on_control_request(&request)?, request.is_last)
                }
                Err(response) => (response, true),
            };
            if let Some(conn) = self.conns.get_mut(key) {
                conn.close_when_flushed = is_last;
            }
            self.respond(key, &response);
        }
    }

    fn on_control_request(&mut self, request: &wire::ControlRequest) -> Result<Vec<u8>, String> {
        let is_last = request.is_last;
        let response = match (request.method.as_str(), request.path.as_str()) {
            ("POST", "/publish" | "/publish/") => match wire::parse_publish_items(&request.body) {
                Ok(items) => {
                    self.publish(&items);
                    wire::simple(200, "OK", "Published\n", is_last)
                }
                Err(text) => wire::simple(400, "Bad Request", &format!("{text}\n"), is_last),
            },
            ("GET", "/metrics") => wire::encode_response(
                200,
                "OK",
                "text/plain; version=0.0.4",
                self.stats.render().as_bytes(),
                is_last,
            ),
            ("GET", "/pid") => {
                wire::simple(200, "OK", &format!("{}\n", std::process::id()), is_last)
            }
            (_, "/publish" | "/publish/" | "/metrics" | "/pid") => {
                wire::simple(405, "Method Not Allowed", "Method Not Allowed\n", is_last)
            }
            _ => wire::simple(404, "Not Found", "Not Found\n", is_last),
        };
        Ok(response)
    }

    /// Encodes each item once and queues it for its channel's next delivery pass
    /// (`deliver_pending`), which runs after the reply is written, as ringpin answers once
    /// items are queued.
    fn publish(&mut self, items: &[wire::StreamItem]) {
        self.stats.publishes += 1;
        for item in items {
            self.stats.items += 1;
            if !self
                .channels
                .queue(&item.channel, &wire::encode_chunk(&item.content))
            {
                self.stats.items_unheld += 1;
            }
        }
    }

    /// Writes a response to a client or control connection; closes it on failure, or at once
    /// when it was the last response and the kernel took all of it.
    fn respond(&mut self, key: Key, response: &[u8]) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        match conn.write(response, &self.epoll, key) {
            Ok(_) if conn.close_when_flushed && !conn.has_pending() => self.close(key),
            Ok(_) => {}
            Err(_) => {
                self.stats.closed_write_error += 1;
                self.close(key);
            }
        }
    }

    fn close(&mut self, key: Key) {
        let Some(conn) = self.conns.remove(key) else {
            return;
        };
        self.stats.connections -= 1;
        if conn.role == Role::Subscriber {
            self.stats.subscribers -= 1;
        }
        if let Some(subscription) = conn.subscription {
            if let Some((moved, place)) = self.channels.unsubscribe(subscription) {
                let moved = self.conns.get_mut(moved);
                moved
                    .expect("a channel lists only open subscribers")
                    .subscription = Some(place);
            }
        }
        drop(conn); // closes the socket, which also removes it from epoll
        for token in std::mem::take(&mut self.paused_listeners) {
            let listener = if token == TOKEN_CLIENT_LISTENER {
                &self.client_listener
            } else {
                &self.control_listener
            };
            if let Err(e) = self
                .epoll
                .modify(listener.as_raw_fd(), libc::EPOLLIN as u32, token)
            {
                eprintln!("floor-server: re-arming a listener: {e}");
                self.paused_listeners.push(token);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        let words: Vec<String> = line.split_whitespace().map(String::from).collect();
        parse_args(&words)
    }

    #[test]
    fn command_line_takes_both_flag_forms_and_defaults_the_batch() {
        let parsed = args("--listen 127.0.0.1:7999 --publish-listen=127.0.0.1:5561 --mode uring")
            .expect("valid");
        assert_eq!(parsed.listen, "127.0.0.1:7999".parse().expect("addr"));
        assert_eq!(
            parsed.publish_listen,
            "127.0.0.1:5561".parse().expect("addr")
        );
        assert_eq!(parsed.mode, Mode::Uring);
        assert_eq!(parsed.batch, BATCH_DEFAULT);
        let bare =
            args("--listen 7999 --publish-listen 5561 --mode send --batch 32768").expect("valid");
        assert_eq!(bare.listen, "0.0.0.0:7999".parse().expect("addr"));
        assert_eq!(bare.batch, BATCH_MAX);
    }

    #[test]
    fn command_line_errors_name_the_flag() {
        let cases = [
            ("--listen 1 --publish-listen 2", "--mode is required"),
            ("--listen 1 --mode send", "--publish-listen is required"),
            ("--listen 1 --publish-listen 2 --mode tcp", "--mode must be"),
            (
                "--listen 1 --publish-listen 2 --mode send --batch 0",
                "--batch must be",
            ),
            (
                "--listen 1 --publish-listen 2 --mode send --batch 32769",
                "--batch must be",
            ),
            ("--listen nowhere", "is not IP:PORT"),
            ("--listen", "--listen needs a value"),
            ("--shards 2", "unknown option"),
        ];
        for (line, expected) in cases {
            let error = args(line).expect_err(line);
            assert!(error.contains(expected), "{line}: {error}");
        }
    }

    #[test]
    fn metrics_name_subscriptions_as_ringpin_does() {
        let stats = Stats {
            subscribers: 7,
            ..Stats::default()
        };
        assert!(stats.render().contains("\nringpin_subscriptions 7\n"));
    }
}
