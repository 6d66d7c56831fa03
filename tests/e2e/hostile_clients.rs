//! Clients that attack the proxy's resources rather than its parser (issue 10, items 2-4):
//! slowloris heads, idle sockets, one address opening many connections, descriptor
//! exhaustion, and connect/close floods that must not flood the log.

use crate::support::{
    get, get_request, wait_metric, Backend, BackendResponse, Conn, Proxy, DEADLINE,
};
use std::net::Ipv4Addr;
use std::thread;
use std::time::{Duration, Instant};

/// The head timeout these tests give ringpin, in seconds.
const HEAD_TIMEOUT_SECS: u64 = 2;

fn start_test_target(extra: &[&str]) -> Proxy {
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    Proxy::start_with(move |ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), "* test".to_string()]);
        args.extend(extra.iter().cloned());
        args
    })
}

fn src(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, last)
}

/// Lines of ringpin's stderr that contain `needle`.
fn log_lines_with(proxy: &Proxy, needle: &str) -> usize {
    proxy.log().lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_client_trickling_its_head_gets_408_within_the_head_timeout() {
    let timeout = HEAD_TIMEOUT_SECS.to_string();
    let proxy = start_test_target(&["--client-head-timeout", &timeout]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"GET / HTTP/1.1\r\nHost: example.com\r\n");
    // One header byte every 200 ms: each byte would restart an idle timer, but not the head
    // deadline. Writes may fail once ringpin has answered and closed.
    let started = Instant::now();
    let stop_at = started + DEADLINE;
    let mut writer = conn.writer();
    let trickle = thread::spawn(move || {
        while Instant::now() < stop_at {
            if !writer.send(b"X") {
                return;
            }
            thread::sleep(Duration::from_millis(200));
        }
    });
    let response = conn.read_head();
    assert_eq!(response.status, 408, "{response:?}");
    assert!(
        started.elapsed() < Duration::from_secs(HEAD_TIMEOUT_SECS + 5),
        "408 came only after {:?}",
        started.elapsed()
    );
    drop(conn);
    let _ = trickle.join();
}

#[test]
fn a_client_that_sends_nothing_gets_408_and_is_closed() {
    let timeout = HEAD_TIMEOUT_SECS.to_string();
    let proxy = start_test_target(&["--client-head-timeout", &timeout]);
    let mut conn = Conn::connect(proxy.addr);
    let response = conn.read_response();
    assert_eq!(response.status, 408, "{response:?}");
    assert_eq!(response.header("Connection"), Some("close"));
    conn.expect_closed();
    wait_metric(&proxy, "ringpin_connections", "0", |v| v == 0.0);
}

#[test]
fn an_idle_keep_alive_connection_is_timed_from_the_first_byte_of_its_next_request() {
    let timeout = HEAD_TIMEOUT_SECS.to_string();
    let proxy = start_test_target(&["--client-head-timeout", &timeout]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/"));
    assert_eq!(conn.read_response().status, 200);
    // Longer than the head timeout between requests: only the client idle timeout applies
    // while no byte of the next request has arrived.
    thread::sleep(Duration::from_secs(HEAD_TIMEOUT_SECS + 1));
    conn.send(&get_request("/"));
    assert_eq!(conn.read_response().status, 200);
}

#[test]
fn one_address_is_refused_past_its_connection_limit_while_another_still_connects() {
    let proxy = start_test_target(&["--connections-per-ip-max", "3"]);
    let mut held: Vec<Conn> = (0..3)
        .map(|_| Conn::connect_from(src(2), proxy.addr))
        .collect();
    for conn in &mut held {
        conn.send(&get_request("/"));
        assert_eq!(conn.read_response().status, 200);
    }
    // The fourth from 127.0.0.2 is closed without an answer, whichever shard accepts it.
    for _ in 0..4 {
        let mut extra = Conn::connect_from(src(2), proxy.addr);
        extra.send_lossy(&get_request("/"));
        extra.expect_closed();
    }
    wait_metric(&proxy, "ringpin_connections_refused_total", ">= 4", |v| {
        v >= 4.0
    });
    let mut other = Conn::connect_from(src(3), proxy.addr);
    other.send(&get_request("/"));
    assert_eq!(other.read_response().status, 200);
    // A closed connection gives its place back.
    drop(held.pop());
    wait_metric(&proxy, "ringpin_connections", "3", |v| v == 3.0);
    let mut again = Conn::connect_from(src(2), proxy.addr);
    again.send(&get_request("/"));
    assert_eq!(again.read_response().status, 200);
}

#[test]
fn a_connect_close_flood_against_a_full_address_logs_a_bounded_number_of_lines() {
    let proxy = start_test_target(&["--connections-per-ip-max", "1"]);
    let mut holder = Conn::connect_from(src(4), proxy.addr);
    holder.send(&get_request("/"));
    assert_eq!(holder.read_response().status, 200);
    const FLOOD: usize = 500;
    let started = Instant::now();
    for _ in 0..FLOOD {
        let conn = Conn::connect_from(src(4), proxy.addr);
        drop(conn);
    }
    wait_metric(
        &proxy,
        "ringpin_connections_refused_total",
        &format!(">= {FLOOD}"),
        |v| v >= FLOOD as f64,
    );
    // At most one line per second per call site, plus the first.
    let allowed = started.elapsed().as_secs() as usize + 2;
    let lines = log_lines_with(&proxy, "--connections-per-ip-max");
    assert!(
        (1..=allowed).contains(&lines),
        "{lines} refusal lines for {FLOOD} refusals in {:?}\n{}",
        started.elapsed(),
        proxy.log_tail()
    );
    // The held connection was never disturbed.
    holder.send(&get_request("/"));
    assert_eq!(holder.read_response().status, 200);
}

#[test]
fn an_origin_answering_every_request_with_broken_grip_does_not_flood_the_log() {
    let backend = Backend::start(|_| {
        BackendResponse::text(200, "held?\n")
            .header("Grip-Hold", "bogus")
            .header("Grip-Channel", "x")
    });
    let proxy = Proxy::start(backend.port(), &[]);
    const REQUESTS: usize = 100;
    let started = Instant::now();
    let mut conn = Conn::connect(proxy.addr);
    for _ in 0..REQUESTS {
        conn.send(&get_request("/bogus"));
        assert_eq!(conn.read_response().status, 502);
    }
    // One access line per request is fine; one warning per request is not.
    let allowed = started.elapsed().as_secs() as usize + 2;
    let lines = log_lines_with(&proxy, "failed to parse accept instructions");
    assert!(
        (1..=allowed).contains(&lines),
        "{lines} warnings for {REQUESTS} broken answers in {:?}\n{}",
        started.elapsed(),
        proxy.log_tail()
    );
}

/// Sets the running process's descriptor limit (soft and hard) to `limit`.
fn set_nofile(pid: u32, limit: u64) {
    let new = libc::rlimit {
        rlim_cur: limit,
        rlim_max: limit,
    };
    // SAFETY: `new` is a valid rlimit; the old value is not asked for (null). `pid` is our
    // own running child.
    let rc = unsafe {
        libc::prlimit(
            pid as libc::pid_t,
            libc::RLIMIT_NOFILE,
            &new,
            std::ptr::null_mut(),
        )
    };
    assert_eq!(rc, 0, "prlimit: {}", std::io::Error::last_os_error());
}

fn open_descriptors(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| dir.count() as u64)
        .unwrap_or_else(|e| panic!("/proc/{pid}/fd: {e}"))
}

#[test]
fn out_of_descriptors_accept_backs_off_logs_rarely_and_recovers_when_sockets_close() {
    let proxy = start_test_target(&[]);
    let pid = proxy.pid();
    // The listeners accept (into their backlog) before every executor has made its rings;
    // lowering the limit before that would starve start-up itself, so wait until the
    // router answers and the descriptor count has settled.
    assert_eq!(get(proxy.addr, "/").status, 200);
    wait_metric(&proxy, "ringpin_shards", "2", |v| v == 2.0);
    let mut open = open_descriptors(pid);
    loop {
        thread::sleep(Duration::from_millis(300));
        let now = open_descriptors(pid);
        if now == open {
            break;
        }
        open = now;
    }
    // Room for 20 more descriptors: the flood below needs ten times that.
    let limit = open + 20;
    set_nofile(pid, limit);
    let started = Instant::now();
    let mut flood = Vec::new();
    for i in 0..200u32 {
        // Connecting succeeds through the listen backlog even when ringpin cannot accept.
        match Conn::try_connect_from(src(10 + (i % 200) as u8), proxy.addr) {
            Ok(conn) => flood.push(conn),
            Err(e) => panic!("connect {i}: {e}"),
        }
    }
    // Let accept keep failing for a while.
    thread::sleep(Duration::from_secs(3));
    let lines = log_lines_with(&proxy, "accept failed");
    // Each call site (client and publish accept) logs at most once a second, plus its first.
    let allowed = 2 * (started.elapsed().as_secs() as usize + 2);
    assert!(
        (1..=allowed).contains(&lines),
        "{lines} accept-failure lines in {:?}\n{}",
        started.elapsed(),
        proxy.log_tail()
    );
    drop(flood);
    // Once the sockets are gone, ringpin accepts and serves again (the backlog drains).
    wait_metric(&proxy, "ringpin_connections", "0", |v| v == 0.0);
    assert_eq!(get(proxy.addr, "/").status, 200);
}
