//! Memory stays bounded when a WebSocket client sends faster than its origin answers and never
//! reads what comes back (ARCHITECTURE.md, "Memory and limits"): ringpin stops reading the
//! client once enough events wait for the origin, and stops asking the origin for more once
//! enough frames wait for the client. Other connections carry on.
//!
//! Two figures are checked: the client is stopped being read (it cannot hand over all 32 MiB),
//! and the process's resident set, as in `memory_bound.rs`, grows by less than 24 MiB.
//! Measured on the development machine: about 8-12 MiB of growth, flat once the kernel's
//! socket buffers towards the client are full (about a dozen origin requests), against some
//! 1.5 MiB of queued events and frames; the rest is allocator and runtime overhead.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use crate::support::woh::{scripted_response, WohOptions};
use crate::support::{ws_connect, Backend};
use crate::websocket::{frame, upgrade_request};
use crate::ws_over_http::woh_proxy;

/// Each client message: 64 KiB of binary.
const MESSAGE_BYTES: usize = 64 * 1024;
/// Messages the flooding client tries to send: 32 MiB.
const MESSAGES: usize = 512;
/// How much the resident set may grow while the flood is refused: less than the flood.
const RSS_GROWTH_BYTES_MAX: u64 = 24 * 1024 * 1024;
const _: () = assert!(RSS_GROWTH_BYTES_MAX < (MESSAGES * MESSAGE_BYTES) as u64);

#[test]
fn a_client_flooding_a_slow_origin_does_not_grow_memory() {
    let options = WohOptions::default();
    let backend = Backend::start(move |request| {
        thread::sleep(Duration::from_millis(100));
        scripted_response(request, &options)
    });
    let proxy = woh_proxy(backend.port(), &[]);
    let mut flood = TcpStream::connect(proxy.addr).expect("connect");
    flood.write_all(&upgrade_request("13")).expect("upgrade");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        flood.read_exact(&mut byte).expect("101 head");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    let baseline = proxy.proc_status_bytes("VmRSS");
    flood
        .set_write_timeout(Some(Duration::from_secs(2)))
        .expect("timeout");
    let message = frame(0x82, &vec![7u8; MESSAGE_BYTES], true);
    let writer = thread::spawn(move || {
        let mut sent = 0;
        while sent < MESSAGES && flood.write_all(&message).is_ok() {
            sent += 1;
        }
        (sent, flood)
    });
    let mut peak = baseline;
    let until = Instant::now() + Duration::from_secs(4);
    while Instant::now() < until {
        peak = peak.max(proxy.proc_status_bytes("VmRSS"));
        thread::sleep(Duration::from_millis(100));
    }
    let (sent, _flood) = writer.join().expect("writer");
    peak = peak.max(proxy.proc_status_bytes("VmRSS"));
    let growth = peak.saturating_sub(baseline);
    assert!(
        sent < MESSAGES,
        "all {MESSAGES} messages were taken: ringpin never stopped reading"
    );
    assert!(
        growth < RSS_GROWTH_BYTES_MAX,
        "VmRSS grew by {growth} bytes (from {baseline} to {peak}) while a client pushed {sent} \
         messages of {MESSAGE_BYTES} bytes; limit {RSS_GROWTH_BYTES_MAX}"
    );
    let mut other = ws_connect(proxy.addr, "/chat");
    other.send_text("still served");
    other.expect_text("still served");
    eprintln!("VmRSS baseline {baseline}, peak {peak}, growth {growth}; {sent} messages sent");
}
