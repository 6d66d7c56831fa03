//! Server certificates: loading them from PEM files, and choosing one per handshake by SNI.
//!
//! Owns: `CertTable` (certificates by name, read from `--tls-cert`/`--tls-key` and from a
//! Pushpin-style certificate directory) and `CertResolver`, rustls' hook that picks a table
//! entry for each handshake.
//! Must not: hold a lock across anything but a map lookup; a reload builds a whole new table
//! and swaps the `Arc`, so handshakes in progress keep the certificate they chose.
//!
//! The directory layout is Pushpin's (condure's `--tls-identities-dir`, Pushpin 1.36
//! `runner/certs` beside pushpin.conf): `NAME.crt` (PEM chain, leaf first) with `NAME.key`,
//! where NAME is the host name a client asks for with SNI, `_.example.com` a wildcard for one
//! label, and `default_PORT` (Pushpin's runner names it per listener) or `default` the
//! certificate for clients whose name has no file, or who send no SNI.

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Why certificates could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A file holds no certificate or key, or one rustls refuses.
    #[error("{path}: {reason}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// TLS listeners were asked for, but no certificate was found for them.
    #[error("no certificate: give --tls-cert and --tls-key, or put default.crt and default.key in {dir}")]
    NoDefault {
        /// The directory looked in.
        dir: String,
    },
}

/// Where the server certificates come from; read again on every reload.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CertSource {
    /// `--tls-cert` and `--tls-key`: the `default` certificate.
    pub pair: Option<(PathBuf, PathBuf)>,
    /// A directory of `NAME.crt` + `NAME.key` files.
    pub dir: Option<PathBuf>,
}

/// Certificates by lower-case name (`example.com`, `_.example.com`, `default`, `default_443`).
#[derive(Debug, Default)]
pub struct CertTable {
    by_name: HashMap<String, Arc<CertifiedKey>>,
}

impl CertTable {
    /// Number of certificates.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// The certificate for a handshake on `port` naming `sni`: the exact name, then the
    /// one-label wildcard, then `default_PORT`, then `default` (Pushpin's order).
    pub fn lookup(&self, sni: Option<&str>, port: u16) -> Option<Arc<CertifiedKey>> {
        let by_sni = sni.map(str::to_ascii_lowercase).and_then(|name| {
            let wildcard = name.find('.').map(|at| format!("_{}", &name[at..]));
            self.by_name
                .get(&name)
                .or_else(|| wildcard.and_then(|w| self.by_name.get(&w)))
                .cloned()
        });
        by_sni
            .or_else(|| self.by_name.get(&format!("default_{port}")).cloned())
            .or_else(|| self.by_name.get("default").cloned())
    }

    /// True when a client without a matching name still gets a certificate on `port`.
    pub fn has_default(&self, port: u16) -> bool {
        self.lookup(None, port).is_some()
    }
}

/// Reads the certificates of `source`. A directory entry that cannot be used is skipped with
/// a warning (the returned strings), as Pushpin skips it; the `--tls-cert` pair must load.
pub fn load_table(
    source: &CertSource,
    provider: &CryptoProvider,
) -> Result<(CertTable, Vec<String>), CertError> {
    let mut table = CertTable::default();
    let mut warnings = Vec::new();
    if let Some(dir) = &source.dir {
        for name in identity_names(dir, &mut warnings)? {
            let cert = dir.join(format!("{name}.crt"));
            let key = dir.join(format!("{name}.key"));
            match load_identity(&cert, &key, provider) {
                Ok(identity) => {
                    table.by_name.insert(name.to_ascii_lowercase(), identity);
                }
                Err(err) => warnings.push(format!("skipping certificate {name}: {err}")),
            }
        }
    }
    if let Some((cert, key)) = &source.pair {
        let identity = load_identity(cert, key, provider)?;
        table.by_name.insert("default".to_owned(), identity);
    }
    Ok((table, warnings))
}

/// The names of the `NAME.crt` files in `dir` that have a `NAME.key` beside them. A missing
/// directory is no certificate at all, not an error: the caller decides whether one is needed.
fn identity_names(dir: &Path, warnings: &mut Vec<String>) -> Result<Vec<String>, CertError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(CertError::Read {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    let mut names = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name();
        let Some(name) = file.to_str().and_then(|f| f.strip_suffix(".crt")) else {
            continue;
        };
        if dir.join(format!("{name}.key")).is_file() {
            names.push(name.to_owned());
        } else {
            warnings.push(format!("{name}.crt has no {name}.key beside it; skipped"));
        }
    }
    names.sort();
    Ok(names)
}

/// One certificate chain and its private key, checked to belong together.
fn load_identity(
    cert: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, CertError> {
    let invalid = |path: &Path, reason: String| CertError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let chain = CertificateDer::pem_slice_iter(&read(cert)?)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(cert, e.to_string()))?;
    if chain.is_empty() {
        return Err(invalid(cert, "no PEM certificate in the file".to_owned()));
    }
    let private =
        PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| invalid(key, e.to_string()))?;
    let identity = CertifiedKey::from_der(chain, private, provider)
        .map_err(|e| invalid(key, format!("does not fit {}: {e}", cert.display())))?;
    Ok(Arc::new(identity))
}

fn read(path: &Path) -> Result<Vec<u8>, CertError> {
    std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_path_buf(),
        source,
    })
}

/// The table every listener's resolver reads; `Certs::reload` swaps it.
pub type SharedTable = Arc<RwLock<Arc<CertTable>>>;

/// rustls' certificate hook for one listener port.
#[derive(Debug)]
pub struct CertResolver {
    table: SharedTable,
    port: u16,
}

impl CertResolver {
    /// A resolver for a listener on `port`, reading `table`.
    pub fn new(table: SharedTable, port: u16) -> CertResolver {
        CertResolver { table, port }
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let table = match self.table.read() {
            Ok(table) => Arc::clone(&table),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        };
        let chosen = table.lookup(hello.server_name(), self.port);
        if chosen.is_none() {
            crate::log_limited!(
                Info,
                "tls: no certificate for server name {:?} on port {}; handshake refused",
                hello.server_name(),
                self.port
            );
        }
        chosen
    }
}
