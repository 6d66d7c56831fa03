//! The tnetstring codec: the encoding of Pushpin's ZeroMQ publish items and control commands
//! (PUSHPIN.md §3.3, §3.5).
//!
//! Owns: `Tnet`, `parse_tnetstring` and `encode_tnetstring`.
//! Must not: know what a publish item or a command means (`publish::item` and the control
//! service do), or do I/O.
//! Invariants: a parse never reads past its value, never recurses deeper than
//! `TNET_DEPTH_MAX`, and allocates at most what the input's own lengths justify, so hostile
//! bytes cost at most their own size; every `Tnet` that `encode_tnetstring` writes parses back
//! to an equal value, except a non-finite float (`NaN`, `inf`), which the parser refuses on
//! purpose (an item becomes JSON, which has none) and ringpin never encodes.
//!
//! A tnetstring is `LENGTH:DATA` followed by one type byte: `,` bytes, `#` integer, `^` float,
//! `!` boolean, `~` null, `}` dictionary (alternating keys and values; keys are byte strings)
//! and `]` list. Strings are raw bytes, which is why a ZeroMQ publish may carry binary
//! `content` without base64.

use crate::limits::{TNET_DEPTH_MAX, TNET_LENGTH_DIGITS_MAX};

/// A decoded tnetstring value.
#[derive(Clone, Debug, PartialEq)]
pub enum Tnet {
    /// `,`: raw bytes.
    Bytes(Vec<u8>),
    /// `#`: a signed integer.
    Int(i64),
    /// `^`: a float.
    Float(f64),
    /// `!`: `true` or `false`.
    Bool(bool),
    /// `~`: null (empty data).
    Null,
    /// `}`: key-value pairs in input order.
    Map(Vec<(Vec<u8>, Tnet)>),
    /// `]`: a list.
    List(Vec<Tnet>),
}

impl Tnet {
    /// The value of `key` in a map (the first, if repeated).
    pub fn get(&self, key: &str) -> Option<&Tnet> {
        match self {
            Tnet::Map(pairs) => pairs
                .iter()
                .find(|(k, _)| k.as_slice() == key.as_bytes())
                .map(|(_, v)| v),
            _ => None,
        }
    }

    /// The bytes of a `Bytes` value.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Tnet::Bytes(b) => Some(b),
            _ => None,
        }
    }
}

/// Why bytes are not a tnetstring.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TnetError {
    /// The input ends inside a value.
    #[error("tnetstring truncated")]
    Truncated,
    /// The length prefix is not 1-9 decimal digits followed by `:`.
    #[error("tnetstring length is not 1-{TNET_LENGTH_DIGITS_MAX} digits and ':'")]
    BadLength,
    /// A type byte outside `,#^!~}]`.
    #[error("tnetstring type byte {0:#04x} is unknown")]
    UnknownType(u8),
    /// The data does not fit its type (a non-numeric integer, `!maybe`, a non-empty null,
    /// a dictionary key that is not bytes, a key without a value).
    #[error("tnetstring {0} data is invalid")]
    BadData(&'static str),
    /// Nesting over `TNET_DEPTH_MAX`.
    #[error("tnetstring nested deeper than {TNET_DEPTH_MAX}")]
    TooDeep,
    /// Bytes follow the value where none may.
    #[error("tnetstring followed by {0} extra bytes")]
    TrailingBytes(usize),
}

/// Parses one whole tnetstring: `input` must hold exactly one value.
pub fn parse_tnetstring(input: &[u8]) -> Result<Tnet, TnetError> {
    let (value, used) = parse_at(input, 0)?;
    match input.len() - used {
        0 => Ok(value),
        extra => Err(TnetError::TrailingBytes(extra)),
    }
}

