//! The GRIP header grammar: `first; k=v; k="quoted \" value", next; ...`.
//!
//! Owns: splitting a header value into comma-separated pieces and each piece into its first
//! value and `;` parameters, with double-quoted parameter values.
//! Must not: know what any GRIP header means (see `instruct.rs`).
//! Invariants: commas and semicolons inside double quotes never split; a backslash inside
//! quotes escapes the next character; parameter names come out lower-case; pieces that are
//! empty after trimming are skipped, as RFC 9110 §5.6.1 asks of list recipients.

use super::error::{syntax, InstructError};

/// One comma-separated piece of a GRIP header: its first value and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderParam {
    /// The text before the first `;`, trimmed, exactly as sent (quotes are not removed).
    pub value: String,
    /// `(name, value)` in order; the name is lower-case, the value is unquoted, and a
    /// parameter written without `=` has no value.
    pub params: Vec<(String, Option<String>)>,
}

impl HeaderParam {
    /// The value of the first parameter called `name` (lower-case), if it has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }

    /// True when a parameter called `name` (lower-case) is present, with or without a value.
    pub fn has(&self, name: &str) -> bool {
        self.params.iter().any(|(n, _)| n == name)
    }
}

/// Parses a whole header value: comma-separated pieces, each `first; k=v; k="v"`.
///
/// Errors name the header as `header`; `grip::instruct` replaces it with the real name.
pub fn parse_header_params(value: &str) -> Result<Vec<HeaderParam>, InstructError> {
    let mut pieces = Vec::new();
    for piece in split_outside_quotes(value, b',')? {
        if !piece.trim().is_empty() {
            pieces.push(parse_header_piece(piece)?);
        }
    }
    Ok(pieces)
}

/// Parses one piece, `first; k=v; k="v"`, without splitting on commas (for headers such as
/// `Grip-Keep-Alive` whose first value may hold a comma).
pub fn parse_header_piece(piece: &str) -> Result<HeaderParam, InstructError> {
    let mut parts = split_outside_quotes(piece, b';')?.into_iter();
    let value = parts.next().unwrap_or_default().trim().to_string();
    let mut params = Vec::new();
    for part in parts {
        if part.trim().is_empty() {
            continue;
        }
        let (name, value) = match part.split_once('=') {
            Some((name, value)) => (name, Some(unquote(value.trim())?)),
            None => (part, None),
        };
        let name = name.trim();
        if name.is_empty() {
            return Err(syntax(piece, "parameter without a name"));
        }
        if name.contains('"') {
            return Err(syntax(piece, "quote in a parameter name"));
        }
        params.push((name.to_ascii_lowercase(), value));
    }
    Ok(HeaderParam { value, params })
}

/// `text` with its double quotes and backslash escapes removed when it starts with `"`;
/// otherwise `text` unchanged.
pub fn unquote(text: &str) -> Result<String, InstructError> {
    let Some(inner) = text.strip_prefix('"') else {
        return Ok(text.to_string());
    };
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.char_indices();
    while let Some((at, c)) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some((_, escaped)) => out.push(escaped),
                None => return Err(syntax(text, "unterminated quoted string")),
            },
            '"' if at + 1 == inner.len() => return Ok(out),
            '"' => return Err(syntax(text, "text after a quoted string")),
            _ => out.push(c),
        }
    }
    Err(syntax(text, "unterminated quoted string"))
}

