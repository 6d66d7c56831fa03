//! WS frames: the client side of RFC 6455 framing and the opening handshake, on top of
//! tungstenite's pure frame-header codec (no tungstenite socket types).
//!
//! Owns: bytes of a frame not yet complete, the text message being reassembled from
//! fragments, and the masked frames a client must send (pong, close).
//! Must not: touch sockets or time anything.
//! Invariants: a message is handed out only when its final fragment has arrived; payloads
//! above [`WS_PAYLOAD_BYTES_MAX`] are an error, not an allocation.

use std::io::Cursor;

use tungstenite::protocol::frame::coding::{Control, Data, OpCode};
use tungstenite::protocol::frame::FrameHeader;

/// Largest frame or reassembled message accepted (loadgen messages are far smaller).
pub const WS_PAYLOAD_BYTES_MAX: u64 = 16 << 20;

/// What the decoder found.
#[derive(Debug, PartialEq, Eq)]
pub enum WsItem<'a> {
    /// A complete text or binary message.
    Message(&'a [u8]),
    /// A ping whose payload must be echoed in a pong.
    Ping(&'a [u8]),
    /// The server sent a close frame.
    Close,
}

/// Why the frame stream is unusable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WsError {
    /// tungstenite rejected a frame header.
    Header(String),
    /// A frame or message over [`WS_PAYLOAD_BYTES_MAX`].
    TooLarge { bytes: u64 },
    /// A continuation frame without a message to continue.
    StrayContinuation,
}

impl std::fmt::Display for WsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WsError::Header(e) => write!(f, "bad ws frame header: {e}"),
            WsError::TooLarge { bytes } => write!(f, "ws payload of {bytes} bytes over the limit"),
            WsError::StrayContinuation => write!(f, "ws continuation frame without a message"),
        }
    }
}

/// Incremental server-to-client frame decoder.
#[derive(Debug, Default, Clone)]
pub struct WsDecoder {
    buf: Vec<u8>,
    message: Vec<u8>,
    in_message: bool,
}

impl WsDecoder {
    /// Appends `data` and reports every frame it completes.
    pub fn feed(
        &mut self,
        data: &[u8],
        on_item: &mut impl FnMut(WsItem<'_>),
    ) -> Result<(), WsError> {
        self.buf.extend_from_slice(data);
        let mut start = 0;
        loop {
            let mut cursor = Cursor::new(&self.buf[start..]);
            let parsed =
                FrameHeader::parse(&mut cursor).map_err(|e| WsError::Header(e.to_string()))?;
            let Some((header, len)) = parsed else { break };
            if len > WS_PAYLOAD_BYTES_MAX {
                return Err(WsError::TooLarge { bytes: len });
            }
            let body_at = start + cursor.position() as usize;
            let end = body_at + len as usize;
            if end > self.buf.len() {
                break;
            }
            let mut payload = self.buf[body_at..end].to_vec();
            if let Some(mask) = header.mask {
                apply_mask(&mut payload, mask);
            }
            start = end;
            self.on_frame(&header, &payload, on_item)?;
        }
        self.buf.drain(..start);
        Ok(())
    }

    fn on_frame(
        &mut self,
        header: &FrameHeader,
        payload: &[u8],
        on_item: &mut impl FnMut(WsItem<'_>),
    ) -> Result<(), WsError> {
        match header.opcode {
            OpCode::Control(Control::Ping) => on_item(WsItem::Ping(payload)),
            OpCode::Control(Control::Close) => on_item(WsItem::Close),
            OpCode::Control(_) => {}
            OpCode::Data(Data::Continue) if !self.in_message => {
                return Err(WsError::StrayContinuation)
            }
            OpCode::Data(_) => {
                if !self.in_message {
                    self.message.clear();
                }
                self.message.extend_from_slice(payload);
                if self.message.len() as u64 > WS_PAYLOAD_BYTES_MAX {
                    return Err(WsError::TooLarge {
                        bytes: self.message.len() as u64,
                    });
                }
                self.in_message = !header.is_final;
                if header.is_final {
                    on_item(WsItem::Message(&self.message));
                }
            }
        }
        Ok(())
    }
}

/// XORs `buf` with the 4-byte `mask` (RFC 6455 §5.3).
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= mask[i % 4];
    }
}

