//! Batch: publish bodies that carry many items, cut to fit Pushpin's body limit.
//!
//! Owns: the JSON of one publish item (built from a channel name and the formats shared by
//! every item of a POST), the body around a list of items, and the plan that cuts one
//! message's items into POSTs.
//! Must not: do I/O or read the clock (the coordinator stamps each POST's items).
//! Invariants: a planned body is never longer than [`PUBLISH_BODY_BYTES_MAX`], counted from
//! the real encoded items; the item JSON is byte for byte what serde_json writes for the
//! same object (keys in sorted order), so a one-item body equals the body `run` sent before
//! batching existed.

use std::ops::Range;

use crate::scenario::{Mode, Scenario};

/// Pushpin's limit on a publish request's body (`MAX_CONTENT_LENGTH` in its handler), which
/// ringpin keeps: a larger body is refused, so loadgen never sends one.
pub const PUBLISH_BODY_BYTES_MAX: usize = 1_000_000;

const BODY_OPEN: &[u8] = b"{\"items\":[";
const BODY_CLOSE: &[u8] = b"]}";

/// Why the items cannot be planned into POSTs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// One item alone makes a body over the limit.
    ItemTooLarge {
        item_bytes: usize,
        body_bytes_max: usize,
    },
    /// `--items-per-post 0`.
    ZeroItemsPerPost,
}

impl std::fmt::Display for BatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BatchError::ItemTooLarge {
                item_bytes,
                body_bytes_max,
            } => write!(
                f,
                "one publish item is {item_bytes} bytes: no body of at most {body_bytes_max} bytes holds it"
            ),
            BatchError::ZeroItemsPerPost => f.write_str("--items-per-post must be at least 1"),
        }
    }
}

/// The `formats` object of an item whose stream content is `stream` and whose long-poll
/// body and WebSocket message are `line`: every format, so one item serves every mode.
/// Written by hand for the sustained mode's per-item cost, in serde_json's key order and
/// escaping; bytes a message never holds (other control bytes, non-ASCII) go through
/// serde_json.
pub fn formats_json(stream: &[u8], line: &[u8]) -> Vec<u8> {
    let plain = |b: &[u8]| b.iter().all(|&c| c == b'\n' || (0x20..0x7f).contains(&c));
    if !plain(stream) || !plain(line) {
        return formats_json_serde(stream, line);
    }
    let mut out = Vec::with_capacity(stream.len() + 2 * line.len() + 96);
    out.extend_from_slice(b"{\"http-response\":{\"body\":");
    push_json_string(&mut out, line);
    out.extend_from_slice(b"},\"http-stream\":{\"content\":");
    push_json_string(&mut out, stream);
    out.extend_from_slice(b"},\"ws-message\":{\"content\":");
    push_json_string(&mut out, line);
    out.extend_from_slice(b"}}");
    out
}

/// The `formats` object with only `mode`'s format (`--item-formats mode`): `http-stream`
/// for stream and SSE, `http-response` for long-poll, `ws-message` for WebSockets.
pub fn mode_formats_json(mode: Mode, stream: &[u8], line: &[u8]) -> Vec<u8> {
    let plain = |b: &[u8]| b.iter().all(|&c| c == b'\n' || (0x20..0x7f).contains(&c));
    let (open, content): (&[u8], &[u8]) = match mode {
        Mode::Stream | Mode::Sse => (b"{\"http-stream\":{\"content\":", stream),
        Mode::Longpoll => (b"{\"http-response\":{\"body\":", line),
        Mode::Ws => (b"{\"ws-message\":{\"content\":", line),
    };
    let mut out = Vec::with_capacity(content.len() + 48);
    out.extend_from_slice(open);
    if plain(content) {
        push_json_string(&mut out, content);
    } else {
        let text = serde_json::to_string(&String::from_utf8_lossy(content))
            .expect("serializing a string cannot fail");
        out.extend_from_slice(text.as_bytes());
    }
    out.extend_from_slice(b"}}");
    out
}

