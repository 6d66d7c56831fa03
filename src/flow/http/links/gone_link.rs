//! Gone links (Pushpin 1.41): a GRIP answer's `Grip-Link: <URL>; rel=gone` is POSTed to once
//! the client's session ends, so the origin learns that the client left.
//!
//! Owns: `notify`, which resolves the link against the client's URL, builds the POST (empty
//! body; through the client request's route and signed when the link has the client's host
//! and port, else straight to the link's host, as link fetches go) and sends it in a task of
//! its own.
//! Must not: delay the client (its connection may carry the next request meanwhile), retry,
//! or act on the answer, which Pushpin expects empty and only logs.
//! Invariants: only the session's first GRIP answer names the gone link (Pushpin: "each
//! request can have a unique gone link, and still share instructions from next link
//! fetches"); notices wait for one of the shard's `REFETCHES_CONCURRENT_MAX` permits, so a
//! mass disconnect queues them instead of taking every origin socket.

use super::link_fetch::{attempts, bare_request, send_attempts};
use crate::config::Route;
use crate::grip::{request_url, resolve_link};
use crate::http::ClientRequest;
use crate::shard::ShardContext;
use std::rc::Rc;

/// Sends the POST to `link` (relative to the client's URL) in a task of its own.
pub fn notify(ctx: &Rc<ShardContext>, route: &Route, req: &ClientRequest, link: &str) {
    let shard = ctx.id.0;
    let resolved = request_url(&req.head.target, req.head.headers.get_str("host"))
        .and_then(|base| Ok((resolve_link(&base, link)?, base)));
    let (url, base) = match resolved {
        Ok(urls) => urls,
        Err(err) => {
            log::debug!("shard={shard} gone link {link:?} not sent: {err}");
            return;
        }
    };
    let mut head = bare_request("POST", &url);
    head.headers.push("Content-Length", &b"0"[..]);
    let attempts = attempts(ctx, route, req, &base, &url, head);
    let ctx = Rc::clone(ctx);
    glommio::spawn_local(async move {
        let _permit = ctx.notice_permit().await;
        match send_attempts(&ctx, &attempts).await {
            Ok((target, head, _)) => log::info!(
                "shard={shard} POST http://{}{} -> {target} code={} gone",
                url.host_header(),
                url.path_and_query,
                head.status
            ),
            Err(err) => log::debug!("shard={shard} gone link request failed: {err}"),
        }
    })
    .detach();
}
