//! What ringpin does with an origin's response head.
//!
//! Owns: the GRIP-or-relay decision and the header clean-up for relayed responses
//! (PUSHPIN.md §1.6, §2.1).
//! Must not: do I/O.

use crate::config::Route;
use crate::http::headers::remove_hop_by_hop;
use crate::http::{Headers, ResponseHead};

/// What to do with an origin response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OriginReply {
    /// An ordinary response: relay it.
    Relay,
    /// It carries GRIP instructions: act on them.
    Grip,
}

/// Decides between relaying and GRIP processing.
pub fn classify(head: &ResponseHead, route: &Route) -> OriginReply {
    if !route.no_grip && crate::grip::is_grip_response(&head.headers) {
        OriginReply::Grip
    } else {
        OriginReply::Relay
    }
}

/// The headers a relayed response keeps: not `Connection` or what it names, no other
/// hop-by-hop or `Proxy-*` field, and no framing, which ringpin re-does for the client.
pub fn relay_headers(headers: &Headers) -> Headers {
    let mut out = headers.clone();
    remove_hop_by_hop(&mut out);
    out
}
