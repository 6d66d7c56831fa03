//! Raw HTTP/1.1 clients on `std::net::TcpStream`, every read under a deadline.
//!
//! Owns: `Conn` (one connection, a byte buffer, request/response framing), `StreamClient`
//! (a held chunked response, decoded incrementally), `SseClient` (events of a stream), and the
//! `Response` they return.
//! Must not: share a parser with ringpin; this side is written by hand so that a bug in ringpin's
//! codec cannot hide itself by agreeing with the test.
//! Invariants: every blocking read has a deadline of `DEADLINE` from the start of the operation,
//! so a stuck test fails with a message instead of hanging; no function sleeps.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// How long one read operation (a head, a chunk, a body) may wait before the test fails.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// A response as the client saw it. `body` is decoded (chunked framing removed).
#[derive(Clone, Debug)]
pub struct Response {
    pub version: String,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Every value of the header `name` (compared without case) in `headers`, in wire order:
/// the lookup behind `Response::headers_named` and `BackendRequest::headers_named`.
pub(super) fn values_named<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

impl Response {
    /// First value of a header, name compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        values_named(&self.headers, name).into_iter().next()
    }

    /// Every value of a header, in wire order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        values_named(&self.headers, name)
    }

    /// Names of all `Grip-*` headers; GRIP headers must never reach a client.
    pub fn grip_headers(&self) -> Vec<&str> {
        self.headers
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.to_ascii_lowercase().starts_with("grip-"))
            .collect()
    }

    /// True when the body is sent with chunked transfer coding.
    pub fn is_chunked(&self) -> bool {
        self.headers_named("Transfer-Encoding")
            .iter()
            .any(|v| v.to_ascii_lowercase().contains("chunked"))
    }

    /// The body as text (lossy), for assertions on text bodies.
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A `GET` request with `Host: example.com`, keeping the connection open.
pub fn get_request(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n\r\n").into_bytes()
}

/// Sends `raw` on a new connection and reads one response.
pub fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut conn = Conn::connect(addr);
    conn.send(raw);
    conn.read_response()
}

/// `GET path` on a new connection with `Connection: close`.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n");
    request(addr, raw.as_bytes())
}

/// Sends bytes that may be rejected before they are all read (write errors are ignored),
/// then reads one response. A silent close fails the test with what was received.
pub fn raw_response(addr: SocketAddr, raw: &[u8]) -> (Response, Conn) {
    let mut conn = Conn::connect(addr);
    conn.send_lossy(raw);
    let response = conn.read_response();
    (response, conn)
}

/// The writing half of a `Conn` (`Conn::writer`).
#[derive(Debug)]
pub struct ConnWriter(TcpStream);

impl ConnWriter {
    /// Sends `bytes`; false once the peer is gone.
    pub fn send(&mut self, bytes: &[u8]) -> bool {
        self.0.write_all(bytes).is_ok()
    }
}

/// A client socket: plain TCP, or TLS whose server chain the client checked (`support::tls`).
#[derive(Debug)]
pub enum Wire {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Wire {
    fn tcp(&self) -> &TcpStream {
        match self {
            Wire::Plain(tcp) => tcp,
            Wire::Tls(tls) => tls.get_ref(),
        }
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    fn try_clone(&self) -> std::io::Result<TcpStream> {
        match self {
            Wire::Plain(tcp) => tcp.try_clone(),
            Wire::Tls(_) => panic!("a TLS connection has no second writer"),
        }
    }
}

impl Read for Wire {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(tcp) => tcp.read(buf),
            Wire::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Wire {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Wire::Plain(tcp) => tcp.write(buf),
            Wire::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Wire::Plain(tcp) => tcp.flush(),
            Wire::Tls(tls) => tls.flush(),
        }
    }
}

/// One client connection: the socket plus bytes received and not yet consumed.
#[derive(Debug)]
pub struct Conn {
    stream: Wire,
    buf: Vec<u8>,
}

impl Conn {
    pub fn connect(addr: SocketAddr) -> Conn {
        let stream = TcpStream::connect_timeout(&addr, DEADLINE)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        stream.set_nodelay(true).expect("set TCP_NODELAY");
        Conn {
            stream: Wire::Plain(stream),
            buf: Vec::new(),
        }
    }

    /// A connection over an established TLS session (`support::tls::connect`).
    pub fn over(wire: Wire) -> Conn {
        Conn {
            stream: wire,
            buf: Vec::new(),
        }
    }

    /// Connects from source address `src` (127.0.0.2 ..= 127.0.0.250 are all loopback), so a
    /// test can stand for several clients with different addresses.
    pub fn connect_from(src: std::net::Ipv4Addr, addr: SocketAddr) -> Conn {
        Conn::try_connect_from(src, addr).unwrap_or_else(|e| panic!("connect {src} -> {addr}: {e}"))
    }

