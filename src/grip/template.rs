//! Template: the `%`-directive text format that the `build-id` and `var-subst` filters expand.
//!
//! Owns: the grammar (PUSHPIN.md §2.5) and `render`, which walks a template once and asks the
//! caller to expand each directive. `%%` is a literal `%`; `%X` is directive `X` (a letter)
//! without an argument; `%(ARG)X` is directive `X` with `ARG`, where `\` makes the next byte
//! literal (so an argument may contain `)`).
//! Must not: know what a directive means; `filter.rs` decides (`%I`, `%(name)s`).
//! Invariants: bytes outside directives are copied unchanged, so a template without `%` renders
//! to itself; every malformed template is a `TemplateError` naming the byte offset.

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template ends right after a `%`, a `(` or a `\`, or right after `)`.
    #[error("template ends inside a directive starting at byte {at}")]
    Truncated {
        /// Offset of the directive's `%`.
        at: usize,
    },
    /// A `%(` with no closing `)`.
    #[error("unterminated argument starting at byte {at}")]
    Unterminated {
        /// Offset of the `(`.
        at: usize,
    },
    /// A directive character this template does not know.
    #[error("unknown directive {directive:?} at byte {at}")]
    UnknownDirective {
        /// The character after `%` or `)`.
        directive: char,
        /// Its offset.
        at: usize,
    },
    /// A directive that needs an argument was given none (`%s`).
    #[error("directive {directive:?} at byte {at} requires an argument")]
    ArgumentMissing {
        /// The directive character.
        directive: char,
        /// Its offset.
        at: usize,
    },
    /// `%(name)s` names no known variable.
    #[error("no such variable {name:?} at byte {at}")]
    NoSuchVariable {
        /// The argument, lossily decoded.
        name: String,
        /// The directive's offset.
        at: usize,
    },
    /// `%I` with no id to put there.
    #[error("no id given and no default id at byte {at}")]
    NoDefaultId {
        /// The directive's offset.
        at: usize,
    },
}

/// One directive found in a template, for the caller to expand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Directive<'a> {
    /// The directive character (`I`, `s`, …).
    pub kind: u8,
    /// The argument between `(` and `)`, unescaped; `None` for `%X`.
    pub arg: Option<&'a [u8]>,
    /// Offset of the directive character, for error messages.
    pub at: usize,
}

/// Renders `template`, calling `expand` for each directive to append its text to the output.
pub fn render(
    template: &[u8],
    mut expand: impl FnMut(Directive<'_>, &mut Vec<u8>) -> Result<(), TemplateError>,
) -> Result<Vec<u8>, TemplateError> {
    let mut out = Vec::with_capacity(template.len() + 16);
    let mut arg = Vec::new();
    let mut n = 0;
    while n < template.len() {
        let c = template[n];
        if c != b'%' {
            out.push(c);
            n += 1;
            continue;
        }
        let start = n;
        let next = *template
            .get(n + 1)
            .ok_or(TemplateError::Truncated { at: start })?;
        n += 1;
        match next {
            b'%' => out.push(b'%'),
            b'(' => {
                n = read_argument(template, n, start, &mut arg)?;
                let kind = *template
                    .get(n)
                    .ok_or(TemplateError::Truncated { at: start })?;
                let at = n;
                expand(
                    Directive {
                        kind,
                        arg: Some(&arg),
                        at,
                    },
                    &mut out,
                )?;
            }
            kind if kind.is_ascii_alphabetic() => {
                expand(
                    Directive {
                        kind,
                        arg: None,
                        at: n,
                    },
                    &mut out,
                )?;
            }
            other => {
                return Err(TemplateError::UnknownDirective {
                    directive: char::from(other),
                    at: n,
                })
            }
        }
        n += 1;
    }
    Ok(out)
}

/// Reads `(ARG)` starting at the `(` at `open` into `arg`; returns the offset after `)`.
fn read_argument(
    template: &[u8],
    open: usize,
    start: usize,
    arg: &mut Vec<u8>,
) -> Result<usize, TemplateError> {
    arg.clear();
    let mut n = open + 1;
    if n >= template.len() {
        return Err(TemplateError::Truncated { at: start });
    }
    while n < template.len() {
        match template[n] {
            b'\\' => {
                let escaped = *template
                    .get(n + 1)
                    .ok_or(TemplateError::Truncated { at: start })?;
                arg.push(escaped);
                n += 2;
            }
            b')' => return Ok(n + 1),
            c => {
                arg.push(c);
                n += 1;
            }
        }
    }
    Err(TemplateError::Unterminated { at: open })
}

/// The error for a directive `expand` does not handle.
pub fn unknown(directive: Directive<'_>) -> TemplateError {
    TemplateError::UnknownDirective {
        directive: char::from(directive.kind),
        at: directive.at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Expands `%(x)v` to `<x>` and `%v` to `V`; anything else is unknown.
    fn check(template: &str, want: Result<&str, TemplateError>) {
        let got = render(template.as_bytes(), |d, out| match (d.kind, d.arg) {
            (b'v', Some(arg)) => {
                out.push(b'<');
                out.extend_from_slice(arg);
                out.push(b'>');
                Ok(())
            }
            (b'v', None) => {
                out.push(b'V');
                Ok(())
            }
            _ => Err(unknown(d)),
        });
        let got = got.map(|bytes| String::from_utf8(bytes).expect("utf-8 in, utf-8 out"));
        assert_eq!(got, want.map(str::to_string), "{template:?}");
    }

    #[test]
    fn directives_expand_and_other_bytes_are_copied() {
        check("", Ok(""));
        check("plain text", Ok("plain text"));
        check("100%% sure", Ok("100% sure"));
        check("%v", Ok("V"));
        check("a%vb", Ok("aVb"));
        check("%(name)v", Ok("<name>"));
        check("%()v", Ok("<>"));
        check(r"%(a\)b)v", Ok("<a)b>"));
        check(r"%(a\\b)v", Ok(r"<a\b>"));
        check("é%(ü)v", Ok("é<ü>"));
    }

    #[test]
    fn malformed_templates_name_the_offset() {
        use TemplateError::*;
        check("%", Err(Truncated { at: 0 }));
        check("ab%", Err(Truncated { at: 2 }));
        check("%(", Err(Truncated { at: 0 }));
        check("%(x)", Err(Truncated { at: 0 }));
        check(r"%(x\", Err(Truncated { at: 0 }));
        check("%(abc", Err(Unterminated { at: 1 }));
        check(
            "%1",
            Err(UnknownDirective {
                directive: '1',
                at: 1,
            }),
        );
        check(
            "% ",
            Err(UnknownDirective {
                directive: ' ',
                at: 1,
            }),
        );
        check(
            "%q",
            Err(UnknownDirective {
                directive: 'q',
                at: 1,
            }),
        );
        check(
            "x%(a)q",
            Err(UnknownDirective {
                directive: 'q',
                at: 5,
            }),
        );
    }
}
