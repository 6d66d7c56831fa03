//! The HTTP flow: a request that is not an upgrade, from its body to the answer: relayed,
//! accepted as GRIP and held, or followed through next links.
//!
//! `request.rs` reads the body and picks the route; `proxy.rs` asks the origin; `relay.rs`
//! passes an ordinary answer on as it arrives; `accept.rs` acts on GRIP instructions; `links/`
//! follows next links and recovers holds; `test_target.rs` is the built-in `test` origin;
//! `held.rs` is what a request hands back to its connection's task, a stream hold included.

mod accept;
mod client_watch;
mod held;
pub mod links;
pub mod proxy;
mod relay;
mod request;
pub mod test_target;

pub use held::{Handled, HeldStream};
pub use request::handle_request;
