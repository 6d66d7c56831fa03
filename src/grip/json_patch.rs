//! RFC 6902 JSON Patch over `serde_json::Value`, with RFC 6901 JSON Pointers.
//!
//! Owns: `apply_patch` (add, remove, replace, move, copy, test) and `PatchError`.
//! Must not: know where documents come from; `grip::published` applies patches to a held
//! long-poll's original body and `shard/hold.rs` turns a failure into a 502.
//! Invariants: atomic, the patch is applied to a clone, so an error leaves nothing applied;
//! pointers follow RFC 6901 (`~0` is `~`, `~1` is `/`, any other `~` is an error); array
//! indexes are `0` or digits without a leading zero, and `-` (one past the end) is valid only
//! as an `add` or `move`/`copy` target. Members a patch operation does not use are ignored
//! (RFC 6902 §4); numbers compare by value in `test` (`1` equals `1.0`).

use serde_json::{Map, Value};

/// Why a JSON Patch could not be applied; nothing of the patch was applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is not a JSON array.
    #[error("patch is not an array")]
    NotAnArray,
    /// The document to patch (a held response's body) is not JSON.
    #[error("original body is not JSON")]
    BodyNotJson,
    /// Operation number `index` (from 0) failed.
    #[error("patch operation {index}: {kind}")]
    Op {
        /// Position of the failed operation in the patch array.
        index: usize,
        /// What was wrong with it.
        kind: OpError,
    },
}

/// What was wrong with one patch operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpError {
    /// The operation is not a JSON object.
    #[error("operation is not an object")]
    NotAnObject,
    /// A required member (`op`, `path`, `value` or `from`) is absent.
    #[error("missing '{0}'")]
    Missing(&'static str),
    /// `op`, `path` or `from` is not a string.
    #[error("'{0}' is not a string")]
    NotAString(&'static str),
    /// `op` names no RFC 6902 operation.
    #[error("unknown op {0:?}")]
    UnknownOp(String),
    /// A pointer that is not RFC 6901 syntax (no leading `/`, or a bad `~` escape).
    #[error("malformed pointer {0:?}")]
    BadPointer(String),
    /// The pointer names no value (missing member, index out of range, bad index).
    #[error("no value at {0:?}")]
    NoTarget(String),
    /// A `test` operation found a different value.
    #[error("test failed at {0:?}")]
    TestFailed(String),
    /// A `move` whose `from` is a proper prefix of its `path`.
    #[error("cannot move {0:?} into one of its children")]
    MoveIntoChild(String),
    /// `remove` (or `move` from) the whole document.
    #[error("cannot remove the whole document")]
    RemoveRoot,
}

/// Applies the RFC 6902 `patch` to `doc` and returns the result; `doc` is never changed.
pub fn apply_patch(doc: &Value, patch: &Value) -> Result<Value, PatchError> {
    let ops = patch.as_array().ok_or(PatchError::NotAnArray)?;
    let mut out = doc.clone();
    for (index, op) in ops.iter().enumerate() {
        apply_op(&mut out, op).map_err(|kind| PatchError::Op { index, kind })?;
    }
    Ok(out)
}

fn apply_op(doc: &mut Value, op: &Value) -> Result<(), OpError> {
    let op = op.as_object().ok_or(OpError::NotAnObject)?;
    let name = string_member(op, "op")?;
    let path_text = string_member(op, "path")?;
    let path = parse_pointer(path_text)?;
    match name {
        "add" => add(doc, &path, path_text, value_member(op)?.clone()),
        "remove" => remove(doc, &path, path_text).map(drop),
        "replace" => {
            let value = value_member(op)?.clone();
            let target = pointer_mut(doc, &path).ok_or_else(|| no_target(path_text))?;
            *target = value;
            Ok(())
        }
        "move" => {
            let from_text = string_member(op, "from")?;
            let from = parse_pointer(from_text)?;
            if path.len() > from.len() && path.starts_with(&from) {
                return Err(OpError::MoveIntoChild(from_text.to_owned()));
            }
            let value = remove(doc, &from, from_text)?;
            add(doc, &path, path_text, value)
        }
        "copy" => {
            let from_text = string_member(op, "from")?;
            let from = parse_pointer(from_text)?;
            let value = pointer(doc, &from).ok_or_else(|| no_target(from_text))?;
            add(doc, &path, path_text, value.clone())
        }
        "test" => {
            let expected = value_member(op)?;
            let found = pointer(doc, &path).ok_or_else(|| no_target(path_text))?;
            if json_eq(found, expected) {
                Ok(())
            } else {
                Err(OpError::TestFailed(path_text.to_owned()))
            }
        }
        other => Err(OpError::UnknownOp(other.to_owned())),
    }
}

fn string_member<'a>(op: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, OpError> {
    op.get(name)
        .ok_or(OpError::Missing(name))?
        .as_str()
        .ok_or(OpError::NotAString(name))
}