    /// `connect_from` that returns the error instead of failing the test.
    pub fn try_connect_from(src: std::net::Ipv4Addr, addr: SocketAddr) -> std::io::Result<Conn> {
        use std::os::fd::FromRawFd;
        let SocketAddr::V4(dst) = addr else {
            panic!("connect_from needs an IPv4 destination, got {addr}");
        };
        let sockaddr = |ip: std::net::Ipv4Addr, port: u16| libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr {
                s_addr: u32::from(ip).to_be(),
            },
            sin_zero: [0; 8],
        };
        let len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
        // SAFETY: socket(2) takes no pointers; the descriptor is owned by `stream` below.
        let fd = unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: `fd` is a fresh socket that nothing else owns.
        let stream = unsafe { TcpStream::from_raw_fd(fd) };
        let (src, dst) = (sockaddr(src, 0), sockaddr(*dst.ip(), dst.port()));
        // SAFETY: `src` and `dst` are valid sockaddr_in values of `len` bytes.
        let bound = unsafe { libc::bind(fd, (&src as *const libc::sockaddr_in).cast(), len) };
        if bound != 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: as above.
        let connected =
            unsafe { libc::connect(fd, (&dst as *const libc::sockaddr_in).cast(), len) };
        if connected != 0 {
            return Err(std::io::Error::last_os_error());
        }
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream: Wire::Plain(stream),
            buf: Vec::new(),
        })
    }

    /// A second handle on the socket that only writes, for a thread that sends while the test
    /// reads.
    pub fn writer(&self) -> ConnWriter {
        ConnWriter(self.stream.try_clone().expect("clone a client socket"))
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .and_then(|()| self.stream.flush())
            .unwrap_or_else(|e| panic!("send {}: {e}", preview(bytes)));
    }

    /// Sends and ignores errors: the server may reject and close before reading everything.
    pub fn send_lossy(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes);
    }

    /// Reads more bytes into the buffer. False when the peer ended the connection (FIN or reset).
    fn fill(&mut self, deadline: Instant, what: &str) -> bool {
        loop {
            let now = Instant::now();
            if now >= deadline {
                self.timed_out(what);
            }
            self.stream
                .set_read_timeout(Some(deadline - now))
                .expect("set_read_timeout");
            let mut tmp = [0u8; 64 * 1024];
            match self.stream.read(&mut tmp) {
                Ok(0) => return false,
                Ok(n) => {
                    self.buf.extend_from_slice(&tmp[..n]);
                    return true;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    self.timed_out(what)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) if is_reset(&e) => return false,
                Err(e) => panic!("reading {what}: {e}"),
            }
        }
    }

    fn timed_out(&self, what: &str) -> ! {
        panic!(
            "timed out after {DEADLINE:?} waiting for {what}; unconsumed bytes: {}",
            preview(&self.buf)
        )
    }

    /// Removes and returns exactly `n` bytes, reading as needed.
    fn take(&mut self, n: usize, deadline: Instant, what: &str) -> Vec<u8> {
        while self.buf.len() < n {
            if !self.fill(deadline, what) {
                panic!(
                    "connection ended inside {what}: wanted {n} bytes, have {}",
                    preview(&self.buf)
                );
            }
        }
        self.buf.drain(..n).collect()
    }

    /// Removes and returns one line without its CRLF.
    fn take_line(&mut self, deadline: Instant, what: &str) -> Vec<u8> {
        loop {
            if let Some(i) = find(&self.buf, b"\r\n") {
                let mut line: Vec<u8> = self.buf.drain(..i + 2).collect();
                line.truncate(i);
                return line;
            }
            if !self.fill(deadline, what) {
                panic!("connection ended inside {what}: {}", preview(&self.buf));
            }
        }
    }

    /// Exactly `n` raw bytes from the wire, whatever they are.
    pub fn read_exact_raw(&mut self, n: usize) -> Vec<u8> {
        self.take(n, Instant::now() + DEADLINE, "raw bytes")
    }

    /// Status line and headers. A 1xx interim response is returned like any other head.
    pub fn read_head(&mut self) -> Response {
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return parse_head(&head[..end]);
            }
            if !self.fill(deadline, "a response head") {
                panic!(
                    "connection ended before a complete response head; received {}",
                    preview(&self.buf)
                );
            }
        }
    }

    /// A whole response to a non-HEAD request: chunked, Content-Length or close-delimited.
    pub fn read_response(&mut self) -> Response {
        let mut response = self.read_head();
        if response.status / 100 == 1 || response.status == 204 || response.status == 304 {
            return response;
        }
        response.body = if response.is_chunked() {
            let mut body = Vec::new();
            while let Some(chunk) = self.read_chunk() {
                body.extend_from_slice(&chunk);
            }
            body
        } else if let Some(len) = response.header("Content-Length") {
            let len: usize = len
                .trim()
                .parse()
                .unwrap_or_else(|_| panic!("bad Content-Length {len:?}"));
            self.take(len, Instant::now() + DEADLINE, "a Content-Length body")
        } else {
            self.read_to_end()
        };
        response
    }

    /// One chunk's data; `None` after the last chunk (`0\r\n` and the trailer section).
    pub fn read_chunk(&mut self) -> Option<Vec<u8>> {
        let deadline = Instant::now() + DEADLINE;
        let line = self.take_line(deadline, "a chunk-size line");
        let text = String::from_utf8_lossy(&line);
        let size_text = text.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16)
            .unwrap_or_else(|_| panic!("bad chunk-size line {text:?}"));
        if size == 0 {
            while !self.take_line(deadline, "the chunked trailer").is_empty() {}
            return None;
        }
        let data = self.take(size, deadline, "chunk data");
        let crlf = self.take(2, deadline, "the CRLF after chunk data");
        assert_eq!(crlf, b"\r\n", "chunk of {size} bytes not followed by CRLF");
        Some(data)
    }

    /// Everything until the peer ends the connection (FIN or reset). Each read has its own
    /// deadline, so a long drain passes as long as bytes keep coming.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill(
            Instant::now() + DEADLINE,
            "the peer to close the connection",
        ) {}
        std::mem::take(&mut self.buf)
    }

    /// Asserts that nothing arrives, and the connection stays open, for `quiet`: for the few
    /// behaviours that are a minimum time (`Grip-Timeout` is at least 5 s).
    pub fn expect_nothing_for(&mut self, quiet: Duration) {
        assert!(
            self.buf.is_empty(),
            "unconsumed bytes: {}",
            preview(&self.buf)
        );
        let deadline = Instant::now() + quiet;
        loop {
            let now = Instant::now();
            if now >= deadline {
                return;
            }
            self.stream
                .set_read_timeout(Some(deadline - now))
                .expect("set_read_timeout");
            let mut tmp = [0u8; 4096];
            match self.stream.read(&mut tmp) {
                Ok(0) => panic!("connection closed within {quiet:?}"),
                Ok(n) => panic!("received within {quiet:?}: {}", preview(&tmp[..n])),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => panic!("connection failed within {quiet:?}: {e}"),
            }
        }
    }

    /// Asserts that the peer closes the connection without sending anything more.
    pub fn expect_closed(&mut self) {
        let rest = self.read_to_end();
        assert!(
            rest.is_empty(),
            "bytes after the response: {}",
            preview(&rest)
        );
    }
}

