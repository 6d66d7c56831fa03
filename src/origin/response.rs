//! What ringpin does with an origin's response head.
//!
//! Owns: the GRIP-or-relay decision and the header clean-up for relayed responses
//! (PUSHPIN.md §1.6, §2.1).
//! Must not: do I/O.

use crate::config::Route;
use crate::http::{Headers, ResponseHead};

/// Response headers never relayed to a client; framing is re-done by ringpin.
const REMOVED: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "content-length",
    "trailer",
    "upgrade",
];

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

/// The headers a relayed response keeps.
pub fn relay_headers(headers: &Headers) -> Headers {
    let mut out = headers.clone();
    for name in REMOVED {
        out.remove(name);
    }
    out
}