fn value_member(op: &Map<String, Value>) -> Result<&Value, OpError> {
    op.get("value").ok_or(OpError::Missing("value"))
}

fn no_target(pointer: &str) -> OpError {
    OpError::NoTarget(pointer.to_owned())
}

/// Splits an RFC 6901 pointer into unescaped reference tokens (`""` is the whole document).
fn parse_pointer(text: &str) -> Result<Vec<String>, OpError> {
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || OpError::BadPointer(text.to_owned());
    let rest = text.strip_prefix('/').ok_or_else(bad)?;
    rest.split('/')
        .map(|token| unescape_token(token).ok_or_else(bad))
        .collect()
}

fn unescape_token(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next()? {
                '0' => out.push('~'),
                '1' => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// An existing array element's index: `0`, or digits without a leading zero, below `len`.
fn array_index(token: &str, len: usize) -> Option<usize> {
    let well_formed = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let index = if well_formed {
        token.parse::<usize>().ok()?
    } else {
        return None;
    };
    (index < len).then_some(index)
}

fn pointer<'a>(doc: &'a Value, tokens: &[String]) -> Option<&'a Value> {
    tokens.iter().try_fold(doc, |at, token| match at {
        Value::Object(map) => map.get(token),
        Value::Array(items) => items.get(array_index(token, items.len())?),
        _ => None,
    })
}

fn pointer_mut<'a>(doc: &'a mut Value, tokens: &[String]) -> Option<&'a mut Value> {
    tokens.iter().try_fold(doc, |at, token| match at {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => {
            let index = array_index(token, items.len())?;
            items.get_mut(index)
        }
        _ => None,
    })
}

/// RFC 6902 §4.1: sets a member, inserts into an array (`-` appends), or replaces the root.
fn add(doc: &mut Value, path: &[String], text: &str, value: Value) -> Result<(), OpError> {
    let Some((last, parent)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match pointer_mut(doc, parent) {
        Some(Value::Object(map)) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let len = items.len();
            // One past the end (`-` or `len`) is a valid insertion point (RFC 6902 §4.1).
            let index = if last == "-" {
                len
            } else {
                array_index(last, len + 1).ok_or_else(|| no_target(text))?
            };
            items.insert(index, value);
            Ok(())
        }
        _ => Err(no_target(text)),
    }
}

/// RFC 6902 §4.2: removes and returns the value at `path`, which must exist.
fn remove(doc: &mut Value, path: &[String], text: &str) -> Result<Value, OpError> {
    let (last, parent) = path.split_last().ok_or(OpError::RemoveRoot)?;
    match pointer_mut(doc, parent) {
        Some(Value::Object(map)) => map.remove(last).ok_or_else(|| no_target(text)),
        Some(Value::Array(items)) => {
            let index = array_index(last, items.len()).ok_or_else(|| no_target(text))?;
            Ok(items.remove(index))
        }
        _ => Err(no_target(text)),
    }
}

/// JSON equality as RFC 6902 §4.6 defines it: numbers by value, objects ignoring order.
fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            x == y || (x.is_f64() || y.is_f64()) && x.as_f64() == y.as_f64()
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests;
