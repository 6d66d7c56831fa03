//! Json: a publish body's JSON, parsed without copying what it does not have to.
//!
//! Owns: `Json`, a JSON tree whose strings borrow from the body when they hold no escape,
//! whose objects are lists of entries in body order, and the conversions from and to
//! `serde_json::Value` for the inputs and fields that still need one.
//! Must not: know what a publish item is (`item.rs` does).
//! Why: building `serde_json::Value` copied every key and every string and built a
//! `BTreeMap` per object; that was most of a 2,500-item publish's cost before it could be
//! answered (issue 14, `router/publish_body`). This tree makes one vector per object and
//! array and copies nothing else.
//! Invariants: accepts and refuses exactly the documents `Value` does (the same
//! `serde_json` reader, so the same syntax errors and recursion limit); numbers are
//! `serde_json::Number`, as in `Value`; a key given twice means its last value, and
//! `Object::entries` yields keys sorted and once each, as `Value`'s `BTreeMap` did, so
//! nothing that reads the tree can tell it from a `Value`.

use std::borrow::Cow;
use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A JSON value, borrowing its strings from the text it was read from where it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    /// `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number, as `serde_json` reads it.
    Number(Number),
    /// A string: borrowed unless it held an escape.
    String(Cow<'a, str>),
    /// A list.
    Array(Vec<Json<'a>>),
    /// An object.
    Object(Object<'a>),
}

/// A JSON object: its entries in body order, duplicates kept (the last one counts).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Object<'a> {
    entries: Vec<(Cow<'a, str>, Json<'a>)>,
}

impl<'a> Object<'a> {
    /// The value of `key`: its last occurrence, as a JSON object map keeps it.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.entries
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v)
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every key once, sorted, with its last value: the order and content of
    /// `serde_json::Map` without `preserve_order`, which Pushpin's `QVariantMap` shares.
    pub fn entries(&self) -> Vec<(&str, &Json<'a>)> {
        let mut sorted: Vec<(&str, &Json<'a>)> =
            self.entries.iter().map(|(k, v)| (&**k, v)).collect();
        // Stable: among equal keys the body order stays, so the last of each run is the
        // value that counts.
        sorted.sort_by(|a, b| a.0.cmp(b.0));
        let mut unique: Vec<(&str, &Json<'a>)> = Vec::with_capacity(sorted.len());
        for (key, value) in sorted {
            match unique.last_mut() {
                Some(last) if last.0 == key => last.1 = value,
                _ => unique.push((key, value)),
            }
        }
        unique
    }

    /// Sets `key` to `value`, replacing every earlier occurrence.
    pub fn insert(&mut self, key: &'a str, value: Json<'a>) {
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((Cow::Borrowed(key), value));
    }
}

impl<'a> Json<'a> {
    /// Parses a whole document; `Err` exactly when `serde_json::from_slice::<Value>` fails.
    pub fn parse(text: &'a [u8]) -> Result<Json<'a>, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// The object, if this is one.
    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    /// The list, if this is one.
    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(a) => Some(a),
            _ => None,
        }
    }

    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Json::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// The number, if this is one.
    pub fn as_number(&self) -> Option<&Number> {
        match self {
            Json::Number(n) => Some(n),
            _ => None,
        }
    }

    /// True for a list.
    pub fn is_array(&self) -> bool {
        matches!(self, Json::Array(_))
    }

    /// An owned `serde_json::Value` of this tree, for the rare field kept as JSON (a
    /// `body-patch`).
    pub fn to_value(&self) -> Value {
        match self {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.to_string()),
            Json::Array(a) => Value::Array(a.iter().map(Json::to_value).collect()),
            Json::Object(o) => Value::Object(
                o.entries()
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_value()))
                    .collect::<Map<String, Value>>(),
            ),
        }
    }
}

