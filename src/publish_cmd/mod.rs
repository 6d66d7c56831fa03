//! `ringpin publish`: Pushpin's `pushpin-publish` as a subcommand of the same binary.
//!
//! `args.rs` parses the command line, `item.rs` builds the item and `url.rs` splits a GRIP
//! URL, all without I/O; this file reads the content (`@FILE`, `-` for stdin), sends the item
//! to a GRIP URL (`POST {url}/publish/`, over rustls for `https`) or a ZeroMQ PUSH spec (`J` + the item's JSON, which both ringpin's
//! and Pushpin's PULL inputs take), and reports: `Published` and exit 0, or the server's
//! message on stderr and exit 1 (2 for a bad command line).
//! Must not: run inside the proxy; it is a short-lived client with blocking std sockets.

pub mod args;
pub mod item;
pub mod url;

use crate::limits::PUBLISH_CMD_TIMEOUT;
use args::{Auth, Parsed, PublishArgs};
use base64::Engine as _;
use item::{build_item, ContentSource};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;
use url::GripUrl;

/// Runs `ringpin publish` with the arguments after `publish`.
pub fn main(argv: &[String]) -> ExitCode {
    let args = match args::parse(argv) {
        Ok(Parsed::Publish(args)) => args,
        Ok(Parsed::Help) => {
            print!("{}", args::usage());
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("ringpin publish: {err}\nTry `ringpin publish --help`.");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => {
            println!("Published");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Reads the content, builds the item and sends it.
pub fn run(args: &PublishArgs) -> Result<(), String> {
    let content = match args.content.as_deref() {
        None => None,
        Some("-") => {
            let mut bytes = Vec::new();
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| format!("can't read standard input: {e}"))?;
            Some((bytes, ContentSource::Bytes))
        }
        Some(text) => match text.strip_prefix('@') {
            Some(path) => {
                let bytes =
                    std::fs::read(path).map_err(|e| format!("can't read file {path}: {e}"))?;
                Some((bytes, ContentSource::Bytes))
            }
            None => Some((text.as_bytes().to_vec(), ContentSource::Argument)),
        },
    };
    let content = content
        .as_ref()
        .map(|(bytes, source)| (bytes.as_slice(), *source));
    let item = build_item(args, content)?;
    if args.spec.starts_with("http://") || args.spec.starts_with("https://") {
        publish_http(args, &item)
    } else {
        if args.auth.is_some() || args.cacert.is_some() {
            return Err(
                "credentials and --cacert apply to GRIP URLs; ZeroMQ inputs have none".into(),
            );
        }
        publish_zmq(&args.spec, &item)
    }
}

/// `POST {url}/publish/` with `{"items": [item]}`; Ok on a 2xx, else the reply's text.
fn publish_http(args: &PublishArgs, item: &serde_json::Value) -> Result<(), String> {
    let url = GripUrl::parse(&args.spec)?;
    let body = serde_json::json!({ "items": [item] }).to_string();
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        url.publish_path,
        url.authority,
        body.len()
    );
    if let Some(auth) = &args.auth {
        request.push_str(&format!("Authorization: {}\r\n", authorization(auth)?));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let reply = exchange(&url, args.cacert.as_deref(), request.as_bytes())?;
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(()),
        Some(status) if body.trim().is_empty() => Err(format!("{} answered {status}", args.spec)),
        Some(_) => Err(body.trim().to_owned()),
        None => Err(format!("{} sent no HTTP response", args.spec)),
    }
}

/// The `Authorization` value for `auth`.
fn authorization(auth: &Auth) -> Result<String, String> {
    let base64 = base64::engine::general_purpose::STANDARD;
    Ok(match auth {
        Auth::Basic(user_pass) => format!("Basic {}", base64.encode(user_pass)),
        Auth::Bearer(token) => format!("Bearer {token}"),
        Auth::Jwt { key, iss } => {
            let key = crate::grip::sig::parse_key(key).map_err(|e| format!("--jwt-key: {e}"))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            format!("Bearer {}", crate::grip::sig::sign(&key, iss, now))
        }
    })
}

/// Sends `request` to `url`'s server, over TLS for `https`, and reads until the server
/// closes, within `PUBLISH_CMD_TIMEOUT` per step.
fn exchange(url: &GripUrl, cacert: Option<&str>, request: &[u8]) -> Result<Vec<u8>, String> {
    let address = url.socket_address();
    let error = |e: std::io::Error| format!("{address}: {e}");
    let addr = (address.to_socket_addrs().map_err(error)?)
        .next()
        .ok_or(format!("{address}: no address"))?;
    let stream = TcpStream::connect_timeout(&addr, PUBLISH_CMD_TIMEOUT).map_err(error)?;
    stream
        .set_read_timeout(Some(PUBLISH_CMD_TIMEOUT))
        .map_err(error)?;
    stream
        .set_write_timeout(Some(PUBLISH_CMD_TIMEOUT))
        .map_err(error)?;
    if !url.tls {
        return send_and_read(stream, request).map_err(error);
    }
    let tls = crate::tls::origin::OriginTls::new(cacert.map(std::path::Path::new))
        .map_err(|e| format!("--cacert: {e}"))?;
    let name = rustls_pki_types::ServerName::try_from(url.host.clone())
        .map_err(|_| format!("{}: not a TLS server name", url.host))?;
    let session = rustls::ClientConnection::new(tls.config(false), name)
        .map_err(|e| format!("{address}: {e}"))?;
    send_and_read(rustls::StreamOwned::new(session, stream), request).map_err(error)
}

/// Writes `request` and reads the reply to its end (or `PUBLISH_BODY_BYTES_MAX`). A TLS peer
/// that closes without `close_notify` ends the reply too: `Connection: close` framed it.
fn send_and_read(mut stream: impl Read + Write, request: &[u8]) -> std::io::Result<Vec<u8>> {
    stream.write_all(request)?;
    stream.flush()?;
    let mut reply = Vec::new();
    let read = (&mut stream)
        .take(crate::limits::PUBLISH_BODY_BYTES_MAX as u64)
        .read_to_end(&mut reply);
    match read {
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !reply.is_empty() => Ok(reply),
        other => other.map(|_| reply),
    }
}

/// One PUSH message, `J` + the item's JSON, lingering up to `PUBLISH_CMD_TIMEOUT` for it to
/// leave (ZeroMQ cannot say whether anyone took it).
fn publish_zmq(spec: &str, item: &serde_json::Value) -> Result<(), String> {
    let error = |e: zmq::Error| format!("{spec}: {e}");
    let context = zmq::Context::new();
    let socket = context.socket(zmq::PUSH).map_err(error)?;
    socket
        .set_linger(PUBLISH_CMD_TIMEOUT.as_millis() as i32)
        .map_err(error)?;
    socket
        .set_sndtimeo(PUBLISH_CMD_TIMEOUT.as_millis() as i32)
        .map_err(error)?;
    socket.connect(spec).map_err(error)?;
    let mut message = b"J".to_vec();
    message.extend_from_slice(item.to_string().as_bytes());
    socket.send(message, 0).map_err(error)
}
