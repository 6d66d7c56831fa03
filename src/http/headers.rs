//! Header fields: an ordered, case-insensitive multimap, and the header rules shared by
//! the client and origin sides.
//!
//! Owns: `Headers`, hop-by-hop classification, `Connection` token parsing, and the token /
//! field-value syntax checks.
//! Must not: parse whole messages (see `request.rs` / `response.rs`) or touch sockets.

/// One header field as it appeared on the wire: the name keeps its case, the value is raw bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderField {
    /// Field name, case preserved.
    pub name: String,
    /// Field value, without surrounding whitespace.
    pub value: Vec<u8>,
}

/// An ordered list of header fields; lookups ignore ASCII case, order and duplicates are kept.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers(Vec<HeaderField>);

impl Headers {
    /// An empty list.
    pub fn new() -> Headers {
        Headers(Vec::new())
    }

    /// Number of fields, counting duplicates.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Fields in wire order.
    pub fn iter(&self) -> impl Iterator<Item = &HeaderField> {
        self.0.iter()
    }

    /// Appends a field, keeping any existing ones of the same name.
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) {
        self.0.push(HeaderField {
            name: name.into(),
            value: value.into(),
        });
    }

    /// Replaces every field named `name` by one field with `value`, at the first one's place.
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) {
        let value = value.into();
        match self
            .0
            .iter()
            .position(|f| f.name.eq_ignore_ascii_case(name))
        {
            Some(at) => {
                self.0[at].value = value;
                let mut index = 0;
                self.0.retain(|f| {
                    let keep = index <= at || !f.name.eq_ignore_ascii_case(name);
                    index += 1;
                    keep
                });
            }
            None => self.push(name, value),
        }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_slice())
    }

    /// The first value of `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Every value of `name`, in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.0
            .iter()
            .filter(move |f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_slice())
    }

    /// Every value of `name` joined with ", ", as a list-valued header is read (RFC 9110 §5.3).
    pub fn get_joined(&self, name: &str) -> Option<String> {
        let mut out: Option<String> = None;
        for value in self.get_all(name) {
            let text = String::from_utf8_lossy(value);
            match out.as_mut() {
                Some(s) => {
                    s.push_str(", ");
                    s.push_str(&text);
                }
                None => out = Some(text.into_owned()),
            }
        }
        out
    }

    /// True when a field named `name` exists.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Removes every field named `name`; returns how many were removed.
    pub fn remove(&mut self, name: &str) -> usize {
        let before = self.0.len();
        self.0.retain(|f| !f.name.eq_ignore_ascii_case(name));
        before - self.0.len()
    }

    /// Keeps only the fields for which `keep` returns true.
    pub fn retain(&mut self, mut keep: impl FnMut(&HeaderField) -> bool) {
        self.0.retain(|f| keep(f));
    }

    /// True when a comma-separated token list header (e.g. `Connection`) contains `token`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name).any(|v| {
            v.split(|&b| b == b',')
                .any(|t| trim_ascii(t).eq_ignore_ascii_case(token.as_bytes()))
        })
    }
}

impl FromIterator<(String, Vec<u8>)> for Headers {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(iter: I) -> Headers {
        Headers(
            iter.into_iter()
                .map(|(name, value)| HeaderField { name, value })
                .collect(),
        )
    }
}

/// Hop-by-hop fields that a proxy never forwards in either direction (RFC 9110 §7.6.1),
/// plus the encodings ringpin re-does itself.
pub const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Removes what a proxy must never pass on between two hops: `Connection` and every field it
/// names, the `HOP_BY_HOP` fields, any `Proxy-*` field, and the body framing
/// (`Transfer-Encoding`, `Content-Length`), which the sender of the next hop computes itself.
/// Returns how many fields were removed.
pub fn remove_hop_by_hop(headers: &mut Headers) -> usize {
    let listed: Vec<String> = headers
        .get_all("connection")
        .flat_map(|v| v.split(|&b| b == b','))
        .map(|t| String::from_utf8_lossy(trim_ascii(t)).to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let before = headers.len();
    headers.retain(|f| {
        !(is_hop_by_hop(&f.name)
            || f.name.eq_ignore_ascii_case("content-length")
            || f.name
                .as_bytes()
                .get(..6)
                .is_some_and(|p| p.eq_ignore_ascii_case(b"proxy-"))
            || listed.iter().any(|t| t.eq_ignore_ascii_case(&f.name)))
    });
    before - headers.len()
}

/// True when `name` is a hop-by-hop field.
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// `bytes` without leading and trailing ASCII whitespace.
pub fn trim_ascii(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |p| p + 1);
    &bytes[start..end]
}

