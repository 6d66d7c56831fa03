//! Item: what the soak publishes, how a subscriber tells one item from another, and the
//! GRIP channel names.
//!
//! Owns: channel names, the tag that carries an item's channel and per-channel sequence
//! number, the publish JSON, and the long-poll body the soak backend writes for an item.
//! Must not: do I/O or read the clock (send times are passed in).
//! Invariants:
//! * logical channel `c` is two GRIP channels published in one request: `soak-c` (streams,
//!   long-polls and WebSockets, one line per item) and `soak-c-sse` (SSE, one event per
//!   item), since an `http-stream` item has one framing;
//! * item `n` of channel `c` has id `n` and prev-id `n - 1` on both, so ringpin can sequence
//!   and recover it, and its message value is [`crate::message`]'s `SEQ SEND_NS xxx…` with
//!   `SEQ` = `n * CHANNELS_MAX + c`: a subscriber recovers `c` and `n` and notices an item
//!   of another channel;
//! * every encoding of an item is exactly the run's size in bytes, as `message` requires.

use crate::message::{self, Framing};

/// Logical channels at most; also the tag's radix.
pub(crate) const CHANNELS_MAX: u64 = 1000;

/// The line-framed GRIP channel of logical channel `c`.
pub(crate) fn channel_name(c: u64) -> String {
    format!("soak-{c}")
}

/// The SSE GRIP channel of logical channel `c`.
pub(crate) fn sse_channel_name(c: u64) -> String {
    format!("soak-{c}-sse")
}

/// The logical channel of a line-framed channel name (`soak-c`).
pub(crate) fn parse_channel_name(name: &str) -> Option<u64> {
    let c: u64 = name.strip_prefix("soak-")?.parse().ok()?;
    (c < CHANNELS_MAX).then_some(c)
}

/// The message `SEQ` of item `n` of channel `c`.
pub(crate) fn tag(c: u64, n: u64) -> u64 {
    n * CHANNELS_MAX + c
}

/// `(channel, n)` of a message `SEQ`.
pub(crate) fn untag(tag: u64) -> (u64, u64) {
    (tag % CHANNELS_MAX, tag / CHANNELS_MAX)
}

/// The smallest item size that holds any tag of a run with `items_max` items per channel.
pub(crate) fn min_size(items_max: u64) -> usize {
    message::min_size(tag(CHANNELS_MAX - 1, items_max), Framing::SseEvent)
}

/// The publish request body of item `n` of channel `c`, stamped `send_ns`.
pub(crate) fn publish_body(c: u64, n: u64, send_ns: u64, size: usize) -> Vec<u8> {
    let line = message::encode_framed(tag(c, n), send_ns, size, Framing::Line);
    let sse = message::encode_framed(tag(c, n), send_ns, size, Framing::SseEvent);
    let line = String::from_utf8_lossy(&line);
    let sse = String::from_utf8_lossy(&sse);
    let (id, prev_id) = (n.to_string(), (n - 1).to_string());
    let body = serde_json::json!({
        "items": [
            {
                "channel": channel_name(c),
                "id": id,
                "prev-id": prev_id,
                "formats": {
                    "http-stream": { "content": line },
                    "http-response": { "body": line },
                    "ws-message": { "content": line },
                }
            },
            {
                "channel": sse_channel_name(c),
                "id": id,
                "prev-id": prev_id,
                "formats": { "http-stream": { "content": sse } }
            }
        ]
    });
    serde_json::to_vec(&body).expect("a JSON value always serializes")
}

/// The body the soak backend answers a long-poll with for item `n` of channel `c`: the
/// published line, with send time 0, which marks it as served by the backend.
pub(crate) fn backend_body(c: u64, n: u64, size: usize) -> Vec<u8> {
    message::encode_framed(tag(c, n), 0, size, Framing::Line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_carry_channel_and_number() {
        assert_eq!(tag(42, 57), 57_042);
        assert_eq!(untag(57_042), (42, 57));
        assert_eq!(untag(tag(999, 1)), (999, 1));
        assert_eq!(parse_channel_name("soak-17"), Some(17));
        assert_eq!(parse_channel_name(&channel_name(3)), Some(3));
        for bad in ["soak-", "soak-x", "soak-1000", "other-1", "soak-1-sse"] {
            assert_eq!(parse_channel_name(bad), None, "{bad}");
        }
    }

    #[test]
    fn publish_body_names_both_channels_with_ids_and_exact_sizes() {
        let size = min_size(10_000);
        let body = publish_body(7, 3, 123, size);
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        let items = v["items"].as_array().expect("items");
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["channel"], "soak-7");
        assert_eq!(items[1]["channel"], "soak-7-sse");
        for item in items {
            assert_eq!((&item["id"], &item["prev-id"]), (&"3".into(), &"2".into()));
        }
        let line = items[0]["formats"]["http-response"]["body"]
            .as_str()
            .expect("body");
        assert_eq!(line.len(), size);
        let stamp = message::parse(&line.as_bytes()[..size - 1]).expect("a message");
        assert_eq!((untag(stamp.seq), stamp.send_ns), ((7, 3), 123));
        let sse = items[1]["formats"]["http-stream"]["content"]
            .as_str()
            .expect("sse");
        assert!(sse.starts_with("data: 3007 123 ") && sse.ends_with("\n\n"));
        assert_eq!(sse.len(), size);
    }

    #[test]
    fn backend_body_is_the_line_with_send_time_zero() {
        let body = backend_body(1, 9, 64);
        assert_eq!(body.len(), 64);
        let stamp = message::parse(&body[..63]).expect("a message");
        assert_eq!((stamp.seq, stamp.send_ns), (9001, 0));
    }
}
