//! The TLS layer against a rustls server in memory: no sockets, every byte handed over by the
//! test, so record and read boundaries are chosen here.

use super::*;
use crate::client::{Client, ClientConfig as SubscriberConfig, Event};
use crate::message::{self, Stamp};
use crate::scenario::Mode;
use crate::tls_cert::{self, CertSet};
use rustls::{ServerConfig, ServerConnection};

const SIZE: usize = 96;

fn certs() -> CertSet {
    tls_cert::generate(&["localhost".into(), "127.0.0.1".into()]).expect("certificates")
}

fn server(set: &CertSet) -> ServerConnection {
    let chain = CertificateDer::pem_slice_iter(set.chain_pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("chain");
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(set.key_pem.as_bytes()).expect("key");
    let config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    ServerConnection::new(Arc::new(config)).expect("server session")
}

fn client_for(set: &CertSet, name: &str) -> TlsSession {
    TlsConfig::from_ca_pem(set.ca_pem.as_bytes(), name)
        .expect("config")
        .session()
        .expect("session")
}

/// Hands the server everything in `bytes`, processing as rustls takes it.
fn server_take(server: &mut ServerConnection, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        server.read_tls(&mut bytes).expect("server read_tls");
        server
            .process_new_packets()
            .expect("server accepts the client");
    }
}

/// Everything the server has queued, as wire bytes.
fn server_output(server: &mut ServerConnection) -> Vec<u8> {
    let mut wire = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut wire).expect("server write_tls");
    }
    wire
}

/// Moves bytes both ways until neither side has anything to send; the server's bytes reach
/// the client in pieces of `cut` bytes. Returns the plaintext the client received.
fn pump(
    client: &mut TlsSession,
    server: &mut ServerConnection,
    cut: usize,
) -> Result<Vec<u8>, TlsError> {
    let mut plain = Vec::new();
    let mut scratch = [0u8; 64];
    loop {
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_ciphertext(&mut to_server).expect("to memory");
        }
        server_take(server, &to_server);
        let to_client = server_output(server);
        if to_server.is_empty() && to_client.is_empty() {
            return Ok(plain);
        }
        for piece in to_client.chunks(cut) {
            client.on_ciphertext(piece, &mut scratch, &mut |p| plain.extend_from_slice(p))?;
        }
    }
}

#[test]
fn the_handshake_completes_and_the_request_queued_before_it_arrives() {
    let set = certs();
    for name in ["localhost", "127.0.0.1"] {
        let mut server = server(&set);
        let mut client = client_for(&set, name);
        assert_eq!(
            client.queue_plaintext(b"GET / HTTP/1.1\r\n\r\n").ok(),
            Some(18)
        );
        assert!(client.is_handshaking());
        let got = pump(&mut client, &mut server, 1 << 20).expect("handshake");
        assert!(got.is_empty(), "{name}: the server sent no data");
        assert!(!client.is_handshaking(), "{name}");
        let negotiated = client.negotiated().expect("negotiated");
        assert!(negotiated.starts_with("TLSv1_3/TLS13_"), "{negotiated}");
        let mut request = vec![0u8; 64];
        let n = server.reader().read(&mut request).expect("request");
        assert_eq!(&request[..n], b"GET / HTTP/1.1\r\n\r\n", "{name}");
    }
}

fn subscriber_config() -> SubscriberConfig {
    SubscriberConfig {
        mode: Mode::Stream,
        request: b"GET /stream HTTP/1.1\r\n\r\n".to_vec(),
        value_len: message::value_len(SIZE, message::Framing::Line),
        ws_accept: String::new(),
        ws_mask: [0; 4],
    }
}

/// A chunked stream's bytes, each written by the server in pieces of at most `piece` bytes
/// (each piece its own record): the head, `open`, then messages 1..=`messages`.
fn write_stream(server: &mut ServerConnection, piece: usize, messages: u64) {
    let mut body = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nopen\n\r\n".to_vec();
    for seq in 1..=messages {
        let line = message::encode_framed(seq, 1000 + seq, SIZE, message::Framing::Line);
        body.extend(format!("{:x}\r\n", line.len()).into_bytes());
        body.extend(line);
        body.extend(b"\r\n");
    }
    for part in body.chunks(piece) {
        let n = server.writer().write(part).expect("server write");
        assert_eq!(n, part.len());
    }
}