/// True when `bytes` is a non-empty RFC 9110 §5.6.2 token, the syntax of field names and
/// methods.
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// True when `bytes` may be sent as a field value: no CR, LF or NUL (RFC 9110 §5.5), so the
/// value cannot end the field line or the head early.
pub fn is_field_value(bytes: &[u8]) -> bool {
    !bytes.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(fields: &[(&str, &str)]) -> Headers {
        fields
            .iter()
            .map(|(n, v)| (n.to_string(), v.as_bytes().to_vec()))
            .collect()
    }

    #[test]
    fn lookups_ignore_case_and_keep_order() {
        let h = headers(&[("Grip-Channel", "a"), ("X", "1"), ("grip-channel", "b")]);
        assert_eq!(h.get("GRIP-CHANNEL"), Some(&b"a"[..]));
        assert_eq!(h.get_joined("grip-channel").as_deref(), Some("a, b"));
        assert_eq!(h.get_all("Grip-Channel").count(), 2);
        assert!(h.get("missing").is_none());
    }

    #[test]
    fn set_replaces_all_duplicates_in_place() {
        let mut h = headers(&[("A", "1"), ("B", "2"), ("a", "3")]);
        h.set("a", "9");
        assert_eq!(h, headers(&[("A", "9"), ("B", "2")]));
        h.set("C", "4");
        assert_eq!(h.len(), 3);
    }

    #[test]
    fn remove_counts_and_token_lists_split_on_commas() {
        let mut h = headers(&[
            ("Connection", "keep-alive, Upgrade"),
            ("connection", "close"),
        ]);
        assert!(h.has_token("connection", "upgrade"));
        assert!(h.has_token("connection", "close"));
        assert!(!h.has_token("connection", "keep"));
        assert_eq!(h.remove("CONNECTION"), 2);
        assert!(h.is_empty());
    }

    #[test]
    fn tokens_and_field_values() {
        let tokens: &[(&[u8], bool)] = &[
            (b"Content-Type", true),
            (b"x_!#$%&'*+-.^`|~9", true),
            (b"", false),
            (b"bad name", false),
            (b"bad:name", false),
            (b"caf\xc3\xa9", false),
        ];
        for (input, expected) in tokens {
            assert_eq!(is_token(input), *expected, "{input:?}");
        }
        assert!(is_field_value(b"any \t\xff bytes"));
        assert!(is_field_value(b""));
        assert!(!is_field_value(b"a\r\nInjected: 1"));
        assert!(!is_field_value(b"a\nb"));
        assert!(!is_field_value(b"a\0b"));
    }

    #[test]
    fn removing_hop_by_hop_takes_connection_named_proxy_and_framing_fields() {
        let mut h = headers(&[
            ("Content-Type", "text/plain"),
            ("connection", "keep-alive, X-Private ,  ,x-other"),
            ("X-Private", "secret"),
            ("x-OTHER", "1"),
            ("Transfer-Encoding", "chunked"),
            ("Content-Length", "2"),
            ("TE", "trailers"),
            ("Trailer", "X-T"),
            ("Upgrade", "websocket"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authenticate", "Basic"),
            ("proxy-connection", "close"),
            ("Proxy", "not a prefix match"),
            ("X-Kept", "yes"),
        ]);
        assert_eq!(remove_hop_by_hop(&mut h), 11);
        let names: Vec<&str> = h.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["Content-Type", "Proxy", "X-Kept"]);
        assert_eq!(remove_hop_by_hop(&mut h), 0);
    }

    #[test]
    fn hop_by_hop_and_trim() {
        assert!(is_hop_by_hop("Transfer-Encoding"));
        assert!(!is_hop_by_hop("Content-Type"));
        assert_eq!(trim_ascii(b"  a b \t"), b"a b");
        assert_eq!(trim_ascii(b"   "), b"");
    }
}