/// The formats of one item as the scenario asks: every format, or only its mode's.
pub fn scenario_formats_json(s: &Scenario, stream: &[u8], line: &[u8]) -> Vec<u8> {
    if s.item_formats_mode_only {
        mode_formats_json(s.mode, stream, line)
    } else {
        formats_json(stream, line)
    }
}

/// A JSON string of printable ASCII and `\n`, escaped as serde_json escapes it.
fn push_json_string(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\n' => out.extend_from_slice(b"\\n"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn formats_json_serde(stream: &[u8], line: &[u8]) -> Vec<u8> {
    let formats = serde_json::json!({
        "http-stream": { "content": String::from_utf8_lossy(stream) },
        "http-response": { "body": String::from_utf8_lossy(line) },
        "ws-message": { "content": String::from_utf8_lossy(line) },
    });
    serde_json::to_vec(&formats).expect("serializing a JSON value cannot fail")
}

/// One item: `{"channel":"NAME","formats":FORMATS}`.
pub fn item_json(channel: &str, formats: &[u8]) -> Vec<u8> {
    let name = serde_json::to_string(channel).expect("serializing a string cannot fail");
    let mut item = Vec::with_capacity(name.len() + formats.len() + 24);
    item.extend_from_slice(b"{\"channel\":");
    item.extend_from_slice(name.as_bytes());
    item.extend_from_slice(b",\"formats\":");
    item.extend_from_slice(formats);
    item.push(b'}');
    item
}

/// `{"items":[ITEM,ITEM,…]}`: the reference the tests hold the faster builders in
/// publish_plan.rs and sustained.rs to.
#[cfg(test)]
pub fn body<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = BODY_OPEN.to_vec();
    for (i, item) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(item);
    }
    out.extend_from_slice(BODY_CLOSE);
    out
}

/// The length of [`body`] over items of these lengths.
pub fn body_len(item_lens: &[usize]) -> usize {
    BODY_OPEN.len()
        + BODY_CLOSE.len()
        + item_lens.iter().sum::<usize>()
        + item_lens.len().saturating_sub(1)
}

