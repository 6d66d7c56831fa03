//! A scripted GRIP origin: a real HTTP/1.1 server on 127.0.0.1, `[::1]` or an address a
//! test names, in plain threads.
//!
//! Owns: `Backend` (listener, one thread per connection, keep-alive, Content-Length and chunked
//! request bodies, `Expect: 100-continue`), the record of every request it received, and the
//! `BackendResponse` builders tests script it with; `verify_grip_sig` for `Grip-Sig` checks.
//! Must not: share code with ringpin's origin client or parser.
//! Invariants: a request is recorded before its response is written, so once a client has the
//! response, `requests()` contains the request.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::client::{values_named, DEADLINE};

/// A request as the origin received it from ringpin.
#[derive(Clone, Debug)]
pub struct BackendRequest {
    pub method: String,
    /// Request target as sent, query included.
    pub path: String,
    pub version: String,
    pub headers: Vec<(String, String)>,
    /// Decoded body (chunked framing removed).
    pub body: Vec<u8>,
}

impl BackendRequest {
    /// First value of a header, name compared without case.
    pub fn header(&self, name: &str) -> Option<&str> {
        values_named(&self.headers, name).into_iter().next()
    }

    /// Every value of a header, in wire order.
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        values_named(&self.headers, name)
    }
}

/// What the origin answers; framing headers are added when it is written.
#[derive(Clone, Debug)]
pub struct BackendResponse {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body with chunked transfer coding instead of Content-Length.
    pub chunked: bool,
}

impl BackendResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> BackendResponse {
        BackendResponse {
            status,
            reason: reason_phrase(status).to_string(),
            headers: vec![("Content-Type".to_string(), content_type.to_string())],
            body: body.into(),
            chunked: false,
        }
    }

    /// A `text/plain` response.
    pub fn text(status: u16, body: impl Into<Vec<u8>>) -> BackendResponse {
        BackendResponse::new(status, "text/plain", body)
    }

    /// An `application/octet-stream` response.
    pub fn bytes(status: u16, body: Vec<u8>) -> BackendResponse {
        BackendResponse::new(status, "application/octet-stream", body)
    }

    /// Echoes the request body back as `text/plain`.
    pub fn echo(request: &BackendRequest) -> BackendResponse {
        BackendResponse::text(200, request.body.clone())
    }

    /// `Grip-Hold: stream` on `channel` (a comma list subscribes to several); `body` is sent at once.
    pub fn stream_hold(channel: &str, body: &str) -> BackendResponse {
        BackendResponse::text(200, body)
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", channel)
    }

    /// `Grip-Hold: response` on `channel`; `body` becomes the timeout response.
    pub fn response_hold(channel: &str, body: &str) -> BackendResponse {
        BackendResponse::text(200, body)
            .header("Grip-Hold", "response")
            .header("Grip-Channel", channel)
    }

    /// The `application/grip-instruct` JSON form (PUSHPIN.md §2.3).
    pub fn grip_instruct(instruct: &serde_json::Value) -> BackendResponse {
        BackendResponse::new(200, "application/grip-instruct", instruct.to_string())
    }

    pub fn header(mut self, name: &str, value: &str) -> BackendResponse {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn chunked(mut self) -> BackendResponse {
        self.chunked = true;
        self
    }
}

/// `len` bytes of a pattern that does not repeat on power-of-two boundaries.
pub fn pattern_body(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        _ => "Whatever",
    }
}

type Handler = Arc<dyn Fn(&BackendRequest) -> BackendResponse + Send + Sync>;

/// The origin server. Stops on drop.
pub struct Backend {
    /// The address it listens on: 127.0.0.1 unless started with `start_at` or `start_v6`.
    ip: IpAddr,
    port: u16,
    handler: Handler,
    requests: Arc<Mutex<Vec<BackendRequest>>>,
    running: Option<Running>,
}

struct Running {
    stop: Arc<AtomicBool>,
    accept_thread: JoinHandle<()>,
    conns: Arc<Mutex<Vec<TcpStream>>>,
}

impl Backend {
    /// Starts on a fresh port.
    pub fn start<F>(handler: F) -> Backend
    where
        F: Fn(&BackendRequest) -> BackendResponse + Send + Sync + 'static,
    {
        Backend::start_on(0, handler)
    }

