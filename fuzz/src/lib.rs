//! The checks behind every fuzz target, one `fn(&[u8])` per target.
//!
//! Each target in `fuzz_targets/` calls exactly one of these, and `tests/fuzz_replay.rs` in
//! the root package includes this file (`#[path]`) and calls the same function on every
//! committed corpus file and crash artifact, so the checks run on stable without a fuzzer.
//! Structure-aware targets build their input with `arbitrary` from the same bytes.
//! A check panics (an assertion) when a parser breaks an invariant; a parser error is not a
//! failure, only a panic, a hang or a broken invariant is.

pub mod config;
pub mod grip;
pub mod http;
pub mod publish;
pub mod ws;

/// A target's check: panics when the parser breaks an invariant on these bytes.
pub type Check = fn(&[u8]);

/// Every target: its name (the `fuzz_targets/<name>.rs` file and `corpus/<name>/` folder)
/// and its check.
pub const TARGETS: &[(&str, Check)] = &[
    ("http_request_head", http::request_head),
    ("http_response_head", http::response_head),
    ("http_body_decoder", http::body_decoder),
    ("http_chunked_roundtrip", http::chunked_roundtrip),
    ("ws_frame_decoder", ws::frame_decoder),
    ("ws_frame_roundtrip", ws::frame_roundtrip),
    ("ws_close_payload", ws::close_payload),
    ("ws_control", ws::control),
    ("ws_over_http_events", ws::over_http_events),
    ("ws_over_http_roundtrip", ws::over_http_roundtrip),
    ("grip_instruct", grip::instruct),
    ("grip_instruct_json", grip::instruct_json),
    ("publish_items", publish::items),
    ("tnetstring", publish::tnetstring),
    ("tnetstring_roundtrip", publish::tnetstring_roundtrip),
    ("zmq_item", publish::zmq_item),
    ("zmq_command", publish::zmq_command),
    ("config_conf_file", config::conf_file),
    ("config_routes", config::routes),
];

/// Splits `data` into pieces whose lengths come from `sizes` (each 1 + byte % 16, cycled),
/// for the "any split parses the same" checks.
pub fn pieces<'a>(data: &'a [u8], sizes: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    let mut index = 0;
    while at < data.len() {
        let size = sizes
            .get(index % sizes.len().max(1))
            .map_or(1, |s| 1 + usize::from(s % 16));
        let end = (at + size).min(data.len());
        out.push(&data[at..end]);
        at = end;
        index += 1;
    }
    out
}
