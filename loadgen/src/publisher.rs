//! Publisher: a small blocking HTTP/1.1 client for the publish API, with keep-alive.
//!
//! Owns: one connection per publish URL, `POST /publish/` and `GET /metrics`.
//! Must not: share code with the proxy under test or with the subscriber engine.
//! Invariants: a request is retried at most once, and only on a connection that was
//! reused (a stale keep-alive connection), never after a response arrived.
//!
//! Each response also says when its first bytes reached the socket, by the kernel's receive
//! timestamp (`SO_TIMESTAMPNS`). On a machine the proxy's shards and the subscribers keep
//! busy, the publisher's thread may get a core only well after the answer arrived; the
//! timestamp tells the proxy's answer time from that wait.

use std::io::{self, Read, Write};
use std::net::{SocketAddrV4, TcpStream};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(test)]
use crate::batch;
use crate::chunked::ChunkedDecoder;

/// How long a publish or metrics request may take before the run fails.
const PUBLISH_IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest response head accepted from the publish endpoint.
const RESPONSE_HEAD_BYTES_MAX: usize = 64 << 10;

/// A parsed `http://HOST:PORT[/path]` publish URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishUrl {
    /// The publish listener.
    pub addr: SocketAddrV4,
    /// Path of the publish endpoint (`/publish/` unless the URL names one).
    pub publish_path: String,
}

impl PublishUrl {
    /// Parses a publish URL; the host must be IPv4 loopback.
    pub fn parse(url: &str) -> Result<PublishUrl, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("{url}: only http:// URLs"))?;
        let (hostport, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = crate::scenario::loopback_v4(hostport)?;
        let publish_path = if path == "/" {
            "/publish/".to_string()
        } else {
            path.to_string()
        };
        Ok(PublishUrl { addr, publish_path })
    }
}

/// A response status and body.
#[derive(Debug)]
pub struct Response {
    /// HTTP status code.
    pub status: u16,
    /// The whole body.
    pub body: Vec<u8>,
    /// When the response's first bytes reached the socket (the kernel's receive timestamp,
    /// `CLOCK_REALTIME`), if the kernel gave one.
    pub arrived: Option<SystemTime>,
}

/// Keep-alive connection to one publish endpoint.
#[derive(Debug)]
pub struct Publisher {
    url: PublishUrl,
    conn: Option<TcpStream>,
}

impl Publisher {
    /// A publisher that connects on first use.
    pub fn new(url: PublishUrl) -> Publisher {
        Publisher { url, conn: None }
    }

    /// POSTs a publish body and returns the answer; errors unless the endpoint answers 2xx.
    pub fn publish(&mut self, body: &[u8]) -> Result<Response, String> {
        let resp = self.post(body)?;
        if !(200..300).contains(&resp.status) {
            let text = String::from_utf8_lossy(&resp.body);
            return Err(format!(
                "publish to {} got {}: {}",
                self.url.addr,
                resp.status,
                text.trim()
            ));
        }
        Ok(resp)
    }

    /// POSTs a publish body and returns the response whatever its status (the sustained
    /// mode counts refusals instead of stopping at the first).
    pub fn post(&mut self, body: &[u8]) -> Result<Response, String> {
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.url.publish_path,
            body.len()
        );
        let mut req = head.into_bytes();
        req.extend_from_slice(body);
        self.request(&req)
    }

    /// The proxy's `ringpin_subscriptions` gauge, or `None` when the endpoint has no
    /// such metric (Pushpin, or a ringpin without metrics).
    pub fn subscriptions(&mut self) -> Result<Option<u64>, String> {
        let resp = self.request(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n")?;
        if resp.status != 200 {
            return Ok(None);
        }
        Ok(parse_gauge(
            &String::from_utf8_lossy(&resp.body),
            "ringpin_subscriptions",
        ))
    }

    fn request(&mut self, req: &[u8]) -> Result<Response, String> {
        let reused = self.conn.is_some();
        match self.try_request(req) {
            Ok(r) => Ok(r),
            Err(RequestError::BeforeResponse(_)) if reused => {
                self.conn = None;
                self.try_request(req).map_err(|e| e.to_string())
            }
            Err(e) => {
                self.conn = None;
                Err(e.to_string())
            }
        }
    }

    fn try_request(&mut self, req: &[u8]) -> Result<Response, RequestError> {
        if self.conn.is_none() {
            let s = TcpStream::connect_timeout(&self.url.addr.into(), PUBLISH_IO_TIMEOUT)
                .map_err(|e| RequestError::Connect(format!("connect {}: {e}", self.url.addr)))?;
            s.set_nodelay(true)
                .map_err(|e| RequestError::Connect(e.to_string()))?;
            s.set_read_timeout(Some(PUBLISH_IO_TIMEOUT))
                .map_err(|e| RequestError::Connect(e.to_string()))?;
            enable_receive_timestamps(&s).map_err(|e| RequestError::Connect(e.to_string()))?;
            self.conn = Some(s);
        }
        let conn = self.conn.as_mut().expect("connected just above");
        conn.write_all(req)
            .map_err(|e| RequestError::BeforeResponse(e.to_string()))?;
        let (resp, keep) = read_response(conn)?;
        if !keep {
            self.conn = None;
        }
        Ok(resp)
    }
}

