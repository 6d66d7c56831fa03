//! Auto cross-origin (PUSHPIN.md §1.9): with the `aco` route prop or `--auto-cross-origin`,
//! responses get CORS fields (relayed, preflight, long-poll, stream head), and a JSONP `GET`
//! is converted for the origin and answered through its callback; a bad one gets 400.

use serde_json::json;

use crate::support::{
    get_request, publish_ok, request, response_item, wait_subscribed, Backend, BackendResponse,
    Conn, Proxy, StreamClient,
};

/// ringpin with `routes` (each `{P}` is the origin's port) and `extra` flags.
fn start(backend: &Backend, routes: &[&str], extra: &[&str]) -> Proxy {
    let port = backend.port().to_string();
    let routes: Vec<String> = routes.iter().map(|r| r.replace("{P}", &port)).collect();
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    Proxy::start_with(move |ports| {
        let mut args = ports.listen_args();
        for route in &routes {
            args.extend(["--route".to_string(), route.clone()]);
        }
        args.extend(extra.iter().cloned());
        args
    })
}

fn get_from(host: &str, path: &str, origin: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\n\r\n").into_bytes()
}

#[test]
fn a_relayed_response_gets_cors_fields_only_on_an_aco_route() {
    let backend = Backend::start(|_| BackendResponse::text(200, "hi\n").header("X-Custom", "1"));
    let proxy = start(
        &backend,
        &["cors.test,aco 127.0.0.1:{P}", "* 127.0.0.1:{P}"],
        &[],
    );

    let response = request(
        proxy.addr,
        &get_from("cors.test", "/x", "https://app.example"),
    );
    assert_eq!(response.body_text(), "hi\n");
    let field = |name| response.header(name);
    assert_eq!(
        field("Access-Control-Allow-Origin"),
        Some("https://app.example")
    );
    assert_eq!(
        field("Access-Control-Allow-Methods"),
        Some("OPTIONS, HEAD, GET, POST, PUT, DELETE")
    );
    assert_eq!(field("Access-Control-Expose-Headers"), Some("X-Custom"));
    assert_eq!(field("Access-Control-Allow-Credentials"), Some("true"));
    assert_eq!(field("Access-Control-Max-Age"), Some("3600"));

    // Off by default: the same origin answer through a route without `aco`.
    let plain = request(
        proxy.addr,
        &get_from("other.test", "/x", "https://app.example"),
    );
    assert_eq!(plain.body_text(), "hi\n");
    assert_eq!(
        plain.header("Access-Control-Allow-Origin"),
        None,
        "{plain:?}"
    );
}

#[test]
fn a_preflight_goes_to_the_origin_and_its_answer_gets_cors_fields() {
    let backend =
        Backend::start(|_| BackendResponse::text(204, "").header("Access-Control-Max-Age", "60"));
    let proxy = start(
        &backend,
        &["* 127.0.0.1:{P}"],
        &["--auto-cross-origin", "true"],
    );
    let preflight = "OPTIONS /api HTTP/1.1\r\nHost: example.com\r\nOrigin: https://a.example\r\n\
        Access-Control-Request-Method: PUT\r\nAccess-Control-Request-Headers: x-a, x-b\r\n\r\n";

    let response = request(proxy.addr, preflight.as_bytes());

    assert_eq!(backend.last_request().method, "OPTIONS");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("Access-Control-Allow-Methods"), Some("PUT"));
    assert_eq!(
        response.header("Access-Control-Allow-Headers"),
        Some("x-a, x-b")
    );
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        Some("https://a.example")
    );
    // The origin's own field is kept, not replaced.
    assert_eq!(response.headers_named("Access-Control-Max-Age"), ["60"]);
}

#[test]
fn a_long_poll_answered_by_a_publish_gets_cors_fields() {
    let backend = Backend::start(|_| BackendResponse::response_hold("lp", "timeout\n"));
    let proxy = start(&backend, &["*,aco 127.0.0.1:{P}"], &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_from("example.com", "/poll", "https://b.example"));
    wait_subscribed(&proxy, 1);

    let format = json!({ "headers": { "X-Pub": "yes" }, "body": "news\n" });
    publish_ok(&proxy, &response_item("lp", format));
    let response = conn.read_response();

    assert_eq!(response.body_text(), "news\n");
    assert_eq!(
        response.header("Access-Control-Allow-Origin"),
        Some("https://b.example")
    );
    assert_eq!(
        response.header("Access-Control-Expose-Headers"),
        Some("X-Pub")
    );
    assert_eq!(response.header("Access-Control-Max-Age"), Some("3600"));
}

