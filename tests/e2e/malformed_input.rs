//! Broken and oversized client requests, sent as real bytes. ringpin answers them with a real
//! status line (`400`/`414`/`431`) where Pushpin 1.36 closes silently (DESIGN.md §4), never
//! forwards them, and keeps serving everyone else. Each limit is tested just inside and just
//! outside (`limits.rs`: 4096-byte URI, 8192-byte head).

use crate::support::{
    get, get_request, preview, raw_response, Backend, BackendResponse, Proxy, Response,
};

fn ok_backend() -> Backend {
    Backend::start(|req| BackendResponse::text(200, format!("len={}\n", req.path.len())))
}

fn assert_status_line(response: &Response, status: u16, sent: &[u8]) {
    assert_eq!(
        (response.version.as_str(), response.status),
        ("HTTP/1.1", status),
        "response to {}",
        preview(sent)
    );
}

/// A request whose head (request line, headers, final blank line) is exactly `bytes` long.
fn request_with_head_bytes(bytes: usize) -> Vec<u8> {
    let start = "GET / HTTP/1.1\r\nHost: example.com\r\nX-Filler: ";
    let end = "\r\n\r\n";
    let filler = "f".repeat(bytes - start.len() - end.len());
    let raw = format!("{start}{filler}{end}");
    assert_eq!(raw.len(), bytes);
    raw.into_bytes()
}

#[test]
fn garbage_request_line_gets_400_and_the_connection_closes() {
    let backend = ok_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let garbage: [&[u8]; 3] = [
        b"this is not http\r\n\r\n",
        b"GET\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    ];

    for sent in garbage {
        let (response, mut conn) = raw_response(proxy.addr, sent);
        assert_status_line(&response, 400, sent);
        conn.expect_closed();
    }

    assert!(backend.requests().is_empty(), "{:?}", backend.requests());
    assert_eq!(get(proxy.addr, "/after").status, 200);
}

#[test]
fn uri_of_5000_bytes_gets_414() {
    let backend = ok_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let sent = get_request(&format!("/{}", "u".repeat(4999)));

    let (response, _conn) = raw_response(proxy.addr, &sent);

    assert_status_line(&response, 414, &sent);
    assert!(backend.requests().is_empty());
    assert_eq!(get(proxy.addr, "/after").status, 200);
}

#[test]
fn uri_of_exactly_4096_bytes_is_proxied() {
    let backend = ok_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let path = format!("/{}", "u".repeat(4095));

    let response = get(proxy.addr, &path);

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "len=4096\n");
}

#[test]
fn request_head_of_9000_bytes_gets_431() {
    let backend = ok_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let sent = request_with_head_bytes(9000);

    let (response, _conn) = raw_response(proxy.addr, &sent);

    assert_status_line(&response, 431, &sent);
    assert!(backend.requests().is_empty());
    assert_eq!(get(proxy.addr, "/after").status, 200);
}

#[test]
fn request_head_of_8000_bytes_is_proxied() {
    let backend = ok_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let sent = request_with_head_bytes(8000);

    let (response, _conn) = raw_response(proxy.addr, &sent);

    assert_status_line(&response, 200, &sent);
    assert_eq!(response.body_text(), "len=1\n");
}
