//! Backend: a tiny, fast GRIP origin for loadgen runs (`ringpin-loadgen backend`).
//!
//! Owns: answering the proxy's forwarded subscribe requests with GRIP hold instructions:
//! * `GET /stream?channel=C`: `Grip-Hold: stream`, body `open\n`;
//! * `GET /sse?channel=C`: `Grip-Hold: stream` as `text/event-stream` with an SSE
//!   keep-alive, body `:open\n\n`;
//! * `GET /longpoll?channel=C`: `Grip-Hold: response`, `Grip-Timeout: 120`, body `timeout\n`;
//! * `POST /ws?channel=C` (WebSocket-over-HTTP, `application/websocket-events`): to an
//!   `OPEN` event, `OPEN` plus a `c:` subscribe control message; to anything else, an
//!   empty events body.
//!
//! Must not: depend on the ringpin library, or do any per-request work beyond parsing the
//! head and formatting a reply (the proxy, not the backend, is under test).
//! Invariants: connections are kept alive; one std thread per proxy connection, with a
//! small stack, since proxies pool their origin connections.

use std::io::{Read, Write};
use std::net::{SocketAddr, SocketAddrV4, TcpStream, ToSocketAddrs};

use crate::args::Args;

/// Stack of a connection thread (the handler keeps ~8 KiB on the stack).
const THREAD_STACK_BYTES: usize = 128 << 10;
/// Accept backlog (the kernel caps it at `net.core.somaxconn`).
const LISTEN_BACKLOG: i32 = 4096;
/// Largest request head or body accepted.
const REQUEST_BYTES_MAX: usize = 64 << 10;

/// Runs the backend until killed; returns the exit code on a startup error.
pub fn run(argv: &[String]) -> i32 {
    let listen = match parse_listen(argv) {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let bad_request = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    serve_forever("backend", listen, move |conn| {
        serve_requests(conn, parse_request, bad_request)
    })
}

/// Listens on `listen` and serves every connection on a thread of its own with `serve`,
/// until killed; returns 1 when it cannot bind. `name` starts its error lines. The soak's
/// backend is served the same way.
pub(crate) fn serve_forever<F>(name: &str, listen: SocketAddrV4, serve: F) -> i32
where
    F: Fn(TcpStream) + Clone + Send + 'static,
{
    let listener = match crate::sys::listen_tcp(listen, LISTEN_BACKLOG) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("{name}: bind {listen}: {e}");
            return 1;
        }
    };
    eprintln!("ringpin-loadgen {name} listening on {listen}");
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let serve = serve.clone();
        let spawned = std::thread::Builder::new()
            .stack_size(THREAD_STACK_BYTES)
            .spawn(move || serve(conn));
        if let Err(e) = spawned {
            eprintln!("{name}: cannot start a connection thread: {e}");
        }
    }
    0
}

fn parse_listen(argv: &[String]) -> Result<SocketAddrV4, String> {
    let mut a = Args::parse(argv)?;
    let listen = a.required("--listen")?;
    a.finish()?;
    ipv4_listen(&listen)
}

/// The first IPv4 address `listen` names.
pub(crate) fn ipv4_listen(listen: &str) -> Result<SocketAddrV4, String> {
    let addr = listen
        .to_socket_addrs()
        .map_err(|e| format!("--listen {listen}: {e}"))?
        .find_map(|a| match a {
            SocketAddr::V4(v4) => Some(v4),
            SocketAddr::V6(_) => None,
        });
    addr.ok_or_else(|| format!("--listen {listen}: no IPv4 address"))
}

/// Serves one keep-alive connection until the peer closes it or sends garbage: each
/// complete request in the buffer gets `parse`'s reply; an invalid one gets `bad_request`
/// and the connection ends.
pub(crate) fn serve_requests(
    mut conn: TcpStream,
    mut parse: impl FnMut(&[u8]) -> Parsed,
    bad_request: &[u8],
) {
    let _ = conn.set_nodelay(true);
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = [0u8; 8192];
    loop {
        match parse(&buf) {
            Parsed::Complete { used, reply, close } => {
                if conn.write_all(&reply).is_err() || close {
                    return;
                }
                buf.drain(..used);
                continue;
            }
            Parsed::Invalid => {
                let _ = conn.write_all(bad_request);
                return;
            }
            Parsed::Partial if buf.len() > REQUEST_BYTES_MAX => return,
            Parsed::Partial => {}
        }
        match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The outcome of parsing the start of the connection buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Parsed {
    Partial,
    Invalid,
    Complete {
        used: usize,
        reply: Vec<u8>,
        close: bool,
    },
}

fn parse_request(buf: &[u8]) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Invalid,
    };
    let mut body_len = 0usize;
    let mut close = req.version == Some(0);
    for h in req.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            match std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                Some(n) => body_len = n,
                None => return Parsed::Invalid,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Invalid;
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    if buf.len() < head_len + body_len {
        return Parsed::Partial;
    }
    let body = &buf[head_len..head_len + body_len];
    let reply = respond(req.method.unwrap_or(""), req.path.unwrap_or(""), body);
    Parsed::Complete {
        used: head_len + body_len,
        reply,
        close,
    }
}