/// A tree borrowing from a `Value`: the ZeroMQ inputs decode into `Value` first.
impl<'a> From<&'a Value> for Json<'a> {
    fn from(value: &'a Value) -> Json<'a> {
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Number(n) => Json::Number(n.clone()),
            Value::String(s) => Json::String(Cow::Borrowed(s)),
            Value::Array(a) => Json::Array(a.iter().map(Json::from).collect()),
            Value::Object(map) => Json::Object(Object {
                entries: map
                    .iter()
                    .map(|(k, v)| (Cow::Borrowed(k.as_str()), Json::from(v)))
                    .collect(),
            }),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json<'de>, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

/// Builds a `Json` from whatever the reader finds.
struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E>(self, f: f64) -> Result<Json<'de>, E> {
        // As `Value` does: a float JSON text cannot spell (NaN, infinity) becomes null.
        Ok(Number::from_f64(f).map_or(Json::Null, Json::Number))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut list = Vec::new();
        while let Some(value) = seq.next_element()? {
            list.push(value);
        }
        Ok(Json::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::new();
        while let Some(Key(key)) = map.next_key()? {
            entries.push((key, map.next_value()?));
        }
        Ok(Json::Object(Object { entries }))
    }
}

/// An object key, borrowed when it holds no escape (`Cow<str>`'s own `Deserialize` always
/// copies).
pub(super) struct Key<'a>(pub(super) Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

/// Reads one object key.
struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Documents `Value` reads, each compared through `to_value`.
    const SAME_AS_VALUE: &[&str] = &[
        r#"{"items": [{"channel": "c", "formats": {"http-stream": {"content": "x"}}}]}"#,
        r#"{"a": 1, "b": -2, "c": 1.5, "d": 1e400, "e": 18446744073709551615, "f": null}"#,
        r#"{"z": 1, "a": 2, "z": 3, "m": {"k": "first", "k": "second"}}"#,
        r#"["esc\"aped\n", "\u00e9\ud83d\ude00", true, false, [], {}]"#,
        r#"  "just a string"  "#,
        "12345678901234567890123",
    ];

    #[test]
    fn reads_what_serde_json_value_reads() {
        for text in SAME_AS_VALUE {
            let ours = Json::parse(text.as_bytes()).map(|j| j.to_value());
            let theirs = serde_json::from_slice::<Value>(text.as_bytes());
            match (ours, theirs) {
                (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
                (Err(_), Err(_)) => {}
                (a, b) => panic!("{text}: ours {a:?}, Value {b:?}"),
            }
        }
    }

    #[test]
    fn refuses_what_serde_json_value_refuses() {
        let deep = "[".repeat(200) + &"]".repeat(200);
        let bad = [
            "",
            "{",
            r#"{"a": 1,}"#,
            r#"{"a" 1}"#,
            "[1] [2]",
            r#"{"a": "\ud800"}"#,
            "\"\u{1}\"",
            "{1: 2}",
            "NaN",
            &deep,
        ];
        for text in bad {
            assert!(serde_json::from_str::<Value>(text).is_err(), "{text}");
            assert!(Json::parse(text.as_bytes()).is_err(), "{text}");
        }
    }

    #[test]
    fn strings_without_escapes_borrow_from_the_body() {
        let text = br#"{"plain": "abc", "escaped": "a\nb"}"#;
        let doc = Json::parse(text).expect("valid");
        let obj = doc.as_object().expect("object");
        assert!(matches!(
            obj.get("plain"),
            Some(Json::String(Cow::Borrowed("abc")))
        ));
        assert!(matches!(obj.get("escaped"), Some(Json::String(Cow::Owned(s))) if s == "a\nb"));
        assert!(matches!(&obj.entries[0].0, Cow::Borrowed("plain")));
    }

    #[test]
    fn a_repeated_key_means_its_last_value_and_entries_are_sorted_once_each() {
        let doc = Json::parse(br#"{"b": 1, "a": 2, "b": 3}"#).expect("valid");
        let obj = doc.as_object().expect("object");
        assert_eq!(
            obj.get("b").and_then(Json::as_number),
            Some(&Number::from(3))
        );
        let keys: Vec<(&str, String)> = obj
            .entries()
            .into_iter()
            .map(|(k, v)| (k, v.to_value().to_string()))
            .collect();
        assert_eq!(keys, [("a", "2".to_string()), ("b", "3".to_string())]);
    }

    #[test]
    fn insert_replaces_every_earlier_occurrence() {
        let mut doc = Json::parse(br#"{"channel": "x", "channel": "y"}"#).expect("valid");
        let Json::Object(obj) = &mut doc else {
            panic!("object")
        };
        obj.insert("channel", Json::String(Cow::Borrowed("z")));
        assert_eq!(obj.entries().len(), 1);
        assert_eq!(obj.get("channel").and_then(Json::as_str), Some("z"));
    }

    #[test]
    fn a_tree_borrowed_from_a_value_reads_the_same() {
        let text = r#"{"m": {"k": "v"}, "n": [1, 2.5, null, true]}"#;
        let value: Value = serde_json::from_str(text).expect("valid");
        assert_eq!(Json::from(&value).to_value(), value);
    }
}
