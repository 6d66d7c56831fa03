//! Backend: the soak's GRIP origin (`ringpin-loadgen soak-backend`, started by `soak`).
//!
//! Owns: answering ringpin's requests:
//! * `GET /stream?channel=A[,B…]`: a stream hold on every listed channel, body `open\n`
//!   (slow readers list several);
//! * `GET /sse?channel=C`: an SSE stream hold with a keep-alive, body `:open\n\n`;
//! * `GET /longpoll?channel=soak-c[&after=N]`: see below;
//! * `POST /ws?channel=C`: WebSocket-over-HTTP, an `OPEN` accepted and subscribed to C;
//! * `GET /probe`: `200 probe`, for the soak's health checks; anything else `404`.
//!
//! A long-poll is made lossless with ringpin's recovery (README "Recovery and next links"):
//! the subscriber names the last item it has (`after=N`; on a re-request ringpin's
//! `Grip-Last: soak-c; last-id=N` says the same and wins). If the state file says item
//! `N + 1` is published, the backend answers it at once, as a plain response; otherwise it
//! holds with `Grip-Channel: soak-c; prev-id=N`, so ringpin delivers only item `N + 1` and
//! re-requests on any gap. Without `after` (a subscriber joining now) it holds at the
//! channel's current count.
//! Must not: keep state between requests: a restarted backend answers as the old one did,
//! from the state file alone.
//! Invariants: one std thread per ringpin connection (ringpin pools them); every reply has
//! `Content-Length`.

use std::net::SocketAddrV4;
use std::path::PathBuf;
use std::sync::Arc;

use crate::args::Args;
use crate::backend::{ipv4_listen, reply, serve_forever, serve_requests, ws_over_http, Parsed};

use super::item;
use super::state_file::PublishedCounts;

/// What every connection thread shares.
struct Shared {
    counts: PublishedCounts,
    size: usize,
    longpoll_timeout_s: u64,
}

/// Runs the backend until killed; returns an exit code on a start-up error.
pub(crate) fn main(argv: &[String]) -> i32 {
    let (listen, shared) = match parse(argv) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("soak-backend: {e}");
            return 2;
        }
    };
    let shared = Arc::new(shared);
    serve_forever("soak-backend", listen, move |conn| {
        let bad_request = reply(400, &[], b"bad request\n");
        serve_requests(conn, |buf| parse_request(buf, &shared), &bad_request)
    })
}

fn parse(argv: &[String]) -> Result<(SocketAddrV4, Shared), String> {
    let mut a = Args::parse(argv)?;
    let listen = a.required("--listen")?;
    let state = PathBuf::from(a.required("--state")?);
    let size = a.parsed("--size", 0usize)?;
    let longpoll_timeout_s = a.parsed("--longpoll-timeout-s", 20u64)?;
    a.finish()?;
    let addr = ipv4_listen(&listen)?;
    let counts = PublishedCounts::open(&state).map_err(|e| format!("{}: {e}", state.display()))?;
    Ok((
        addr,
        Shared {
            counts,
            size,
            longpoll_timeout_s,
        },
    ))
}

/// The parts of a request the answer depends on.
struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    grip_last: Option<&'a str>,
    body: &'a [u8],
}

fn parse_request(buf: &[u8], shared: &Shared) -> Parsed {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Parsed::Partial,
        Err(_) => return Parsed::Invalid,
    };
    let mut body_len = 0usize;
    let mut close = req.version == Some(0);
    let mut grip_last = None;
    for h in req.headers.iter() {
        let value = std::str::from_utf8(h.value).unwrap_or("");
        if h.name.eq_ignore_ascii_case("content-length") {
            match value.trim().parse() {
                Ok(n) => body_len = n,
                Err(_) => return Parsed::Invalid,
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            return Parsed::Invalid;
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if h.name.eq_ignore_ascii_case("grip-last") {
            grip_last = Some(value);
        }
    }
    if buf.len() < head_len + body_len {
        return Parsed::Partial;
    }
    let target = req.path.unwrap_or("");
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let request = Request {
        method: req.method.unwrap_or(""),
        path,
        query,
        grip_last,
        body: &buf[head_len..head_len + body_len],
    };
    Parsed::Complete {
        used: head_len + body_len,
        reply: respond(&request, shared),
        close,
    }
}

fn query_param<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}

/// The answer to one request.
fn respond(req: &Request<'_>, shared: &Shared) -> Vec<u8> {
    if (req.method, req.path) == ("GET", "/probe") {
        return reply(200, &[("Content-Type", "text/plain")], b"probe\n");
    }
    let Some(channel) = query_param(req.query, "channel") else {
        return reply(404, &[], b"need ?channel=C\n");
    };
    match (req.method, req.path) {
        ("GET", "/stream") => {
            let channels = channel.split(',').collect::<Vec<_>>().join(", ");
            let headers = [
                ("Content-Type", "text/plain"),
                ("Grip-Hold", "stream"),
                ("Grip-Channel", channels.as_str()),
            ];
            reply(200, &headers, b"open\n")
        }
        ("GET", "/sse") => {
            let headers = [
                ("Content-Type", "text/event-stream"),
                ("Grip-Hold", "stream"),
                ("Grip-Channel", channel),
                ("Grip-Keep-Alive", r":\n\n; format=cstring; timeout=55"),
            ];
            reply(200, &headers, b":open\n\n")
        }
        ("GET", "/longpoll") => longpoll(req, channel, shared),
        ("POST", "/ws") => ws_over_http(channel, req.body),
        _ => reply(404, &[], b"not found\n"),
    }
}

