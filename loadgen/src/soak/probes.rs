//! Probes: short blocking exchanges with ringpin on fresh connections — health requests,
//! malformed requests and broken WebSocket frames — and what each got back.
//!
//! Owns: the malformed inputs, the outcome each must get, and one-shot HTTP requests
//! (`GET /probe`, `/metrics`, `POST /recover`).
//! Must not: share code with ringpin (it is the thing under test) or keep connections.
//! Invariants: every exchange is bounded by [`PROBE_TIMEOUT`]; an input passes when ringpin
//! answers with a 4xx/5xx status or closes the connection (a WebSocket with the close code
//! README documents: 1002 protocol error, 1007 invalid UTF-8, 1009 too big), and fails
//! when it gets a success, another close code, or nothing before the timeout.

use std::io::{Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::time::{Duration, Instant};

use crate::wsframe;

/// Longest wait for any answer.
pub(crate) const PROBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Response bytes kept at most.
const RESPONSE_BYTES_MAX: usize = 1 << 20;

/// A response, or how the connection ended without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A response head arrived: status and what followed the head.
    Status(u16, Vec<u8>),
    /// The connection closed (FIN or RST) before a whole response head.
    Closed,
    /// Nothing within the timeout.
    Silent,
}

/// Sends `request` on a fresh connection and reads one response head (and what arrives
/// with it until the connection closes or `timeout` passes).
pub(crate) fn exchange(proxy: SocketAddrV4, request: &[u8], timeout: Duration) -> Answer {
    let Ok(mut s) = TcpStream::connect_timeout(&proxy.into(), timeout) else {
        return Answer::Closed;
    };
    let deadline = Instant::now() + timeout;
    // A write error (ringpin answered early and closed) still leaves its answer to read.
    let _ = s.write_all(request);
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() || s.set_read_timeout(Some(left)).is_err() {
            return head_or(&buf, Answer::Silent);
        }
        match s.read(&mut chunk) {
            Ok(0) => return head_or(&buf, Answer::Closed),
            Ok(n) if buf.len() < RESPONSE_BYTES_MAX => buf.extend_from_slice(&chunk[..n]),
            Ok(_) => return head_or(&buf, Answer::Closed),
            Err(e) if is_timeout(&e) => return head_or(&buf, Answer::Silent),
            Err(_) => return head_or(&buf, Answer::Closed),
        }
        if let Some(answer) = complete_response(&buf) {
            return answer;
        }
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// The status and body when `buf` holds a whole response with `Content-Length`.
fn complete_response(buf: &[u8]) -> Option<Answer> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let Ok(httparse::Status::Complete(head_len)) = resp.parse(buf) else {
        return None;
    };
    let status = resp.code.unwrap_or(0);
    if status == 101 {
        return Some(Answer::Status(101, buf[head_len..].to_vec()));
    }
    let length = resp.headers.iter().find_map(|h| {
        h.name
            .eq_ignore_ascii_case("content-length")
            .then(|| {
                std::str::from_utf8(h.value)
                    .ok()?
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .flatten()
    })?;
    (buf.len() >= head_len + length)
        .then(|| Answer::Status(status, buf[head_len..head_len + length].to_vec()))
}

/// The response head in `buf` if there is one, else `otherwise`.
fn head_or(buf: &[u8], otherwise: Answer) -> Answer {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => {
            Answer::Status(resp.code.unwrap_or(0), buf[n..].to_vec())
        }
        _ => otherwise,
    }
}

/// `GET path` through ringpin; the status, or 0 when there was no response.
pub(crate) fn get_status(proxy: SocketAddrV4, path: &str, timeout: Duration) -> u16 {
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    match exchange(proxy, request.as_bytes(), timeout) {
        Answer::Status(code, _) => code,
        Answer::Closed | Answer::Silent => 0,
    }
}

/// One request to ringpin's publish listener; the body of a 2xx answer.
pub(crate) fn control_request(
    publish: SocketAddrV4,
    method: &str,
    path: &str,
) -> Result<String, String> {
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    match exchange(publish, request.as_bytes(), PROBE_TIMEOUT) {
        Answer::Status(code, body) if (200..300).contains(&code) => {
            Ok(String::from_utf8_lossy(&body).into_owned())
        }
        other => Err(format!("{method} {path}: {other:?}")),
    }
}

/// What one malformed input got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ProbeResult {
    /// Which input.
    pub(crate) name: &'static str,
    /// What came back, in words (`status 400`, `closed`, `close 1002`, …).
    pub(crate) outcome: String,
    /// Whether that is an acceptable answer.
    pub(crate) ok: bool,
}

