//! Property tests for the pure codecs and state machines (issue 15 item 3): any split of a
//! byte stream parses to the same messages, encoders and decoders round-trip, and the
//! router's sequencer never delivers an id twice nor reorders a channel.
//!
//! The split properties reuse the fuzz checks (`fuzz/src/`), which compare whole and split
//! decoding themselves; proptest feeds them structured inputs and shrinks a failure.

#[allow(dead_code, unreachable_pub)]
#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use proptest::prelude::*;
use ringpin::http::{
    encode_chunk, encode_request_head, parse_request, BodyKind, HeadLimits, Headers, RequestHead,
    Version, LAST_CHUNK,
};
use ringpin::publish::tnetstring::{encode_tnetstring, parse_tnetstring, Tnet};
use ringpin::publish::PublishItem;
use ringpin::router::sequence::{Sequencer, SequencerConfig};
use ringpin::ws::{
    encode_events, encode_masked_frame, parse_events, FrameDecoder, FrameLimits, WohEvent,
};
use tungstenite::protocol::frame::coding::{Data, OpCode};

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn a_chunked_body_decodes_the_same_in_any_split(
        chunks in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..40), 0..8),
        sizes in prop::collection::vec(any::<u8>(), 0..8),
        after in prop::collection::vec(any::<u8>(), 0..8),
    ) {
        let mut wire: Vec<u8> = chunks.iter().flat_map(|c| encode_chunk(c).to_vec()).collect();
        wire.extend_from_slice(LAST_CHUNK);
        let body_bytes = wire.len();
        wire.extend_from_slice(&after);
        let decoded = checks::http::decode_in_pieces(BodyKind::Chunked, &wire, &sizes);
        prop_assert_eq!(decoded, Ok((chunks.concat(), body_bytes, true)));
    }

    #[test]
    fn any_body_bytes_decode_the_same_whole_and_split(data in prop::collection::vec(any::<u8>(), 0..200)) {
        checks::http::body_decoder(&data);
    }

    #[test]
    fn any_frame_bytes_decode_the_same_whole_and_split(data in prop::collection::vec(any::<u8>(), 0..200)) {
        checks::ws::frame_decoder(&data);
    }

    #[test]
    fn fragmented_masked_messages_decode_the_same_in_any_split(
        messages in prop::collection::vec((any::<bool>(), ".{0,40}", 1usize..16), 1..6),
        mask in any::<[u8; 4]>(),
        sizes in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let mut wire = Vec::new();
        for (binary, text, step) in &messages {
            let first = if *binary { Data::Binary } else { Data::Text };
            let pieces: Vec<&[u8]> = text.as_bytes().chunks(*step).collect();
            let count = pieces.len().max(1);
            for index in 0..count {
                let piece = pieces.get(index).copied().unwrap_or(&[]);
                let opcode = OpCode::Data(if index == 0 { first } else { Data::Continue });
                wire.extend(encode_masked_frame(opcode, index + 1 == count, piece, mask));
            }
        }
        let limits = FrameLimits { message_bytes_max: 1 << 16, frame_payload_bytes_max: 1 << 16 };
        let whole = checks::ws::decode_stream(FrameDecoder::new(limits), vec![&wire]);
        let split = checks::ws::decode_stream(FrameDecoder::new(limits), checks::pieces(&wire, &sizes));
        prop_assert_eq!(&split, &whole);
        let events = format!("{whole:?}");
        for (_, text, _) in &messages {
            let expected = format!("{:?}", Bytes::copy_from_slice(text.as_bytes()));
            prop_assert!(events.contains(&expected), "{} not in {}", expected, events);
        }
    }

    #[test]
    fn a_request_head_parses_only_once_whole_and_round_trips(
        method in "[A-Z]{1,8}",
        path in "/[a-zA-Z0-9/?=&%._~-]{0,40}",
        fields in prop::collection::vec(("[A-Za-z][A-Za-z0-9-]{0,12}", "[ -~]{0,30}"), 0..6),
        http10 in any::<bool>(),
        sizes in prop::collection::vec(any::<u8>(), 1..8),
    ) {
        let mut headers = Headers::new();
        for (name, value) in &fields {
            headers.push(name.clone(), value.trim().as_bytes().to_vec());
        }
        let head = RequestHead {
            method,
            target: path,
            version: if http10 { Version::Http10 } else { Version::Http11 },
            headers,
        };
        prop_assume!(head.headers.iter().filter(|f| f.name.eq_ignore_ascii_case("host")).count() <= 1);
        let mut wire = Vec::new();
        encode_request_head(&head, &mut wire);
        let mut buffered = Vec::new();
        for piece in checks::pieces(&wire, &sizes) {
            buffered.extend_from_slice(piece);
            let parsed = parse_request(&buffered, &HeadLimits::CLIENT);
            if buffered.len() < wire.len() {
                prop_assert_eq!(parsed, Ok(None));
            } else {
                prop_assert_eq!(parsed, Ok(Some((head.clone(), wire.len()))));
            }
        }
    }

    #[test]
    fn websocket_over_http_events_round_trip(events in prop::collection::vec(woh_event(), 0..8)) {
        prop_assert_eq!(parse_events(&encode_events(&events)), Ok(events));
    }

    #[test]
    fn tnetstrings_round_trip(value in tnet()) {
        let mut wire = Vec::new();
        encode_tnetstring(&value, &mut wire);
        prop_assert_eq!(parse_tnetstring(&wire), Ok(value));
    }
}

