//! EncodedItem: a publish item's formats turned into wire bytes, once, for every subscriber.
//!
//! Owns: the HTTP chunk of an `http-stream` item, its raw bytes for close-delimited
//! responses, and the unmasked server frame of a `ws-message` item (the frame encoder in
//! `ws::frame`), each built at most once per item and shared as `Bytes` (DESIGN.md §1).
//! The chunk and the frames are built the first time a subscriber needs them (a
//! `OnceLock`, safe across shards), not when the router releases the item: a publish with
//! every format costs only the forms its subscribers use, and none on the router's thread.
//! Must not: apply per-subscriber filters, or know about sockets and queues.
//! Invariants: an empty `http-stream` content encodes to an empty chunk (a zero-length chunk
//! would end the chunked body); a close frame's payload is at most 125 bytes, so its reason
//! is cut on a character boundary; `http-response` is passed through, because its body
//! depends on the held request (headers merge, JSON Patch).

use crate::http::encode_chunk;
use crate::ws::deflate::encode_deflated_frame;
use crate::ws::{encode_close, encode_frame};
use bytes::Bytes;
use std::sync::OnceLock;
use tungstenite::protocol::frame::coding::{Control, Data, OpCode};

use super::item::{
    HttpResponseFormat, HttpStreamFormat, PublishItem, WsMessageFormat, WsMessageKind,
};

/// The wire form of an `http-stream` format.
#[derive(Clone, Debug)]
pub enum EncodedStream {
    /// Content to append.
    Content(StreamContent),
    /// End the response.
    Close,
    /// Fetch the next link.
    Hint,
    /// Nothing for streams.
    Refresh,
}

/// An `http-stream` item's content, and its HTTP chunk, framed the first time a chunked
/// subscriber needs it and shared by every later one, on every shard.
#[derive(Clone, Debug)]
pub struct StreamContent {
    raw: Bytes,
    chunk: OnceLock<Bytes>,
    content_filters: Option<Vec<String>>,
}

impl StreamContent {
    /// `raw` content, with the subscriptions' required content filters if any.
    pub fn new(raw: Bytes, content_filters: Option<Vec<String>>) -> StreamContent {
        StreamContent {
            raw,
            chunk: OnceLock::new(),
            content_filters,
        }
    }

    /// The content as is, for close-delimited HTTP/1.0 responses.
    pub fn raw(&self) -> &Bytes {
        &self.raw
    }

    /// Chunked framing, `"{len:x}\r\n" + content + "\r\n"`; empty for empty content.
    pub fn chunk(&self) -> &Bytes {
        self.chunk.get_or_init(|| encode_chunk(&self.raw))
    }

    /// Must equal the subscription's content filters, when present.
    pub fn content_filters(&self) -> Option<&[String]> {
        self.content_filters.as_deref()
    }
}

/// The wire form of a `ws-message` format.
#[derive(Clone, Debug)]
pub enum EncodedWs {
    /// A data or ping/pong message.
    Frame(WsFrame),
    /// Close the connection.
    Close {
        /// Unmasked close frame.
        frame: Bytes,
        /// The close code, if any.
        code: Option<u16>,
        /// The full reason as published (the frame may carry less).
        reason: String,
    },
    /// Ignored for WebSockets.
    Hint,
    /// Ask a WebSocket-over-HTTP connection for an origin request now.
    Refresh,
}

/// A `ws-message` data or ping/pong message, with its unmasked server frame and, for clients
/// that negotiated permessage-deflate, its compressed frame: each built the first time a
/// subscriber needs it and shared after, so an item published with every format to a
/// channel whose subscribers all stream costs no frame, and one no deflating client receives
/// costs no compression.
#[derive(Clone, Debug)]
pub struct WsFrame {
    opcode: OpCode,
    payload: Bytes,
    /// Whether compressing is allowed at all (`allow_compression`).
    deflate: bool,
    frame: OnceLock<Bytes>,
    deflated: OnceLock<Option<Bytes>>,
    content_filters: Option<Vec<String>>,
}

impl WsFrame {
    /// A message of `opcode` carrying `payload`; `deflate` allows the compressed form.
    pub fn new(
        opcode: OpCode,
        payload: Bytes,
        deflate: bool,
        content_filters: Option<Vec<String>>,
    ) -> WsFrame {
        WsFrame {
            opcode,
            payload,
            deflate,
            frame: OnceLock::new(),
            deflated: OnceLock::new(),
            content_filters,
        }
    }

    /// The unmasked server frame: header + payload.
    pub fn frame(&self) -> &Bytes {
        (self.frame).get_or_init(|| encode_frame(self.opcode, &self.payload))
    }

    /// The same message compressed (RSV1 set); `None` when compression is off, or saves
    /// nothing on it.
    pub fn deflated(&self) -> Option<&Bytes> {
        if !self.deflate {
            return None;
        }
        (self.deflated)
            .get_or_init(|| encode_deflated_frame(self.opcode, &self.payload))
            .as_ref()
    }

