//! What an HTTP request hands back to its connection's task: the request's end, or a stream
//! hold to run once the request's state is freed.
//!
//! Owns: `Handled`, and `HeldStream`, a registered stream hold with the little the request
//! leaves for after it (whether the connection is kept alive, and the gone link to notify).
//! Must not: keep anything else of the request. A held stream lives for hours and there may be
//! 100,000 of them: the request's state (head, body, route, the origin exchange) is the
//! largest part of a connection's task, and is freed before the hold runs (STYLE.md: memory
//! per held connection is a budget).

use super::links::gone_link;
use crate::config::Route;
use crate::http::{ClientRequest, Next};
use crate::netio::Conn;
use crate::shard::hold::{HoldEnd, StreamHold};
use crate::shard::ShardContext;
use std::future::Future;
use std::rc::Rc;

/// What serving one request led to.
#[derive(Debug)]
pub enum Handled {
    /// The request is answered: the connection serves its next request or closes.
    Done(Next),
    /// A stream hold, registered, for the connection's task to run.
    Stream(HeldStream),
}

/// A registered stream hold and what follows its end.
#[derive(Debug)]
pub struct HeldStream {
    /// `None` once the stream has ended.
    hold: Option<StreamHold>,
    keep_alive: bool,
    gone: Option<Box<GoneNotice>>,
}

/// A gone link to notify when the stream ends, with the request and route it is resolved
/// and sent with (`gone_link::notify`); boxed, since few streams have one.
#[derive(Debug)]
struct GoneNotice {
    route: Route,
    req: ClientRequest,
    link: String,
}

impl HeldStream {
    /// `hold`, after which the connection stays open when `req` allows it, and `gone`, the
    /// session's gone link, is notified.
    pub(super) fn new(
        hold: StreamHold,
        route: &Route,
        mut req: ClientRequest,
        gone: Option<String>,
    ) -> HeldStream {
        let keep_alive = req.keep_alive;
        let gone = gone.map(|link| {
            // The notice is a bodiless POST: the request's body is not kept for it.
            req.body = Vec::new();
            Box::new(GoneNotice {
                route: route.clone(),
                req,
                link,
            })
        });
        HeldStream {
            hold: Some(hold),
            keep_alive,
            gone,
        }
    }

    /// Runs the hold until the stream ends, unregisters it, and notifies the gone link.
    /// Borrows the hold, so the connection's task keeps it only once (a value moved into a
    /// future is stored again there).
    #[allow(clippy::manual_async_fn)]
    pub fn run<'a>(
        &'a mut self,
        ctx: &'a Rc<ShardContext>,
        conn: &'a mut Conn,
    ) -> impl Future<Output = Next> + 'a {
        async move {
            let end = match &self.hold {
                Some(hold) => hold.run(ctx, conn).await,
                None => HoldEnd::Gone,
            };
            // Unregistered before the connection serves anything else, so no published item
            // is written into its next response.
            if let Some(hold) = self.hold.take() {
                hold.finish(ctx, conn);
            }
            if let Some(gone) = self.gone.take() {
                gone_link::notify(ctx, &gone.route, &gone.req, &gone.link);
            }
            match end {
                HoldEnd::Complete if self.keep_alive => Next::KeepAlive,
                _ => Next::Close,
            }
        }
    }
}
