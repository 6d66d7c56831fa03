//! Routes and configuration files (PUSHPIN.md §1.1-1.3, §7.3): `--routes FILE` and its reloads
//! (file change, SIGHUP), bad lines skipped, domain selection without fallback, path rewriting,
//! `header=`, target failover, and a pushpin.conf that supplies ports and the routes file.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::support::{
    free_port, publish_ok, request, response_item, wait_subscribed, Backend, BackendResponse, Conn,
    Proxy, Response, TempDir, DEADLINE,
};

const ROUTES: &str = "routes";
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// An origin that answers `<name>\n`, so a response shows which origin served it.
fn named_backend(name: &'static str) -> Backend {
    Backend::start(move |_| BackendResponse::text(200, format!("{name}\n")))
}

/// Ringpin reading its routes from `routes_file` (`--routes`).
fn start_with_routes_file(routes_file: &Path) -> Proxy {
    let path = routes_file.display().to_string();
    Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--routes".to_string(), path.clone()]);
        args
    })
}

/// Writes `lines` as a routes file and starts ringpin on it.
fn start_with_routes(lines: &[String]) -> (TempDir, Proxy) {
    let dir = TempDir::new("routes");
    let path = dir.write(ROUTES, &lines.join("\n"));
    let proxy = start_with_routes_file(&path);
    (dir, proxy)
}

/// `GET path` with `Host: host` on a new connection.
fn get_host(proxy: &Proxy, host: &str, path: &str) -> Response {
    let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    request(proxy.addr, raw.as_bytes())
}

/// Polls `GET /` until the body is `want` (the routes reload has applied).
/// Waits until `want` is answered `CONSISTENT_ANSWERS` times in a row: each shard picks up
/// reloaded routes on its own control tick, so for a moment the shards may disagree, and
/// each request is a new connection that the kernel may give to either shard.
fn wait_for_body(proxy: &Proxy, want: &str, why: &str) {
    const CONSISTENT_ANSWERS: usize = 20;
    let deadline = Instant::now() + DEADLINE;
    let mut in_a_row = 0;
    loop {
        let response = get_host(proxy, "example.com", "/");
        if response.status == 200 && response.body_text() == want {
            in_a_row += 1;
            if in_a_row == CONSISTENT_ANSWERS {
                return;
            }
            continue;
        }
        in_a_row = 0;
        if Instant::now() >= deadline {
            panic!("{why}: still {response:?} after {DEADLINE:?}, want body {want:?}");
        }
        thread::sleep(POLL_INTERVAL);
    }
}

fn route_to(backend: &Backend) -> String {
    format!("* 127.0.0.1:{}", backend.port())
}

#[test]
fn rewritten_routes_file_is_reloaded_without_a_signal() {
    let (a, b) = (named_backend("A"), named_backend("B"));
    let (dir, proxy) = start_with_routes(&[route_to(&a)]);
    assert_eq!(get_host(&proxy, "example.com", "/").body_text(), "A\n");

    dir.rewrite(ROUTES, &route_to(&b));

    // The file is checked about once a second; only arrival before the deadline is asserted.
    wait_for_body(&proxy, "B\n", "routes file changed to B");
}

#[test]
fn sighup_reloads_the_routes_file() {
    let (a, b) = (named_backend("A"), named_backend("B"));
    let (dir, mut proxy) = start_with_routes(&[route_to(&a)]);
    assert_eq!(get_host(&proxy, "example.com", "/").body_text(), "A\n");

    // Same modification time: a watcher polling it cannot see this change, only SIGHUP can.
    dir.rewrite_keeping_mtime(ROUTES, &route_to(&b));
    proxy.signal(libc::SIGHUP);

    wait_for_body(&proxy, "B\n", "SIGHUP after the routes file changed to B");
    let response = get_host(&proxy, "example.com", "/");
    assert_eq!(response.body_text(), "B\n", "B stays the origin");
}

/// Polls `GET /` for `window`, asserting that every answer is `want`.
fn assert_body_throughout(proxy: &Proxy, want: &str, window: Duration, why: &str) {
    let end = Instant::now() + window;
    while Instant::now() < end {
        let response = get_host(proxy, "example.com", "/");
        assert_eq!(
            (response.status, response.body_text().as_str()),
            (200, want),
            "{why}"
        );
        thread::sleep(POLL_INTERVAL);
    }
}

/// Longer than the routes watcher needs to act on a change (a poll plus the 2 s the file
/// must stay unchanged), so a reload it would apply has been applied within it.
const WATCHER_WINDOW: Duration = Duration::from_secs(4);