    /// Starts on a fresh port of `ip`: for a ringpin in another network namespace, which
    /// reaches the test's namespace at the address of its veth peer (`support/hosts.rs`).
    pub fn start_at<F>(ip: IpAddr, handler: F) -> Backend
    where
        F: Fn(&BackendRequest) -> BackendResponse + Send + Sync + 'static,
    {
        Backend::start_bound(ip, 0, handler)
    }

    /// Starts on a fresh port of the IPv6 loopback, `[::1]`.
    pub fn start_v6<F>(handler: F) -> Backend
    where
        F: Fn(&BackendRequest) -> BackendResponse + Send + Sync + 'static,
    {
        Backend::start_bound(IpAddr::V6(Ipv6Addr::LOCALHOST), 0, handler)
    }

    /// Starts on `port` (0 = any free port), retrying the bind until the deadline.
    pub fn start_on<F>(port: u16, handler: F) -> Backend
    where
        F: Fn(&BackendRequest) -> BackendResponse + Send + Sync + 'static,
    {
        Backend::start_bound(IpAddr::V4(Ipv4Addr::LOCALHOST), port, handler)
    }

    fn start_bound<F>(ip: IpAddr, port: u16, handler: F) -> Backend
    where
        F: Fn(&BackendRequest) -> BackendResponse + Send + Sync + 'static,
    {
        let mut backend = Backend {
            ip,
            port,
            handler: Arc::new(handler),
            requests: Arc::new(Mutex::new(Vec::new())),
            running: None,
        };
        backend.restart();
        backend
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request received so far, in arrival order (across restarts).
    pub fn requests(&self) -> Vec<BackendRequest> {
        self.requests.lock().expect("requests lock").clone()
    }

    pub fn last_request(&self) -> BackendRequest {
        self.requests()
            .pop()
            .expect("the backend has received no request")
    }

    /// Closes the listener and every open connection; the port refuses connections afterwards.
    pub fn stop(&mut self) {
        let Some(running) = self.running.take() else {
            return;
        };
        running.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag and drops the listener.
        let _ = TcpStream::connect((self.ip, self.port));
        running
            .accept_thread
            .join()
            .expect("accept thread panicked");
        for conn in running.conns.lock().expect("conns lock").drain(..) {
            let _ = conn.shutdown(Shutdown::Both);
        }
    }

    /// Listens again on the same port with the same handler.
    pub fn restart(&mut self) {
        self.stop();
        let listener = bind_retrying(self.ip, self.port);
        self.port = listener.local_addr().expect("local_addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let accept_thread = {
            let (stop, conns) = (stop.clone(), conns.clone());
            let (handler, requests) = (self.handler.clone(), self.requests.clone());
            thread::Builder::new()
                .name(format!("backend-accept-{}", self.port))
                .spawn(move || accept_loop(listener, &stop, &conns, &handler, &requests))
                .expect("spawn accept thread")
        };
        self.running = Some(Running {
            stop,
            accept_thread,
            conns,
        });
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind_retrying(ip: IpAddr, port: u16) -> TcpListener {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match TcpListener::bind((ip, port)) {
            Ok(listener) => return listener,
            Err(e) if Instant::now() >= deadline => panic!("backend bind {ip}:{port}: {e}"),
            Err(_) => thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}

fn accept_loop(
    listener: TcpListener,
    stop: &AtomicBool,
    conns: &Mutex<Vec<TcpStream>>,
    handler: &Handler,
    requests: &Arc<Mutex<Vec<BackendRequest>>>,
) {
    for incoming in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let Ok(stream) = incoming else { continue };
        if let Ok(clone) = stream.try_clone() {
            conns.lock().expect("conns lock").push(clone);
        }
        let (handler, requests) = (handler.clone(), requests.clone());
        thread::spawn(move || serve_connection(stream, &handler, &requests));
    }
}

/// Serves requests on one connection until the peer closes or asks to close.
fn serve_connection(stream: TcpStream, handler: &Handler, requests: &Mutex<Vec<BackendRequest>>) {
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Ok(Some(request)) = read_request(&mut reader, &mut writer) {
        let keep_alive = wants_keep_alive(&request);
        requests
            .lock()
            .expect("requests lock")
            .push(request.clone());
        let response = handler(&request);
        if write_response(&mut writer, &response).is_err() || !keep_alive {
            let _ = writer.shutdown(Shutdown::Write);
            return;
        }
    }
}

fn wants_keep_alive(request: &BackendRequest) -> bool {
    let connection = request
        .header("Connection")
        .unwrap_or("")
        .to_ascii_lowercase();
    if request.version == "HTTP/1.0" {
        connection.contains("keep-alive")
    } else {
        !connection.contains("close")
    }
}

fn read_line(reader: &mut BufReader<TcpStream>) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    if reader.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&line);
    Ok(Some(text.trim_end_matches(['\r', '\n']).to_string()))
}

fn read_request(
    reader: &mut BufReader<TcpStream>,
    writer: &mut TcpStream,
) -> std::io::Result<Option<BackendRequest>> {
    let Some(request_line) = read_line(reader)? else {
        return Ok(None);
    };
    let mut parts = request_line.split_whitespace();
    let (method, path, version) = match (parts.next(), parts.next(), parts.next()) {
        (Some(m), Some(p), Some(v)) => (m.to_string(), p.to_string(), v.to_string()),
        _ => return Ok(None),
    };
    let mut headers = Vec::new();
    while let Some(line) = read_line(reader)? {
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.to_string(), value.trim().to_string()));
        }
    }
    let mut request = BackendRequest {
        method,
        path,
        version,
        headers,
        body: Vec::new(),
    };
    if let Some(expect) = request.header("Expect") {
        // Answer it rather than hang, so the test that forbids forwarding it fails on its assert.
        if expect.eq_ignore_ascii_case("100-continue") {
            writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
    }
    let chunked = request
        .header("Transfer-Encoding")
        .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
    if chunked {
        request.body = read_chunked_body(reader)?;
    } else if let Some(len) = request.header("Content-Length") {
        let len: usize = len.trim().parse().unwrap_or(0);
        let mut body = vec![0; len];
        reader.read_exact(&mut body)?;
        request.body = body;
    }
    Ok(Some(request))
}

