//! One connection to the publish/control listener (`:5561`), served on the router's executor.
//!
//! Owns: reading requests (head within `PUBLISH_HEAD_BYTES_MAX`, body only with
//! `Content-Length`, at most `PUBLISH_BODY_BYTES_MAX`), answering through
//! `publish::endpoint`, and the reply bytes. `200 Published` means accepted and queued for
//! delivery, as in Pushpin.
//! Must not: decide what a request means (`publish::endpoint` does) or route items itself
//! (`PublishService` does).

use super::auth::{self, AuthRefusal};
use super::status;
use super::PublishService;
use crate::config::PublishAuth;
use crate::http::{parse_request, BodyDecoder, BodyKind, HeadLimits, RequestHead, Version};
use crate::limits::{PUBLISH_BODY_BYTES_MAX, PUBLISH_IDLE_TIMEOUT, STATUS_STREAMS_MAX};
use crate::netio::{Conn, HeadError};
use crate::publish::endpoint::{self, EndpointAction, PublishRequest, BODY_TOO_LARGE_TEXT};
use crate::shard::listener::AcceptBackoff;
use crate::stats::Input;
use glommio::net::{TcpListener, TcpStream};
use std::rc::Rc;

/// Accepts publish connections until the process exits, each served on its own task; a
/// failed `accept` (out of descriptors) backs off as the client listeners do.
pub async fn accept_loop(
    service: Rc<PublishService>,
    auth: Rc<PublishAuth>,
    listener: TcpListener,
) {
    let mut backoff = AcceptBackoff::default();
    loop {
        match listener.accept().await {
            Ok(stream) => {
                backoff.on_success();
                let serving = serve(Rc::clone(&service), Rc::clone(&auth), stream);
                glommio::spawn_local(serving).detach();
            }
            Err(err) => {
                let pause = backoff.on_failure();
                crate::log_limited!(Warn, "publish accept failed: {err}; retrying in {pause:?}");
                glommio::timer::sleep(pause).await;
            }
        }
    }
}

/// Serves one publish connection (keep-alive allowed, unlike Pushpin's one-shot server).
pub async fn serve(service: Rc<PublishService>, auth: Rc<PublishAuth>, stream: TcpStream) {
    let peer = stream.peer_addr().ok();
    let mut conn = Conn::new(stream);
    let _ = conn.set_read_timeout(Some(PUBLISH_IDLE_TIMEOUT));
    loop {
        let (head, body) = match read_request(&mut conn).await {
            Ok(request) => request,
            Err(Some(refusal)) => {
                let _ = conn.write_all(&refusal).await;
                return;
            }
            Err(None) => return,
        };
        let keep_alive = head.is_keep_alive();
        let reply = match authorize(&auth, &head) {
            Ok(()) => match answer(&service, &head, &body).await {
                Answer::Reply(reply) => reply,
                Answer::StatusEvents => return serve_status_events(&service, &mut conn).await,
            },
            Err(refusal) => refuse(&service, &head, peer, &refusal),
        };
        let written = conn.write_all(&reply).await;
        service.after_publish().await;
        if written.is_err() || !keep_alive {
            return;
        }
    }
}

/// What a request gets: a reply, or the status events stream, which ends the connection.
enum Answer {
    Reply(Vec<u8>),
    StatusEvents,
}

/// Serves `/status/events` on this connection until the client leaves; 503 when
/// `STATUS_STREAMS_MAX` are open already.
async fn serve_status_events(service: &PublishService, conn: &mut Conn) {
    if service.status_streams.get() >= STATUS_STREAMS_MAX {
        let text = "Too many status streams.\n";
        let busy = reply_bytes(503, text, "text/plain", &[], false, Version::Http11);
        let _ = conn.write_all(&busy).await;
        return;
    }
    service.status_streams.set(service.status_streams.get() + 1);
    status::stream_events(conn, || service.status_snapshot()).await;
    service.status_streams.set(service.status_streams.get() - 1);
}

/// Reads one request and its body. `Err(Some(bytes))` is a refusal to write before closing
/// (a bad head, a body over `PUBLISH_BODY_BYTES_MAX`, no `Content-Length`); `Err(None)` means
/// the connection ended or failed.
async fn read_request(conn: &mut Conn) -> Result<(RequestHead, Vec<u8>), Option<Vec<u8>>> {
    let refusal = |status, text: &str, version| {
        Some(reply_bytes(status, text, "text/plain", &[], false, version))
    };
    let head = match conn
        .read_head(|b| parse_request(b, &HeadLimits::PUBLISH))
        .await
    {
        Ok(head) => head,
        Err(HeadError::Parse(err)) => {
            return Err(refusal(err.status(), &format!("{err}\n"), Version::Http11))
        }
        Err(_) => return Err(None),
    };
    let mut body = Vec::new();
    match head.body_kind() {
        Ok(BodyKind::Length(n)) if n > PUBLISH_BODY_BYTES_MAX as u64 => {
            return Err(refusal(400, BODY_TOO_LARGE_TEXT, head.version));
        }
        Ok(kind @ BodyKind::Length(_)) => {
            let mut decoder = BodyDecoder::new(kind);
            conn.read_body(&mut decoder, &mut body, PUBLISH_BODY_BYTES_MAX)
                .await
                .map_err(|_| None)?;
        }
        Ok(BodyKind::Empty) => {}
        // Pushpin requires Content-Length; the unread body makes the connection unusable.
        _ => {
            let text = "Request requires Content-Length.\n";
            return Err(refusal(411, text, head.version));
        }
    }
    Ok((head, body))
}

