//! SIGTERM with holds open (DESIGN.md §4, `support/mod.rs`): ringpin drains instead of cutting
//! connections. A held stream ends with its terminating chunk, a held long-poll gets a complete
//! response (its timeout response), and the process exits with status 0 within 10 s, leaving
//! its ports free for a restart at once.

use std::time::Instant;

use crate::support::{
    get_request, publish_ok, stream_item, wait_subscribed, Backend, BackendResponse, Conn, Proxy,
    StreamClient, EXIT_TIMEOUT,
};

/// Sends SIGTERM; returns the moment by which ringpin must have exited.
fn terminate(proxy: &mut Proxy) -> Instant {
    proxy.signal(libc::SIGTERM);
    Instant::now() + EXIT_TIMEOUT
}

#[test]
fn sigterm_ends_a_held_stream_with_the_terminating_chunk_and_exits_cleanly() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("live", "start\n"));
    let mut proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.head().status, 200, "{:?}", client.head());
    assert_eq!(client.read_until("start\n"), "start\n");
    wait_subscribed(&proxy, 1);
    publish_ok(&proxy, &stream_item("live", "before\n"));
    assert_eq!(client.read_until("before\n"), "before\n");

    let exit_deadline = terminate(&mut proxy);

    client.expect_end();
    let status = proxy.wait_exit(exit_deadline);
    assert!(status.success(), "ringpin exited with {status}");
}

#[test]
fn sigterm_answers_a_held_long_poll_with_its_timeout_response_and_exits_cleanly() {
    let backend = Backend::start(|_| {
        BackendResponse::response_hold("waiting", "timeout body\n").header("X-Orig", "kept")
    });
    let mut proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll"));
    wait_subscribed(&proxy, 1);

    let exit_deadline = terminate(&mut proxy);

    // Grip-Timeout is the default 55 s, so this response can only come from the drain.
    let response = conn.read_response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "timeout body\n");
    assert_eq!(response.header("X-Orig"), Some("kept"));
    assert_eq!(response.grip_headers(), Vec::<&str>::new());
    let status = proxy.wait_exit(exit_deadline);
    assert!(status.success(), "ringpin exited with {status}");
}

#[test]
fn once_ringpin_has_exited_its_ports_are_free_for_a_restart_at_once() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("live", "start\n"));
    let mut proxy = Proxy::start(backend.port(), &[]);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");

    let exit_deadline = terminate(&mut proxy);
    client.expect_end();
    let status = proxy.wait_exit(exit_deadline);
    assert!(status.success(), "ringpin exited with {status}");

    // What a service manager's restart does next: bind the same ports. Nothing may still be
    // listening there, not even for the moment the kernel takes to tear down a dead
    // process's io_uring (whose pending accepts hold the listening sockets).
    for addr in [proxy.addr, proxy.publish_addr] {
        if let Err(e) = std::net::TcpListener::bind(addr) {
            panic!("{addr} is still taken after ringpin exited: {e}");
        }
    }
}

#[test]
fn during_the_drain_new_connections_are_refused_while_a_request_in_flight_completes() {
    // The origin takes 3 s over one request, so the drain lasts that long; a restarting
    // instance behind a load balancer must refuse connections meanwhile (the balancer then
    // tries another), not accept them and close them unserved.
    let backend = Backend::start(|_| {
        std::thread::sleep(std::time::Duration::from_secs(3));
        BackendResponse::text(200, "done\n")
    });
    let mut proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/slow"));
    let started = Instant::now();
    while backend.requests().is_empty() {
        assert!(
            started.elapsed().as_secs() < 10,
            "the request never reached the origin"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    let exit_deadline = terminate(&mut proxy);

    let refused_by = Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match std::net::TcpStream::connect(proxy.addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => break,
            Err(e) => panic!("connect failed otherwise: {e}"),
            Ok(_) => assert!(
                Instant::now() < refused_by,
                "still accepting connections 2 s into the drain"
            ),
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let response = conn.read_response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "done\n");
    let status = proxy.wait_exit(exit_deadline);
    assert!(status.success(), "ringpin exited with {status}");
}