#[test]
fn a_chunked_stream_split_across_records_and_reads_yields_every_message_once() {
    let set = certs();
    let cfg = subscriber_config();
    let want: Vec<Event> = std::iter::once(Event::Held)
        .chain((1..=4).map(|seq| {
            Event::Message(Stamp {
                seq,
                send_ns: 1000 + seq,
            })
        }))
        .collect();
    // Record sizes that cut heads, chunk sizes and messages anywhere; read sizes from one
    // byte (every record split over many reads) to everything at once (many records per read).
    for piece in [1, 7, 50, 97, 4096] {
        for cut in [1, 13, 100, 5000, 1 << 20] {
            let mut server = server(&set);
            let mut session = client_for(&set, "localhost");
            pump(&mut session, &mut server, cut).expect("handshake");
            write_stream(&mut server, piece, 4);
            let mut client = Client::new(&cfg);
            let mut events = Vec::new();
            let mut scratch = [0u8; 64];
            for part in server_output(&mut server).chunks(cut) {
                let taken = session.on_ciphertext(part, &mut scratch, &mut |p| {
                    client.on_bytes(&cfg, p, &mut |e| events.push(e))
                });
                assert_eq!(taken.ok(), Some(Ciphertext::Taken));
            }
            assert_eq!(events, want, "records of {piece} B, reads of {cut} B");
        }
    }
}

#[test]
fn a_certificate_from_another_ca_fails_the_handshake() {
    let trusted = certs();
    let other = certs();
    let mut server = server(&other);
    let mut client = client_for(&trusted, "localhost");
    let mut to_server = Vec::new();
    client.write_ciphertext(&mut to_server).expect("hello");
    server_take(&mut server, &to_server);
    let mut scratch = [0u8; 64];
    let result = client.on_ciphertext(&server_output(&mut server), &mut scratch, &mut |_| {
        panic!("no plaintext before the chain is trusted")
    });
    match result {
        Err(TlsError::Handshake(rustls::Error::InvalidCertificate(_))) => {}
        other => panic!("expected an invalid-certificate handshake error, got {other:?}"),
    }
    assert!(client.is_handshaking());
    assert_eq!(client.negotiated(), None);
    assert!(client.wants_write(), "an alert is queued for the server");
}

#[test]
fn a_certificate_for_another_name_fails_the_handshake() {
    let set = certs();
    let mut server = server(&set);
    let mut client = client_for(&set, "proxy.example");
    match pump(&mut client, &mut server, 1 << 20) {
        Err(TlsError::Handshake(rustls::Error::InvalidCertificate(_))) => {}
        other => panic!("expected an invalid-certificate handshake error, got {other:?}"),
    }
}

#[test]
fn close_notify_ends_the_session_after_the_data_before_it() {
    let set = certs();
    let mut server = server(&set);
    let mut client = client_for(&set, "localhost");
    pump(&mut client, &mut server, 1 << 20).expect("handshake");
    server.writer().write_all(b"last words").expect("write");
    server.send_close_notify();
    let mut wire = server_output(&mut server);
    wire.extend_from_slice(b"ignored: after close_notify");
    let mut plain = Vec::new();
    let mut scratch = [0u8; 4];
    let result = client.on_ciphertext(&wire, &mut scratch, &mut |p| plain.extend_from_slice(p));
    assert_eq!(result.ok(), Some(Ciphertext::PeerClosed));
    assert_eq!(plain, b"last words");
}

#[test]
fn a_ca_file_without_a_usable_certificate_is_refused() {
    let set = certs();
    assert!(TlsConfig::from_ca_pem(set.ca_pem.as_bytes(), "localhost").is_ok());
    for bad in [
        &b""[..],
        b"not a certificate",
        set.key_pem.as_bytes(),
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    ] {
        assert!(
            TlsConfig::from_ca_pem(bad, "localhost").is_err(),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert!(TlsConfig::from_ca_pem(set.ca_pem.as_bytes(), "not a name!").is_err());
}