#[derive(Debug)]
enum RequestError {
    Connect(String),
    BeforeResponse(String),
    Response(String),
}

impl std::fmt::Display for RequestError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestError::Connect(e)
            | RequestError::BeforeResponse(e)
            | RequestError::Response(e) => f.write_str(e),
        }
    }
}

/// Asks the kernel to stamp every segment this socket receives (`SO_TIMESTAMPNS`).
fn enable_receive_timestamps(conn: &TcpStream) -> io::Result<()> {
    let on: libc::c_int = 1;
    // SAFETY: a valid socket and a c_int option value of the size given.
    let rc = unsafe {
        libc::setsockopt(
            conn.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_TIMESTAMPNS,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Reads into `buf` with recvmsg(2): the bytes read, and the kernel's receive timestamp of
/// the data when the socket has them enabled. Blocks as `read` does (the socket's timeout
/// applies).
fn recv_stamped(conn: &TcpStream, buf: &mut [u8]) -> io::Result<(usize, Option<SystemTime>)> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // Room for one control message carrying a timespec, aligned as cmsghdr needs.
    let mut control = [0u64; 8];
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control);
    let n = loop {
        // SAFETY: `msg` points at `iov` (over `buf`) and `control`, all live for the call.
        let n = unsafe { libc::recvmsg(conn.as_raw_fd(), &mut msg, 0) };
        if n >= 0 {
            break n as usize;
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    };
    let mut stamp = None;
    // SAFETY: the kernel filled `msg_control` with well-formed control messages, at most
    // `msg_controllen` bytes; CMSG_FIRSTHDR/CMSG_NXTHDR stay within it.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: non-null cmsg pointers from CMSG_*HDR point into `control`.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_TIMESTAMPNS {
            // SAFETY: an SCM_TIMESTAMPNS message carries one timespec, maybe unaligned.
            let ts: libc::timespec =
                unsafe { std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast()) };
            let since_epoch = Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32);
            stamp = Some(UNIX_EPOCH + since_epoch);
        }
        // SAFETY: as above.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok((n, stamp))
}

/// Reads one response; returns it and whether the connection may be reused.
fn read_response(conn: &mut TcpStream) -> Result<(Response, bool), RequestError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    let mut arrived = None;
    loop {
        let (n, stamp) = recv_stamped(conn, &mut chunk)
            .map_err(|e| RequestError::BeforeResponse(e.to_string()))?;
        if n == 0 {
            return Err(RequestError::BeforeResponse(
                "publish endpoint closed the connection".into(),
            ));
        }
        arrived = arrived.or(stamp);
        buf.extend_from_slice(&chunk[..n]);
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Response::new(&mut headers);
        match parsed.parse(&buf) {
            Ok(httparse::Status::Complete(head_len)) => {
                let status = parsed.code.unwrap_or(0);
                let framing = body_framing(parsed.headers);
                let rest = buf[head_len..].to_vec();
                let (mut response, keep) = read_body(conn, status, framing, rest)?;
                response.arrived = arrived;
                return Ok((response, keep));
            }
            Ok(httparse::Status::Partial) if buf.len() < RESPONSE_HEAD_BYTES_MAX => {}
            Ok(httparse::Status::Partial) => {
                return Err(RequestError::Response("response head too large".into()))
            }
            Err(e) => return Err(RequestError::Response(format!("bad response head: {e}"))),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    Length(usize),
    Chunked,
    Close,
}

fn body_framing(headers: &[httparse::Header<'_>]) -> Framing {
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding")
            && h.value.eq_ignore_ascii_case(b"chunked")
        {
            return Framing::Chunked;
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            if let Some(n) = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse().ok())
            {
                return Framing::Length(n);
            }
        }
    }
    Framing::Close
}

/// A response whose arrival `read_response` fills in.
fn response(status: u16, body: Vec<u8>) -> Response {
    Response {
        status,
        body,
        arrived: None,
    }
}

