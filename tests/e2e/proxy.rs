//! Plain reverse proxying (PUSHPIN.md §1.4-1.8): requests and responses relayed intact, request
//! rewriting (`Grip-Sig`, hop-by-hop and `Grip-*` removal, `X-Forwarded-For`), origin failures,
//! and the client-facing HTTP/1.x connection rules.

use crate::support::{
    assert_same_bytes, free_port, get, get_request, pattern_body, request, verify_grip_sig,
    Backend, BackendResponse, Conn, Proxy,
};

/// Answers `path=<request target>\n`, so a response shows which request it belongs to.
fn path_backend() -> Backend {
    Backend::start(|req| BackendResponse::text(200, format!("path={}\n", req.path)))
}

#[test]
fn get_is_relayed_with_status_headers_and_body() {
    let backend =
        Backend::start(|_| BackendResponse::text(200, "hello\n").header("X-Backend", "yes"));
    let proxy = Proxy::start(backend.port(), &[]);

    let response = get(proxy.addr, "/hello?x=1");

    assert_eq!(response.status, 200);
    assert_eq!(response.header("X-Backend"), Some("yes"));
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
    assert_eq!(response.body_text(), "hello\n");
    let seen = backend.last_request();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("GET", "/hello?x=1")
    );
    assert_eq!(seen.header("Host"), Some("example.com"));
}

#[test]
fn origin_error_status_is_relayed_unchanged() {
    let backend = Backend::start(|_| BackendResponse::text(404, "no such thing\n"));
    let proxy = Proxy::start(backend.port(), &[]);

    let response = get(proxy.addr, "/missing");

    assert_eq!(
        (response.status, response.reason.as_str()),
        (404, "Not Found")
    );
    assert_eq!(response.body_text(), "no such thing\n");
}

#[test]
fn post_body_reaches_origin_and_its_echo_comes_back() {
    let backend = Backend::start(BackendResponse::echo);
    let proxy = Proxy::start(backend.port(), &[]);
    let body = "hello world, posted";
    let raw = format!(
        "POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );

    let response = request(proxy.addr, raw.as_bytes());

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), body);
    let seen = backend.last_request();
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.body, body.as_bytes());
}

#[test]
fn one_megabyte_response_body_is_relayed_intact() {
    let body = pattern_body(1 << 20);
    let origin_body = body.clone();
    let backend = Backend::start(move |_| BackendResponse::bytes(200, origin_body.clone()));
    let proxy = Proxy::start(backend.port(), &[]);

    let response = get(proxy.addr, "/big");

    assert_eq!(response.status, 200);
    assert_same_bytes(&response.body, &body, "1 MiB body");
}

#[test]
fn chunked_origin_response_is_relayed_intact() {
    let body = pattern_body(300_000);
    let origin_body = body.clone();
    let backend =
        Backend::start(move |_| BackendResponse::bytes(200, origin_body.clone()).chunked());
    let proxy = Proxy::start(backend.port(), &[]);

    let response = get(proxy.addr, "/chunked");

    assert_eq!(response.status, 200);
    assert_same_bytes(&response.body, &body, "chunked origin body");
}

#[test]
fn chunked_request_body_reaches_origin_with_the_same_bytes() {
    let backend = Backend::start(BackendResponse::echo);
    let proxy = Proxy::start(backend.port(), &[]);
    let raw = b"POST /upload HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\
                Connection: close\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n1;ext=1\r\n!\r\n0\r\n\r\n";

    let response = request(proxy.addr, raw);

    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "hello, world!");
    assert_eq!(backend.last_request().body, b"hello, world!");
}

#[test]
fn unreachable_origin_gets_502_and_recovers_once_origin_listens() {
    let port = free_port();
    let proxy = Proxy::start(port, &[]);

    let response = get(proxy.addr, "/");
    assert_eq!(response.status, 502);
    assert_eq!(response.body_text(), "Error while proxying to origin.\n");

    let _backend = Backend::start_on(port, |_| BackendResponse::text(200, "back\n"));
    let response = get(proxy.addr, "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "back\n");
}

#[test]
fn origin_that_stops_gets_502_and_is_used_again_when_it_returns() {
    let mut backend = Backend::start(|_| BackendResponse::text(200, "up\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    assert_eq!(get(proxy.addr, "/").body_text(), "up\n");

    backend.stop();
    let response = get(proxy.addr, "/");
    assert_eq!(response.status, 502);
    assert_eq!(response.body_text(), "Error while proxying to origin.\n");

    backend.restart();
    let response = get(proxy.addr, "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "up\n");
}

#[test]
fn grip_sig_is_sent_and_verifies_with_the_default_key() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let proxy = Proxy::start(backend.port(), &[]);

    assert_eq!(get(proxy.addr, "/").status, 200);

    let seen = backend.last_request();
    let sigs = seen.headers_named("Grip-Sig");
    assert_eq!(sigs.len(), 1, "exactly one Grip-Sig: {:?}", seen.headers);
    let claims = verify_grip_sig(sigs[0], b"changeme").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims["iss"], "pushpin");
}

#[test]
fn grip_sig_is_signed_with_the_key_given_by_sig_key() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let proxy = Proxy::start(backend.port(), &["--sig-key", "an0ther-key"]);

    assert_eq!(get(proxy.addr, "/").status, 200);

    let seen = backend.last_request();
    let sig = seen.header("Grip-Sig").expect("Grip-Sig header");
    let claims = verify_grip_sig(sig, b"an0ther-key").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims["iss"], "pushpin");
    assert!(verify_grip_sig(sig, b"changeme").is_err());
}

