//! Origins that misbehave on purpose (issue 10, items 1 and 2), written here as raw
//! `std::net::TcpListener` servers: one that writes bytes after its response on a keep-alive
//! connection, and one that accepts and never answers. What is checked is what clients see:
//! no client ever receives bytes meant for another request, a client that hangs up frees the
//! origin connection it was waiting on, a silent origin gets `504` after `--origin-timeout`,
//! and a silent origin cannot use up ringpin's descriptors, so `/metrics` keeps answering.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::support::{get, get_request, metrics, parse_metric, wait_metric, Conn, Proxy, DEADLINE};

/// How long the stray-bytes origin waits after a response before writing its extra bytes:
/// long enough that ringpin has pooled the connection, as in the report (about 50 ms).
const STRAY_DELAY: Duration = Duration::from_millis(50);
/// Pause between two clients of the stray-bytes test, so the extra bytes have arrived on the
/// idle pooled connection before the next request is sent.
const BETWEEN_CLIENTS: Duration = Duration::from_millis(200);
const POLL: Duration = Duration::from_millis(10);

/// An origin that answers each request with its own path as the body, then writes a second,
/// unrequested response on the same keep-alive connection: after `STRAY_DELAY` on odd
/// connections, in the same write on even ones (bytes already beyond the response when
/// ringpin reads it).
struct StrayOrigin {
    port: u16,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StrayOrigin {
    fn start() -> StrayOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local_addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut index = 0usize;
            while !flag.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let delayed = index % 2 == 0;
                        index += 1;
                        thread::spawn(move || serve_with_stray_bytes(stream, delayed));
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => thread::sleep(POLL),
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        StrayOrigin {
            port,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for StrayOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads request heads (no bodies: the test sends GETs) and answers each with its path.
fn serve_with_stray_bytes(mut stream: TcpStream, delayed: bool) {
    let _ = stream.set_read_timeout(Some(DEADLINE));
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(end) = find(&buf, b"\r\n\r\n") {
                break end;
            }
            let mut tmp = [0u8; 4096];
            match stream.read(&mut tmp) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let path = head.split(' ').nth(1).unwrap_or("?").to_owned();
        let answer = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{path}",
            path.len()
        );
        let stray = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray";
        if delayed {
            if stream.write_all(answer.as_bytes()).is_err() {
                return;
            }
            thread::sleep(STRAY_DELAY);
            let _ = stream.write_all(stray);
        } else {
            let mut both = answer.into_bytes();
            both.extend_from_slice(stray);
            if stream.write_all(&both).is_err() {
                return;
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// An origin that accepts every connection and never answers. It counts connections
/// accepted and connections the peer (ringpin) has closed; one thread polls them all.
struct SilentOrigin {
    port: u16,
    accepted: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl SilentOrigin {
    fn start() -> SilentOrigin {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local_addr").port();
        listener.set_nonblocking(true).expect("nonblocking");
        let accepted = Arc::new(AtomicUsize::new(0));
        let closed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (a, c, s) = (
            Arc::clone(&accepted),
            Arc::clone(&closed),
            Arc::clone(&stop),
        );
        let thread = thread::spawn(move || {
            let mut open: Vec<TcpStream> = Vec::new();
            while !s.load(Ordering::SeqCst) {
                while let Ok((stream, _)) = listener.accept() {
                    stream.set_nonblocking(true).expect("nonblocking");
                    a.fetch_add(1, Ordering::SeqCst);
                    open.push(stream);
                }
                open.retain_mut(|stream| {
                    let mut tmp = [0u8; 4096];
                    loop {
                        match stream.read(&mut tmp) {
                            Ok(0) => break,
                            Ok(_) => continue,
                            Err(e) if e.kind() == ErrorKind::WouldBlock => return true,
                            Err(_) => break,
                        }
                    }
                    c.fetch_add(1, Ordering::SeqCst);
                    false
                });
                thread::sleep(POLL);
            }
        });
        SilentOrigin {
            port,
            accepted,
            closed,
            stop,
            thread: Some(thread),
        }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
}

impl Drop for SilentOrigin {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls `what` until it holds, failing the test after `DEADLINE`.
fn wait_until(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !check() {
        assert!(
            Instant::now() < deadline,
            "not true after {DEADLINE:?}: {what}"
        );
        thread::sleep(POLL);
    }
}

/// The test process opens hundreds of sockets: raise its own soft limit to the hard one.
fn raise_own_nofile() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid out-pointer, then a valid in-pointer, for each call.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}

#[test]
fn bytes_an_origin_writes_after_its_response_never_reach_another_client() {
    let origin = StrayOrigin::start();
    let proxy = Proxy::start(origin.port, &["--shards", "1"]);

    for round in 0..8 {
        let path = format!("/client-{round}");
        let response = get(proxy.addr, &path);
        assert_eq!(
            (response.status, response.body_text()),
            (200, path.clone()),
            "client {round} got another request's answer"
        );
        thread::sleep(BETWEEN_CLIENTS);
    }
}

#[test]
fn a_client_that_hangs_up_while_the_origin_is_silent_frees_the_origin_connection() {
    const CLIENTS: usize = 20;
    let origin = SilentOrigin::start();
    let proxy = Proxy::start(origin.port, &[]);
    let mut clients: Vec<Conn> = (0..CLIENTS)
        .map(|i| {
            let mut conn = Conn::connect(proxy.addr);
            conn.send(&get_request(&format!("/wait-{i}")));
            conn
        })
        .collect();
    wait_until("the origin accepted every request's connection", || {
        origin.accepted() >= CLIENTS
    });
    wait_metric(&proxy, "ringpin_connections", "== 20", |v| {
        v == CLIENTS as f64
    });

    clients.clear();

    wait_until("every origin connection was closed", || {
        origin.closed() >= CLIENTS
    });
    wait_metric(&proxy, "ringpin_connections", "== 0", |v| v == 0.0);
}

#[test]
fn requests_pipelined_behind_a_waiting_one_are_all_answered() {
    // A guard for the client watch: bytes a client sends while its request waits for the
    // origin are kept, not lost.
    let origin = crate::support::Backend::start(|req| {
        if req.path == "/slow" {
            thread::sleep(Duration::from_millis(300));
        }
        crate::support::BackendResponse::text(200, req.path.clone())
    });
    let proxy = Proxy::start(origin.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    let mut both = get_request("/slow");
    both.extend_from_slice(&get_request("/next"));
    conn.send(&both);

    let first = conn.read_response();
    let second = conn.read_response();

    assert_eq!((first.status, first.body_text()), (200, "/slow".to_owned()));
    assert_eq!(
        (second.status, second.body_text()),
        (200, "/next".to_owned())
    );
}

#[test]
fn a_silent_origin_gets_504_after_the_origin_timeout() {
    let origin = SilentOrigin::start();
    let proxy = Proxy::start(origin.port, &["--origin-timeout", "1"]);

    let response = get(proxy.addr, "/never");

    assert_eq!(response.status, 504, "{response:?}");
    wait_until("the timed-out origin connection was closed", || {
        origin.closed() >= 1
    });
}

#[test]
fn a_silent_origin_cannot_use_up_descriptors_and_metrics_keep_answering() {
    /// ringpin's whole descriptor allowance; without a bound on origin sockets, 500 waiting
    /// requests need about 1,000.
    const NOFILE: u64 = 700;
    const CLIENTS: usize = 500;
    raise_own_nofile();
    let origin = SilentOrigin::start();
    let route = format!("* 127.0.0.1:{}", origin.port);
    let proxy = Proxy::start_with_nofile(NOFILE, |ports| {
        let mut args = ports.listen_args();
        args.extend([
            "--shards".into(),
            "1".into(),
            "--route".into(),
            route.clone(),
            // Requests over the bound wait this long for an origin socket, then get 503.
            "--origin-timeout".into(),
            "2".into(),
        ]);
        args
    });

    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let Ok(mut stream) = TcpStream::connect_timeout(&proxy.addr, DEADLINE) else {
            continue;
        };
        let _ = stream.write_all(&get_request(&format!("/hold-{i}")));
        clients.push(stream);
    }
    wait_until("the origin stopped getting new connections", || {
        let before = origin.accepted();
        thread::sleep(Duration::from_millis(500));
        before > 0 && origin.accepted() == before
    });

    let text = metrics(&proxy);
    assert!(
        parse_metric(&text, "ringpin_connections").is_some(),
        "/metrics:\n{text}"
    );
    let open = proxy.open_fds() as u64;
    assert!(
        open < NOFILE,
        "ringpin has {open} descriptors open of {NOFILE}"
    );
    // Every client gets an answer: 504 once the silent origin's timeout passes for those
    // that had a socket, 503 for those that waited in line for one in vain (or, over the
    // connection capacity, a close).
    let mut refused = 0;
    for stream in &mut clients {
        let _ = stream.set_read_timeout(Some(DEADLINE));
        let mut head = [0u8; 12];
        match stream.read_exact(&mut head) {
            Ok(()) => {}
            // Over the shard's connection capacity: closed at the door.
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::ConnectionReset | ErrorKind::UnexpectedEof
                ) =>
            {
                continue
            }
            Err(e) => panic!("a client got no answer: {e}"),
        }
        match &head {
            b"HTTP/1.1 503" => refused += 1,
            b"HTTP/1.1 504" => {}
            other => panic!("unexpected answer {}", String::from_utf8_lossy(other)),
        }
    }
    assert!(
        refused > 0,
        "requests over the origin socket bound waited, then got 503"
    );
    drop(clients);
    wait_metric(&proxy, "ringpin_connections", "== 0", |v| v == 0.0);
}