/// Malformed HTTP requests, each on its own connection.
const BAD_REQUESTS: [(&str, &str); 8] = [
    ("garbage_request_line", "HELLO THERE\r\n\r\n"),
    ("space_in_header_name", "GET /probe HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n"),
    ("header_without_colon", "GET /probe HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n"),
    (
        "bad_chunk_size",
        "POST /probe HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
    ),
    ("bad_content_length", "POST /probe HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"),
    ("unknown_http_version", "GET /probe HTTP/7.1\r\nHost: x\r\n\r\n"),
    ("nul_in_target", "GET /pro\0be HTTP/1.1\r\nHost: x\r\n\r\n"),
    (
        "websocket_upgrade_without_key",
        "GET /ws?channel=probe HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n",
    ),
];

/// Sends every malformed request and every broken frame; one result each.
pub(crate) fn malformed_inputs(proxy: SocketAddrV4) -> Vec<ProbeResult> {
    let mut results = Vec::new();
    for (name, request) in BAD_REQUESTS {
        results.push(judge_http(
            name,
            exchange(proxy, request.as_bytes(), PROBE_TIMEOUT),
        ));
    }
    let big = format!(
        "GET /probe HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 << 10)
    );
    results.push(judge_http(
        "oversized_header",
        exchange(proxy, big.as_bytes(), PROBE_TIMEOUT),
    ));
    for (name, frame, codes) in broken_frames() {
        results.push(broken_frame(proxy, name, &frame, codes));
    }
    results
}

fn judge_http(name: &'static str, answer: Answer) -> ProbeResult {
    let (outcome, ok) = match answer {
        Answer::Status(code, _) => (format!("status {code}"), code >= 400),
        Answer::Closed => ("closed".to_string(), true),
        Answer::Silent => ("no answer".to_string(), false),
    };
    ProbeResult { name, outcome, ok }
}

/// A masked client frame header: FIN/RSV/opcode byte, then a masked 7-bit length.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![first, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    let at = frame.len();
    frame.extend_from_slice(payload);
    wsframe::apply_mask(&mut frame[at..], mask);
    frame
}

/// Broken client frames (RFC 6455 §5) and the close codes that answer them.
fn broken_frames() -> Vec<(&'static str, Vec<u8>, &'static [u16])> {
    let mut oversized = vec![0x82, 0x80 | 127];
    oversized.extend_from_slice(&(1u64 << 20).to_be_bytes());
    oversized.extend_from_slice(&[1, 2, 3, 4]);
    vec![
        ("ws_unmasked_frame", vec![0x81, 0x02, b'h', b'i'], &[1002]),
        ("ws_reserved_bit", masked(0xc1, b"hi"), &[1002]),
        ("ws_invalid_utf8", masked(0x81, &[0xc3, 0x28]), &[1007]),
        ("ws_oversized_frame", oversized, &[1009]),
        ("ws_fragmented_ping", masked(0x09, b""), &[1002]),
        ("ws_reserved_opcode", masked(0x83, b""), &[1002]),
        ("ws_orphan_continuation", masked(0x80, b"x"), &[1002]),
    ]
}

/// Opens a WebSocket (over HTTP at the backend), sends `frame` right behind the
/// handshake, and waits for the close.
fn broken_frame(
    proxy: SocketAddrV4,
    name: &'static str,
    frame: &[u8],
    codes: &[u16],
) -> ProbeResult {
    let key = wsframe::generate_key();
    let mut request = wsframe::handshake_request("/ws?channel=probe", &key);
    request.extend_from_slice(frame);
    let (outcome, ok) = match ws_exchange(proxy, &request) {
        WsEnd::Close(code) => (format!("close {code}"), codes.contains(&code)),
        WsEnd::NoUpgrade(code) => (format!("upgrade answered {code}"), false),
        WsEnd::Closed => ("closed without a close frame".to_string(), false),
        WsEnd::Silent => ("no answer".to_string(), false),
    };
    ProbeResult { name, outcome, ok }
}