#[test]
fn reload_that_yields_no_route_is_refused_and_the_old_routes_stay() {
    let (a, b) = (named_backend("A"), named_backend("B"));
    let (dir, mut proxy) = start_with_routes(&[route_to(&a)]);
    assert_eq!(get_host(&proxy, "example.com", "/").body_text(), "A\n");

    // Emptied, picked up by the watcher.
    dir.rewrite(ROUTES, "");
    assert_body_throughout(&proxy, "A\n", WATCHER_WINDOW, "after the file was emptied");
    // Only comments and bad lines, with SIGHUP.
    let garbage = "# nothing\nnot a route\n* 127.0.0.1:notaport\n";
    dir.rewrite_keeping_mtime(ROUTES, garbage);
    proxy.signal(libc::SIGHUP);
    assert_body_throughout(
        &proxy,
        "A\n",
        Duration::from_secs(1),
        "after SIGHUP on garbage",
    );

    // A good file is still taken.
    dir.rewrite(ROUTES, &route_to(&b));
    wait_for_body(&proxy, "B\n", "routes file changed to B");
}

#[test]
fn routes_file_written_in_two_steps_never_serves_the_half_written_table() {
    let (a, b) = (named_backend("A"), named_backend("B"));
    let (dir, proxy) = start_with_routes(&[route_to(&a)]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let addr = proxy.addr;
    let watcher = {
        let (seen, stop) = (seen.clone(), stop.clone());
        thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let raw = b"GET / HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n";
                let response = request(addr, raw);
                seen.lock()
                    .unwrap()
                    .push((response.status, response.body_text()));
                thread::sleep(POLL_INTERVAL);
            }
        })
    };

    // The first half has a route for another host and a cut-off `*` line, so a reader that
    // took it would leave example.com without a route.
    let whole = format!("other.example 127.0.0.1:{}\n{}\n", b.port(), route_to(&b));
    let cut = whole.len() - 6;
    dir.write_in_place(ROUTES, &whole[..cut]);
    thread::sleep(Duration::from_millis(1100));
    dir.append(ROUTES, &whole[cut..]);
    wait_for_body(&proxy, "B\n", "routes file completed");

    stop.store(true, Ordering::SeqCst);
    watcher.join().expect("request thread");
    let seen = seen.lock().unwrap();
    let others: Vec<_> = seen
        .iter()
        .filter(|(status, body)| !(*status == 200 && (body == "A\n" || body == "B\n")))
        .collect();
    assert!(
        others.is_empty(),
        "answers from a half-written table: {others:?}"
    );
}

#[test]
fn routes_line_with_a_syntax_error_is_skipped_and_the_other_lines_work() {
    let (a, b) = (named_backend("A"), named_backend("B"));
    let lines = [
        format!("good.example 127.0.0.1:{}", a.port()),
        format!("broken.example,\"unterminated 127.0.0.1:{}", a.port()),
        format!("trailing.example, 127.0.0.1:{}", a.port()),
        route_to(&b),
    ];
    let (_dir, proxy) = start_with_routes(&lines);

    assert_eq!(get_host(&proxy, "good.example", "/").body_text(), "A\n");
    assert_eq!(get_host(&proxy, "other.example", "/").body_text(), "B\n");
    // The bad lines did not create routes for their hosts, so those fall back to `*`.
    assert_eq!(get_host(&proxy, "broken.example", "/").body_text(), "B\n");
    assert_eq!(get_host(&proxy, "trailing.example", "/").body_text(), "B\n");
}

#[test]
fn host_with_its_own_routes_gets_502_for_an_unmatched_path_and_no_wildcard_fallback() {
    let (a, b) = (named_backend("A"), named_backend("B"));
    let lines = [
        format!("example.com,path_beg=/only 127.0.0.1:{}", a.port()),
        route_to(&b),
    ];
    let (_dir, proxy) = start_with_routes(&lines);

    assert_eq!(
        get_host(&proxy, "example.com", "/only/here").body_text(),
        "A\n"
    );
    let response = get_host(&proxy, "example.com", "/elsewhere");
    assert_eq!(response.status, 502, "{response:?}");
    assert_eq!(response.body_text(), "No route for host: example.com\n");
    assert_eq!(response.header("Content-Type"), Some("text/plain"));

    // A host without routes of its own uses `*`; the port is not part of the host.
    let response = get_host(&proxy, "other.example:8080", "/elsewhere");
    assert_eq!(
        (response.status, response.body_text().as_str()),
        (200, "B\n")
    );
}