fn parse_head(head: &[u8]) -> Response {
    let text = String::from_utf8_lossy(head);
    let mut lines = text.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let (version, rest) = status_line
        .split_once(' ')
        .unwrap_or_else(|| panic!("bad status line {status_line:?}"));
    let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
    let status = code
        .parse()
        .unwrap_or_else(|_| panic!("bad status line {status_line:?}"));
    let headers = lines
        .map(|line| {
            let (name, value) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad header line {line:?}"));
            (name.to_string(), value.trim().to_string())
        })
        .collect();
    Response {
        version: version.to_string(),
        status,
        reason: reason.to_string(),
        headers,
        body: Vec::new(),
    }
}

/// A client holding a streamed (chunked) response open: reads the head at once, then decodes
/// the body chunk by chunk as the test asks for it.
#[derive(Debug)]
pub struct StreamClient {
    conn: Conn,
    head: Response,
    /// Decoded body bytes received and not yet returned to the test.
    body: Vec<u8>,
}

impl StreamClient {
    /// `GET path` and read the response head.
    pub fn open(addr: SocketAddr, path: &str) -> StreamClient {
        StreamClient::open_with(addr, path, &[])
    }

    pub fn open_with(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> StreamClient {
        StreamClient::open_on(Conn::connect(addr), path, headers)
    }

    /// `GET path` with `headers` on an open connection (a TLS one, say).
    pub fn open_on(mut conn: Conn, path: &str, headers: &[(&str, &str)]) -> StreamClient {
        let mut raw = format!("GET {path} HTTP/1.1\r\nHost: example.com\r\n");
        for (name, value) in headers {
            raw.push_str(&format!("{name}: {value}\r\n"));
        }
        raw.push_str("\r\n");
        conn.send(raw.as_bytes());
        let head = conn.read_head();
        StreamClient {
            conn,
            head,
            body: Vec::new(),
        }
    }

    pub fn head(&self) -> &Response {
        &self.head
    }

    /// Decodes one more chunk into `body`; false after the terminating chunk.
    fn pull(&mut self) -> bool {
        assert!(
            self.head.is_chunked(),
            "stream response is not chunked: {:?}",
            self.head
        );
        match self.conn.read_chunk() {
            Some(data) => {
                self.body.extend_from_slice(&data);
                true
            }
            None => false,
        }
    }

    /// The next chunk's data exactly as framed; `None` after the terminating chunk.
    pub fn next_chunk(&mut self) -> Option<Vec<u8>> {
        assert!(
            self.body.is_empty(),
            "next_chunk with decoded bytes still unconsumed: {}",
            preview(&self.body)
        );
        assert!(self.head.is_chunked(), "not chunked: {:?}", self.head);
        self.conn.read_chunk()
    }

    /// Body text up to and including `needle`, which must arrive. Chunk boundaries do not
    /// matter (Pushpin may put two publishes in one chunk).
    pub fn read_until(&mut self, needle: &str) -> String {
        assert!(!needle.is_empty(), "read_until needs a needle");
        let mut from = 0;
        loop {
            if let Some(i) = find(&self.body[from..], needle.as_bytes()) {
                let out: Vec<u8> = self.body.drain(..from + i + needle.len()).collect();
                return String::from_utf8_lossy(&out).into_owned();
            }
            from = self.body.len().saturating_sub(needle.len() - 1);
            if !self.pull() {
                panic!(
                    "stream ended before {needle:?} arrived; received {}",
                    preview(&self.body)
                );
            }
        }
    }

    /// Exactly `n` decoded body bytes.
    pub fn read_body_bytes(&mut self, n: usize) -> Vec<u8> {
        while self.body.len() < n {
            if !self.pull() {
                panic!("stream ended after {} of {n} body bytes", self.body.len());
            }
        }
        self.body.drain(..n).collect()
    }

    /// Asserts the next raw wire bytes (chunk framing included) are exactly `expected`.
    pub fn expect_raw(&mut self, expected: &[u8]) {
        assert!(
            self.body.is_empty(),
            "expect_raw with decoded bytes still unconsumed: {}",
            preview(&self.body)
        );
        let got = self.conn.read_exact_raw(expected.len());
        assert_eq!(
            preview(&got),
            preview(expected),
            "wire bytes differ from the expected framing"
        );
    }

    /// Asserts that no body bytes arrive, and the stream stays open, for `quiet`: for the few
    /// behaviours that are a minimum time (`message_wait`).
    pub fn expect_nothing_for(&mut self, quiet: Duration) {
        assert!(
            self.body.is_empty(),
            "expect_nothing_for with decoded bytes still unconsumed: {}",
            preview(&self.body)
        );
        self.conn.expect_nothing_for(quiet);
    }

    /// Asserts the stream ends with the terminating chunk `0\r\n\r\n`.
    pub fn expect_end(&mut self) {
        self.expect_raw(b"0\r\n\r\n");
    }

    /// Drains raw bytes until the server ends the connection (FIN or reset); returns how many
    /// bytes were still in flight. Fails if the connection stays open past the deadline.
    pub fn read_to_close(mut self) -> usize {
        self.conn.read_to_end().len()
    }
}

/// Server-Sent Events over a held stream: each event is the text up to a blank line.
#[derive(Debug)]
pub struct SseClient {
    stream: StreamClient,
}

impl SseClient {
    pub fn open(addr: SocketAddr, path: &str) -> SseClient {
        SseClient::open_on(Conn::connect(addr), path)
    }