#[test]
fn a_stream_holds_head_gets_cors_fields() {
    let backend = Backend::start(|_| BackendResponse::stream_hold("s", "start\n"));
    let proxy = start(&backend, &["*,aco 127.0.0.1:{P}"], &[]);

    let stream = StreamClient::open_with(proxy.addr, "/stream", &[("Origin", "https://c.example")]);

    let head = stream.head();
    assert_eq!(head.status, 200);
    assert_eq!(
        head.header("Access-Control-Allow-Origin"),
        Some("https://c.example")
    );
    assert_eq!(
        head.header("Access-Control-Allow-Credentials"),
        Some("true")
    );
}

#[test]
fn jsonp_extended_long_poll_is_converted_and_its_publish_wrapped() {
    let backend = Backend::start(|_| BackendResponse::response_hold("jp", "timeout\n"));
    let proxy = start(&backend, &["*,aco 127.0.0.1:{P}"], &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request(
        "/poll?a=1&callback=cb&_method=POST&_body=x%3D1",
    ));
    wait_subscribed(&proxy, 1);

    let seen = backend.last_request();
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str()),
        ("POST", "/poll?a=1")
    );
    assert_eq!(seen.body, b"x=1");
    let format = json!({ "code": 201, "headers": { "X-Pub": "yes" }, "body": "news\n" });
    publish_ok(&proxy, &response_item("jp", format));
    let response = conn.read_response();

    assert_eq!((response.status, response.reason.as_str()), (200, "OK"));
    assert_eq!(
        response.header("Content-Type"),
        Some("application/javascript")
    );
    assert_eq!(
        response.body_text(),
        "/**/cb({\"body\":\"news\\n\",\"code\":201,\"headers\":{\"Content-Type\":\"text/plain\",\
         \"X-Pub\":\"yes\"},\"reason\":\"Created\"});\n"
    );
    assert_eq!(response.header("Access-Control-Allow-Origin"), None);
}

#[test]
fn jsonp_basic_long_poll_gets_the_published_body_in_its_callback() {
    let backend = Backend::start(|_| BackendResponse::response_hold("jb", "timeout\n"));
    let proxy = start(&backend, &["*,aco,jsonp_mode=basic 127.0.0.1:{P}"], &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll?callback=f"));
    wait_subscribed(&proxy, 1);

    assert_eq!(backend.last_request().method, "POST");
    publish_ok(
        &proxy,
        &response_item("jb", json!({ "body": "{\"a\":1}\n" })),
    );
    let response = conn.read_response();

    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("application/javascript")
    );
    assert_eq!(response.body_text(), "/**/f({\"a\":1});\n");
}

#[test]
fn jsonp_wraps_a_relayed_answer_with_its_code_and_headers() {
    let backend = Backend::start(|_| BackendResponse::text(404, "gone\n"));
    let proxy = start(&backend, &["*,aco 127.0.0.1:{P}"], &[]);

    let response = request(proxy.addr, &get_request("/x?callback=cb"));

    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("application/javascript")
    );
    assert_eq!(
        response.body_text(),
        "/**/cb({\"code\": 404, \"reason\": \"Not Found\", \"headers\": \
         {\"Content-Type\":\"text/plain\"}, \"body\": \"gone\\n\"});\n"
    );
}

#[test]
fn a_bad_jsonp_request_gets_400_and_never_reaches_the_origin() {
    let backend = Backend::start(|_| BackendResponse::text(200, "origin\n"));
    let proxy = start(&backend, &["*,aco 127.0.0.1:{P}"], &[]);

    let response = request(proxy.addr, &get_request("/x?callback=f&_headers=%5B%5D"));

    assert_eq!(response.status, 400);
    assert_eq!(response.body_text(), "Invalid _headers parameter.\n");
    assert_eq!(response.header("Access-Control-Allow-Origin"), Some("*"));
    assert!(backend.requests().is_empty());
}
