//! ParseError: every way an HTTP/1.1 head or body can be refused, with its status code.
//!
//! Owns: the error enum of the `http` module and its edge decision (`status()`), as hyper's
//! `on_error` maps parse failures to 400/414/431.
//! Must not: write responses or log lines; `shard/` does that, once per connection failure.
//! Invariants: every variant carries the limit it hit, so a log line needs nothing else.

use super::response::reason_phrase;

/// Why a message head or body was refused.
///
/// On the client side the status is sent back before the connection closes; on the origin
/// side the caller turns any of these into a 502.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Bad syntax in the start line, a header line or the framing headers.
    #[error("malformed message: {reason}")]
    Malformed {
        /// What was wrong, lower-case.
        reason: &'static str,
    },
    /// The head (start line + header lines) is longer than the limit.
    #[error("message head larger than {bytes_max} bytes")]
    HeadTooLarge {
        /// The limit that was hit.
        bytes_max: usize,
    },
    /// The request target is longer than the limit.
    #[error("request target longer than {bytes_max} bytes")]
    UriTooLong {
        /// The limit that was hit.
        bytes_max: usize,
    },
    /// More header fields than the limit.
    #[error("more than {max} header fields")]
    TooManyHeaders {
        /// The limit that was hit.
        max: usize,
    },
    /// `Content-Length` is not a decimal number, overflows `u64`, or duplicates disagree.
    #[error("invalid content-length")]
    InvalidContentLength,
    /// `Transfer-Encoding` is anything but a single `chunked`.
    #[error("unsupported transfer-encoding, only chunked is accepted")]
    UnsupportedTransferEncoding,
    /// Bad chunked framing in a body.
    #[error("invalid chunked body: {reason}")]
    InvalidChunk {
        /// What was wrong, lower-case.
        reason: &'static str,
    },
    /// A `CONNECT` request: ringpin is a reverse proxy and tunnels nothing.
    #[error("connect is not supported")]
    ConnectNotSupported,
    /// The peer closed the connection before the body was complete.
    #[error("connection closed before the end of the body")]
    UnexpectedEof,
}

impl ParseError {
    /// The status a server answers with (RFC 9110 §15, RFC 6585 §5 for 431).
    pub fn status(&self) -> u16 {
        match self {
            ParseError::Malformed { .. } => 400,
            ParseError::HeadTooLarge { .. } => 431,
            ParseError::UriTooLong { .. } => 414,
            ParseError::TooManyHeaders { .. } => 431,
            ParseError::InvalidContentLength => 400,
            ParseError::UnsupportedTransferEncoding => 501,
            ParseError::InvalidChunk { .. } => 400,
            ParseError::UnexpectedEof => 400,
            ParseError::ConnectNotSupported => 501,
        }
    }

    /// The standard reason phrase of `status()`, e.g. "Request Header Fields Too Large".
    pub fn reason_phrase(&self) -> &'static str {
        reason_phrase(self.status())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(error: ParseError, status: u16, reason: &str, message: &str) {
        assert_eq!(error.status(), status, "{error:?}");
        assert_eq!(error.reason_phrase(), reason, "{error:?}");
        assert_eq!(error.to_string(), message);
    }

    #[test]
    fn each_error_maps_to_its_status_and_message() {
        check(
            ParseError::Malformed {
                reason: "invalid header name",
            },
            400,
            "Bad Request",
            "malformed message: invalid header name",
        );
        check(
            ParseError::HeadTooLarge { bytes_max: 8192 },
            431,
            "Request Header Fields Too Large",
            "message head larger than 8192 bytes",
        );
        check(
            ParseError::UriTooLong { bytes_max: 4096 },
            414,
            "URI Too Long",
            "request target longer than 4096 bytes",
        );
        check(
            ParseError::TooManyHeaders { max: 64 },
            431,
            "Request Header Fields Too Large",
            "more than 64 header fields",
        );
        check(
            ParseError::InvalidContentLength,
            400,
            "Bad Request",
            "invalid content-length",
        );
        check(
            ParseError::UnsupportedTransferEncoding,
            501,
            "Not Implemented",
            "unsupported transfer-encoding, only chunked is accepted",
        );
        check(
            ParseError::InvalidChunk {
                reason: "missing crlf after chunk data",
            },
            400,
            "Bad Request",
            "invalid chunked body: missing crlf after chunk data",
        );
        check(
            ParseError::ConnectNotSupported,
            501,
            "Not Implemented",
            "connect is not supported",
        );
        check(
            ParseError::UnexpectedEof,
            400,
            "Bad Request",
            "connection closed before the end of the body",
        );
    }
}