/// Appends a masked client frame (clients must mask, RFC 6455 §5.1).
pub fn encode_client_frame(opcode: OpCode, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    let header = FrameHeader {
        opcode,
        mask: Some(mask),
        ..FrameHeader::default()
    };
    header
        .format(payload.len() as u64, out)
        .expect("writing a frame header into a Vec cannot fail");
    let at = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[at..], mask);
}

/// The opening-handshake request for `path` with `key` as `Sec-WebSocket-Key`.
pub fn handshake_request(path: &str, key: &str) -> Vec<u8> {
    format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    .into_bytes()
}

/// The `Sec-WebSocket-Accept` value a server must answer `key` with.
pub fn expected_accept(key: &str) -> String {
    tungstenite::handshake::derive_accept_key(key.as_bytes())
}

/// A fresh random `Sec-WebSocket-Key`.
pub fn generate_key() -> String {
    tungstenite::handshake::client::generate_key()
}

/// An unmasked frame as a server sends it, for tests here and in `client`.
#[cfg(test)]
pub(crate) fn server_frame(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let header = FrameHeader {
        opcode,
        is_final: fin,
        ..FrameHeader::default()
    };
    let mut out = Vec::new();
    header.format(payload.len() as u64, &mut out).expect("vec");
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream() -> Vec<u8> {
        let big = vec![b'x'; 300];
        let mut s = server_frame(OpCode::Data(Data::Text), true, b"1 2 xx");
        s.extend(server_frame(OpCode::Control(Control::Ping), true, b"p"));
        s.extend(server_frame(OpCode::Data(Data::Text), false, b"3 4 "));
        s.extend(server_frame(OpCode::Data(Data::Continue), true, b"xx"));
        s.extend(server_frame(OpCode::Data(Data::Text), true, &big));
        s.extend(server_frame(OpCode::Control(Control::Close), true, b""));
        s
    }

    fn items(data: &[u8], a: usize, b: usize) -> Vec<String> {
        let mut dec = WsDecoder::default();
        let mut out = Vec::new();
        for part in [&data[..a], &data[a..b], &data[b..]] {
            dec.feed(part, &mut |item| {
                out.push(match item {
                    WsItem::Message(m) => format!("m:{}", m.len()),
                    WsItem::Ping(p) => format!("ping:{}", String::from_utf8_lossy(p)),
                    WsItem::Close => "close".to_string(),
                })
            })
            .expect("valid frames");
        }
        out
    }

    #[test]
    fn frames_survive_any_two_split_points() {
        let data = stream();
        let want = ["m:6", "ping:p", "m:6", "m:300", "close"];
        for a in 0..=data.len() {
            for b in a..=data.len() {
                assert_eq!(items(&data, a, b), want, "splits {a},{b}");
            }
        }
    }

    #[test]
    fn client_frames_are_masked_and_decode_back() {
        let mut out = Vec::new();
        encode_client_frame(
            OpCode::Control(Control::Pong),
            b"hello",
            [1, 2, 3, 4],
            &mut out,
        );
        assert_eq!(out[1] & 0x80, 0x80, "mask bit set");
        assert_ne!(&out[6..], b"hello");
        let mut dec = WsDecoder::default();
        let mut seen = 0;
        dec.feed(&out, &mut |_| seen += 1).expect("valid");
        assert_eq!(seen, 0, "pongs are not reported");
    }

    #[test]
    fn stray_continuation_and_huge_frames_are_errors() {
        let mut dec = WsDecoder::default();
        let frame = server_frame(OpCode::Data(Data::Continue), true, b"x");
        assert_eq!(
            dec.feed(&frame, &mut |_| {}),
            Err(WsError::StrayContinuation)
        );
        let mut dec = WsDecoder::default();
        let huge = [0x81, 127, 0, 0, 0, 0, 0x10, 0, 0, 0];
        assert!(matches!(
            dec.feed(&huge, &mut |_| {}),
            Err(WsError::TooLarge { .. })
        ));
    }

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(
            expected_accept("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