/// Checks the request's credential when `path` needs one (`auth::check`).
fn authorize(auth: &PublishAuth, head: &RequestHead) -> Result<(), AuthRefusal> {
    if !auth::is_protected(auth, head.path()) {
        return Ok(());
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let from_query = auth::status_query_token(head.path()).map(|token| format!("Bearer {token}"));
    let authorization = head
        .headers
        .get_str("authorization")
        .or(from_query.as_deref());
    auth::check(auth, authorization, now)
}

/// The 401 for a request without a valid credential: counted, logged at most once a second,
/// and answered with a challenge but no detail (the reason is only logged).
fn refuse(
    service: &PublishService,
    head: &RequestHead,
    peer: Option<std::net::SocketAddr>,
    refusal: &AuthRefusal,
) -> Vec<u8> {
    service.counters.publish_unauthorized.add(1);
    let peer = peer.map_or_else(|| "?".to_owned(), |p| p.to_string());
    crate::log_limited!(
        Warn,
        "control: {} {} from {peer} refused: {refusal}",
        head.method,
        head.path()
    );
    let challenge = [("WWW-Authenticate", refusal.challenge())];
    let text = "Unauthorized\n";
    reply_bytes(
        401,
        text,
        "text/plain",
        &challenge,
        head.is_keep_alive(),
        head.version,
    )
}

/// Carries out one request and returns the reply's bytes. Published items are routed (their
/// order fixed) before the reply is written, so a publish whose reply the publisher has seen
/// is ordered before any publish it sends afterwards, on any connection; `serve` hands them
/// to the shards after writing the reply (`PublishService::after_publish`), which makes the
/// next request wait only when the outbox is large and an inbox full: backpressure, not loss.
async fn answer(service: &PublishService, head: &RequestHead, body: &[u8]) -> Answer {
    let started = std::time::Instant::now();
    let has_content_length = head.headers.contains("content-length");
    let request = PublishRequest {
        method: &head.method,
        path: head.path(),
        accept: head.headers.get_str("accept"),
        has_content_length,
        body,
    };
    let reply = endpoint::handle(&request);
    service.counters.publish_requests.add(1);
    let items = match &reply.action {
        EndpointAction::Publish(items) => items.len(),
        _ => 0,
    };
    let http = service.counters.input(Input::Http);
    http.received.add(items as u64);
    if reply.status == 400 && request.method == "POST" && request.path.starts_with("/publish") {
        http.rejected.add(1);
    }
    log::info!(
        "control: {} {} code={} {} items={items}",
        head.method,
        head.path(),
        reply.status,
        body.len(),
    );
    let text = match reply.action {
        EndpointAction::Metrics => service.metrics(),
        EndpointAction::StatusPage => status::PAGE_HTML.to_owned(),
        EndpointAction::StatusEvents => return Answer::StatusEvents,
        _ => reply.body.clone(),
    };
    let allow: Vec<(&str, &str)> = reply
        .allow
        .map(|allow| ("Allow", allow))
        .into_iter()
        .collect();
    let bytes = reply_bytes(
        reply.status,
        &text,
        reply.content_type,
        &allow,
        head.is_keep_alive(),
        head.version,
    );
    match reply.action {
        EndpointAction::Publish(items) => {
            service.publish(items);
            service.counters.publish_latency.observe(started.elapsed());
        }
        EndpointAction::Recover => service.recover().await,
        _ => {}
    }
    Answer::Reply(bytes)
}

fn reply_bytes(
    status: u16,
    body: &str,
    content_type: &str,
    extra_headers: &[(&str, &str)],
    keep_alive: bool,
    version: Version,
) -> Vec<u8> {
    let mut out = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        crate::http::reason_phrase(status),
        body.len()
    );
    for (name, value) in extra_headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    match (version, keep_alive) {
        (Version::Http11, false) => out.push_str("Connection: close\r\n"),
        (Version::Http10, true) => out.push_str("Connection: keep-alive\r\n"),
        _ => {}
    }
    out.push_str("\r\n");
    out.push_str(body);
    out.into_bytes()
}
