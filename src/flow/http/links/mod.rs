//! Next links and recovery for HTTP holds (PUSHPIN.md §3.8, §5.3): linked streams, link
//! fetches with retries and collapsing, and long-poll re-requests.
//!
//! Part of the HTTP flow: only HTTP holds follow links.

pub mod gone_link;
pub mod link_fetch;
pub mod next_link;
