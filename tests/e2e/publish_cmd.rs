//! `ringpin publish`, Pushpin's `pushpin-publish` as a subcommand: the real binary publishes
//! to a real ringpin over HTTP and ZeroMQ, with content from the command line, a file or
//! stdin, response codes and headers, `--close`, and credentials; it prints `Published` and
//! exits 0, or prints the server's message and exits 1.

use std::io::{Read, Write};
use std::process::{Command, Output, Stdio};
use std::sync::{mpsc, Mutex};

use crate::publish_auth::wait_subscribed_with;
use crate::support::tls::{read_request_head, start_tls_origin, TestCa};
use crate::support::{
    free_port, get_request, wait_subscribed, Backend, BackendResponse, Conn, Proxy, StreamClient,
    TempDir, DEADLINE,
};

/// Runs `ringpin publish ARGS`, feeding `stdin`.
fn ringpin_publish(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ringpin"))
        .arg("publish")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ringpin publish");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin)
        .expect("write stdin");
    child.wait_with_output().expect("ringpin publish ran")
}

fn assert_published(output: &Output) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}{stderr}");
    assert_eq!(stdout, "Published\n");
}

/// ringpin with `extra` flags and a stream held on `channel`, not yet known to be subscribed.
fn stream_unchecked(channel: &'static str, extra: &[&str]) -> (Backend, Proxy, StreamClient) {
    let backend = Backend::start(move |_| BackendResponse::stream_hold(channel, "start\n"));
    let proxy = Proxy::start(backend.port(), extra);
    let mut client = StreamClient::open(proxy.addr, "/stream");
    assert_eq!(client.read_until("start\n"), "start\n");
    (backend, proxy, client)
}

fn stream(channel: &'static str, extra: &[&str]) -> (Backend, Proxy, StreamClient) {
    let (backend, proxy, client) = stream_unchecked(channel, extra);
    wait_subscribed(&proxy, 1);
    (backend, proxy, client)
}

#[test]
fn content_from_the_argument_a_file_and_stdin_reaches_a_stream_then_close_ends_it() {
    let (_backend, proxy, mut client) = stream("cmd", &[]);
    let spec = format!("http://{}", proxy.publish_addr);
    assert_published(&ringpin_publish(&["cmd", "hello", "--spec", &spec], b""));
    assert_eq!(
        client.read_until("hello\n"),
        "hello\n",
        "a newline is added"
    );
    let dir = TempDir::new("publish-cmd");
    let file = dir.path().join("body.txt");
    std::fs::write(&file, "from a file|").expect("write");
    let at_file = format!("@{}", file.display());
    assert_published(&ringpin_publish(&["cmd", &at_file, "--spec", &spec], b""));
    assert_published(&ringpin_publish(
        &["cmd", "-", "--spec", &spec],
        b"from stdin|",
    ));
    assert_eq!(
        client.read_until("from stdin|"),
        "from a file|from stdin|",
        "no newline after file or stdin content"
    );
    assert_published(&ringpin_publish(&["cmd", "--close", "--spec", &spec], b""));
    client.expect_end();
}

#[test]
fn a_long_poll_gets_the_code_headers_and_body_given() {
    let backend = Backend::start(|_| BackendResponse::response_hold("lp", "timeout\n"));
    let proxy = Proxy::start(backend.port(), &[]);
    let mut conn = Conn::connect(proxy.addr);
    conn.send(&get_request("/poll"));
    wait_subscribed(&proxy, 1);
    let spec = format!("http://{}", proxy.publish_addr);
    let args = [
        "lp",
        "done",
        "--code",
        "201",
        "-H",
        "X-Tag: seven",
        "--spec",
        &spec,
    ];
    assert_published(&ringpin_publish(&args, b""));
    let response = conn.read_response();
    assert_eq!(response.status, 201);
    assert_eq!(response.header("X-Tag"), Some("seven"));
    assert_eq!(response.body_text(), "done\n");
}

#[test]
fn a_zeromq_push_spec_reaches_the_pull_input() {
    let pull = format!("tcp://127.0.0.1:{}", free_port());
    let (_backend, _proxy, mut client) = stream("zq", &["--push-in-spec", &pull]);
    assert_published(&ringpin_publish(&["zq", "over zmq", "--spec", &pull], b""));
    assert_eq!(client.read_until("over zmq\n"), "over zmq\n");
}

