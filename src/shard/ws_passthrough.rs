//! A client WebSocket relayed to a plain WebSocket origin (a target without `over_http`).
//!
//! Not yet built: such upgrades get a clean 501 until the relay lands.

use super::client_http::{respond_error, Next};
use super::client_ws::WsRequest;
use super::ShardContext;
use crate::config::Route;
use crate::netio::Conn;

/// Answers 501: WebSocket passthrough is not built yet.
pub async fn serve(ctx: &ShardContext, conn: &mut Conn, req: &WsRequest, _route: &Route) -> Next {
    let text =
        "WebSocket passthrough to plain WebSocket targets is not supported yet; use over_http.\n";
    respond_error(ctx, conn, &req.head, 501, text, false).await
}