/// Cuts items (in order) into POSTs of at most `items_per_post_max` items (no count limit
/// when `None`) whose bodies are at most `body_bytes_max` bytes; returns each POST's item
/// range.
pub fn plan_posts(
    item_lens: &[usize],
    items_per_post_max: Option<usize>,
    body_bytes_max: usize,
) -> Result<Vec<Range<usize>>, BatchError> {
    let count_max = items_per_post_max.unwrap_or(usize::MAX);
    if count_max == 0 {
        return Err(BatchError::ZeroItemsPerPost);
    }
    let mut posts = Vec::new();
    let mut start = 0;
    let mut bytes = BODY_OPEN.len() + BODY_CLOSE.len();
    for (i, &len) in item_lens.iter().enumerate() {
        let alone = body_len(&[len]);
        if alone > body_bytes_max {
            return Err(BatchError::ItemTooLarge {
                item_bytes: len,
                body_bytes_max,
            });
        }
        let with = bytes + len + usize::from(i > start);
        if i > start && (with > body_bytes_max || i - start == count_max) {
            posts.push(start..i);
            start = i;
            bytes = alone;
        } else {
            bytes = with;
        }
    }
    if start < item_lens.len() {
        posts.push(start..item_lens.len());
    }
    Ok(posts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_formats_hold_only_the_mode_s_format_as_serde_json_writes_it() {
        let cases = [
            (Mode::Stream, "http-stream", "content", "data: 1 2 \"x\\\n"),
            (Mode::Sse, "http-stream", "content", "data: 1 2 x\n\n"),
            (Mode::Longpoll, "http-response", "body", "1 2 x\n"),
            (Mode::Ws, "ws-message", "content", "1 2 \u{1} é\n"),
        ];
        for (mode, format, field, text) in cases {
            let json = mode_formats_json(mode, text.as_bytes(), text.as_bytes());
            let want = serde_json::json!({ format: { field: text } });
            assert_eq!(json, serde_json::to_vec(&want).expect("json"), "{mode:?}");
        }
    }

    #[test]
    fn an_item_is_what_serde_writes_for_the_same_object() {
        let formats = formats_json(b"data: 1 2 x\n\n", b"1 2 x\n");
        let item = item_json("news-7", &formats);
        let expected = serde_json::json!({
            "channel": "news-7",
            "formats": {
                "http-stream": { "content": "data: 1 2 x\n\n" },
                "http-response": { "body": "1 2 x\n" },
                "ws-message": { "content": "1 2 x\n" },
            }
        });
        assert_eq!(item, serde_json::to_vec(&expected).expect("json"));
        let b = body([item.as_slice(), item.as_slice()]);
        let v: serde_json::Value = serde_json::from_slice(&b).expect("valid JSON");
        assert_eq!(v["items"][1], expected);
        assert_eq!(b.len(), body_len(&[item.len(), item.len()]));
        assert_eq!(body_len(&[]), body([]).len());
    }

    #[test]
    fn hand_written_formats_equal_serde_for_every_byte_a_message_may_hold() {
        let cases: [(&[u8], &[u8]); 4] = [
            (b"data: 1 2 xx\n\n", b"1 2 xx\n"),
            (b"a \"quoted\" \\ back\n", b"{}[]:,\n"),
            (b"tab\there\n", b"caf\xc3\xa9\n"),
            (b"", b""),
        ];
        for (stream, line) in cases {
            assert_eq!(
                formats_json(stream, line),
                formats_json_serde(stream, line),
                "{:?}",
                String::from_utf8_lossy(stream)
            );
        }
    }

    #[test]
    fn posts_fill_up_to_the_byte_limit_and_never_past_it() {
        // Bodies: 12 bytes of brackets, items and commas between them.
        let lens = [100; 10];
        let posts = plan_posts(&lens, None, 12 + 3 * 100 + 2).expect("plans");
        assert_eq!(posts, [0..3, 3..6, 6..9, 9..10]);
        // One byte less and only two fit.
        let posts = plan_posts(&lens, None, 12 + 3 * 100 + 1).expect("plans");
        assert_eq!(posts.first(), Some(&(0..2)));
        for max in [113, 500, 1_000, 5_000] {
            for p in plan_posts(&lens, None, max).expect("plans") {
                assert!(body_len(&lens[p]) <= max, "limit {max}");
            }
        }
        let all = plan_posts(&lens, None, PUBLISH_BODY_BYTES_MAX).expect("plans");
        assert_eq!(all.len(), 1);
        assert_eq!(all[0], 0..10);
    }

    #[test]
    fn items_per_post_caps_the_count_and_the_bytes_still_win() {
        let lens = [100; 7];
        let posts = plan_posts(&lens, Some(3), PUBLISH_BODY_BYTES_MAX).expect("plans");
        assert_eq!(posts, [0..3, 3..6, 6..7]);
        let posts = plan_posts(&lens, Some(5), 12 + 2 * 100 + 1 + 2).expect("plans");
        assert_eq!(posts, [0..2, 2..4, 4..6, 6..7]);
        let uneven = [10, 500, 10, 10];
        let posts = plan_posts(&uneven, None, 12 + 510 + 1).expect("plans");
        assert_eq!(posts, [0..2, 2..4]);
    }

    #[test]
    fn impossible_plans_are_errors() {
        assert_eq!(
            plan_posts(&[10, 2_000], None, 1_000),
            Err(BatchError::ItemTooLarge {
                item_bytes: 2_000,
                body_bytes_max: 1_000
            })
        );
        assert_eq!(
            plan_posts(&[10], Some(0), 1_000),
            Err(BatchError::ZeroItemsPerPost)
        );
        assert_eq!(plan_posts(&[], None, 1_000), Ok(vec![]));
    }
}
