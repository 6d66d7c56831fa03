//! InstructError: every way a backend's GRIP instruction can be rejected.
//!
//! Owns: the error enum of `grip::instruct`, `grip::params` and `grip::keep_alive`, and the
//! value snippets that keep its log lines short.
//! Must not: decide how the client learns about the failure; `shard/` turns every variant into
//! a 502 (Pushpin 1.36: any GRIP parse error is a 502) and one log line.
//! Invariants: every variant names the header or JSON field at fault; values are cut to
//! `ERROR_SNIPPET_CHARS_MAX` characters so a hostile backend cannot flood the log.

use crate::limits::ERROR_SNIPPET_CHARS_MAX;

/// Why a backend response could not be read as a GRIP instruction.
#[derive(Debug, thiserror::Error)]
pub enum InstructError {
    /// A GRIP header (all fields of that name joined) is longer than the limit.
    #[error("{header} value is {bytes} bytes, over the limit of {bytes_max}")]
    HeaderTooLong {
        /// Header name, as ringpin spells it.
        header: String,
        /// Length of the joined value.
        bytes: usize,
        /// `limits::GRIP_HEADER_BYTES_MAX`.
        bytes_max: usize,
    },
    /// A header value that does not follow the `first; k=v, ...` grammar.
    #[error("malformed {header} value {value:?}: {problem}")]
    Syntax {
        /// Header name (`header` when the grammar was parsed without one).
        header: String,
        /// The start of the offending value.
        value: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A header value, or one of its parameters, that parses but is not allowed.
    #[error("invalid {header} value {value:?}")]
    InvalidValue {
        /// Header name, followed by the parameter name when a parameter is at fault.
        header: String,
        /// The start of the offending value.
        value: String,
    },
    /// An `application/grip-instruct` body on a response whose status is not 200.
    #[error("application/grip-instruct response has status {status}, not 200")]
    InstructStatus {
        /// The backend's status code.
        status: u16,
    },
    /// An `application/grip-instruct` body that is not JSON.
    #[error("application/grip-instruct body is not valid JSON: {detail}")]
    JsonSyntax {
        /// serde_json's description, with line and column.
        detail: String,
    },
    /// A field of the `application/grip-instruct` body with the wrong type or value.
    #[error("invalid application/grip-instruct field {field}: {problem}")]
    JsonField {
        /// Path of the field, e.g. `hold.channels[0].name`.
        field: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A response-hold (or grip-instruct) body above the buffering limit.
    #[error("GRIP response body is {bytes} bytes, over the limit of {bytes_max}")]
    BodyTooLarge {
        /// Body length.
        bytes: usize,
        /// `limits::GRIP_RESPONSE_BODY_BYTES_MAX`.
        bytes_max: usize,
    },
}

impl InstructError {
    /// The status the client gets when its origin sent this: always 502 Bad Gateway,
    /// because the fault is the origin's (Pushpin 1.36 answers every GRIP error this way).
    pub fn status(&self) -> u16 {
        502
    }

    /// Fills in the header name of a grammar error raised without one.
    pub(crate) fn in_header(self, name: &str) -> InstructError {
        match self {
            InstructError::Syntax { value, problem, .. } => InstructError::Syntax {
                header: name.to_string(),
                value,
                problem,
            },
            other => other,
        }
    }
}

/// The start of `value`, short enough for a log line.
pub(crate) fn snippet(value: &str) -> String {
    match value.char_indices().nth(ERROR_SNIPPET_CHARS_MAX) {
        Some((at, _)) => format!("{}...", &value[..at]),
        None => value.to_string(),
    }
}

/// A grammar error whose header is filled in later by `InstructError::in_header`.
pub(crate) fn syntax(value: &str, problem: &'static str) -> InstructError {
    InstructError::Syntax {
        header: "header".to_string(),
        value: snippet(value),
        problem,
    }
}

/// An invalid header or parameter value.
pub(crate) fn invalid(header: &str, value: &str) -> InstructError {
    InstructError::InvalidValue {
        header: header.to_string(),
        value: snippet(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_cut_on_a_char_boundary() {
        assert_eq!(snippet("short"), "short");
        let long = "é".repeat(100);
        let cut = snippet(&long);
        assert_eq!(cut, format!("{}...", "é".repeat(ERROR_SNIPPET_CHARS_MAX)));
    }

    #[test]
    fn messages_are_lower_case_and_name_the_header() {
        let e = invalid("Grip-Hold", "bogus");
        assert_eq!(e.to_string(), "invalid Grip-Hold value \"bogus\"");
        let e = syntax("a\"b", "unterminated quoted string").in_header("Grip-Channel");
        assert_eq!(
            e.to_string(),
            "malformed Grip-Channel value \"a\\\"b\": unterminated quoted string"
        );
        assert_eq!(e.status(), 502);
    }
}
