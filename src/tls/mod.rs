//! TLS: rustls with the `ring` provider, for client listeners (`--listen-tls`, `https_ports`)
//! and for `ssl` origin targets.
//!
//! Owns: the server certificates (`ServerTls`: loading, SNI choice, reload on SIGHUP), the
//! origin-side client configurations (`OriginTls`), and `Stream`, the socket type `netio::Conn`
//! wraps: plain TCP or TLS over it, with the handshakes (`stream.rs`).
//! Must not: decide when to reload (`runtime` does, on SIGHUP) or what a connection serves.
//! Invariants: a reload swaps one `Arc<CertTable>`; every listener's `ServerConfig` stays the
//! same object, so new handshakes use the new certificates and open connections keep theirs.

pub mod certs;
pub mod origin;
pub mod stream;

pub use certs::{CertError, CertSource, CertTable};
pub use origin::OriginTls;
pub use stream::Stream;

use certs::{CertResolver, SharedTable};
use rustls::crypto::CryptoProvider;
use rustls::ServerConfig;
use std::sync::{Arc, RwLock};

/// The crypto provider every TLS configuration uses: `ring`, which builds with a C compiler
/// alone (aws-lc-rs, rustls' default, needs cmake and more). rustls 0.23.48 deprecates it
/// only because it has no post-quantum key exchange.
#[allow(deprecated)]
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client-facing TLS state shared by all shards: where the certificates come from and
/// the table the listeners' resolvers read.
#[derive(Debug)]
pub struct ServerTls {
    source: CertSource,
    table: SharedTable,
    provider: Arc<CryptoProvider>,
}

impl ServerTls {
    /// Loads the certificates of `source`; fails when there are none for any of `ports` (a
    /// listener without a certificate could complete no handshake). Returns the warnings
    /// about skipped files too.
    pub fn load(source: CertSource, ports: &[u16]) -> Result<(ServerTls, Vec<String>), CertError> {
        let provider = provider();
        let (table, warnings) = certs::load_table(&source, &provider)?;
        check_defaults(&table, &source, ports)?;
        let tls = ServerTls {
            source,
            table: Arc::new(RwLock::new(Arc::new(table))),
            provider,
        };
        Ok((tls, warnings))
    }

    /// Reads the certificates again and swaps them in; on an error the old ones stay.
    /// Returns how many certificates are loaded, and the warnings.
    pub fn reload(&self, ports: &[u16]) -> Result<(usize, Vec<String>), CertError> {
        let (table, warnings) = certs::load_table(&self.source, &self.provider)?;
        check_defaults(&table, &self.source, ports)?;
        let count = table.len();
        match self.table.write() {
            Ok(mut current) => *current = Arc::new(table),
            Err(poisoned) => *poisoned.into_inner() = Arc::new(table),
        }
        Ok((count, warnings))
    }

    /// Number of certificates loaded now.
    pub fn len(&self) -> usize {
        match self.table.read() {
            Ok(table) => table.len(),
            Err(poisoned) => poisoned.into_inner().len(),
        }
    }

    /// True when no certificate is loaded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The rustls configuration of a listener on `port`: TLS 1.2 and 1.3, no client
    /// certificates, ALPN `http/1.1` (ringpin speaks no HTTP/2), certificates chosen per
    /// handshake from the current table.
    pub fn server_config(&self, port: u16) -> Arc<ServerConfig> {
        let resolver = CertResolver::new(Arc::clone(&self.table), port);
        let builder = ServerConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default TLS versions");
        let mut config = builder
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(resolver));
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

/// Every TLS port needs a certificate for clients whose name has no file of its own.
fn check_defaults(table: &CertTable, source: &CertSource, ports: &[u16]) -> Result<(), CertError> {
    if ports.iter().all(|&port| table.has_default(port)) {
        return Ok(());
    }
    Err(CertError::NoDefault {
        dir: source.dir.as_ref().map_or_else(
            || "(no certificate directory)".to_owned(),
            |d| d.display().to_string(),
        ),
    })
}