fn read_body(
    conn: &mut TcpStream,
    status: u16,
    framing: Framing,
    mut data: Vec<u8>,
) -> Result<(Response, bool), RequestError> {
    let io = |e: io::Error| RequestError::Response(e.to_string());
    let mut chunk = [0u8; 8192];
    let mut decoder = ChunkedDecoder::default();
    let mut body = Vec::new();
    loop {
        match framing {
            Framing::Length(n) if data.len() >= n => {
                data.truncate(n);
                return Ok((response(status, data), true));
            }
            Framing::Chunked => {
                decoder
                    .feed(&data, &mut |d| body.extend_from_slice(d))
                    .map_err(|e| RequestError::Response(e.to_string()))?;
                data.clear();
                if decoder.is_done() {
                    return Ok((response(status, body), true));
                }
            }
            _ => {}
        }
        let n = conn.read(&mut chunk).map_err(io)?;
        if n == 0 {
            return match framing {
                Framing::Close => Ok((response(status, data), false)),
                _ => Err(RequestError::Response(
                    "publish endpoint closed mid-body".into(),
                )),
            };
        }
        data.extend_from_slice(&chunk[..n]);
    }
}

/// Finds `name VALUE` (no labels) in Prometheus text.
pub fn parse_gauge(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(name)?.strip_prefix(' ')?;
        value.trim().parse::<f64>().ok().map(|v| v as u64)
    })
}

/// The publish JSON for one message on `channel`: every format present, so one item
/// serves every mode (`stream_content` is framed for the run's mode). The coordinator
/// builds bodies through publish_plan.rs; this is the one-item reference its tests use.
#[cfg(test)]
pub fn publish_body(channel: &str, stream_content: &[u8], line_content: &[u8]) -> Vec<u8> {
    let formats = batch::formats_json(stream_content, line_content);
    batch::body([batch::item_json(channel, &formats).as_slice()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_carries_when_the_kernel_received_it() {
        use std::net::TcpListener;
        // The kernel turns receive stamping on for the whole stack a moment after the first
        // socket asks (a deferred static key), so the first answers may come unstamped; the
        // report counts stamped answers only. Keep publishing on one keep-alive connection
        // until an answer is stamped.
        const TRIES: usize = 200;
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let server = std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().expect("accept");
            let mut buf = [0u8; 4096];
            let mut request = Vec::new();
            loop {
                let n = conn.read(&mut buf).expect("read request");
                if n == 0 {
                    return;
                }
                request.extend_from_slice(&buf[..n]);
                if request.ends_with(b"{}") {
                    request.clear();
                    conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nPublished\n")
                        .expect("answer");
                }
            }
        });
        let url = PublishUrl::parse(&format!("http://{addr}")).expect("url");
        let mut publisher = Publisher::new(url);
        let stamped = (0..TRIES).find_map(|_| {
            let before = SystemTime::now();
            let answer = publisher.publish(b"{}").expect("published");
            let after = SystemTime::now();
            assert_eq!(answer.body, b"Published\n");
            if answer.arrived.is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
            answer.arrived.map(|arrived| (before, arrived, after))
        });
        drop(publisher);
        server.join().expect("server");
        let (before, arrived, after) = stamped.expect("the kernel stamps loopback TCP");
        assert!(
            before <= arrived && arrived <= after,
            "{before:?} {arrived:?} {after:?}"
        );
    }

    #[test]
    fn publish_urls_default_to_the_publish_path() {
        let u = PublishUrl::parse("http://127.0.0.1:5561").expect("valid");
        assert_eq!(u.publish_path, "/publish/");
        let u = PublishUrl::parse("http://localhost:5561/publish/").expect("valid");
        assert_eq!(u.publish_path, "/publish/");
        assert!(PublishUrl::parse("https://127.0.0.1:5561").is_err());
        assert!(PublishUrl::parse("http://192.0.2.1:5561").is_err());
    }

    #[test]
    fn the_gauge_is_found_and_labelled_lookalikes_are_not() {
        let text = "# HELP x\nringpin_subscriptions_total 9\nringpin_subscriptions 15000\n";
        assert_eq!(parse_gauge(text, "ringpin_subscriptions"), Some(15000));
        assert_eq!(
            parse_gauge(
                "ringpin_subscriptions{a=\"b\"} 3\n",
                "ringpin_subscriptions"
            ),
            None
        );
    }

    #[test]
    fn publish_body_has_every_format() {
        let body = publish_body("c", b"data: 1 2 x\n\n", b"1 2 x\n");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("json");
        let f = &v["items"][0]["formats"];
        assert_eq!(f["http-stream"]["content"], "data: 1 2 x\n\n");
        assert_eq!(f["http-response"]["body"], "1 2 x\n");
        assert_eq!(f["ws-message"]["content"], "1 2 x\n");
        assert_eq!(v["items"][0]["channel"], "c");
    }

    #[test]
    fn a_one_item_body_is_byte_for_byte_the_body_sent_before_batching() {
        let (stream, line) = ("7 99 xx\n", "7 99 xx\n");
        let before = serde_json::to_vec(&serde_json::json!({
            "items": [{
                "channel": "loadgen",
                "formats": {
                    "http-stream": { "content": stream },
                    "http-response": { "body": line },
                    "ws-message": { "content": line },
                }
            }]
        }))
        .expect("json");
        assert_eq!(
            publish_body("loadgen", stream.as_bytes(), line.as_bytes()),
            before
        );
    }
}
