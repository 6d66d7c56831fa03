//! Auto cross-origin, pure: Pushpin's `auto_cross_origin` / `aco` (PUSHPIN.md §1.9), CORS
//! response headers and JSONP.
//!
//! Owns: what a request with cross-origin support does to its responses, on the
//! `http::CrossOrigin` the flows keep with the request: the `Access-Control-*` fields
//! (`cors.rs`), a JSONP `GET` turned into the origin request (`jsonp_request.rs`), and
//! responses wrapped in the callback (`jsonp_wrap.rs`), both as Pushpin's proxy wraps them
//! (relayed answers and ringpin's own errors) and as its handler does (a long-poll's final
//! response).
//! Must not: do I/O, log or read the clock; decide when cross-origin support is on (the
//! flows do, from `Config::auto_cross_origin` and the route's `aco`).
//! Invariants: CORS fields are only added, never replace one a response has; a response
//! wrapped for JSONP gets no CORS fields, as in Pushpin.

pub mod cors;
pub mod jsonp_request;
pub mod jsonp_wrap;

pub use cors::{add_cors, cors_fields, request_fields};
pub use jsonp_request::{convert_request, JsonpError};
pub use jsonp_wrap::{finish_held, finish_own, JsonpRelay};
