//! GRIP semantics, pure: what an origin's GRIP response means, and Grip-Sig tokens.
//!
//! Owns: the GRIP header grammar (`params`), `Instruction` parsing from `Grip-*` headers and
//! `application/grip-instruct` bodies (`instruct`), keep-alive data and timing
//! (`keep_alive`), the Grip-Sig JWT (`sig`), RFC 6902 JSON Patch (`json_patch`), the
//! merge of a published `http-response` into a held long-poll's response (`published`), the
//! per-subscriber filters (`filter`) with their `%`-directive templates (`template`), and
//! GRIP Next link resolution with the `Grip-Last` header (`link`).
//! Must not: own sockets, timers or tasks, read the clock, or import anything above layer 0
//! besides `http`, `limits` and the `publish::item` format types (STYLE.md §2).
//! Invariants: behaviour follows Pushpin 1.36 (PUSHPIN.md §1.4, §2) except where a module
//! doc says ringpin is stricter; every rejection is an `InstructError` or `SigError`.

mod error;
pub mod filter;
pub mod instruct;
mod instruct_json;
pub mod json_patch;
pub mod keep_alive;
pub mod link;
pub mod params;
pub mod published;
pub mod sig;
pub mod template;

pub use error::InstructError;
pub use filter::{Filter, FilterError, ItemView, SubscriberFilters, Verdict};
pub use instruct::{
    is_grip_response, parse_instruction, ChannelSub, ClientResponse, HoldMode, Instruction,
    KeepAlive, KeepAliveMode, NextLink,
};
pub use json_patch::{apply_patch, OpError, PatchError};
pub use keep_alive::{jittered_period, unescape_cstring, KeepAliveSchedule};
pub use link::{encode_grip_last, request_url, request_url_on, resolve_link, LinkError, LinkUrl};
pub use params::{parse_header_params, HeaderParam};
pub use published::merge_published;
pub use sig::{Claims, SigError};
