//! TLS: the client side of `run --tls`, rustls (with `ring`, as ringpin) used as a sans-IO
//! layer between a subscriber's socket bytes and its [`crate::client::Client`].
//!
//! Owns: loading the CA that must have signed the proxy's certificate (`--tls-ca`), the
//! rustls configuration a worker's connections share, and [`TlsSession`], one connection's
//! TLS state: ciphertext in, plaintext out to a callback; plaintext in, ciphertext out to
//! whatever writer the worker passes.
//! Must not: own or open sockets, read the clock, or parse HTTP (the worker does I/O and
//! time-stamps, client.rs parses).
//! Invariants:
//! * the proxy's chain is checked against the given CA only, for the given name: there is no
//!   mode that accepts any certificate, so a run that delivers proves the TLS path;
//! * every ciphertext byte handed to [`TlsSession::on_ciphertext`] is consumed by that call,
//!   and every byte it decrypts is handed out before it returns, so rustls never holds more
//!   than one read's worth of plaintext and the worker's read buffer can be reused;
//! * no session resumption: each subscriber makes a full handshake, as distinct clients do,
//!   and holds the state of a fresh session.

use std::fmt;
use std::io::{self, Read as _, Write as _};
use std::path::PathBuf;
use std::sync::Arc;

use rustls::client::Resumption;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore};

/// Bytes rustls may queue for sending per connection (plaintext before the handshake ends,
/// then records): a subscriber sends only its request, long-poll re-polls and WebSocket
/// pongs, far less than this, so the cap only bounds a proxy that stops reading.
pub const SEND_BUFFER_BYTES_MAX: usize = 16 << 10;

/// Where `run --tls` connects and what it trusts: `--tls-ca`, `--tls-server-name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsTarget {
    /// PEM file with the CA certificate(s) that signed the proxy's certificate.
    pub ca: PathBuf,
    /// The name (DNS name or IP address) the proxy's certificate must be valid for; also
    /// sent as SNI when it is a DNS name.
    pub server_name: String,
}

/// Why a TLS session failed.
#[derive(Debug)]
pub enum TlsError {
    /// The handshake failed: a bad chain, a wrong name, an alert from the proxy.
    Handshake(rustls::Error),
    /// A record after the handshake did not decrypt or parse, or the proxy sent an alert.
    Session(rustls::Error),
    /// rustls refused the bytes (its input buffer was full).
    Buffer(io::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Handshake(e) => write!(f, "tls handshake: {e}"),
            TlsError::Session(e) => write!(f, "tls: {e}"),
            TlsError::Buffer(e) => write!(f, "tls input: {e}"),
        }
    }
}

/// The rustls configuration every connection of a worker shares.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

/// The crypto provider: `ring`, as ringpin's listeners use. rustls 0.23.48 deprecates it
/// only because it has no post-quantum key exchange.
#[allow(deprecated)]
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl TlsConfig {
    /// Reads `target.ca` and builds the configuration.
    pub fn load(target: &TlsTarget) -> Result<TlsConfig, String> {
        let ca = target.ca.display();
        let pem = std::fs::read(&target.ca).map_err(|e| format!("--tls-ca {ca}: {e}"))?;
        TlsConfig::from_ca_pem(&pem, &target.server_name).map_err(|e| format!("--tls-ca {ca}: {e}"))
    }

    /// A configuration that trusts the CA certificates in `pem` and nothing else, for
    /// `server_name`: TLS 1.2 and 1.3, ALPN `http/1.1`, no resumption.
    pub fn from_ca_pem(pem: &[u8], server_name: &str) -> Result<TlsConfig, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(pem) {
            let cert = cert.map_err(|e| format!("not a PEM certificate: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("not a usable CA certificate: {e}"))?;
        }
        if roots.is_empty() {
            return Err("no certificate in the file".into());
        }
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| format!("--tls-server-name {server_name:?}: {e}"))?;
        let mut config = ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("rustls: {e}"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::disabled();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsConfig {
            config: Arc::new(config),
            server_name: name,
        })
    }

    /// A new connection's session; its ClientHello is queued for sending.
    pub fn session(&self) -> Result<TlsSession, TlsError> {
        let mut conn = ClientConnection::new(Arc::clone(&self.config), self.server_name.clone())
            .map_err(TlsError::Handshake)?;
        conn.set_buffer_limit(Some(SEND_BUFFER_BYTES_MAX));
        Ok(TlsSession { conn })
    }
}