/// Splits `text` on `separator` wherever it is outside double quotes.
fn split_outside_quotes(text: &str, separator: u8) -> Result<Vec<&str>, InstructError> {
    let bytes = text.as_bytes();
    let mut parts = Vec::new();
    let mut start = 0;
    let mut in_quotes = false;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' if in_quotes => at += 1,
            b'"' => in_quotes = !in_quotes,
            b if b == separator && !in_quotes => {
                // The separator is ASCII, so `at` is a char boundary.
                parts.push(&text[start..at]);
                start = at + 1;
            }
            _ => {}
        }
        at += 1;
    }
    if in_quotes {
        return Err(syntax(text, "unterminated quoted string"));
    }
    parts.push(&text[start..]);
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Expected<'a> = &'a [(&'a str, &'a [(&'a str, Option<&'a str>)])];

    fn check(input: &str, expected: Result<Expected<'_>, &str>) {
        let got = parse_header_params(input);
        match (got, expected) {
            (Ok(pieces), Ok(want)) => {
                let want: Vec<HeaderParam> = want
                    .iter()
                    .map(|(value, params)| HeaderParam {
                        value: value.to_string(),
                        params: params
                            .iter()
                            .map(|(n, v)| (n.to_string(), v.map(str::to_string)))
                            .collect(),
                    })
                    .collect();
                assert_eq!(pieces, want, "input {input:?}");
            }
            (Err(e), Err(problem)) => {
                let text = e.to_string();
                assert!(text.contains(problem), "input {input:?}: {text}");
            }
            (got, want) => panic!("input {input:?}: got {got:?}, want {want:?}"),
        }
    }

    #[test]
    fn pieces_split_on_commas_and_params_on_semicolons() {
        check("a", Ok(&[("a", &[])]));
        check(" a , b ", Ok(&[("a", &[]), ("b", &[])]));
        check(
            "a, b; prev-id=3",
            Ok(&[("a", &[]), ("b", &[("prev-id", Some("3"))])]),
        );
        check(
            "c; Filter=skip-self; filter=build-id",
            Ok(&[(
                "c",
                &[("filter", Some("skip-self")), ("filter", Some("build-id"))],
            )]),
        );
        check(
            "c; flag; k=",
            Ok(&[("c", &[("flag", None), ("k", Some(""))])]),
        );
        check("c ;  k = v  ", Ok(&[("c", &[("k", Some("v"))])]));
    }

    #[test]
    fn quoted_values_keep_commas_semicolons_and_escapes() {
        check(r#"a; k="x, y; z""#, Ok(&[("a", &[("k", Some("x, y; z"))])]));
        check(
            r#"a; k="quoted \" value""#,
            Ok(&[("a", &[("k", Some("quoted \" value"))])]),
        );
        check(
            r#"a; k="back\\slash""#,
            Ok(&[("a", &[("k", Some("back\\slash"))])]),
        );
        check(r#"a; k="""#, Ok(&[("a", &[("k", Some(""))])]));
        check(r#"k="v, 2", x"#, Ok(&[(r#"k="v, 2""#, &[]), ("x", &[])]));
        check("a; k=é", Ok(&[("a", &[("k", Some("é"))])]));
    }

    #[test]
    fn empty_pieces_and_params_are_skipped() {
        check("", Ok(&[]));
        check(" , ,", Ok(&[]));
        check("a,,b,", Ok(&[("a", &[]), ("b", &[])]));
        check("a;;k=v;", Ok(&[("a", &[("k", Some("v"))])]));
        check("; k=v", Ok(&[("", &[("k", Some("v"))])]));
    }

    #[test]
    fn malformed_values_are_errors() {
        check(r#"a; k="open"#, Err("unterminated quoted string"));
        check(r#"a; k="esc\""#, Err("unterminated quoted string"));
        check(r#"a; k="v"x"#, Err("text after a quoted string"));
        check("a; =v", Err("parameter without a name"));
        check(r#"a; "k"=v"#, Err("quote in a parameter name"));
        check(r#""a"#, Err("unterminated quoted string"));
    }

    #[test]
    fn lookups_find_the_first_parameter() {
        let piece = parse_header_piece("data, more; timeout=5; timeout=6; flag").expect("parses");
        assert_eq!(piece.value, "data, more");
        assert_eq!(piece.get("timeout"), Some("5"));
        assert!(piece.has("flag"));
        assert_eq!(piece.get("flag"), None);
        assert!(!piece.has("missing"));
    }

    #[test]
    fn unquote_passes_bare_text_through() {
        assert_eq!(unquote("plain").expect("ok"), "plain");
        assert_eq!(unquote(r#""a\"b""#).expect("ok"), "a\"b");
        assert!(unquote(r#""a"#).is_err());
    }
}