#[test]
fn route_with_its_own_sig_key_and_sig_iss_signs_with_them() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let port = backend.port();
    let proxy = Proxy::start_with(move |ports| {
        let mut args = ports.listen_args();
        let route = format!("*,sig_key=base64:cm91dGUta2V5,sig_iss=edge 127.0.0.1:{port}");
        args.extend(["--route".to_string(), route]);
        args
    });

    assert_eq!(get(proxy.addr, "/").status, 200);
    assert_eq!(get(proxy.addr, "/").status, 200);

    let seen = backend.last_request();
    let sig = seen.header("Grip-Sig").expect("Grip-Sig header");
    let claims = verify_grip_sig(sig, b"route-key").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(claims["iss"], "edge");
    assert!(verify_grip_sig(sig, b"changeme").is_err());
}

#[test]
fn client_grip_and_hop_by_hop_headers_are_not_forwarded() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let raw = b"GET /h HTTP/1.1\r\nHost: example.com\r\nConnection: foo\r\nFoo: bar\r\n\
                Keep-Alive: timeout=5\r\nGrip-Foo: nope\r\nGrip-Sig: forged\r\nX-Keep: yes\r\n\r\n";

    let mut conn = Conn::connect(proxy.addr);
    conn.send(raw);
    assert_eq!(conn.read_response().status, 200);

    let seen = backend.last_request();
    assert_eq!(seen.header("X-Keep"), Some("yes"));
    for removed in ["Foo", "Keep-Alive", "Grip-Foo"] {
        assert_eq!(
            seen.header(removed),
            None,
            "{removed} forwarded: {:?}",
            seen.headers
        );
    }
    let connection = seen
        .headers_named("Connection")
        .join(", ")
        .to_ascii_lowercase();
    assert!(!connection.contains("foo"), "Connection: {connection}");
    let sigs = seen.headers_named("Grip-Sig");
    assert_eq!(
        sigs.len(),
        1,
        "the client's Grip-Sig must be replaced: {sigs:?}"
    );
    assert!(verify_grip_sig(sigs[0], b"changeme").is_ok());
}

#[test]
fn x_forwarded_for_gets_the_client_address_appended() {
    let backend = Backend::start(|_| BackendResponse::text(200, "ok\n"));
    let proxy = Proxy::start(backend.port(), &["--x-forwarded-for", "append"]);

    let raw = b"GET / HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.0.0.1\r\n\
                Connection: close\r\n\r\n";
    assert_eq!(request(proxy.addr, raw).status, 200);
    let seen = backend.last_request();
    assert_eq!(
        seen.headers_named("X-Forwarded-For"),
        ["10.0.0.1, 127.0.0.1"]
    );

    assert_eq!(get(proxy.addr, "/").status, 200);
    let seen = backend.last_request();
    assert_eq!(seen.headers_named("X-Forwarded-For"), ["127.0.0.1"]);
}

#[test]
fn http_1_0_request_gets_a_response_and_the_connection_closes() {
    let backend = path_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);

    conn.send(b"GET /old HTTP/1.0\r\nHost: example.com\r\n\r\n");
    let response = conn.read_response();

    assert!(response.version.starts_with("HTTP/1."), "{response:?}");
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "path=/old\n");
    conn.expect_closed();
}

#[test]
fn two_sequential_requests_share_one_keep_alive_connection() {
    let backend = path_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);

    conn.send(&get_request("/one"));
    assert_eq!(conn.read_response().body_text(), "path=/one\n");
    conn.send(&get_request("/two"));
    assert_eq!(conn.read_response().body_text(), "path=/two\n");

    assert_eq!(backend.requests().len(), 2);
}

#[test]
fn pipelined_requests_get_their_responses_in_order() {
    let backend = path_backend();
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);

    conn.send(&[get_request("/first"), get_request("/second")].concat());

    assert_eq!(conn.read_response().body_text(), "path=/first\n");
    assert_eq!(conn.read_response().body_text(), "path=/second\n");
}

#[test]
fn expect_100_continue_gets_interim_response_before_the_final_one() {
    let backend = Backend::start(BackendResponse::echo);
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);

    conn.send(
        b"POST /echo HTTP/1.1\r\nHost: example.com\r\nContent-Length: 5\r\n\
          Expect: 100-continue\r\n\r\n",
    );
    let interim = conn.read_head();
    assert_eq!(
        (interim.version.as_str(), interim.status),
        ("HTTP/1.1", 100)
    );

    conn.send(b"hello");
    let response = conn.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(response.body_text(), "hello");
    assert_eq!(backend.last_request().header("Expect"), None);
}

#[test]
fn a_route_to_a_host_name_resolves_it_and_an_unknown_name_gets_502() {
    let backend = path_backend();
    let route = |host: &str| format!("* {host}:{}", backend.port());
    // `localhost` goes through the resolver (not an IP literal); the second request is served
    // from the shard's cache of resolved names.
    let proxy = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), route("localhost")]);
        args
    });
    for path in ["/one", "/two"] {
        let response = get(proxy.addr, path);
        assert_eq!(response.status, 200, "{}", response.body_text());
        assert_eq!(response.body_text(), format!("path={path}\n"));
    }

    // `.invalid` never resolves (RFC 6761): a clean 502, and the shard keeps serving.
    let proxy = Proxy::start_with(|ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), route("no-such-origin.invalid")]);
        args
    });
    for _ in 0..2 {
        let response = get(proxy.addr, "/");
        assert_eq!(response.status, 502);
        assert_eq!(response.body_text(), "Error while proxying to origin.\n");
    }
}