fn woh_event() -> impl Strategy<Value = WohEvent> {
    let content = || prop::collection::vec(any::<u8>(), 0..20).prop_map(Bytes::from);
    prop_oneof![
        content().prop_map(WohEvent::Open),
        content().prop_map(WohEvent::Text),
        content().prop_map(WohEvent::Binary),
        content().prop_map(WohEvent::Ping),
        content().prop_map(WohEvent::Pong),
        prop::option::of((any::<u16>(), ".{0,20}")).prop_map(WohEvent::Close),
        Just(WohEvent::Disconnect),
    ]
}

fn tnet() -> impl Strategy<Value = Tnet> {
    let leaf = prop_oneof![
        prop::collection::vec(any::<u8>(), 0..12).prop_map(Tnet::Bytes),
        any::<i64>().prop_map(Tnet::Int),
        // NaN and infinity are refused on purpose (JSON has neither); other floats survive.
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Tnet::Float),
        any::<bool>().prop_map(Tnet::Bool),
        Just(Tnet::Null),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Tnet::List),
            prop::collection::vec((prop::collection::vec(any::<u8>(), 0..6), inner), 0..6)
                .prop_map(Tnet::Map),
        ]
    })
}

fn item(channel: &str, id: Option<String>, prev_id: Option<String>) -> PublishItem {
    PublishItem {
        channel: channel.to_owned(),
        id,
        prev_id,
        meta: Vec::new(),
        no_seq: false,
        http_response: None,
        http_stream: None,
        ws_message: None,
    }
}

/// One step of a publisher/router history.
#[derive(Clone, Debug)]
enum Op {
    Publish {
        channel: u8,
        id: Option<u8>,
        prev_id: Option<u8>,
    },
    Advance(u16),
    Unsubscribe(u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..3, prop::option::of(0u8..12), prop::option::of(0u8..12))
            .prop_map(|(channel, id, prev_id)| Op::Publish { channel, id, prev_id }),
        2 => (0u16..3000).prop_map(Op::Advance),
        1 => (0u8..3).prop_map(Op::Unsubscribe),
    ]
}

const WAIT: Duration = Duration::from_millis(1000);

fn sequencer() -> Sequencer {
    Sequencer::new(SequencerConfig {
        message_wait: WAIT,
        id_cache_ttl: Duration::from_secs(3600),
    })
}