/// How a WebSocket probe ended.
enum WsEnd {
    /// A close frame with this code (1005 when it had none).
    Close(u16),
    /// The upgrade was answered with another status.
    NoUpgrade(u16),
    /// The connection ended without a close frame.
    Closed,
    /// Nothing conclusive within the timeout.
    Silent,
}

fn ws_exchange(proxy: SocketAddrV4, request: &[u8]) -> WsEnd {
    let Ok(mut s) = TcpStream::connect_timeout(&proxy.into(), PROBE_TIMEOUT) else {
        return WsEnd::Closed;
    };
    if s.set_read_timeout(Some(PROBE_TIMEOUT)).is_err() || s.write_all(request).is_err() {
        return WsEnd::Closed;
    }
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = Instant::now() + PROBE_TIMEOUT;
    let mut head_len = None;
    while Instant::now() < deadline {
        match s.read(&mut chunk) {
            Ok(0) => return WsEnd::Closed,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if is_timeout(&e) => return WsEnd::Silent,
            Err(_) => return WsEnd::Closed,
        }
        if head_len.is_none() {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let Ok(httparse::Status::Complete(len)) = resp.parse(&buf) {
                match resp.code {
                    Some(101) => head_len = Some(len),
                    code => return WsEnd::NoUpgrade(code.unwrap_or(0)),
                }
            }
        }
        if let Some(code) = head_len.and_then(|len| close_code(&buf[len..])) {
            return WsEnd::Close(code);
        }
    }
    WsEnd::Silent
}

/// The code of the first close frame among complete unmasked server frames in `data`.
fn close_code(mut data: &[u8]) -> Option<u16> {
    while data.len() >= 2 {
        let opcode = data[0] & 0x0f;
        let (len, header) = match data[1] & 0x7f {
            126 if data.len() >= 4 => (usize::from(u16::from_be_bytes([data[2], data[3]])), 4),
            127 if data.len() >= 10 => {
                let mut be = [0u8; 8];
                be.copy_from_slice(&data[2..10]);
                (usize::try_from(u64::from_be_bytes(be)).ok()?, 10)
            }
            126 | 127 => return None,
            n => (usize::from(n), 2),
        };
        let payload = data.get(header..header + len)?;
        if opcode == 0x8 {
            return Some(match payload {
                [a, b, ..] => u16::from_be_bytes([*a, *b]),
                _ => 1005,
            });
        }
        data = &data[header + len..];
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_codes_are_found_after_data_frames() {
        let mut data = vec![0x81, 0x02, b'h', b'i'];
        data.extend_from_slice(&[0x88, 0x02, 0x03, 0xea]);
        assert_eq!(close_code(&data), Some(1002));
        assert_eq!(close_code(&[0x88, 0x00]), Some(1005));
        assert_eq!(close_code(&[0x81, 0x05, b'h']), None, "incomplete frame");
    }

    #[test]
    fn http_outcomes_pass_on_errors_and_closes_only() {
        assert!(judge_http("x", Answer::Status(400, Vec::new())).ok);
        assert!(judge_http("x", Answer::Closed).ok);
        assert!(!judge_http("x", Answer::Status(200, Vec::new())).ok);
        assert!(!judge_http("x", Answer::Silent).ok);
    }

    #[test]
    fn responses_are_complete_only_with_their_whole_body() {
        let r = b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 3\r\n\r\nab";
        assert_eq!(complete_response(r), None);
        let r = b"HTTP/1.1 504 Gateway Timeout\r\nContent-Length: 3\r\n\r\nabc";
        assert_eq!(
            complete_response(r),
            Some(Answer::Status(504, b"abc".to_vec()))
        );
        assert_eq!(
            head_or(b"HTTP/1.1 200 OK\r\n", Answer::Closed),
            Answer::Closed
        );
    }
}
