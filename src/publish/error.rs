//! PublishError: why a `/publish/` body was refused, in Pushpin's own words.
//!
//! Owns: the error enum of `publish::item` and its `Display`, which is the exact text
//! Pushpin 1.36 puts in the 400 body (PUSHPIN.md §3.1), without the trailing newline.
//! Must not: write responses; `publish::endpoint` adds the newline and the status.
//! Invariants: texts Pushpin defines are reproduced byte for byte, including the empty
//! message of an unknown action (`Invalid format: `); ringpin's own checks reuse Pushpin's
//! `<parent> contains '<field>' with invalid value` shape.

/// Why a publish body was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The body does not parse as JSON.
    #[error("Body is not valid JSON.")]
    NotJson,
    /// The top-level JSON value is not an object.
    #[error("Invalid format.")]
    NotObject,
    /// No `items` key.
    #[error("Invalid format: object does not contain 'items'")]
    MissingItems,
    /// `items` is not a list.
    #[error("Invalid format: object contains 'items' with wrong type")]
    ItemsWrongType,
    /// A value that must be an object is not one.
    #[error("Invalid format: {parent} is not an object")]
    NotAnObject {
        /// What it should be: `publish item object`, `'http-stream'`, ...
        parent: &'static str,
    },
    /// A required key is missing.
    #[error("Invalid format: {parent} does not contain '{field}'")]
    MissingField {
        /// The object missing it.
        parent: &'static str,
        /// The key.
        field: &'static str,
    },
    /// A key whose value has the wrong JSON type.
    #[error("Invalid format: {parent} contains '{field}' with wrong type")]
    WrongType {
        /// The object holding it (`'meta'` and `headers` for their entries).
        parent: &'static str,
        /// The key.
        field: String,
    },
    /// A key whose value has the right type but is not allowed (range, base64, control
    /// characters).
    #[error("Invalid format: {parent} contains '{field}' with invalid value")]
    InvalidValue {
        /// The object holding it.
        parent: &'static str,
        /// The key.
        field: String,
    },
    /// An item with none of `http-response`, `http-stream` and `ws-message`.
    #[error("Invalid format: no formats specified")]
    NoFormats,
    /// A `send` format without its content.
    #[error("Invalid format: {format} does not contain {expected}")]
    MissingContent {
        /// `'http-response'`, `'http-stream'` or `'ws-message'`.
        format: &'static str,
        /// The keys of which one is required, quoted as Pushpin quotes them.
        expected: &'static str,
    },
    /// An `action` other than send, hint, close and refresh; Pushpin's message is empty.
    #[error("Invalid format: ")]
    UnknownAction {
        /// The format it was in.
        format: &'static str,
        /// The action given.
        action: String,
    },
    /// A `ws-message` `type` other than text, binary, ping and pong.
    #[error("Invalid format: {format} contains 'type' with unknown value")]
    UnknownType {
        /// The format it was in.
        format: &'static str,
        /// The type given.
        value: String,
    },
    /// A list element that is not a string.
    #[error("Invalid format: {list} contains element with wrong type")]
    ElementWrongType {
        /// `content-filters` or `headers`.
        list: &'static str,
    },
    /// A `[name, value]` header entry with a different length.
    #[error("Invalid format: headers contains list with wrong number of elements")]
    HeaderPairLength,
    /// A header name or value that is not a string.
    #[error("Invalid format: header contains {element} element with wrong type")]
    HeaderElementWrongType {
        /// `name` or `value`.
        element: &'static str,
    },
    /// A header name that is not a token, or a value with CR, LF or NUL.
    #[error("Invalid format: header contains {element} element with invalid value")]
    HeaderElementInvalid {
        /// `name` or `value`.
        element: &'static str,
    },
    /// An `http-response` `code` that is not a final status: a long-poll answered with
    /// `HTTP/1.1 000` or `101` would desynchronise whatever proxy sits in front of ringpin.
    /// ringpin's own check; Pushpin 1.36 accepts 0-999.
    #[error("Invalid format: 'http-response' contains 'code' {code}, which is not a final status (200-599)")]
    StatusNotFinal {
        /// The code given.
        code: u16,
    },
    /// A `ws-message` close `code` that RFC 6455 §7.4 forbids on the wire (0-999, the
    /// reserved 1004-1006 and 1015, unassigned 1016-2999, 5000 and above). ringpin's own
    /// check; Pushpin 1.36 sends them.
    #[error("Invalid format: 'ws-message' contains 'code' {code}, which may not be sent in a close frame (1000-1003, 1007-1014 or 3000-4999)")]
    CloseCodeNotSendable {
        /// The code given.
        code: u16,
    },
}

impl PublishError {
    /// The status of the reply: always 400 Bad Request, as in Pushpin.
    pub fn status(&self) -> u16 {
        400
    }
}