proptest! {
    #![proptest_config(config())]

    /// Whatever arrives, in whatever order and timing, no (channel, id) is released twice
    /// within the id cache's lifetime.
    #[test]
    fn the_sequencer_never_releases_an_id_twice(ops in prop::collection::vec(op(), 0..80)) {
        let mut sequencer = sequencer();
        let mut now = Instant::now();
        let mut released = Vec::new();
        for op in ops {
            match op {
                Op::Publish { channel, id, prev_id } => {
                    let item = item(&format!("c{channel}"), id.map(|i| i.to_string()), prev_id.map(|i| i.to_string()));
                    released.extend(sequencer.on_publish(item, true, now));
                }
                Op::Advance(ms) => {
                    now += Duration::from_millis(u64::from(ms));
                    released.extend(sequencer.on_timeout(now));
                }
                Op::Unsubscribe(channel) => sequencer.on_channel_unsubscribed(&format!("c{channel}")),
            }
        }
        released.extend(sequencer.on_timeout(now + WAIT));
        let mut seen = HashSet::new();
        for item in released.iter().filter(|i| i.id.is_some()) {
            prop_assert!(seen.insert((item.channel.clone(), item.id.clone())), "{:?} twice", item);
        }
    }

    /// Chains of items (each naming the one before as `prev-id`) published in any order
    /// within `message_wait` come out per channel in chain order, each once.
    #[test]
    fn the_sequencer_never_reorders_a_channel(
        lengths in prop::collection::vec(2usize..20, 1..4),
        order in prop::collection::vec(any::<prop::sample::Index>(), 60),
    ) {
        let mut sequencer = sequencer();
        let now = Instant::now();
        let mut pending = Vec::new();
        let mut released = Vec::new();
        for (channel, &length) in lengths.iter().enumerate() {
            let chain = chain(channel, length);
            // The first item sets the channel's last id; the rest arrive shuffled.
            released.extend(sequencer.on_publish(chain[0].clone(), true, now));
            pending.extend(chain.into_iter().skip(1));
        }
        for pick in order {
            if pending.is_empty() {
                break;
            }
            let next = pending.swap_remove(pick.index(pending.len()));
            released.extend(sequencer.on_publish(next, true, now));
        }
        for next in pending {
            released.extend(sequencer.on_publish(next, true, now));
        }
        prop_assert_eq!(sequencer.parked_len(), 0);
        let mut by_channel: BTreeMap<String, Vec<usize>> = BTreeMap::new();
        for item in &released {
            let id = item.id.as_deref().unwrap_or_default().parse().unwrap_or(usize::MAX);
            by_channel.entry(item.channel.clone()).or_default().push(id);
        }
        for (channel, &length) in lengths.iter().enumerate() {
            prop_assert_eq!(&by_channel[&format!("c{channel}")], &(0..length).collect::<Vec<_>>());
        }
    }

    /// With `message_wait` passing at random moments, every item of the chains is still
    /// released exactly once: a gap delays or reorders, it never loses or repeats.
    #[test]
    fn the_sequencer_releases_every_item_once_whatever_the_timing(
        lengths in prop::collection::vec(2usize..20, 1..4),
        order in prop::collection::vec((any::<prop::sample::Index>(), 0u16..1500), 60),
    ) {
        let mut sequencer = sequencer();
        let mut now = Instant::now();
        let mut pending: Vec<PublishItem> = lengths.iter().enumerate().flat_map(|(c, &n)| chain(c, n)).collect();
        let total = pending.len();
        let mut released = Vec::new();
        for (pick, ms) in order {
            if pending.is_empty() {
                break;
            }
            now += Duration::from_millis(u64::from(ms));
            released.extend(sequencer.on_timeout(now));
            let next = pending.swap_remove(pick.index(pending.len()));
            released.extend(sequencer.on_publish(next, true, now));
        }
        for next in pending {
            released.extend(sequencer.on_publish(next, true, now));
        }
        released.extend(sequencer.on_timeout(now + WAIT));
        let unique: HashSet<_> = released.iter().map(|i| (i.channel.clone(), i.id.clone())).collect();
        prop_assert_eq!((released.len(), unique.len()), (total, total));
    }
}

/// Items `0..length` of channel `c{channel}`, each naming the one before as `prev-id`.
fn chain(channel: usize, length: usize) -> Vec<PublishItem> {
    (0..length)
        .map(|n| {
            let prev = n.checked_sub(1).map(|p| p.to_string());
            item(&format!("c{channel}"), Some(n.to_string()), prev)
        })
        .collect()
}
