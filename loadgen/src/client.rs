//! Client: one subscriber connection's protocol state machine, for every mode.
//!
//! Owns: the response head being read, body framing (length, chunked, until close), the
//! mode's content parser (lines, SSE events, whole long-poll bodies, WebSocket frames),
//! and the bytes this connection still has to send (request, re-poll, pong).
//! Must not: touch sockets or read the clock; the worker does I/O and time-stamps, and
//! this code turns bytes into [`Event`]s (quinn-proto's split).
//! Invariants: a message is reported only when it is complete, whatever the read, chunk
//! and frame boundaries were. States and their successors:
//! * `Head`: reading a response head. Next: `Body`, `Ws`, `Closed`.
//! * `Body`: reading a body. Stream/SSE stay here; long-poll returns to `Head` after
//!   each response, having queued the re-poll. Next: `Head`, `Closed`.
//! * `Ws`: after `101`, reading frames. Next: `Closed`.
//! * `Closed`: failed or closed; all input is ignored.

use crate::chunked::ChunkedDecoder;
use crate::lines::LineSplitter;
use crate::message::{self, Stamp};
use crate::scenario::Mode;
use crate::sse::{SseItem, SseParser};
use crate::wsframe::{self, WsDecoder, WsItem};
use tungstenite::protocol::frame::coding::{Control, OpCode};

/// Largest response head accepted.
pub const RESPONSE_HEAD_BYTES_MAX: usize = 16 << 10;
/// Response headers parsed per head.
const HEADERS_MAX: usize = 32;

/// What is shared by every connection of a worker: the mode and the bytes that do not
/// differ between connections.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Transport.
    pub mode: Mode,
    /// The request every connection sends first (and long-poll re-sends).
    pub request: Vec<u8>,
    /// Length of a valid message value after framing is stripped.
    pub value_len: usize,
    /// ws only: the `Sec-WebSocket-Accept` the server must answer.
    pub ws_accept: String,
    /// ws only: the mask for client frames.
    pub ws_mask: [u8; 4],
}

/// What a connection's input produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The subscriber is held (stream: `open` line; SSE: `:open`; ws: `101`).
    Held,
    /// A message arrived.
    Message(Stamp),
    /// Something that should have been a message was not one.
    Malformed,
    /// The connection is unusable; the worker closes it.
    Failed(Failure),
}

/// Why a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// The response status was not the expected one.
    Status(u16),
    /// The response head did not parse or was too large.
    BadHead,
    /// The chunked body did not decode.
    BadChunk,
    /// The WebSocket handshake or frames were invalid.
    BadWs,
    /// The peer closed the connection (EOF or ws close).
    Closed,
}

enum Content {
    Lines(LineSplitter),
    Sse(LineSplitter, SseParser),
    Whole(Vec<u8>),
}

enum Framing {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilClose,
}

enum Phase {
    Head(Vec<u8>),
    Body(Framing, Content),
    Ws(WsDecoder),
    Closed,
}

/// One subscriber connection's protocol state.
pub struct Client {
    phase: Phase,
    out: Vec<u8>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("out_bytes", &self.out.len())
            .finish()
    }
}

impl Client {
    /// A connection about to send `cfg.request`.
    pub fn new(cfg: &ClientConfig) -> Client {
        Client {
            phase: Phase::Head(Vec::new()),
            out: cfg.request.clone(),
        }
    }

    /// Bytes waiting to be sent.
    pub fn pending_output(&self) -> &[u8] {
        &self.out
    }

    /// Drops the first `n` sent bytes.
    pub fn consume_output(&mut self, n: usize) {
        self.out.drain(..n);
    }

    /// True once the connection failed or closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Feeds bytes read from the socket.
    pub fn on_bytes(&mut self, cfg: &ClientConfig, mut data: &[u8], sink: &mut impl FnMut(Event)) {
        while !data.is_empty() {
            let used = match &mut self.phase {
                Phase::Closed => return,
                Phase::Head(_) => self.on_head_bytes(cfg, data, sink),
                Phase::Body(..) => self.on_body_bytes(cfg, data, sink),
                Phase::Ws(_) => self.on_ws_bytes(cfg, data, sink),
            };
            data = &data[used..];
        }
    }

    /// The peer closed its side.
    pub fn on_eof(&mut self, cfg: &ClientConfig, sink: &mut impl FnMut(Event)) {
        if let Phase::Body(Framing::UntilClose, _) = self.phase {
            self.finish_body(cfg, sink);
        }
        if !self.is_closed() {
            self.fail(Failure::Closed, sink);
        }
    }

    fn fail(&mut self, why: Failure, sink: &mut impl FnMut(Event)) {
        self.phase = Phase::Closed;
        sink(Event::Failed(why));
    }
}

/// What the worker needs from a response head.
struct Head {
    status: u16,
    framing: Framing,
    ws_accept_ok: bool,
}

fn parse_head(cfg: &ClientConfig, resp: &httparse::Response<'_, '_>) -> Head {
    let mut framing = Framing::UntilClose;
    let mut ws_accept_ok = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("transfer-encoding")
            && h.value.eq_ignore_ascii_case(b"chunked")
        {
            framing = Framing::Chunked(ChunkedDecoder::default());
        } else if h.name.eq_ignore_ascii_case("content-length")
            && !matches!(framing, Framing::Chunked(_))
        {
            let n = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok());
            framing = n.map_or(Framing::UntilClose, Framing::Length);
        } else if h.name.eq_ignore_ascii_case("sec-websocket-accept") {
            ws_accept_ok = h.value == cfg.ws_accept.as_bytes();
        }
    }
    Head {
        status: resp.code.unwrap_or(0),
        framing,
        ws_accept_ok,
    }
}