#[test]
fn path_beg_with_replace_beg_rewrites_the_path_the_origin_sees() {
    let backend = Backend::start(|req| BackendResponse::text(200, format!("path={}\n", req.path)));
    let lines = [format!(
        "*,path_beg=/p,replace_beg=/echo/ 127.0.0.1:{}",
        backend.port()
    )];
    let (_dir, proxy) = start_with_routes(&lines);

    let response = get_host(&proxy, "example.com", "/p/x?q=1");

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "path=/echo//x?q=1\n");
    assert_eq!(backend.last_request().path, "/echo//x?q=1");
}

#[test]
fn header_prop_sets_replaces_and_removes_request_headers() {
    let backend = named_backend("A");
    let lines = [format!(
        "*,header=X-Added:yes,header=X-Replaced:new,header=User-Agent: 127.0.0.1:{}",
        backend.port()
    )];
    let (_dir, proxy) = start_with_routes(&lines);
    let raw = "GET / HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8\r\n\
               X-Replaced: old\r\nX-Kept: same\r\nConnection: close\r\n\r\n";

    let response = request(proxy.addr, raw.as_bytes());

    assert_eq!(response.status, 200, "{response:?}");
    let seen = backend.last_request();
    assert_eq!(seen.headers_named("X-Added"), ["yes"]);
    assert_eq!(seen.headers_named("X-Replaced"), ["new"]);
    assert_eq!(seen.headers_named("User-Agent"), Vec::<&str>::new());
    assert_eq!(seen.headers_named("X-Kept"), ["same"]);
}

#[test]
fn closed_first_target_fails_over_to_the_second() {
    let backend = named_backend("second");
    let dead_port = free_port();
    let lines = [format!(
        "* 127.0.0.1:{dead_port} 127.0.0.1:{}",
        backend.port()
    )];
    let (_dir, proxy) = start_with_routes(&lines);

    for _ in 0..3 {
        let response = get_host(&proxy, "example.com", "/");
        assert_eq!(
            (response.status, response.body_text().as_str()),
            (200, "second\n")
        );
    }
    assert_eq!(backend.requests().len(), 3);
}

#[test]
fn all_targets_closed_gets_502_error_while_proxying() {
    let lines = [format!(
        "* 127.0.0.1:{} 127.0.0.1:{}",
        free_port(),
        free_port()
    )];
    let (_dir, proxy) = start_with_routes(&lines);

    let response = get_host(&proxy, "example.com", "/");

    assert_eq!(response.status, 502, "{response:?}");
    assert_eq!(response.body_text(), "Error while proxying to origin.\n");
}

#[test]
fn pushpin_conf_supplies_ports_and_a_routes_file_relative_to_its_directory() {
    let backend = Backend::start(|_| BackendResponse::response_hold("conf", "timeout\n"));
    let dir = TempDir::new("conf");
    dir.write(ROUTES, &format!("{}\n", route_to(&backend)));
    let proxy = Proxy::start_with(|ports| {
        let conf = format!(
            "[runner]\nhttp_port={}\n\n[proxy]\nroutesfile={ROUTES}\n\n\
             [handler]\npush_in_http_port={}\n",
            ports.addr,
            ports.publish_addr.port()
        );
        let conf_path = dir.write("pushpin.conf", &conf);
        vec!["--config".to_string(), conf_path.display().to_string()]
    });

    // The routes file found next to pushpin.conf sends this long-poll to the backend...
    let mut conn = Conn::connect(proxy.addr);
    conn.send(b"GET /poll HTTP/1.1\r\nHost: example.com\r\n\r\n");
    wait_subscribed(&proxy, 1);
    // ...and push_in_http_port is where the publish that answers it goes.
    publish_ok(
        &proxy,
        &response_item("conf", serde_json::json!({ "body": "via conf\n" })),
    );

    let response = conn.read_response();
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.body_text(), "via conf\n");
    assert_eq!(backend.requests().len(), 1);
}

#[test]
fn an_ipv6_target_in_brackets_reaches_an_origin_on_the_ipv6_loopback() {
    // Pushpin 1.41: "Support IPv6 addresses in route targets".
    let backend = Backend::start_v6(|_| BackendResponse::text(200, "over v6\n"));
    let route = format!("* [::1]:{}", backend.port());
    let (_dir, proxy) = start_with_routes(&[route]);
    let response = get_host(&proxy, "example.com", "/v6");
    assert_eq!(response.status, 200, "{}", proxy.log_tail());
    assert_eq!(response.body_text(), "over v6\n");
    assert_eq!(backend.last_request().path, "/v6");
}
