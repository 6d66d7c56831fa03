//! A real browser against the real binary: Debian's headless Chromium (`support/browser.rs`)
//! loads pages that ringpin serves from the test's origin, same origin as a deployment has
//! them, and what the page's `EventSource`, `WebSocket` or `fetch` sees is reported back and
//! checked here. The status page on the publish listener is read from the rendered DOM.
//!
//! The pages are `tests/browser/pages/*.html` (served by the scripted origin) and
//! `tests/django/demo/eventsource.html` (served by the Django project). The browser's
//! reconnection is its own: the tests only end streams (a published `close`, a restart of
//! ringpin on the same ports) and check that `Last-Event-ID` brings exactly what was missed.

use std::path::Path;
use std::time::Instant;

use base64::Engine;
use serde_json::{json, Value};

use crate::support::woh::{received_events, scripted_response, WohOptions};
use crate::support::{
    free_port, get, publish_ok, response_item, stream_close_item, stream_item, wait_metric,
    wait_subscribed, Backend, BackendResponse, Browser, Django, DjangoSite, Ports, Proxy,
    StreamClient, EXIT_TIMEOUT,
};
use crate::ws_over_http::{woh_proxy, ws_item};

const EVENTSOURCE_PAGE: &str = include_str!("../browser/pages/eventsource.html");
const WEBSOCKET_PAGE: &str = include_str!("../browser/pages/websocket.html");
const LONGPOLL_PAGE: &str = include_str!("../browser/pages/longpoll.html");

fn html(page: &str) -> BackendResponse {
    BackendResponse::new(200, "text/html; charset=utf-8", page)
}

/// Loads `path` from ringpin's client listener and checks that the page came.
fn open_page(browser: &mut Browser, proxy: &Proxy, path: &str) {
    let url = format!("http://{}{path}", proxy.addr);
    assert_eq!(browser.goto(&url), 200, "GET {url} in the browser");
}