/// The last id ringpin's `Grip-Last` gives for `channel`, if any.
fn grip_last_id<'a>(grip_last: &'a str, channel: &str) -> Option<&'a str> {
    grip_last.split(',').find_map(|entry| {
        let mut parts = entry.split(';').map(str::trim);
        if parts.next()? != channel {
            return None;
        }
        parts.find_map(|p| p.strip_prefix("last-id="))
    })
}

fn longpoll(req: &Request<'_>, channel: &str, shared: &Shared) -> Vec<u8> {
    let Some(c) = item::parse_channel_name(channel) else {
        return reply(404, &[], b"long-polls take a soak-N channel\n");
    };
    let last = req
        .grip_last
        .and_then(|g| grip_last_id(g, channel))
        .or_else(|| query_param(req.query, "after"));
    let last: Option<u64> = match last.map(str::parse).transpose() {
        Ok(last) => last,
        Err(_) => return reply(400, &[], b"after and last-id must be numbers\n"),
    };
    let published = match shared.counts.get(c) {
        Ok(n) => n,
        Err(e) => return reply(500, &[], format!("state file: {e}\n").as_bytes()),
    };
    match last {
        Some(n) if published > n => {
            let body = item::backend_body(c, n + 1, shared.size);
            reply(200, &[("Content-Type", "text/plain")], &body)
        }
        _ => {
            let prev_id = last.unwrap_or(published);
            let grip_channel = format!("{channel}; prev-id={prev_id}");
            let timeout = shared.longpoll_timeout_s.to_string();
            let headers = [
                ("Content-Type", "text/plain"),
                ("Grip-Hold", "response"),
                ("Grip-Channel", grip_channel.as_str()),
                ("Grip-Timeout", timeout.as_str()),
            ];
            reply(200, &headers, b"timeout\n")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared(published: &[(u64, u64)]) -> Shared {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("soak-backend-test-{}-{n}", std::process::id()));
        let counts = PublishedCounts::create(&path, 4).expect("state file");
        for &(c, n) in published {
            counts.set(c, n).expect("set");
        }
        let counts = PublishedCounts::open(&path).expect("open");
        let _ = std::fs::remove_file(&path);
        Shared {
            counts,
            size: 64,
            longpoll_timeout_s: 20,
        }
    }

    fn answer(shared: &Shared, raw: &str) -> String {
        match parse_request(raw.as_bytes(), shared) {
            Parsed::Complete { reply, .. } => String::from_utf8_lossy(&reply).into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_long_poll_behind_the_channel_gets_the_next_item_at_once() {
        let s = shared(&[(2, 5)]);
        let r = answer(&s, "GET /longpoll?channel=soak-2&after=3 HTTP/1.1\r\n\r\n");
        assert!(!r.contains("Grip-Hold"), "{r}");
        assert!(r.ends_with(&String::from_utf8_lossy(&item::backend_body(2, 4, 64)).into_owned()));
    }

    #[test]
    fn a_long_poll_at_the_head_is_held_with_its_prev_id() {
        let s = shared(&[(2, 5)]);
        let r = answer(&s, "GET /longpoll?channel=soak-2&after=5 HTTP/1.1\r\n\r\n");
        assert!(r.contains("Grip-Hold: response\r\n"), "{r}");
        assert!(r.contains("Grip-Channel: soak-2; prev-id=5\r\n"), "{r}");
        // Joining now: held at the channel's count.
        let r = answer(&s, "GET /longpoll?channel=soak-2 HTTP/1.1\r\n\r\n");
        assert!(r.contains("Grip-Channel: soak-2; prev-id=5\r\n"), "{r}");
        let r = answer(&s, "GET /longpoll?channel=soak-1 HTTP/1.1\r\n\r\n");
        assert!(r.contains("Grip-Channel: soak-1; prev-id=0\r\n"), "{r}");
    }

    #[test]
    fn grip_last_wins_over_the_query() {
        let s = shared(&[(2, 5)]);
        let r = answer(
            &s,
            "GET /longpoll?channel=soak-2&after=5 HTTP/1.1\r\nGrip-Last: soak-9; last-id=1, soak-2; last-id=4\r\n\r\n",
        );
        assert!(r.ends_with(&String::from_utf8_lossy(&item::backend_body(2, 5, 64)).into_owned()));
        assert_eq!(grip_last_id("soak-2; last-id=4", "soak-2"), Some("4"));
        assert_eq!(grip_last_id("soak-2; last-id=4", "soak-3"), None);
    }

    #[test]
    fn streams_ws_and_probes_get_their_answers() {
        let s = shared(&[]);
        let r = answer(&s, "GET /stream?channel=soak-1,soak-2 HTTP/1.1\r\n\r\n");
        assert!(r.contains("Grip-Channel: soak-1, soak-2\r\n") && r.ends_with("open\n"));
        let r = answer(&s, "GET /sse?channel=soak-1-sse HTTP/1.1\r\n\r\n");
        assert!(r.contains("text/event-stream") && r.ends_with(":open\n\n"));
        let r = answer(
            &s,
            "POST /ws?channel=soak-1 HTTP/1.1\r\nContent-Length: 6\r\n\r\nOPEN\r\n",
        );
        assert!(r.contains(r#"c:{"type":"subscribe","channel":"soak-1"}"#));
        assert!(answer(&s, "GET /probe HTTP/1.1\r\n\r\n").ends_with("\r\n\r\nprobe\n"));
        assert!(answer(&s, "GET /gone HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404"));
        let r = answer(&s, "GET /longpoll?channel=soak-1&after=x HTTP/1.1\r\n\r\n");
        assert!(r.starts_with("HTTP/1.1 400"));
    }
}
