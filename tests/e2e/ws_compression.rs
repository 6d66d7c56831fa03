//! permessage-deflate with WebSocket clients (Pushpin 1.37's `allow_compression`, off by
//! default): the offer is taken only when allowed, client messages arrive inflated at the
//! origin, and published messages reach such clients compressed. The client is written by
//! hand here, with flate2 for the compression, since tungstenite 0.24 has none.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};
use serde_json::json;

use crate::support::woh::{woh_backend, WohOptions};
use crate::support::{publish_ok, wait_subscribed, Conn, Proxy, Response};
use crate::websocket::{frame, read_frame};
use crate::ws_over_http::{woh_proxy, ws_item};

const OFFER: &str = "permessage-deflate; client_max_window_bits";

/// A raw upgrade offering `extensions`; the connection and the 101 head.
fn upgrade_offering(proxy: &Proxy, extensions: &str) -> (Conn, Response) {
    let mut conn = Conn::connect(proxy.addr);
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {extensions}\r\n\r\n"
    );
    conn.send(request.as_bytes());
    let head = conn.read_head();
    assert_eq!(head.status, 101, "{head:?}");
    (conn, head)
}

/// `data` as one raw deflate message without its `00 00 ff ff` tail (RFC 7692 §7.2.1).
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut compress = Compress::new(Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    compress
        .compress_vec(data, &mut out, FlushCompress::Sync)
        .expect("deflate");
    assert!(
        out.ends_with(&[0, 0, 0xff, 0xff]),
        "room for the sync flush"
    );
    out.truncate(out.len() - 4);
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut out = Vec::with_capacity(1 << 20);
    Decompress::new(false)
        .decompress_vec(&input, &mut out, FlushDecompress::Sync)
        .expect("inflate");
    out
}

#[test]
fn a_deflate_offer_is_declined_unless_compression_is_allowed() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &[]);
    let (_conn, head) = upgrade_offering(&proxy, OFFER);
    assert_eq!(head.header("Sec-WebSocket-Extensions"), None);
}

#[test]
fn with_compression_allowed_messages_travel_compressed_both_ways() {
    let backend = woh_backend(WohOptions::default());
    let proxy = woh_proxy(backend.port(), &["--allow-compression", "true"]);
    let (mut conn, head) = upgrade_offering(&proxy, OFFER);
    let accepted = head.header("Sec-WebSocket-Extensions").unwrap_or_default();
    assert!(accepted.starts_with("permessage-deflate"), "{accepted}");
    assert!(
        accepted.contains("server_no_context_takeover"),
        "{accepted}"
    );
    assert!(
        accepted.contains("client_no_context_takeover"),
        "{accepted}"
    );

    // The origin subscribes on "sub:room", so this arrived inflated.
    conn.send(&frame(0xc1, &deflate(b"sub:room"), true));
    wait_subscribed(&proxy, 1);
    let long = "a published message, compressed once for every subscriber. ".repeat(30);
    publish_ok(&proxy, &ws_item("room", json!({ "content": long })));
    let (first, payload) = read_frame(&mut conn);
    assert_eq!(first, 0xc1, "FIN, RSV1, text");
    assert!(payload.len() < long.len() / 4, "{}", payload.len());
    assert_eq!(inflate(&payload), long.as_bytes());

    publish_ok(&proxy, &ws_item("room", json!({ "content": "short" })));
    assert_eq!(
        read_frame(&mut conn),
        (0x81, b"short".to_vec()),
        "too short to gain"
    );
    conn.send(&frame(0xc1, &deflate(b"hello hello hello"), true));
    let (first, payload) = read_frame(&mut conn);
    let text = if first & 0x40 != 0 {
        inflate(&payload)
    } else {
        payload
    };
    assert_eq!(text, b"hello hello hello");
}
