use super::*;
use crate::message::{encode, encode_framed, Framing as MsgFraming};
use tungstenite::protocol::frame::coding::Data;

const SIZE: usize = 64;

fn cfg(mode: Mode) -> ClientConfig {
    let key = "dGhlIHNhbXBsZSBub25jZQ==";
    ClientConfig {
        mode,
        request: mode.path("c").into_bytes(),
        value_len: message::value_len(SIZE, mode.framing()),
        ws_accept: wsframe::expected_accept(key),
        ws_mask: [9, 8, 7, 6],
    }
}

fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn msg(seq: u64) -> Vec<u8> {
    encode(seq, 1000 + seq, SIZE)
}

/// Feeds `wire` cut at `a` and `b`; returns the events.
fn run(mode: Mode, wire: &[u8], a: usize, b: usize) -> (Vec<Event>, Client) {
    let cfg = cfg(mode);
    let mut client = Client::new(&cfg);
    let mut events = Vec::new();
    for part in [&wire[..a], &wire[a..b], &wire[b..]] {
        client.on_bytes(&cfg, part, &mut |e| events.push(e));
    }
    (events, client)
}

fn stamp(seq: u64) -> Event {
    Event::Message(Stamp {
        seq,
        send_ns: 1000 + seq,
    })
}

fn assert_any_split(mode: Mode, wire: &[u8], want: &[Event]) {
    for a in 0..=wire.len() {
        for b in a..=wire.len() {
            let (events, _) = run(mode, wire, a, b);
            assert_eq!(events, want, "{} splits {a},{b}", mode.name());
        }
    }
}

#[test]
fn stream_messages_sharing_and_straddling_chunks_arrive_whole() {
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    wire.extend(chunk(b"open\n"));
    wire.extend(chunk(&[msg(1), msg(2)].concat()));
    let m3 = msg(3);
    wire.extend(chunk(&m3[..10]));
    wire.extend(chunk(&m3[10..]));
    assert_any_split(
        Mode::Stream,
        &wire,
        &[Event::Held, stamp(1), stamp(2), stamp(3)],
    );
}

#[test]
fn sse_events_and_keep_alive_comments_survive_any_split() {
    let sse = |seq| encode_framed(seq, 1000 + seq, SIZE, MsgFraming::SseEvent);
    let mut wire =
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
            .to_vec();
    wire.extend(chunk(b":open\n\n"));
    wire.extend(chunk(&[sse(1), b":\n\n".to_vec(), sse(2)].concat()));
    assert_any_split(Mode::Sse, &wire, &[Event::Held, stamp(1), stamp(2)]);
}

#[test]
fn longpoll_reports_each_response_and_re_polls_on_the_same_connection() {
    let m1 = msg(1);
    let mut wire = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", m1.len()).into_bytes();
    wire.extend(&m1);
    wire.extend(b"HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\ntimeout\n");
    wire.extend(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
    wire.extend(chunk(&msg(2)));
    wire.extend(b"0\r\n\r\n");
    assert_any_split(Mode::Longpoll, &wire, &[stamp(1), stamp(2)]);
    let (_, client) = run(Mode::Longpoll, &wire, 0, 0);
    let request = cfg(Mode::Longpoll).request;
    assert_eq!(
        client.pending_output(),
        [&request[..]; 4].concat(),
        "first request plus three re-polls"
    );
}

fn ws_head(accept: &str) -> Vec<u8> {
    format!("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").into_bytes()
}

#[test]
fn ws_messages_arrive_whole_and_pings_are_answered() {
    let mut wire = ws_head(&cfg(Mode::Ws).ws_accept);
    wire.extend(crate::wsframe::server_frame(
        OpCode::Data(Data::Text),
        true,
        &msg(1),
    ));
    wire.extend(crate::wsframe::server_frame(
        OpCode::Control(Control::Ping),
        true,
        b"hi",
    ));
    let m2 = msg(2);
    wire.extend(crate::wsframe::server_frame(
        OpCode::Data(Data::Text),
        false,
        &m2[..5],
    ));
    wire.extend(crate::wsframe::server_frame(
        OpCode::Data(Data::Continue),
        true,
        &m2[5..],
    ));
    assert_any_split(Mode::Ws, &wire, &[Event::Held, stamp(1), stamp(2)]);
    let (_, client) = run(Mode::Ws, &wire, 0, 0);
    let request_len = cfg(Mode::Ws).request.len();
    let pong = &client.pending_output()[request_len..];
    assert_eq!(pong.len(), 2 + 4 + 2);
    assert_eq!(pong[0], 0x8A, "final pong");
}

#[test]
fn failures_are_reported_once_and_close_the_client() {
    let (events, client) = run(
        Mode::Stream,
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
        0,
        0,
    );
    assert_eq!(events, [Event::Failed(Failure::Status(502))]);
    assert!(client.is_closed());
    let (events, _) = run(Mode::Ws, &ws_head("wrong"), 0, 0);
    assert_eq!(events, [Event::Failed(Failure::BadWs)]);
    let (events, _) = run(
        Mode::Stream,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        0,
        0,
    );
    assert_eq!(events, [Event::Failed(Failure::BadChunk)]);
    let (events, _) = run(Mode::Stream, b"garbage\r\n\r\n", 0, 0);
    assert_eq!(events, [Event::Failed(Failure::BadHead)]);
}

#[test]
fn eof_after_the_head_closes_a_stream_but_ends_a_close_delimited_longpoll_body() {
    let c = cfg(Mode::Stream);
    let mut client = Client::new(&c);
    let mut events = Vec::new();
    client.on_bytes(
        &c,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nopen\n\r\n",
        &mut |e| events.push(e),
    );
    client.on_eof(&c, &mut |e| events.push(e));
    assert_eq!(events, [Event::Held, Event::Failed(Failure::Closed)]);

    let c = cfg(Mode::Longpoll);
    let mut client = Client::new(&c);
    let mut events = Vec::new();
    client.on_bytes(&c, b"HTTP/1.0 200 OK\r\n\r\n", &mut |e| events.push(e));
    client.on_bytes(&c, &msg(4), &mut |e| events.push(e));
    client.on_eof(&c, &mut |e| events.push(e));
    assert_eq!(events, [stamp(4), Event::Failed(Failure::Closed)]);
}

#[test]
fn a_message_of_the_wrong_size_is_malformed() {
    let mut wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    wire.extend(chunk(b"open\n1 2 xxx\n"));
    wire.extend(chunk(&encode(3, 4, SIZE + 1)));
    let (events, _) = run(Mode::Stream, &wire, 0, 0);
    assert_eq!(events, [Event::Held, Event::Malformed, Event::Malformed]);
}