/// Largest long-poll body kept (loadgen messages are far smaller).
const LONGPOLL_BODY_BYTES_MAX: usize = 1 << 20;

impl Client {
    fn on_head_bytes(
        &mut self,
        cfg: &ClientConfig,
        data: &[u8],
        sink: &mut impl FnMut(Event),
    ) -> usize {
        let Phase::Head(buf) = &mut self.phase else {
            unreachable!("called in Head only")
        };
        let before = buf.len();
        buf.extend_from_slice(data);
        let mut headers = [httparse::EMPTY_HEADER; HEADERS_MAX];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let head = parse_head(cfg, &resp);
                self.on_head(cfg, head, sink);
                head_len - before
            }
            Ok(httparse::Status::Partial) if buf.len() <= RESPONSE_HEAD_BYTES_MAX => data.len(),
            _ => {
                self.fail(Failure::BadHead, sink);
                data.len()
            }
        }
    }

    fn on_head(&mut self, cfg: &ClientConfig, head: Head, sink: &mut impl FnMut(Event)) {
        if cfg.mode == Mode::Ws {
            if head.status != 101 {
                return self.fail(Failure::Status(head.status), sink);
            }
            if !head.ws_accept_ok {
                return self.fail(Failure::BadWs, sink);
            }
            self.phase = Phase::Ws(WsDecoder::default());
            return sink(Event::Held);
        }
        if head.status != 200 {
            return self.fail(Failure::Status(head.status), sink);
        }
        let content = match cfg.mode {
            Mode::Sse => Content::Sse(LineSplitter::default(), SseParser::default()),
            Mode::Longpoll => Content::Whole(Vec::new()),
            _ => Content::Lines(LineSplitter::default()),
        };
        let empty = matches!(head.framing, Framing::Length(0));
        self.phase = Phase::Body(head.framing, content);
        if empty {
            self.finish_body(cfg, sink);
        }
    }

    fn on_body_bytes(
        &mut self,
        cfg: &ClientConfig,
        data: &[u8],
        sink: &mut impl FnMut(Event),
    ) -> usize {
        let Phase::Body(framing, content) = &mut self.phase else {
            unreachable!("called in Body only")
        };
        let (used, done) = match framing {
            Framing::Length(left) => {
                let take = data.len().min(usize::try_from(*left).unwrap_or(usize::MAX));
                feed_content(content, cfg, &data[..take], sink);
                *left -= take as u64;
                (take, *left == 0)
            }
            Framing::Chunked(dec) => {
                match dec.feed(data, &mut |d| feed_content(content, cfg, d, sink)) {
                    Ok(used) => (used, dec.is_done()),
                    Err(_) => {
                        self.fail(Failure::BadChunk, sink);
                        return data.len();
                    }
                }
            }
            Framing::UntilClose => {
                feed_content(content, cfg, data, sink);
                (data.len(), false)
            }
        };
        if done {
            self.finish_body(cfg, sink);
        }
        used
    }

    /// A response body ended: long-poll reports its message and re-polls; a stream that
    /// ends is a closed subscriber.
    fn finish_body(&mut self, cfg: &ClientConfig, sink: &mut impl FnMut(Event)) {
        let Phase::Body(_, Content::Whole(body)) = &self.phase else {
            return self.fail(Failure::Closed, sink);
        };
        if body.as_slice() != b"timeout\n" {
            on_value(cfg, body.strip_suffix(b"\n").unwrap_or(body), sink);
        }
        self.out.extend_from_slice(&cfg.request);
        self.phase = Phase::Head(Vec::new());
    }

    fn on_ws_bytes(
        &mut self,
        cfg: &ClientConfig,
        data: &[u8],
        sink: &mut impl FnMut(Event),
    ) -> usize {
        let Client { phase, out } = self;
        let Phase::Ws(dec) = phase else {
            unreachable!("called in Ws only")
        };
        let mut closed = false;
        let fed = dec.feed(data, &mut |item| match item {
            WsItem::Message(m) => on_value(cfg, m.strip_suffix(b"\n").unwrap_or(m), sink),
            WsItem::Ping(p) => {
                wsframe::encode_client_frame(OpCode::Control(Control::Pong), p, cfg.ws_mask, out)
            }
            WsItem::Close => closed = true,
        });
        if fed.is_err() {
            self.fail(Failure::BadWs, sink);
        } else if closed {
            self.fail(Failure::Closed, sink);
        }
        data.len()
    }
}

fn feed_content(
    content: &mut Content,
    cfg: &ClientConfig,
    data: &[u8],
    sink: &mut impl FnMut(Event),
) {
    match content {
        Content::Lines(lines) => lines.feed(data, &mut |line| match line {
            b"open" => sink(Event::Held),
            b"" => {}
            value => on_value(cfg, value, sink),
        }),
        Content::Sse(lines, sse) => lines.feed(data, &mut |line| match sse.on_line(line) {
            Some(SseItem::Comment(b"open")) => sink(Event::Held),
            Some(SseItem::Comment(_)) | None => {}
            Some(SseItem::Event(value)) => on_value(cfg, value, sink),
        }),
        Content::Whole(body) => {
            let room = LONGPOLL_BODY_BYTES_MAX.saturating_sub(body.len());
            body.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
}

fn on_value(cfg: &ClientConfig, value: &[u8], sink: &mut impl FnMut(Event)) {
    match message::parse(value) {
        Some(stamp) if value.len() == cfg.value_len => sink(Event::Message(stamp)),
        _ => sink(Event::Malformed),
    }
}

#[cfg(test)]
mod tests;