#[test]
fn an_eventsource_page_served_through_ringpin_receives_published_events() {
    let backend = Backend::start(|request| match request.path.as_str() {
        "/" => html(EVENTSOURCE_PAGE),
        "/events" => BackendResponse::new(200, "text/event-stream", "")
            .header("Grip-Hold", "stream")
            .header("Grip-Channel", "news"),
        _ => BackendResponse::text(404, "no such page\n"),
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut browser = Browser::launch();
    open_page(&mut browser, &proxy, "/");
    assert_eq!(browser.next_report(), json!({"type": "open"}));
    wait_subscribed(&proxy, 1);

    publish_ok(&proxy, &stream_item("news", "data: first\n\n"));
    publish_ok(
        &proxy,
        &stream_item("news", "id: 7\ndata: two\ndata: lines ✓\n\n"),
    );
    publish_ok(&proxy, &stream_item("news", "event: note\ndata: named\n\n"));
    let want = [
        json!({"type": "message", "data": "first", "id": ""}),
        json!({"type": "message", "data": "two\nlines ✓", "id": "7"}),
        json!({"type": "note", "data": "named", "id": "7"}),
    ];
    for want in want {
        assert_eq!(browser.next_report(), want);
    }
}

/// ringpin in front of the Django project, and a browser on its EventSource page, with the
/// first stream open and subscribed (`events-test` and `user-anonymous`).
struct DjangoPage {
    django: Django,
    proxy: Proxy,
    browser: Browser,
    /// Every report of the page so far.
    reports: Vec<Value>,
}

/// ringpin's argv for `Proxy::start_with` and `start_at`: the Django project is the origin.
fn django_args(django_port: u16) -> impl Fn(Ports) -> Vec<String> {
    move |ports: Ports| {
        let mut args = ports.listen_args();
        args.extend(["--route".to_string(), format!("* 127.0.0.1:{django_port}")]);
        args
    }
}

impl DjangoPage {
    fn start() -> DjangoPage {
        let site = DjangoSite::prepare();
        let django_port = free_port();
        let proxy = Proxy::start_with(django_args(django_port));
        let django = site.serve(django_port, proxy.publish_addr);
        let mut browser = Browser::launch();
        open_page(&mut browser, &proxy, "/eventsource/");
        let mut page = DjangoPage {
            django,
            proxy,
            browser,
            reports: Vec::new(),
        };
        page.wait_opens(1);
        wait_subscribed(&page.proxy, 2);
        page
    }

    /// `send_event("test", "message", {"text": text})` in Django (directly, not through
    /// ringpin): the event is stored, then published to ringpin.
    fn send(&self, text: &str) {
        let response = get(
            self.django.addr,
            &format!("/send/?channel=test&text={text}"),
        );
        assert_eq!(response.status, 200, "{}", response.body_text());
    }

    /// Stores event `text` in Django without publishing it (`/store/`): only a client that
    /// resumes with `Last-Event-ID` can get it.
    fn store(&self, text: &str) {
        let response = get(
            self.django.addr,
            &format!("/store/?channel=test&text={text}"),
        );
        assert_eq!(response.status, 200, "{}", response.body_text());
    }

    fn count(&self, kind: &str) -> usize {
        let kind = json!(kind);
        self.reports.iter().filter(|r| r["type"] == kind).count()
    }

    fn wait_reports(&mut self, kind: &str, n: usize) {
        while self.count(kind) < n {
            self.reports.push(self.browser.next_report());
        }
    }

    /// Waits until the page has seen `n` successful connections in all.
    fn wait_opens(&mut self, n: usize) {
        self.wait_reports("open", n);
    }

    /// Waits until the page has seen `n` messages in all.
    fn wait_messages(&mut self, n: usize) {
        self.wait_reports("message", n);
    }

    /// Asserts that the page got exactly `texts` as events test:1, test:2, … in order, each
    /// once, over exactly two connections, and that the browser never gave up reconnecting.
    fn assert_received_exactly(&self, texts: &[&str]) {
        let messages: Vec<(String, String)> = (self.reports.iter())
            .filter(|r| r["type"] == "message")
            .map(|r| {
                (
                    r["id"].as_str().unwrap_or("").to_string(),
                    r["data"].to_string(),
                )
            })
            .collect();
        let want: Vec<(String, String)> = (texts.iter().enumerate())
            .map(|(i, text)| {
                let data = format!("{{\"text\": \"{text}\"}}");
                (format!("test:{}", i + 1), Value::String(data).to_string())
            })
            .collect();
        assert_eq!(messages, want, "reports: {:?}", self.reports);
        assert_eq!(self.count("open"), 2, "reports: {:?}", self.reports);
        for report in self.reports.iter().filter(|r| r["type"] == "error") {
            assert_eq!(
                report["state"], 0,
                "the browser gave up: {:?}",
                self.reports
            );
        }
    }

    /// The `Last-Event-ID` of the first two EventSource requests the browser sent.
    fn last_event_ids(&mut self) -> Vec<Option<String>> {
        (self.browser.requests("eventsource", 2).iter())
            .map(|r| r["headers"]["last-event-id"].as_str().map(str::to_string))
            .collect()
    }
}

#[test]
fn an_eventsource_resumes_with_last_event_id_after_a_published_close_and_misses_nothing() {
    let mut page = DjangoPage::start();
    page.send("one");
    page.send("two");
    page.wait_messages(2);

    // django-eventstream's stream is a hold on `events-test`: a published close ends it,
    // and the browser reconnects on its own a few seconds later.
    publish_ok(&page.proxy, &stream_close_item("events-test"));
    wait_metric(&page.proxy, "ringpin_subscriptions", "0", |v| v == 0.0);
    page.send("three");
    page.send("four");
    page.wait_opens(2);
    page.wait_messages(4);
    wait_subscribed(&page.proxy, 2);
    page.send("five");
    page.wait_messages(5);

    page.assert_received_exactly(&["one", "two", "three", "four", "five"]);
    assert_eq!(
        page.last_event_ids(),
        [None, Some("test:2".to_string())],
        "the reconnection resumes after the last event seen"
    );
}

#[test]
fn an_eventsource_resumes_with_last_event_id_after_ringpin_restarts_and_misses_nothing() {
    let mut page = DjangoPage::start();
    page.send("one");
    page.wait_messages(1);

    // SIGTERM drains: the stream ends with its last chunk. While no ringpin runs, two events
    // are stored and not published, so the page can get them only by resuming with
    // Last-Event-ID. The new ringpin listens where the browser and Django knew the old one.
    let ports = page.proxy.ports();
    page.proxy.signal(libc::SIGTERM);
    let status = page.proxy.wait_exit(Instant::now() + EXIT_TIMEOUT);
    assert!(status.success(), "ringpin's drain exits 0: {status}");
    page.store("two");
    page.store("three");
    page.proxy = Proxy::start_at(ports, django_args(page.django.addr.port()));
    page.wait_opens(2);
    page.wait_messages(3);
    wait_subscribed(&page.proxy, 2);
    page.send("four");
    page.wait_messages(4);

    page.assert_received_exactly(&["one", "two", "three", "four"]);
    assert_eq!(
        page.last_event_ids(),
        [None, Some("test:1".to_string())],
        "the reconnection resumes after the last event seen"
    );
}

/// An `over_http` origin that serves the WebSocket page to plain requests and answers
/// WebSocket-over-HTTP events by `support/woh.rs`'s script (`sub:CH` subscribes, other
/// text is echoed).
fn websocket_backend() -> Backend {
    let options = WohOptions::default();
    Backend::start(move |request| {
        if request.header("Content-Type") == Some("application/websocket-events") {
            scripted_response(request, &options)
        } else if request.path == "/" {
            html(WEBSOCKET_PAGE)
        } else {
            BackendResponse::text(404, "no such page\n")
        }
    })
}

#[test]
fn a_websocket_page_through_an_over_http_route_talks_to_its_origin_and_gets_published_messages() {
    let backend = websocket_backend();
    let proxy = woh_proxy(backend.port(), &[]);
    let mut browser = Browser::launch();
    open_page(&mut browser, &proxy, "/");
    assert_eq!(
        browser.next_report(),
        json!({"type": "open", "protocol": ""})
    );

    // A round trip through the origin, which answers `m:hello` (GRIP's message prefix).
    browser.eval("send('hello ✓')");
    assert_eq!(
        browser.next_report(),
        json!({"type": "text", "data": "hello ✓"})
    );
    let texts: Vec<Vec<u8>> = (received_events(&backend).into_iter())
        .filter(|(kind, _)| kind == "TEXT")
        .map(|(_, content)| content)
        .collect();
    assert_eq!(texts, ["hello ✓".as_bytes()]);

    // The origin subscribes the connection to `room`; then publishes reach the page.
    browser.eval("send('sub:room')");
    wait_subscribed(&proxy, 1);
    let bytes = [0u8, 1, 127, 255];
    let bin = base64::engine::general_purpose::STANDARD.encode(bytes);
    publish_ok(&proxy, &ws_item("room", json!({"content": "news 1"})));
    publish_ok(&proxy, &ws_item("room", json!({"content-bin": bin})));
    publish_ok(&proxy, &ws_item("room", json!({"content": "news 3"})));
    publish_ok(
        &proxy,
        &ws_item(
            "room",
            json!({"action": "close", "code": 4001, "reason": "bye"}),
        ),
    );
    let want = [
        json!({"type": "text", "data": "news 1"}),
        json!({"type": "binary", "bytes": bytes}),
        json!({"type": "text", "data": "news 3"}),
        json!({"type": "close", "code": 4001, "reason": "bye", "clean": true}),
    ];
    for want in want {
        assert_eq!(browser.next_report(), want);
    }
}

#[test]
fn a_long_poll_fetch_loop_gets_one_published_response_after_another() {
    let backend = Backend::start(|request| match request.path.as_str() {
        "/" => html(LONGPOLL_PAGE),
        path if path.starts_with("/poll?") => BackendResponse::response_hold("lp", "timeout\n"),
        _ => BackendResponse::text(404, "no such page\n"),
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut browser = Browser::launch();
    open_page(&mut browser, &proxy, "/");

    for n in 0..4 {
        // The hold that answered poll n-1 was unsubscribed before its answer was written,
        // so this counts poll n's hold (support/mod.rs: the subscription race).
        wait_subscribed(&proxy, 1);
        let format = json!({
            "code": 200 + n,
            "headers": {"X-Item": n.to_string()},
            "body": format!("item {n}\n"),
        });
        publish_ok(&proxy, &response_item("lp", format));
        assert_eq!(
            browser.next_report(),
            json!({"type": "response", "n": n, "status": 200 + n, "item": n.to_string(),
                   "body": format!("item {n}\n")})
        );
    }
    let polls: Vec<String> = (backend.requests().into_iter())
        .map(|r| r.path)
        .filter(|path| path.starts_with("/poll"))
        .collect();
    assert_eq!(
        polls[..4],
        ["/poll?n=0", "/poll?n=1", "/poll?n=2", "/poll?n=3"]
    );
}

/// The status page's tables as the browser renders them: `{"totals": {row: value},
/// "shards": [[cells]], "channels": [[cells]], "state": text}`.
const STATUS_DOM: &str = r#"(() => {
  const rows = id => [...document.querySelectorAll(`#${id} tr`)].slice(1)
    .map(tr => [...tr.cells].map(td => td.textContent));
  return {
    state: document.getElementById("state").textContent,
    totals: Object.fromEntries(rows("totals")),
    shards: rows("shards"),
    channels: rows("channels"),
  };
})()"#;

/// Waits until the rendered status page satisfies `condition`, a JavaScript expression over
/// `s` (the `STATUS_DOM` value); returns that value.
fn wait_status(browser: &mut Browser, condition: &str) -> Value {
    let js = format!("(() => {{ const s = {STATUS_DOM}; return ({condition}) && s; }})()");
    browser.wait_for(&js)
}

/// The sum of column `column` over the shards table.
fn shard_sum(status: &Value, column: usize) -> u64 {
    let rows = status["shards"].as_array().expect("shard rows");
    (rows.iter())
        .map(|row| {
            row[column]
                .as_str()
                .and_then(|c| c.parse::<u64>().ok())
                .expect("a count")
        })
        .sum()
}

#[test]
fn the_status_page_renders_in_a_browser_and_its_numbers_follow_the_traffic() {
    let backend = Backend::start(|request| {
        let channel = request.path.trim_start_matches("/stream/");
        BackendResponse::stream_hold(channel, "start\n")
    });
    let proxy = Proxy::start(backend.port(), &[]);
    let mut browser = Browser::launch();
    let url = format!("http://{}/status", proxy.publish_addr);
    assert_eq!(browser.goto(&url), 200);
    let before = wait_status(&mut browser, "s.state === 'live'");
    assert_eq!(before["totals"]["connections"], "0", "{before}");
    assert_eq!(before["totals"]["held streams"], "0", "{before}");
    assert_eq!(
        before["shards"].as_array().map(Vec::len),
        Some(2),
        "{before}"
    );
    assert_eq!(shard_sum(&before, 3), 0, "{before}");

    let mut clients: Vec<StreamClient> = ["news", "news", "news", "sports"]
        .iter()
        .map(|channel| StreamClient::open(proxy.addr, &format!("/stream/{channel}")))
        .collect();
    for client in &mut clients {
        assert_eq!(client.read_until("start\n"), "start\n");
    }
    wait_subscribed(&proxy, 4);
    let held = wait_status(&mut browser, "s.totals['held streams'] === '4'");
    assert_eq!(held["totals"]["connections"], "4", "{held}");
    assert_eq!(held["totals"]["subscriptions"], "4", "{held}");
    assert_eq!(held["totals"]["channels"], "2", "{held}");

    // Three rounds, each seen by the page before the next, so the chart has a few points.
    for round in 1..=3u64 {
        publish_ok(&proxy, &stream_item("news", &format!("news {round}\n")));
        publish_ok(
            &proxy,
            &stream_item("news", &format!("more news {round}\n")),
        );
        publish_ok(&proxy, &stream_item("sports", &format!("score {round}\n")));
        for client in &mut clients[..3] {
            client.read_until(&format!("more news {round}\n"));
        }
        clients[3].read_until(&format!("score {round}\n"));
        let deliveries = 7 * round;
        let after = wait_status(
            &mut browser,
            &format!(
                "s.shards.reduce((sum, r) => sum + Number(r[3]), 0) === {deliveries} \
                 && s.channels.length === 2"
            ),
        );
        assert_eq!(shard_sum(&after, 3), deliveries, "{after}");
        let busiest: Vec<(&Value, &Value)> = (after["channels"].as_array().into_iter())
            .flatten()
            .map(|row| (&row[0], &row[1]))
            .collect();
        let (news, sports) = (json!((2 * round).to_string()), json!(round.to_string()));
        let want = [(&json!("news"), &news), (&json!("sports"), &sports)];
        assert_eq!(busiest, want, "{after}");
    }
    wait_status(&mut browser, "Number(s.totals['deliveries/s']) > 0");

    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
    std::fs::create_dir_all(&dir).expect("create target/tmp/browser");
    let shot = dir.join("status-page.png");
    browser.screenshot(&shot);
    let png = std::fs::read(&shot).expect("the screenshot was written");
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "{} is a PNG",
        shot.display()
    );
}