/// What the proxy's side of a session did in one [`TlsSession::on_ciphertext`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ciphertext {
    /// Every byte was taken; the session is open.
    Taken,
    /// The proxy sent `close_notify`; what followed it was ignored.
    PeerClosed,
}

/// One connection's TLS state.
pub struct TlsSession {
    conn: ClientConnection,
}

impl fmt::Debug for TlsSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSession")
            .field("handshaking", &self.conn.is_handshaking())
            .finish()
    }
}

impl TlsSession {
    /// True until the handshake has finished.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Feeds ciphertext read from the socket; every piece of plaintext it decrypts goes to
    /// `plain` in order, through `scratch` (any size; a few KiB saves calls).
    pub fn on_ciphertext(
        &mut self,
        mut data: &[u8],
        scratch: &mut [u8],
        plain: &mut impl FnMut(&[u8]),
    ) -> Result<Ciphertext, TlsError> {
        while !data.is_empty() {
            // rustls takes at most 4 KiB per call (its deframer's read size), so a large
            // read is fed in steps, each decrypted and drained before the next.
            if self.conn.read_tls(&mut data).map_err(TlsError::Buffer)? == 0 {
                return Ok(Ciphertext::PeerClosed);
            }
            let state = self.conn.process_new_packets().map_err(|e| {
                if self.conn.is_handshaking() {
                    TlsError::Handshake(e)
                } else {
                    TlsError::Session(e)
                }
            })?;
            self.drain(state.plaintext_bytes_to_read(), scratch, plain);
            if state.peer_has_closed() {
                return Ok(Ciphertext::PeerClosed);
            }
        }
        Ok(Ciphertext::Taken)
    }

    fn drain(&mut self, mut left: usize, scratch: &mut [u8], plain: &mut impl FnMut(&[u8])) {
        while left > 0 {
            match self.conn.reader().read(scratch) {
                Ok(n) if n > 0 => {
                    plain(&scratch[..n]);
                    left = left.saturating_sub(n);
                }
                // 0 (close_notify), WouldBlock or UnexpectedEof: nothing more to hand out.
                _ => return,
            }
        }
    }

    /// Queues plaintext to send; before the handshake ends rustls keeps it and encrypts it
    /// once it may. Returns how many bytes were taken ([`SEND_BUFFER_BYTES_MAX`] bounds it).
    pub fn queue_plaintext(&mut self, data: &[u8]) -> io::Result<usize> {
        self.conn.writer().write(data)
    }

    /// True while there are records to send.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Writes queued records to `out` (the socket); returns the bytes written.
    pub fn write_ciphertext(&mut self, out: &mut dyn io::Write) -> io::Result<usize> {
        self.conn.write_tls(out)
    }

    /// `VERSION/SUITE` once the handshake has finished, e.g.
    /// `TLSv1_3/TLS13_AES_256_GCM_SHA384` (rustls knows them from the ServerHello on, before
    /// the chain is checked, so a failed handshake has none).
    pub fn negotiated(&self) -> Option<String> {
        if self.conn.is_handshaking() {
            return None;
        }
        let version = self.conn.protocol_version()?;
        let suite = self.conn.negotiated_cipher_suite()?;
        Some(format!("{version:?}/{:?}", suite.suite()))
    }
}

#[cfg(test)]
mod tests;