/// The reply to one request.
fn respond(method: &str, target: &str, body: &[u8]) -> Vec<u8> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let Some(channel) = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("channel="))
        .filter(|c| !c.is_empty())
    else {
        return reply(404, &[], b"need /stream|/sse|/longpoll|/ws?channel=C\n");
    };
    let grip_channel = ("Grip-Channel", channel);
    match (method, path) {
        ("GET", "/stream") => reply(
            200,
            &[
                ("Content-Type", "text/plain"),
                ("Grip-Hold", "stream"),
                grip_channel,
            ],
            b"open\n",
        ),
        ("GET", "/sse") => reply(
            200,
            &[
                ("Content-Type", "text/event-stream"),
                ("Grip-Hold", "stream"),
                grip_channel,
                ("Grip-Keep-Alive", r":\n\n; format=cstring; timeout=55"),
            ],
            b":open\n\n",
        ),
        ("GET", "/longpoll") => reply(
            200,
            &[
                ("Content-Type", "text/plain"),
                ("Grip-Hold", "response"),
                grip_channel,
                ("Grip-Timeout", "120"),
            ],
            b"timeout\n",
        ),
        ("POST", "/ws") => ws_over_http(channel, body),
        _ => reply(404, &[], b"not found\n"),
    }
}

/// WebSocket-over-HTTP (Pushpin's `over_http` targets): accept the opening and subscribe
/// it to `channel` with a GRIP control message; acknowledge everything else.
pub(crate) fn ws_over_http(channel: &str, events: &[u8]) -> Vec<u8> {
    let headers = [
        ("Content-Type", "application/websocket-events"),
        ("Sec-WebSocket-Extensions", "grip"),
    ];
    if !events.starts_with(b"OPEN") {
        return reply(200, &headers, b"");
    }
    let control = format!(r#"c:{{"type":"subscribe","channel":"{channel}"}}"#);
    let body = format!("OPEN\r\nTEXT {:x}\r\n{control}\r\n", control.len());
    reply(200, &headers, body.as_bytes())
}

/// One complete response with `Content-Length`; also the soak backend's (`soak/backend.rs`).
pub(crate) fn reply(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        _ => "Error",
    };
    let mut out = format!("HTTP/1.1 {status} {reason}\r\n");
    for (name, value) in headers {
        out += &format!("{name}: {value}\r\n");
    }
    out += &format!("Content-Length: {}\r\n\r\n", body.len());
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(b: &[u8]) -> String {
        String::from_utf8_lossy(b).into_owned()
    }

    #[test]
    fn each_mode_gets_its_grip_instructions() {
        let r = text(&respond("GET", "/stream?channel=c1", b""));
        assert!(r.starts_with("HTTP/1.1 200 OK\r\n") && r.contains("Grip-Hold: stream\r\n"));
        assert!(
            r.contains("Grip-Channel: c1\r\n") && r.ends_with("Content-Length: 5\r\n\r\nopen\n")
        );
        let r = text(&respond("GET", "/sse?channel=c1", b""));
        assert!(r.contains("Content-Type: text/event-stream\r\n"));
        assert!(r.contains("Grip-Keep-Alive: :\\n\\n; format=cstring; timeout=55\r\n"));
        assert!(r.ends_with("\r\n\r\n:open\n\n"));
        let r = text(&respond("GET", "/longpoll?channel=c1", b""));
        assert!(r.contains("Grip-Hold: response\r\n") && r.contains("Grip-Timeout: 120\r\n"));
        assert!(r.ends_with("timeout\n"));
        assert!(text(&respond("GET", "/stream", b"")).starts_with("HTTP/1.1 404"));
    }

    #[test]
    fn ws_over_http_open_subscribes_and_later_events_get_an_empty_reply() {
        let r = text(&respond("POST", "/ws?channel=c1", b"OPEN\r\n"));
        let control = r#"c:{"type":"subscribe","channel":"c1"}"#;
        assert!(r.contains("Sec-WebSocket-Extensions: grip\r\n"));
        assert!(r.ends_with(&format!(
            "OPEN\r\nTEXT {:x}\r\n{control}\r\n",
            control.len()
        )));
        let r = text(&respond("POST", "/ws?channel=c1", b"TEXT 2\r\nhi\r\n"));
        assert!(r.ends_with("Content-Length: 0\r\n\r\n"));
    }

    #[test]
    fn pipelined_requests_are_parsed_one_at_a_time() {
        let two = b"GET /stream?channel=a HTTP/1.1\r\nHost: x\r\n\r\nPOST /ws?channel=a HTTP/1.1\r\nContent-Length: 6\r\n\r\nOPEN\r\n";
        let Parsed::Complete { used, close, .. } = parse_request(two) else {
            panic!("first request")
        };
        assert!(!close);
        let Parsed::Complete { used: used2, .. } = parse_request(&two[used..]) else {
            panic!("second request")
        };
        assert_eq!(used + used2, two.len());
        assert_eq!(parse_request(&two[used..two.len() - 1]), Parsed::Partial);
        assert_eq!(
            parse_request(b"GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Parsed::Invalid
        );
    }
}
