//! A plain WebSocket origin for the suite: tungstenite's server in plain threads.
//!
//! Owns: `WsBackend` (listener, one thread per connection, the handshake headers it received)
//! and its script, the same as the WebSocket-over-HTTP origin's (`woh.rs`): `sub:CH` answers
//! with a control message subscribing to CH, `close:CODE:REASON` closes, `raw:X` answers X
//! without the prefix, `ctl:JSON` answers `c:JSON`, other text and binary are echoed with the `m:` prefix; pings are
//! answered by tungstenite, closes echoed. It records the close frames it receives
//! (`closes`), a client's close or the reply to its own.
//! Must not: share code with ringpin.
// tungstenite's handshake callback returns its own large error type; there is no choice here.
#![allow(clippy::result_large_err)]

use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

use tungstenite::handshake::server::{Request, Response};
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::CloseFrame;
use tungstenite::{accept_hdr, Message, WebSocket};

use super::woh::subscribe_message;

type Handshakes = Arc<Mutex<Vec<Vec<(String, String)>>>>;
type Closes = Arc<Mutex<Vec<(u16, String)>>>;

/// The origin. Stops accepting on drop.
pub struct WsBackend {
    port: u16,
    stop: Arc<AtomicBool>,
    accept_thread: Option<JoinHandle<()>>,
    handshakes: Handshakes,
    closes: Closes,
}

impl WsBackend {
    /// Starts on a free port; `grip` accepts the `grip` extension in every 101.
    pub fn start(grip: bool) -> WsBackend {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("local_addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let handshakes: Handshakes = Arc::default();
        let closes: Closes = Arc::default();
        let accept_thread = {
            let (stop, handshakes, closes) = (stop.clone(), handshakes.clone(), closes.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let (handshakes, closes) = (handshakes.clone(), closes.clone());
                    thread::spawn(move || serve(stream, grip, &handshakes, &closes));
                }
            })
        };
        WsBackend {
            port,
            stop,
            accept_thread: Some(accept_thread),
            handshakes,
            closes,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The header fields of every handshake received, in order.
    pub fn handshakes(&self) -> Vec<Vec<(String, String)>> {
        self.handshakes.lock().expect("lock").clone()
    }

    /// The code and reason of every close frame received, in order.
    pub fn closes(&self) -> Vec<(u16, String)> {
        self.closes.lock().expect("lock").clone()
    }
}

impl Drop for WsBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.accept_thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(stream: TcpStream, grip: bool, handshakes: &Handshakes, closes: &Closes) {
    let callback = |request: &Request, mut response: Response| {
        let headers = request
            .headers()
            .iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
            .collect();
        handshakes.lock().expect("lock").push(headers);
        if grip {
            let value = "grip".parse().expect("header value");
            response
                .headers_mut()
                .insert("Sec-WebSocket-Extensions", value);
        }
        Ok(response)
    };
    let Ok(mut ws) = accept_hdr(stream, callback) else {
        return;
    };
    while let Ok(message) = ws.read() {
        if let Message::Close(Some(frame)) = &message {
            let close = (u16::from(frame.code), frame.reason.to_string());
            closes.lock().expect("lock").push(close);
        }
        if answer(&mut ws, message).is_err() {
            return;
        }
    }
}

fn answer(ws: &mut WebSocket<TcpStream>, message: Message) -> tungstenite::Result<()> {
    match message {
        Message::Text(text) => {
            let text = text.as_str();
            if let Some(channel) = text.strip_prefix("sub:") {
                ws.send(Message::text(subscribe_message(channel)))
            } else if let Some(rest) = text.strip_prefix("close:") {
                let (code, reason) = rest.split_once(':').unwrap_or((rest, ""));
                let code: u16 = code.parse().expect("close code");
                ws.close(Some(CloseFrame {
                    code: CloseCode::from(code),
                    reason: reason.to_string().into(),
                }))
            } else if let Some(raw) = text.strip_prefix("raw:") {
                ws.send(Message::text(raw))
            } else if let Some(json) = text.strip_prefix("ctl:") {
                ws.send(Message::text(format!("c:{json}")))
            } else {
                ws.send(Message::text(format!("m:{text}")))
            }
        }
        Message::Binary(data) => {
            let mut echo = b"m:".to_vec();
            echo.extend_from_slice(&data);
            ws.send(Message::binary(echo))
        }
        _ => Ok(()),
    }
}
