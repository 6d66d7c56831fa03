//! TLS for the suite: a certificate authority made at test time (rcgen), the server
//! certificates it signs, written where ringpin reads them, and clients (rustls) that check
//! the server's chain and name against that CA only.
//!
//! Owns: `TestCa`, `Identity`, `connect` (a `Conn` over TLS), `wss_connect` (tungstenite over
//! TLS) and `start_tls_proxy` (ringpin with a plain and a TLS listener).
//! Invariants: no client here accepts a certificate the test CA did not sign for the name it
//! asked for, so a test that reaches ringpin's plaintext proves the whole TLS path.

use super::client::{Conn, Wire, DEADLINE};
use super::proxy::{free_port, Ports, Proxy};
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::cell::Cell;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use tungstenite::WebSocket;

/// A certificate authority that exists only for one test.
pub struct TestCa {
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    der: CertificateDer<'static>,
    /// The CA certificate, PEM.
    pub pem: String,
}

/// A server certificate (leaf, then the CA) and its key, PEM, plus the leaf's DER to
/// recognise it on the wire.
#[derive(Clone)]
pub struct Identity {
    pub chain_pem: String,
    pub key_pem: String,
    pub leaf: CertificateDer<'static>,
}

impl Identity {
    /// Writes `NAME.crt` and `NAME.key` into `dir` (Pushpin's certificate directory layout).
    pub fn write_as(&self, dir: &Path, name: &str) {
        let write = |file: String, text: &str| {
            let tmp = dir.join(format!(".{file}.tmp"));
            std::fs::write(&tmp, text).expect("write certificate");
            std::fs::rename(&tmp, dir.join(file)).expect("rename certificate");
        };
        write(format!("{name}.crt"), &self.chain_pem);
        write(format!("{name}.key"), &self.key_pem);
    }
}

impl TestCa {
    pub fn new() -> TestCa {
        let key = rcgen::KeyPair::generate().expect("CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "ringpin test CA");
        params.key_usages = vec![
            rcgen::KeyUsagePurpose::KeyCertSign,
            rcgen::KeyUsagePurpose::CrlSign,
        ];
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            der: cert.der().clone(),
            pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn issue(&self, names: &[&str]) -> Identity {
        let key = rcgen::KeyPair::generate().expect("server key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let params = rcgen::CertificateParams::new(names).expect("server params");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        Identity {
            chain_pem: format!("{}{}", cert.pem(), self.pem),
            key_pem: key.serialize_pem(),
            leaf: cert.der().clone(),
        }
    }

    /// A client configuration that trusts this CA and nothing else.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        let mut roots = RootCertStore::empty();
        roots.add(self.der.clone()).expect("CA is a valid root");
        // ring, like ringpin; rustls deprecates it only for lacking post-quantum key exchange.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Arc::new(config)
    }
}

/// A TLS session to `addr` naming `server_name`, checked against `ca`; the handshake is done.
pub fn try_connect(ca: &TestCa, addr: SocketAddr, server_name: &str) -> std::io::Result<Wire> {
    let tcp = TcpStream::connect_timeout(&addr, DEADLINE)?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(DEADLINE))?;
    let name = ServerName::try_from(server_name.to_owned()).expect("a valid server name");
    let session = ClientConnection::new(ca.client_config(), name).map_err(std::io::Error::other)?;
    let mut tls = StreamOwned::new(session, tcp);
    while tls.conn.is_handshaking() {
        tls.conn.complete_io(&mut tls.sock)?;
    }
    Ok(Wire::Tls(Box::new(tls)))
}

/// `try_connect` that fails the test on an error.
pub fn connect(ca: &TestCa, addr: SocketAddr, server_name: &str) -> Conn {
    let wire = try_connect(ca, addr, server_name)
        .unwrap_or_else(|e| panic!("TLS to {addr} as {server_name}: {e}"));
    Conn::over(wire)
}

/// The end-entity certificate the server presented on `wire`.
pub fn presented(wire: &Wire) -> CertificateDer<'static> {
    let Wire::Tls(tls) = wire else {
        panic!("not a TLS connection");
    };
    let chain = tls.conn.peer_certificates().expect("a server chain");
    chain[0].clone().into_owned()
}

/// A WebSocket client over TLS (`wss://`), checked against `ca`.
pub fn wss_connect(
    ca: &TestCa,
    addr: SocketAddr,
    path: &str,
) -> WebSocket<StreamOwned<ClientConnection, TcpStream>> {
    let Wire::Tls(tls) = try_connect(ca, addr, "localhost").expect("TLS handshake") else {
        unreachable!("try_connect returns TLS");
    };
    let url = format!("wss://localhost:{}{path}", addr.port());
    match tungstenite::client(url.as_str(), *tls) {
        Ok((ws, response)) => {
            assert_eq!(response.status().as_u16(), 101);
            ws
        }
        Err(err) => panic!("wss handshake: {err}"),
    }
}

/// A ringpin with its usual plain listener (which readiness is checked on) and one TLS
/// listener on 127.0.0.1, whose address is returned; `args` adds flags (certificates,
/// routes).
pub fn start_tls_proxy(args: impl Fn(Ports) -> Vec<String>) -> (Proxy, SocketAddr) {
    let tls_port = Cell::new(0);
    let proxy = Proxy::start_with(|ports| {
        tls_port.set(free_port());
        let mut argv = ports.listen_args();
        argv.extend([
            "--listen-tls".to_owned(),
            format!("127.0.0.1:{}", tls_port.get()),
        ]);
        argv.extend(args(ports));
        argv
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], tls_port.get()));
    (proxy, addr)
}

/// A TLS server stream, as an origin sees its client (ringpin).
pub type ServerStream = StreamOwned<rustls::ServerConnection, TcpStream>;

/// An origin that speaks TLS with `identity`: each connection's handshake is completed, then
/// `serve` runs on its own thread. The listener thread ends with the test process.
pub fn start_tls_origin(
    identity: &Identity,
    serve: impl Fn(ServerStream) + Send + Sync + 'static,
) -> u16 {
    use rustls::pki_types::pem::PemObject;
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(identity.chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .expect("chain");
    let key =
        rustls::pki_types::PrivateKeyDer::from_pem_slice(identity.key_pem.as_bytes()).expect("key");
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .expect("server certificate");
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind origin");
    let port = listener.local_addr().expect("addr").port();
    let serve = Arc::new(serve);
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, serve) = (Arc::clone(&config), Arc::clone(&serve));
            std::thread::spawn(move || {
                let _ = tcp.set_read_timeout(Some(DEADLINE));
                let Ok(session) = rustls::ServerConnection::new(config) else {
                    return;
                };
                let mut tls = StreamOwned::new(session, tcp);
                while tls.conn.is_handshaking() {
                    if tls.conn.complete_io(&mut tls.sock).is_err() {
                        return;
                    }
                }
                serve(tls);
            });
        }
    });
    port
}

/// Reads one request head from an origin's client; `None` when it closed first.
pub fn read_request_head(stream: &mut ServerStream) -> Option<String> {
    use std::io::Read;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}
