//! PublishPlan: how one message of a `run` becomes publish requests: one item per channel,
//! cut into POSTs that fit the body limit (`--channels`, `--items-per-post`).
//!
//! Owns: the channel names, each channel's item prefix, the POST plan (computed once from
//! the real encoded item sizes) and the body of each POST.
//! Must not: send anything or read the clock (the coordinator stamps each POST).
//! Invariants: every body it builds is at most [`batch::PUBLISH_BODY_BYTES_MAX`] bytes (the
//! plan is checked against each real body too); a message's encoded size does not depend
//! on its sequence number or stamp (message.rs pads to `size`), so the plan made from a
//! probe holds for every POST; with one channel and one URL a message is one POST of the
//! one-item body `run` always sent.

use std::ops::Range;

use crate::batch::{self, PUBLISH_BODY_BYTES_MAX};
use crate::channels;
use crate::message;
use crate::scenario::Scenario;

/// The channels and the POSTs of every message.
#[derive(Debug, Clone)]
pub struct PublishPlan {
    names: Vec<String>,
    /// `{"channel":"NAME","formats":` per channel: a POST's items differ only in this.
    item_prefixes: Vec<Vec<u8>>,
    posts: Vec<Range<usize>>,
}

impl PublishPlan {
    /// Plans the scenario's messages: `--channels` items each, in POSTs of at most
    /// `--items-per-post` items and [`PUBLISH_BODY_BYTES_MAX`] bytes.
    pub fn new(s: &Scenario) -> Result<PublishPlan, String> {
        let names: Vec<String> = (0..s.channels)
            .map(|c| channels::channel_name(&s.channel, s.channels, c))
            .collect();
        let item_prefixes: Vec<Vec<u8>> = names.iter().map(|n| item_prefix(n)).collect();
        let formats_len = formats(s, s.messages, 0).len();
        let lens: Vec<usize> = item_prefixes
            .iter()
            .map(|p| p.len() + formats_len + 1)
            .collect();
        let posts = batch::plan_posts(&lens, s.items_per_post, PUBLISH_BODY_BYTES_MAX)
            .map_err(|e| e.to_string())?;
        Ok(PublishPlan {
            names,
            item_prefixes,
            posts,
        })
    }

    /// The channel names, in channel order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Each POST's channel range, in sending order.
    pub fn posts(&self) -> &[Range<usize>] {
        &self.posts
    }

    /// The most items any POST carries.
    pub fn items_per_post_max(&self) -> usize {
        self.posts.iter().map(Range::len).max().unwrap_or(0)
    }

    /// The body of the POST of `channels`, each item with `formats` (from [`formats`]).
    pub fn body(&self, channels: Range<usize>, formats: &[u8]) -> Result<Vec<u8>, String> {
        let prefixes = &self.item_prefixes[channels];
        let len = prefixes
            .iter()
            .map(|p| p.len() + formats.len() + 2)
            .sum::<usize>()
            + 11;
        let mut body = Vec::with_capacity(len);
        body.extend_from_slice(b"{\"items\":[");
        for (i, prefix) in prefixes.iter().enumerate() {
            if i > 0 {
                body.push(b',');
            }
            body.extend_from_slice(prefix);
            body.extend_from_slice(formats);
            body.push(b'}');
        }
        body.extend_from_slice(b"]}");
        if body.len() > PUBLISH_BODY_BYTES_MAX {
            return Err(format!(
                "a planned publish body is {} bytes, over the {PUBLISH_BODY_BYTES_MAX}-byte limit",
                body.len()
            ));
        }
        Ok(body)
    }
}

/// The formats of message `seq` stamped `send_ns`, framed for the scenario's mode.
pub fn formats(s: &Scenario, seq: u64, send_ns: u64) -> Vec<u8> {
    let stream = message::encode_framed(seq, send_ns, s.size, s.mode.framing());
    let line = message::encode(seq, send_ns, s.size);
    batch::scenario_formats_json(s, &stream, &line)
}

fn item_prefix(channel: &str) -> Vec<u8> {
    let mut item = batch::item_json(channel, b"");
    item.pop(); // the closing brace: the formats go in between
    item
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(extra: &str) -> Scenario {
        let argv: Vec<String> = format!(
            "--proxy 127.0.0.1:7999 --publish http://127.0.0.1:5561 --mode stream --messages 3 --size 128 {extra}"
        )
        .split_whitespace()
        .map(String::from)
        .collect();
        Scenario::parse(&argv).expect("valid scenario")
    }

    #[test]
    fn one_channel_is_one_post_of_the_classic_body() {
        let s = scenario("--clients 10");
        let plan = PublishPlan::new(&s).expect("plans");
        assert_eq!(plan.posts().len(), 1);
        assert_eq!(plan.posts()[0], 0..1);
        let stream = message::encode_framed(2, 77, 128, s.mode.framing());
        let line = message::encode(2, 77, 128);
        let body = plan.body(0..1, &formats(&s, 2, 77)).expect("fits");
        assert_eq!(
            body,
            crate::publisher::publish_body("loadgen", &stream, &line)
        );
    }

    #[test]
    fn many_channels_are_cut_into_posts_whose_items_are_every_channel_once() {
        let s = scenario("--clients 60 --channels 20 --items-per-post 6");
        let plan = PublishPlan::new(&s).expect("plans");
        assert_eq!(plan.posts(), [0..6, 6..12, 12..18, 18..20]);
        assert_eq!(plan.items_per_post_max(), 6);
        let f = formats(&s, 1, 5);
        let mut seen = Vec::new();
        for post in plan.posts() {
            let body = plan.body(post.clone(), &f).expect("fits");
            let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
            for item in v["items"].as_array().expect("items") {
                assert_eq!(
                    item["formats"]["http-stream"]["content"]
                        .as_str()
                        .map(str::len),
                    Some(128)
                );
                seen.push(item["channel"].as_str().expect("channel").to_string());
            }
        }
        let expected: Vec<String> = (0..20).map(|c| format!("loadgen-{c}")).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn without_a_count_the_byte_limit_decides_and_every_body_fits() {
        let s = scenario("--clients 20000 --channels 20000 --size 512");
        let plan = PublishPlan::new(&s).expect("plans");
        assert!(
            plan.posts().len() > 1,
            "20,000 items of 512 B need several POSTs"
        );
        let f = formats(&s, 3, u64::MAX);
        for post in plan.posts() {
            let body = plan.body(post.clone(), &f).expect("fits");
            assert!(body.len() <= PUBLISH_BODY_BYTES_MAX);
        }
        let last_full = &plan.posts()[0];
        let one_more = plan.body(last_full.start..last_full.end + 1, &f);
        assert!(
            one_more.is_err(),
            "the plan fills each POST as far as the limit allows"
        );
    }
}