/// Parses the value at the start of `input`; returns it and how many bytes it took.
fn parse_at(input: &[u8], depth: usize) -> Result<(Tnet, usize), TnetError> {
    if depth > TNET_DEPTH_MAX {
        return Err(TnetError::TooDeep);
    }
    let colon = input
        .iter()
        .take(TNET_LENGTH_DIGITS_MAX + 1)
        .position(|&b| b == b':')
        .ok_or(if input.len() <= TNET_LENGTH_DIGITS_MAX {
            TnetError::Truncated
        } else {
            TnetError::BadLength
        })?;
    let digits = &input[..colon];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(TnetError::BadLength);
    }
    // At most 9 digits, so this cannot overflow.
    let length = digits
        .iter()
        .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'));
    let start = colon + 1;
    let end = start.checked_add(length).ok_or(TnetError::Truncated)?;
    let kind = *input.get(end).ok_or(TnetError::Truncated)?;
    let data = &input[start..end];
    let value = match kind {
        b',' => Tnet::Bytes(data.to_vec()),
        b'#' => Tnet::Int(parse_int(data)?),
        b'^' => Tnet::Float(parse_float(data)?),
        b'!' => match data {
            b"true" => Tnet::Bool(true),
            b"false" => Tnet::Bool(false),
            _ => return Err(TnetError::BadData("boolean")),
        },
        b'~' if data.is_empty() => Tnet::Null,
        b'~' => return Err(TnetError::BadData("null")),
        b'}' => Tnet::Map(parse_map(data, depth)?),
        b']' => Tnet::List(parse_list(data, depth)?),
        other => return Err(TnetError::UnknownType(other)),
    };
    Ok((value, end + 1))
}

fn parse_int(data: &[u8]) -> Result<i64, TnetError> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or(TnetError::BadData("integer"))
}

fn parse_float(data: &[u8]) -> Result<f64, TnetError> {
    std::str::from_utf8(data)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|f| f.is_finite())
        .ok_or(TnetError::BadData("float"))
}

fn parse_list(mut data: &[u8], depth: usize) -> Result<Vec<Tnet>, TnetError> {
    let mut items = Vec::new();
    while !data.is_empty() {
        let (item, used) = parse_at(data, depth + 1)?;
        items.push(item);
        data = &data[used..];
    }
    Ok(items)
}

fn parse_map(mut data: &[u8], depth: usize) -> Result<Vec<(Vec<u8>, Tnet)>, TnetError> {
    let mut pairs = Vec::new();
    while !data.is_empty() {
        let (key, used) = parse_at(data, depth + 1)?;
        let Tnet::Bytes(key) = key else {
            return Err(TnetError::BadData("dictionary key"));
        };
        data = &data[used..];
        if data.is_empty() {
            return Err(TnetError::BadData("dictionary"));
        }
        let (value, used) = parse_at(data, depth + 1)?;
        pairs.push((key, value));
        data = &data[used..];
    }
    Ok(pairs)
}

/// Appends the tnetstring of `value` to `out`.
pub fn encode_tnetstring(value: &Tnet, out: &mut Vec<u8>) {
    let (data, kind) = match value {
        Tnet::Bytes(b) => (b.clone(), b','),
        Tnet::Int(n) => (n.to_string().into_bytes(), b'#'),
        Tnet::Float(f) => (format!("{f:?}").into_bytes(), b'^'),
        Tnet::Bool(b) => (b.to_string().into_bytes(), b'!'),
        Tnet::Null => (Vec::new(), b'~'),
        Tnet::Map(pairs) => {
            let mut data = Vec::new();
            for (key, value) in pairs {
                encode_tnetstring(&Tnet::Bytes(key.clone()), &mut data);
                encode_tnetstring(value, &mut data);
            }
            (data, b'}')
        }
        Tnet::List(items) => {
            let mut data = Vec::new();
            for item in items {
                encode_tnetstring(item, &mut data);
            }
            (data, b']')
        }
    };
    out.extend_from_slice(data.len().to_string().as_bytes());
    out.push(b':');
    out.extend_from_slice(&data);
    out.push(kind);
}

#[cfg(test)]
mod tests;