fn read_chunked_body(reader: &mut BufReader<TcpStream>) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line = read_line(reader)?.unwrap_or_default();
        let size_text = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_text, 16).map_err(std::io::Error::other)?;
        if size == 0 {
            while read_line(reader)?.is_some_and(|l| !l.is_empty()) {}
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..])?;
        let mut crlf = [0u8; 2];
        reader.read_exact(&mut crlf)?;
    }
}

fn write_response(writer: &mut TcpStream, response: &BackendResponse) -> std::io::Result<()> {
    const CHUNK_BYTES: usize = 16 * 1024;
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if response.chunked {
        head.push_str("Transfer-Encoding: chunked\r\n\r\n");
    } else {
        head.push_str(&format!("Content-Length: {}\r\n\r\n", response.body.len()));
    }
    writer.write_all(head.as_bytes())?;
    if !response.chunked {
        return writer.write_all(&response.body);
    }
    for chunk in response.body.chunks(CHUNK_BYTES) {
        writer.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
        writer.write_all(chunk)?;
        writer.write_all(b"\r\n")?;
    }
    writer.write_all(b"0\r\n\r\n")
}

/// An HS256 JWT `{"iss": iss, "exp": now + 600}` signed with `key`, as pubcontrol makes one.
pub fn sign_jwt(key: &[u8], iss: &str) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        + 600;
    let claims = serde_json::json!({"iss": iss, "exp": exp}).to_string();
    let signed = format!(
        "{}.{}",
        b64.encode(r#"{"typ":"JWT","alg":"HS256"}"#),
        b64.encode(claims)
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    mac.update(signed.as_bytes());
    format!("{signed}.{}", b64.encode(mac.finalize().into_bytes()))
}

/// Verifies a `Grip-Sig` JWT (HS256 with `key`, `exp` in the future); returns its claims.
pub fn verify_grip_sig(token: &str, key: &[u8]) -> Result<serde_json::Value, String> {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(format!("not a three-part JWT: {token:?}"));
    };
    let decode_json = |part: &str| -> Result<serde_json::Value, String> {
        let bytes = b64
            .decode(part)
            .map_err(|e| format!("base64 {part:?}: {e}"))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("json {part:?}: {e}"))
    };
    let header = decode_json(header)?;
    if header["alg"] != "HS256" {
        return Err(format!("alg is not HS256: {header}"));
    }
    let signature = b64
        .decode(signature)
        .map_err(|e| format!("signature base64: {e}"))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(format!("{}.{claims}", parts[0]).as_bytes());
    mac.verify_slice(&signature)
        .map_err(|_| "HS256 signature does not verify with this key".to_string())?;
    let claims = decode_json(claims)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    match claims["exp"].as_u64() {
        Some(exp) if exp > now => Ok(claims),
        _ => Err(format!(
            "exp missing or not in the future (now {now}): {claims}"
        )),
    }
}
