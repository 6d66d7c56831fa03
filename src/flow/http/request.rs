//! One HTTP request that is not an upgrade: its body, its route, and the origin's answer
//! relayed or accepted as GRIP.
//!
//! Owns: reading up to `REQUEST_BODY_BUFFER_BYTES_MAX` of the body, route selection, the
//! built-in `test` target, and the access log.
//! Must not: parse wire formats itself (`http`, `grip` do) or hold a `RefCell` borrow across
//! an await.

use super::accept::{accept_grip, Outcome};
use super::held::{Handled, HeldStream};
use super::proxy::{ask_origin, Asked};
use super::test_target;
use crate::config::{Proto, Route, Target};
use crate::cross_origin::{convert_request, request_fields, JsonpError};
use crate::http::CrossOrigin;
use crate::http::{BodyDecoder, BodyKind, ClientRequest, Next, RequestHead, Version};
use crate::limits::REQUEST_BODY_BUFFER_BYTES_MAX;
use crate::netio::Conn;
use crate::reply::{capitalized, ORIGIN_ERROR_TEXT};
use crate::shard::respond::{respond_error, respond_error_for};
use crate::shard::ShardContext;
use std::net::SocketAddr;
use std::rc::Rc;

/// Serves one non-upgrade request whose head was read and checked: answers it, or returns
/// the stream hold it led to.
pub async fn handle_request(
    ctx: &Rc<ShardContext>,
    conn: &mut Conn,
    mut head: RequestHead,
    peer: SocketAddr,
) -> Handled {
    let keep_alive = head.is_keep_alive();
    let (decoder, mut body, body_complete) = match read_body(ctx, conn, &head, peer).await {
        Ok(read) => read,
        Err(next) => return Handled::Done(next),
    };
    let host = head.host().unwrap_or_default();
    let routes = ctx.current_routes();
    let tls = conn.stream.is_tls();
    let route = routes.select(&host, head.path(), Proto::Http, tls);
    let cross_origin = match cross_origin_of(ctx, route, &mut head, &mut body) {
        Ok(cross) => cross,
        Err((cross, err)) => {
            log::debug!("shard={} peer={peer} bad JSONP request: {err}", ctx.id.0);
            let text = err.text();
            let cross = Some(&cross);
            let next = respond_error_for(ctx, conn, &head, 400, text, keep_alive, cross).await;
            return Handled::Done(next);
        }
    };
    let Some(route) = route else {
        let text = format!("No route for host: {host}\n");
        let cross = cross_origin.as_deref();
        let respond = respond_error_for(ctx, conn, &head, 502, &text, keep_alive, cross);
        return Handled::Done(Box::pin(respond).await);
    };
    let mut req = ClientRequest {
        head,
        host,
        body,
        body_complete,
        decoder,
        peer,
        tls,
        keep_alive: keep_alive && !ctx.control.is_shutting_down(),
        cross_origin,
    };
    let outcome = match route.targets.first() {
        Some(Target::Test) => {
            let answer = test_target::answer(&req.head);
            accept_grip(ctx, conn, &mut req, route, answer).await
        }
        Some(Target::Http(_)) => forward(ctx, conn, route, &mut req).await,
        None => Outcome::Done(
            respond_failure(ctx, conn, &req, 502, ORIGIN_ERROR_TEXT, keep_alive).await,
        ),
    };
    match outcome {
        Outcome::Stream(hold, gone) => Handled::Stream(HeldStream::new(hold, route, req, gone)),
        Outcome::Done(Next::KeepAlive) if req.head.version == Version::Http10 && !keep_alive => {
            Handled::Done(Next::Close)
        }
        Outcome::Done(next) => Handled::Done(next),
    }
}

/// Cross-origin support for this request, when the config or its route turns it on
/// (PUSHPIN.md §1.9): a JSONP request is converted for the origin here; `Err` for a bad one,
/// which gets 400 with CORS fields, as in Pushpin.
fn cross_origin_of(
    ctx: &ShardContext,
    route: Option<&Route>,
    head: &mut RequestHead,
    body: &mut Vec<u8>,
) -> Result<Option<Box<CrossOrigin>>, (CrossOrigin, JsonpError)> {
    if !ctx.config.auto_cross_origin && !route.is_some_and(|r| r.aco) {
        return Ok(None);
    }
    let jsonp_config = route.map(|r| r.jsonp.clone()).unwrap_or_default();
    let mut cross = CrossOrigin {
        request_fields: request_fields(head),
        jsonp: None,
    };
    match convert_request(head, body, &jsonp_config) {
        Ok(jsonp) => {
            cross.jsonp = jsonp;
            Ok(Some(Box::new(cross)))
        }
        Err(err) => Err((cross, err)),
    }
}

/// Answers `req` with ringpin's own error, decorated for cross-origin requests.
pub(super) async fn respond_failure(
    ctx: &ShardContext,
    conn: &mut Conn,
    req: &ClientRequest,
    status: u16,
    text: &str,
    keep_alive: bool,
) -> Next {
    let cross = req.cross_origin.as_deref();
    respond_error_for(ctx, conn, &req.head, status, text, keep_alive, cross).await
}

/// Forwards `req` along `route` and answers the client: a relayed answer, or a GRIP one
/// accepted.
async fn forward(
    ctx: &Rc<ShardContext>,
    client: &mut Conn,
    route: &Route,
    req: &mut ClientRequest,
) -> Outcome {
    // Boxed: asking the origin (and relaying) is over before any hold starts, but inline
    // it would be the largest state of every connection's future, held streams included.
    match Box::pin(ask_origin(ctx, client, route, req, &[])).await {
        Asked::Done(next) => Outcome::Done(next),
        Asked::Grip(answer) => accept_grip(ctx, client, req, route, answer).await,
    }
}

/// Sends `100 Continue` when asked, then reads up to `REQUEST_BODY_BUFFER_BYTES_MAX` of the
/// body: the decoder for the rest, the bytes read, and whether that was all of it; or the
/// error answer already given.
async fn read_body(
    ctx: &ShardContext,
    conn: &mut Conn,
    head: &RequestHead,
    peer: SocketAddr,
) -> Result<(BodyDecoder, Vec<u8>, bool), Next> {
    let body_kind = match head.body_kind() {
        Ok(kind) => kind,
        Err(err) => {
            let text = format!("{}\n", capitalized(&err.to_string()));
            return Err(respond_error(ctx, conn, head, err.status(), &text, false).await);
        }
    };
    let wants_continue = head.expects_continue() && body_kind != BodyKind::Empty;
    if wants_continue
        && conn
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await
            .is_err()
    {
        return Err(Next::Close);
    }
    let mut decoder = BodyDecoder::new(body_kind);
    let mut body = Vec::new();
    match conn
        .read_body(&mut decoder, &mut body, REQUEST_BODY_BUFFER_BYTES_MAX)
        .await
    {
        Ok(complete) => Ok((decoder, body, complete)),
        Err(err) => {
            log::info!("shard={} peer={peer} bad request body: {err}", ctx.id.0);
            let text = "Invalid request body.\n";
            Err(respond_error(ctx, conn, head, 400, text, false).await)
        }
    }
}

/// One access-log line per request, in Pushpin's shape:
/// `GET http://host/path -> target code=200 635`.
pub(super) fn access_log(
    ctx: &ShardContext,
    req: &ClientRequest,
    target: &str,
    code: u16,
    bytes: usize,
) {
    log::info!(
        "shard={} {} http://{}{} -> {target} code={code} {bytes} from={}",
        ctx.id.0,
        req.head.method,
        req.host,
        req.head.path(),
        req.peer.ip()
    );
}