    /// The message's payload.
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The frame's first byte: FIN and the opcode.
    pub fn first_byte(&self) -> u8 {
        0x80 | u8::from(self.opcode)
    }

    /// Must equal the subscription's content filters, when present.
    pub fn content_filters(&self) -> Option<&[String]> {
        self.content_filters.as_deref()
    }

    /// Whether the frame and the compressed frame have been built yet.
    #[cfg(test)]
    pub(crate) fn built(&self) -> (bool, bool) {
        (self.frame.get().is_some(), self.deflated.get().is_some())
    }
}

/// A publish item with its formats encoded.
#[derive(Debug)]
pub struct EncodedItem {
    /// Channel name.
    pub channel: String,
    /// This item's id.
    pub id: Option<String>,
    /// The previous item's id.
    pub prev_id: Option<String>,
    /// Publisher metadata for filters.
    pub meta: Vec<(String, String)>,
    /// Deliver without sequencing.
    pub no_seq: bool,
    /// For stream holds.
    pub stream: Option<EncodedStream>,
    /// For response holds, unencoded: the body depends on the held request.
    pub response: Option<HttpResponseFormat>,
    /// For WebSocket clients.
    pub ws: Option<EncodedWs>,
    /// When the router released it, for the delivery-latency histogram; `None` when it was
    /// encoded elsewhere (tests, benchmarks).
    pub routed_at: Option<std::time::Instant>,
}

/// Encodes every format of `item` once.
pub fn encode_item(item: PublishItem) -> EncodedItem {
    encode_item_with(item, false)
}

/// `encode_item`, compressing a `ws-message` as well when `deflate` (`allow_compression`).
pub fn encode_item_with(item: PublishItem, deflate: bool) -> EncodedItem {
    EncodedItem {
        channel: item.channel,
        id: item.id,
        prev_id: item.prev_id,
        meta: item.meta,
        no_seq: item.no_seq,
        stream: item.http_stream.map(encode_stream),
        response: item.http_response,
        ws: item.ws_message.map(|format| encode_ws(format, deflate)),
        routed_at: None,
    }
}

/// An `http-stream` format's wire form; the chunk is framed on first use.
fn encode_stream(format: HttpStreamFormat) -> EncodedStream {
    match format {
        HttpStreamFormat::Send {
            content,
            content_filters,
        } => EncodedStream::Content(StreamContent::new(content, content_filters)),
        HttpStreamFormat::Close => EncodedStream::Close,
        HttpStreamFormat::Hint => EncodedStream::Hint,
        HttpStreamFormat::Refresh => EncodedStream::Refresh,
    }
}