#[test]
fn credentials_are_sent_and_a_refusal_is_reported_with_exit_1() {
    let flags = ["--publish-key", "k", "--publish-token", "t0ken"];
    let (_backend, proxy, mut client) = stream_unchecked("auth", &flags);
    wait_subscribed_with(&proxy, "Bearer t0ken");
    let spec = format!("http://{}", proxy.publish_addr);
    let refused = ringpin_publish(&["auth", "nope", "--spec", &spec], b"");
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("Unauthorized"), "{stderr}");
    assert_published(&ringpin_publish(
        &["auth", "a", "-B", "t0ken", "--spec", &spec],
        b"",
    ));
    let jwt = [
        "auth",
        "b",
        "--jwt-key",
        "k",
        "--jwt-iss",
        "me",
        "--spec",
        &spec,
    ];
    assert_published(&ringpin_publish(&jwt, b""));
    assert_eq!(
        client.read_until("b\n"),
        "a\nb\n",
        "nothing refused got through"
    );
}

#[test]
fn a_bad_command_line_exits_2_and_an_unreachable_server_exits_1() {
    let bad = ringpin_publish(&["ch", "x", "--code", "1000"], b"");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("code must be"));
    let spec = format!("http://127.0.0.1:{}", free_port());
    let unreachable = ringpin_publish(&["ch", "x", "--spec", &spec], b"");
    assert_eq!(unreachable.status.code(), Some(1));
    let help = ringpin_publish(&["--help"], b"");
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("--no-eol"));
}

/// An https GRIP endpoint (a TLS server signed by a test CA) that records each publish
/// request and answers `200 Published`, closing without `close_notify` as many servers do.
fn https_grip_endpoint(ca: &TestCa) -> (u16, mpsc::Receiver<String>) {
    let (sent, received) = mpsc::channel();
    let sent = Mutex::new(sent);
    let port = start_tls_origin(&ca.issue(&["localhost"]), move |mut stream| {
        let Some(head) = read_request_head(&mut stream) else {
            return;
        };
        let length = head
            .lines()
            .find_map(|line| line.strip_prefix("Content-Length: "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if stream.read_exact(&mut body).is_err() {
            return;
        }
        let reply =
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: close\r\n\r\nPublished\n";
        let _ = stream.write_all(reply);
        let _ = stream.flush();
        let request = format!("{head}{}", String::from_utf8_lossy(&body));
        let _ = sent.lock().map(|sent| sent.send(request));
    });
    (port, received)
}

#[test]
fn an_https_spec_is_published_to_over_tls_checked_against_the_cacert() {
    let ca = TestCa::new();
    let dir = TempDir::new("publish-https");
    let ca_file = dir.path().join("ca.pem");
    std::fs::write(&ca_file, &ca.pem).expect("write CA");
    let (port, requests) = https_grip_endpoint(&ca);
    let spec = format!("https://localhost:{port}/realm/");
    let ca_arg = ca_file.to_str().expect("utf-8 path");
    let args = [
        "ch", "over tls", "--spec", &spec, "--cacert", ca_arg, "-B", "tok",
    ];
    assert_published(&ringpin_publish(&args, b""));
    let request = requests
        .recv_timeout(DEADLINE)
        .expect("the endpoint got the publish");
    assert!(
        request.starts_with("POST /realm/publish/ HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(
        request.contains(&format!("\r\nHost: localhost:{port}\r\n")),
        "{request}"
    );
    assert!(
        request.contains("\r\nAuthorization: Bearer tok\r\n"),
        "{request}"
    );
    assert!(request.contains(r#""channel":"ch""#), "{request}");
    assert!(request.contains("over tls"), "{request}");

    let untrusted = ringpin_publish(&["ch", "x", "--spec", &spec], b"");
    assert_eq!(untrusted.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(stderr.contains("certificate"), "{stderr}");
    assert!(
        requests.try_recv().is_err(),
        "nothing is sent to a server whose certificate is not trusted"
    );
}
