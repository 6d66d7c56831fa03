//! Body: a `/publish/` body's top level, read in one pass, one item at a time.
//!
//! Owns: `parse_items`, which walks `{"items": [...]}` and hands each item's JSON tree to
//! `item::parse_item` as soon as it is read, so only one item's tree exists at a time.
//! Must not: check an item's fields (`item.rs` does) or know the wire formats.
//! Why: a 2,500-item publish used to become one tree of 2,500 items first, then items;
//! building each item while its tree is still in cache and freeing it at once is cheaper
//! (issue 14, `router/publish_body`).
//! Invariants: the answer is the one Pushpin 1.36 gives, in its order of checks: a body that
//! is not JSON is refused as such even when an earlier item was invalid (the whole body is
//! read before any item error counts); then not an object, no `items`, `items` not a list,
//! then the first invalid item. A repeated `items` key means its last value, as a JSON map
//! keeps it. Everything other than the items is read as a `Json` tree and dropped, so
//! exactly the documents `serde_json::Value` accepts are accepted.

use std::fmt;

use serde::de::{Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::error::PublishError;
use super::item::{parse_item, PublishItem};
use super::json::{Json, Key};

/// Parses a `/publish/` body into items; any invalid item refuses the whole body.
pub fn parse_items(body: &[u8]) -> Result<Vec<PublishItem>, PublishError> {
    // JSON is UTF-8 throughout (only strings may hold non-ASCII, and serde_json's byte reader
    // refuses invalid UTF-8 in them), so one check of the whole body refuses exactly what it
    // would, and lets its `str` reader skip the check string by string.
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(PublishError::NotJson);
    };
    match serde_json::from_str::<Root>(text) {
        Err(_) => Err(PublishError::NotJson),
        Ok(Root::NotObject) => Err(PublishError::NotObject),
        Ok(Root::Object { items: None }) => Err(PublishError::MissingItems),
        Ok(Root::Object { items: Some(items) }) => items,
    }
}

/// A visitor's `visit_*` methods for every JSON scalar (`null`, booleans, numbers, strings),
/// each answering `$value`: the two visitors here treat every scalar alike.
macro_rules! every_scalar_is {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}

/// What the top level turned out to be.
enum Root {
    /// Any JSON value other than an object.
    NotObject,
    /// An object, with the outcome of its last `items` key if it has one.
    Object {
        items: Option<Result<Vec<PublishItem>, PublishError>>,
    },
}

impl<'de> Deserialize<'de> for Root {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Root, D::Error> {
        d.deserialize_any(RootVisitor)
    }
}

/// Reads the top level: an object's `items` are parsed, anything else is read and dropped.
struct RootVisitor;

impl<'de> Visitor<'de> for RootVisitor {
    type Value = Root;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a publish body")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Root, A::Error> {
        let mut items = None;
        while let Some(Key(key)) = map.next_key()? {
            if key == "items" {
                items = Some(map.next_value_seed(ItemsSeed)?);
            } else {
                map.next_value::<Json<'de>>()?;
            }
        }
        Ok(Root::Object { items })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Root, A::Error> {
        drain_seq(seq).map(|()| Root::NotObject)
    }

    every_scalar_is!(Root::NotObject);
}

/// The value of an `items` key: a list is parsed item by item; anything else is the wrong
/// type, once it has been read.
struct ItemsSeed;

impl<'de> DeserializeSeed<'de> for ItemsSeed {
    type Value = Result<Vec<PublishItem>, PublishError>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(ItemsVisitor)
    }
}

/// Reads the `items` value.
struct ItemsVisitor;

/// `items` that is not a list.
const WRONG_TYPE: Result<Vec<PublishItem>, PublishError> = Err(PublishError::ItemsWrongType);

impl<'de> Visitor<'de> for ItemsVisitor {
    type Value = Result<Vec<PublishItem>, PublishError>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of publish items")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Ok(Vec::new());
        while let Some(json) = seq.next_element::<Json<'de>>()? {
            // After the first invalid item the rest is still read: a syntax error further
            // on makes the body "not JSON", which Pushpin reports first.
            if let Ok(list) = &mut items {
                match parse_item(&json) {
                    Ok(item) => list.push(item),
                    Err(e) => items = Err(e),
                }
            }
        }
        Ok(items)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<Key<'de>, Json<'de>>()?.is_some() {}
        Ok(WRONG_TYPE)
    }

    every_scalar_is!(WRONG_TYPE);
}

/// Reads and drops every element of a list.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Json<'de>>()?.is_some() {}
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEM: &str = r#"{"channel": "c", "formats": {"http-stream": {"content": "x"}}}"#;
    const BAD_ITEM: &str = r#"{"formats": {"http-stream": {"content": "x"}}}"#;

    fn parse(body: &str) -> Result<Vec<PublishItem>, PublishError> {
        parse_items(body.as_bytes())
    }

    #[test]
    fn a_syntax_error_after_an_invalid_item_is_reported_as_not_json() {
        assert_eq!(
            parse(&format!(r#"{{"items": [{BAD_ITEM}, {ITEM}]}}"#)),
            Err(PublishError::MissingField {
                parent: "publish item object",
                field: "channel"
            })
        );
        assert_eq!(
            parse(&format!(r#"{{"items": [{BAD_ITEM}, {ITEM},]}}"#)),
            Err(PublishError::NotJson)
        );
        assert_eq!(
            parse(&format!(r#"{{"items": [{BAD_ITEM}], "x": "\ud800"}}"#)),
            Err(PublishError::NotJson),
            "a lone surrogate elsewhere in the body is still not JSON"
        );
    }

    #[test]
    fn the_top_level_is_checked_in_pushpin_s_order() {
        for body in ["[1, 2]", "\"items\"", "null", "true", "1.5", "-1"] {
            assert_eq!(parse(body), Err(PublishError::NotObject), "{body}");
        }
        assert_eq!(parse("[1, 2"), Err(PublishError::NotJson));
        assert_eq!(parse(r#"{"item": []}"#), Err(PublishError::MissingItems));
        for items in [r#"{"a": [1]}"#, "\"x\"", "1", "null", "false"] {
            let body = format!(r#"{{"items": {items}}}"#);
            assert_eq!(parse(&body), Err(PublishError::ItemsWrongType), "{body}");
        }
        assert_eq!(parse(r#"{"items": []}"#), Ok(Vec::new()));
    }

    #[test]
    fn the_last_items_key_counts() {
        let body = format!(
            r#"{{"items": [{BAD_ITEM}], "other": {{"k": [1]}}, "items": [{ITEM}, {ITEM}]}}"#
        );
        assert_eq!(parse(&body).map(|items| items.len()), Ok(2));
        let body = format!(r#"{{"items": [{ITEM}], "items": 5}}"#);
        assert_eq!(parse(&body), Err(PublishError::ItemsWrongType));
    }
}
