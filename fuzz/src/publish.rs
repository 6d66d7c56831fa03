//! Publishing: `/publish/` JSON items, tnetstrings, ZeroMQ items and ZeroMQ commands.

use arbitrary::{Arbitrary, Unstructured};
use ringpin::limits::TNET_DEPTH_MAX;
use ringpin::publish::command::{encode_failure, encode_success, parse_command, Command};
use ringpin::publish::tnetstring::{encode_tnetstring, parse_tnetstring, Tnet, TnetError};
use ringpin::publish::zmq_item::parse_zmq_item;
use ringpin::publish::{encode_item, parse_items, PublishItem};

/// Every item of an accepted body encodes in every format.
pub fn items(data: &[u8]) {
    match parse_items(data) {
        Ok(items) => items.into_iter().for_each(check_item),
        Err(error) => assert!((400..=599).contains(&error.status())),
    }
}

fn check_item(item: PublishItem) {
    // An empty channel name is accepted today; whether Pushpin refuses it is an open question.
    let _ = encode_item(item);
}

fn encoded(value: &Tnet) -> Vec<u8> {
    let mut out = Vec::new();
    encode_tnetstring(value, &mut out);
    out
}

/// A parsed tnetstring re-encodes to a tnetstring that parses to the same value (compared by
/// encoding).
pub fn tnetstring(data: &[u8]) {
    if let Ok(value) = parse_tnetstring(data) {
        let again = encoded(&value);
        let reparsed = parse_tnetstring(&again).expect("an encoded tnetstring parses");
        assert_eq!(encoded(&reparsed), again, "re-encoded tnetstring");
    }
}

/// A tnetstring value as `arbitrary` builds it.
#[derive(Arbitrary, Debug)]
enum Value {
    Bytes(Vec<u8>),
    Int(i64),
    Float(f64),
    Bool(bool),
    Null,
    Map(Vec<(Vec<u8>, Value)>),
    List(Vec<Value>),
}

/// The value and its nesting depth: how deep the parser recurses for it (a scalar and an
/// empty container are 0).
fn to_tnet(value: Value) -> (Tnet, usize) {
    match value {
        Value::Bytes(b) => (Tnet::Bytes(b), 0),
        Value::Int(n) => (Tnet::Int(n), 0),
        Value::Float(f) => (Tnet::Float(f), 0),
        Value::Bool(b) => (Tnet::Bool(b), 0),
        Value::Null => (Tnet::Null, 0),
        Value::Map(pairs) => {
            let (mut out, mut depth) = (Vec::new(), 0);
            for (key, value) in pairs {
                let (value, inner) = to_tnet(value);
                depth = depth.max(inner + 1);
                out.push((key, value));
            }
            (Tnet::Map(out), depth)
        }
        Value::List(items) => {
            let (mut out, mut depth) = (Vec::new(), 0);
            for item in items {
                let (item, inner) = to_tnet(item);
                depth = depth.max(inner + 1);
                out.push(item);
            }
            (Tnet::List(out), depth)
        }
    }
}

/// Every value `encode_tnetstring` writes parses back to itself, unless it nests deeper than
/// `TNET_DEPTH_MAX`, which is refused as such.
pub fn tnetstring_roundtrip(data: &[u8]) {
    let Ok(value) = Value::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let (value, depth) = to_tnet(value);
    let bytes = encoded(&value);
    if has_non_finite(&value) {
        // Refused on purpose (JSON has no NaN or infinity); see the tnetstring module doc.
        assert!(
            parse_tnetstring(&bytes).is_err(),
            "a non-finite float accepted"
        );
        return;
    }
    match parse_tnetstring(&bytes) {
        Ok(parsed) => {
            assert!(depth <= TNET_DEPTH_MAX, "depth {depth} accepted");
            assert_eq!(parsed, value);
        }
        Err(TnetError::TooDeep) => assert!(depth > TNET_DEPTH_MAX, "depth {depth} refused"),
        Err(error) => panic!("an encoded tnetstring is refused: {error:?}"),
    }
}

fn has_non_finite(value: &Tnet) -> bool {
    match value {
        Tnet::Float(f) => !f.is_finite(),
        Tnet::Map(pairs) => pairs.iter().any(|(_, v)| has_non_finite(v)),
        Tnet::List(items) => items.iter().any(has_non_finite),
        _ => false,
    }
}

/// ZeroMQ publish items, PULL form (no channel frame) and SUB form (the bytes before the
/// first NUL are the channel frame).
pub fn zmq_item(data: &[u8]) {
    if let Ok(item) = parse_zmq_item(data, None) {
        check_item(item);
    }
    if let Some(nul) = data.iter().position(|&b| b == 0) {
        let (channel, payload) = (&data[..nul], &data[nul + 1..]);
        if let Ok(item) = parse_zmq_item(payload, Some(channel)) {
            assert_eq!(item.channel.as_bytes(), channel);
            check_item(item);
        }
    }
}

/// Every request that parses gets a reply that is a tnetstring map carrying its id.
pub fn zmq_command(data: &[u8]) {
    let Some(request) = parse_command(data) else {
        return;
    };
    let id = request.id.as_deref();
    let reply = match &request.command {
        Ok(Command::Publish(items)) => {
            items.iter().cloned().for_each(check_item);
            encode_success(id, Tnet::Null)
        }
        Ok(_) => encode_success(id, Tnet::Null),
        Err(failure) => encode_failure(id, failure),
    };
    let parsed = parse_tnetstring(&reply).expect("a reply parses");
    assert_eq!(parsed.get("id").and_then(Tnet::as_bytes), id);
}