/// A `ws-message` format's wire form; a data or ping/pong frame is built on first use.
fn encode_ws(format: WsMessageFormat, deflate: bool) -> EncodedWs {
    match format {
        WsMessageFormat::Send {
            kind,
            content,
            content_filters,
        } => {
            let opcode = match kind {
                WsMessageKind::Text => OpCode::Data(Data::Text),
                WsMessageKind::Binary => OpCode::Data(Data::Binary),
                WsMessageKind::Ping => OpCode::Control(Control::Ping),
                WsMessageKind::Pong => OpCode::Control(Control::Pong),
            };
            EncodedWs::Frame(WsFrame::new(opcode, content, deflate, content_filters))
        }
        WsMessageFormat::Close { code, reason } => EncodedWs::Close {
            frame: encode_close(code, &reason),
            code,
            reason,
        },
        WsMessageFormat::Hint => EncodedWs::Hint,
        WsMessageFormat::Refresh => EncodedWs::Refresh,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::headers::Headers;
    use crate::publish::item::ResponseBody;

    fn item() -> PublishItem {
        PublishItem {
            channel: "c".into(),
            id: Some("2".into()),
            prev_id: Some("1".into()),
            meta: vec![("sender".into(), "a".into())],
            no_seq: true,
            http_response: None,
            http_stream: None,
            ws_message: None,
        }
    }

    fn stream(content: &[u8]) -> EncodedStream {
        let format = HttpStreamFormat::Send {
            content: Bytes::copy_from_slice(content),
            content_filters: Some(vec!["f".into()]),
        };
        encode_stream(format)
    }

    fn ws(format: WsMessageFormat) -> (Bytes, Option<Vec<String>>) {
        match encode_ws(format, false) {
            EncodedWs::Frame(f) => (f.frame().clone(), f.content_filters().map(<[_]>::to_vec)),
            EncodedWs::Close { frame, .. } => (frame, None),
            EncodedWs::Hint | EncodedWs::Refresh => (Bytes::new(), None),
        }
    }

    fn send(kind: WsMessageKind, content: Vec<u8>) -> WsMessageFormat {
        WsMessageFormat::Send {
            kind,
            content: Bytes::from(content),
            content_filters: None,
        }
    }

    #[test]
    fn stream_content_is_chunked_once_and_kept_raw() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"hi\n", b"3\r\nhi\n\r\n"),
            (b"", b""),
            (&[b'x'; 16], b"10\r\nxxxxxxxxxxxxxxxx\r\n"),
        ];
        for (content, want) in cases {
            match stream(content) {
                EncodedStream::Content(c) => {
                    assert_eq!(c.chunk().as_ref(), *want);
                    assert_eq!(c.raw().as_ref(), *content);
                    assert_eq!(c.content_filters(), Some(&["f".to_string()][..]));
                }
                other => panic!("{other:?}"),
            }
        }
        let big = encode_chunk(&vec![0u8; 70_000]);
        assert!(big.starts_with(b"11170\r\n") && big.ends_with(b"\x00\r\n"));
        assert!(matches!(
            encode_stream(HttpStreamFormat::Close),
            EncodedStream::Close
        ));
        assert!(matches!(
            encode_stream(HttpStreamFormat::Hint),
            EncodedStream::Hint
        ));
    }

    #[test]
    fn ws_frames_are_unmasked_server_frames() {
        use WsMessageKind::*;
        let cases: Vec<(WsMessageFormat, Vec<u8>)> = vec![
            (send(Text, b"hi".to_vec()), b"\x81\x02hi".to_vec()),
            (send(Binary, vec![0, 1]), b"\x82\x02\x00\x01".to_vec()),
            (send(Ping, vec![]), b"\x89\x00".to_vec()),
            (send(Pong, b"p".to_vec()), b"\x8a\x01p".to_vec()),
            (
                send(Text, vec![b'a'; 126]),
                [&b"\x81\x7e\x00\x7e"[..], &[b'a'; 126]].concat(),
            ),
            (
                send(Binary, vec![7; 65_536]),
                [
                    &b"\x82\x7f\x00\x00\x00\x00\x00\x01\x00\x00"[..],
                    &[7; 65_536],
                ]
                .concat(),
            ),
            (
                WsMessageFormat::Close {
                    code: Some(4001),
                    reason: "kicked".into(),
                },
                b"\x88\x08\x0f\xa1kicked".to_vec(),
            ),
            (
                WsMessageFormat::Close {
                    code: None,
                    reason: "dropped".into(),
                },
                b"\x88\x00".to_vec(),
            ),
        ];
        for (format, want) in cases {
            let label = format!("{format:?}");
            assert_eq!(ws(format).0.as_ref(), want.as_slice(), "{label:.60}");
        }
        let filters = Some(vec!["f".to_string()]);
        let format = WsMessageFormat::Send {
            kind: Text,
            content: Bytes::from("x"),
            content_filters: filters.clone(),
        };
        assert_eq!(ws(format).1, filters);
        assert!(matches!(
            encode_ws(WsMessageFormat::Hint, false),
            EncodedWs::Hint
        ));
    }

    #[test]
    fn long_close_reasons_are_cut_on_a_char_boundary() {
        let reason = format!("a{}", "é".repeat(100));
        let close = WsMessageFormat::Close {
            code: Some(1000),
            reason: reason.clone(),
        };
        let encoded = encode_ws(close, false);
        let EncodedWs::Close {
            frame,
            code,
            reason: kept,
        } = encoded
        else {
            panic!("not a close");
        };
        assert_eq!((code, kept), (Some(1000), reason));
        // 2 header bytes, 2 code bytes, then "a" + 61 "é" = 123 bytes.
        assert_eq!(frame.len(), 2 + 2 + 123);
        assert_eq!(frame[1], 125);
        assert!(std::str::from_utf8(&frame[4..]).is_ok());
    }

    #[test]
    fn encode_item_keeps_the_envelope_and_passes_responses_through() {
        let response = HttpResponseFormat::Send {
            code: 200,
            reason: None,
            headers: Headers::new(),
            body: ResponseBody::Bytes(Bytes::from("r")),
        };
        let mut published = item();
        published.http_response = Some(response.clone());
        published.http_stream = Some(HttpStreamFormat::Send {
            content: Bytes::from("s"),
            content_filters: None,
        });
        published.ws_message = Some(send(WsMessageKind::Text, b"w".to_vec()));
        let encoded = encode_item(published);
        assert_eq!(encoded.channel, "c");
        assert_eq!(encoded.id.as_deref(), Some("2"));
        assert_eq!(encoded.prev_id.as_deref(), Some("1"));
        assert_eq!(encoded.meta, vec![("sender".to_string(), "a".to_string())]);
        assert!(encoded.no_seq);
        assert_eq!(encoded.response, Some(response));
        assert!(matches!(
            encoded.stream,
            Some(EncodedStream::Content(ref c)) if c.chunk().as_ref() == b"1\r\ns\r\n"
        ));
        assert!(matches!(
            encoded.ws,
            Some(EncodedWs::Frame(ref f)) if f.frame().as_ref() == b"\x81\x01w"
        ));
        let bare = encode_item(item());
        assert!(bare.stream.is_none() && bare.response.is_none() && bare.ws.is_none());
    }
}
