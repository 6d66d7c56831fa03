//! `ringpin publish`: Pushpin's `pushpin-publish` as a subcommand of the same binary.
//!
//! `args.rs` parses the command line and `item.rs` builds the item, both without I/O; this
//! file reads the content (`@FILE`, `-` for stdin), sends the item to a GRIP URL
//! (`POST {url}/publish/`) or a ZeroMQ PUSH spec (`J` + the item's JSON, which both ringpin's
//! and Pushpin's PULL inputs take), and reports: `Published` and exit 0, or the server's
//! message on stderr and exit 1 (2 for a bad command line).
//! Must not: run inside the proxy; it is a short-lived client with blocking std sockets.

pub mod args;
pub mod item;

use crate::limits::PUBLISH_CMD_TIMEOUT;
use args::{Auth, Parsed, PublishArgs};
use base64::Engine as _;
use item::{build_item, ContentSource};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::process::ExitCode;

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
        publish_http(&args.spec, args.auth.as_ref(), &item)
    } else {
        if args.auth.is_some() {
            return Err("credentials apply to GRIP URLs; ZeroMQ inputs have none".into());
        }
        publish_zmq(&args.spec, &item)
    }
}

/// `POST {url}/publish/` with `{"items": [item]}`; Ok on a 2xx, else the reply's text.
fn publish_http(url: &str, auth: Option<&Auth>, item: &serde_json::Value) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("https GRIP URLs are not supported by ringpin publish yet")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = path.trim_end_matches('/');
    let body = serde_json::json!({ "items": [item] }).to_string();
    let mut request = format!(
        "POST {path}/publish/ HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(auth) = auth {
        request.push_str(&format!("Authorization: {}\r\n", authorization(auth)?));
    }
    request.push_str("\r\n");
    request.push_str(&body);
    let address = if authority.contains(':') {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    let reply = exchange(&address, request.as_bytes())?;
    let text = String::from_utf8_lossy(&reply);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(200..=299) => Ok(()),
        Some(status) if body.trim().is_empty() => Err(format!("{url} answered {status}")),
        Some(_) => Err(body.trim().to_owned()),
        None => Err(format!("{url} sent no HTTP response")),
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

/// Sends `request` to `address` and reads until the server closes, within
/// `PUBLISH_CMD_TIMEOUT` per step.
fn exchange(address: &str, request: &[u8]) -> Result<Vec<u8>, String> {
    let error = |e: std::io::Error| format!("{address}: {e}");
    let addr = (address.to_socket_addrs().map_err(error)?)
        .next()
        .ok_or(format!("{address}: no address"))?;
    let mut stream = TcpStream::connect_timeout(&addr, PUBLISH_CMD_TIMEOUT).map_err(error)?;
    stream
        .set_read_timeout(Some(PUBLISH_CMD_TIMEOUT))
        .map_err(error)?;
    stream
        .set_write_timeout(Some(PUBLISH_CMD_TIMEOUT))
        .map_err(error)?;
    stream.write_all(request).map_err(error)?;
    let mut reply = Vec::new();
    (&mut stream)
        .take(crate::limits::PUBLISH_BODY_BYTES_MAX as u64)
        .read_to_end(&mut reply)
        .map_err(error)?;
    Ok(reply)
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