    /// The same on an open connection (a TLS one, say).
    pub fn open_on(conn: Conn, path: &str) -> SseClient {
        let stream = StreamClient::open_on(conn, path, &[("Accept", "text/event-stream")]);
        SseClient { stream }
    }

    pub fn head(&self) -> &Response {
        self.stream.head()
    }

    /// The next event block, including its terminating `\n\n`.
    pub fn next_event(&mut self) -> String {
        self.stream.read_until("\n\n")
    }

    /// The next event block that is not `keep_alive`.
    pub fn next_event_skipping(&mut self, keep_alive: &str) -> String {
        loop {
            let event = self.next_event();
            if event != keep_alive {
                return event;
            }
        }
    }
}

fn is_reset(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe
    )
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Bytes as an escaped string, cut after 300 bytes, for failure messages.
pub fn preview(bytes: &[u8]) -> String {
    const SHOWN_BYTES_MAX: usize = 300;
    let shown = &bytes[..bytes.len().min(SHOWN_BYTES_MAX)];
    let mut out: String = shown.escape_ascii().to_string();
    if bytes.len() > SHOWN_BYTES_MAX {
        out.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    format!("\"{out}\"")
}

/// Compares large bodies without printing them: reports lengths and the first difference.
pub fn assert_same_bytes(got: &[u8], want: &[u8], what: &str) {
    if got == want {
        return;
    }
    let first_difference = got.iter().zip(want).position(|(a, b)| a != b);
    panic!(
        "{what}: got {} bytes, want {}; first difference at {first_difference:?}",
        got.len(),
        want.len()
    );
}
