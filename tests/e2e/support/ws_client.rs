//! A WebSocket client for the suite: tungstenite over a blocking `TcpStream` with deadlines.
//!
//! Owns: `WsConn` (connect, send, read the next message within `DEADLINE`, close) and
//! `ws_reject`, which returns the HTTP response of an upgrade the server refused.
//! Must not: share code with ringpin; tungstenite is the independent implementation.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};

use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{client, HandshakeError, Message, WebSocket};

use super::client::DEADLINE;

/// An open WebSocket to ringpin.
pub struct WsConn {
    pub ws: WebSocket<TcpStream>,
}

fn upgrade(addr: SocketAddr, path: &str) -> Result<WsConn, Box<tungstenite::Error>> {
    let stream = TcpStream::connect(addr).expect("connect to ringpin");
    stream.set_read_timeout(Some(DEADLINE)).expect("timeout");
    let url = format!("ws://{addr}{path}");
    match client(url.as_str(), stream) {
        Ok((ws, _response)) => Ok(WsConn { ws }),
        Err(HandshakeError::Failure(err)) => Err(Box::new(err)),
        Err(HandshakeError::Interrupted(_)) => panic!("blocking handshake interrupted"),
    }
}

/// Opens a WebSocket to `path`; panics if ringpin refuses.
pub fn ws_connect(addr: SocketAddr, path: &str) -> WsConn {
    upgrade(addr, path).unwrap_or_else(|err| panic!("websocket upgrade to {path} failed: {err}"))
}

/// An upgrade ringpin refused: status, headers and body of its response.
pub fn ws_reject(addr: SocketAddr, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    match upgrade(addr, path) {
        Ok(_) => panic!("upgrade to {path} was accepted"),
        Err(err) if matches!(*err, tungstenite::Error::Http(_)) => {
            let tungstenite::Error::Http(response) = *err else {
                unreachable!()
            };
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                .collect();
            let status = response.status().as_u16();
            (status, headers, response.into_body().unwrap_or_default())
        }
        Err(err) => panic!("upgrade to {path} failed without a response: {err}"),
    }
}

impl WsConn {
    pub fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).expect("send text");
    }

    pub fn send_binary(&mut self, data: &[u8]) {
        self.ws
            .send(Message::binary(data.to_vec()))
            .expect("send binary");
    }

    pub fn send_ping(&mut self, data: &[u8]) {
        self.ws
            .send(Message::Ping(data.to_vec()))
            .expect("send ping");
    }

    /// Starts the close handshake with `code` and `reason`.
    pub fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_string().into(),
        };
        self.ws.close(Some(frame)).expect("send close");
    }

    /// Reads the next message, which must be a close frame, and answers it with a close frame
    /// of its own (`code`, `reason`) written straight to the socket, instead of tungstenite's
    /// echo (left unsent); returns the received code and reason.
    pub fn answer_close_with(&mut self, code: u16, reason: &str) -> (u16, String) {
        let closed = match self.next() {
            Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
            other => panic!("expected a close frame, got {other:?}"),
        };
        let mut payload = code.to_be_bytes().to_vec();
        payload.extend_from_slice(reason.as_bytes());
        assert!(payload.len() < 126, "a control frame's payload is short");
        // FIN + close, masked with a zero key so the payload goes as it is.
        let mut frame = vec![0x88, 0x80 | payload.len() as u8, 0, 0, 0, 0];
        frame.extend_from_slice(&payload);
        self.ws
            .get_mut()
            .write_all(&frame)
            .expect("write close reply");
        closed
    }

    /// The next message, within `DEADLINE`; panics on a timeout or an error.
    pub fn next(&mut self) -> Message {
        match self.ws.read() {
            Ok(message) => message,
            Err(err) => panic!("no websocket message within {DEADLINE:?}: {err}"),
        }
    }

    /// The next message must be this text.
    pub fn expect_text(&mut self, want: &str) {
        match self.next() {
            Message::Text(text) => assert_eq!(text.as_str(), want),
            other => panic!("expected text {want:?}, got {other:?}"),
        }
    }

    /// The next message must be a close frame; returns its code and reason. tungstenite's
    /// close reply is flushed at once, as a well-behaved client's would be.
    pub fn expect_close(&mut self) -> (u16, String) {
        let closed = match self.next() {
            Message::Close(Some(frame)) => (u16::from(frame.code), frame.reason.to_string()),
            other => panic!("expected a close frame, got {other:?}"),
        };
        let _ = self.ws.flush();
        closed
    }
}
