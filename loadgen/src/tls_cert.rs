//! `tls-cert` subcommand: a throw-away certificate authority and a server certificate it
//! signs, for TLS runs on loopback (`ringpin --tls-cert/--tls-key`, `run --tls-ca`).
//!
//! Owns: generating the keys and certificates (rcgen, ECDSA P-256, rcgen's default) and
//! writing them as PEM files.
//! Must not: start or configure a proxy.
//! Invariants: the CA is a CA (basic constraints, key usage cert/CRL signing) and nothing
//! else; the server certificate names exactly the `--names` given (an IP address becomes an
//! IP SAN, anything else a DNS SAN); the private key file is written with mode 0600.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use crate::args::Args;

/// Names the server certificate is valid for unless `--names` says otherwise.
const NAMES_DEFAULT: &str = "localhost,127.0.0.1";

/// A CA and one server identity it signed, PEM.
#[derive(Debug, Clone)]
pub struct CertSet {
    /// The CA certificate (for `run --tls-ca`).
    pub ca_pem: String,
    /// The server certificate, then the CA's (for `ringpin --tls-cert`).
    pub chain_pem: String,
    /// The server's private key, PKCS#8 (for `ringpin --tls-key`).
    pub key_pem: String,
}

/// Runs `tls-cert --out DIR [--names N,...]`: writes `ca.pem`, `server.pem`, `server.key`.
pub fn main(argv: &[String]) -> Result<(), String> {
    let mut a = Args::parse(argv)?;
    let out = PathBuf::from(a.required("--out")?);
    let names: Vec<String> = a
        .parsed("--names", NAMES_DEFAULT.to_string())?
        .split(',')
        .filter(|n| !n.is_empty())
        .map(String::from)
        .collect();
    a.finish()?;
    let set = generate(&names)?;
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    write(&out.join("ca.pem"), &set.ca_pem, 0o644)?;
    write(&out.join("server.pem"), &set.chain_pem, 0o644)?;
    write(&out.join("server.key"), &set.key_pem, 0o600)?;
    println!(
        "wrote {0}/ca.pem, {0}/server.pem (for {1}) and {0}/server.key",
        out.display(),
        names.join(", ")
    );
    Ok(())
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), String> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// A new CA and a server certificate for `names`, signed by it.
pub fn generate(names: &[String]) -> Result<CertSet, String> {
    if names.is_empty() {
        return Err("--names: at least one name".into());
    }
    fn err(what: &'static str) -> impl Fn(rcgen::Error) -> String {
        move |e| format!("{what}: {e}")
    }
    let ca_key = rcgen::KeyPair::generate().map_err(err("CA key"))?;
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).map_err(err("CA params"))?;
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ringpin-loadgen test CA");
    ca_params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_cert = ca_params
        .self_signed(&ca_key)
        .map_err(err("CA certificate"))?;
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().map_err(err("server key"))?;
    let params = rcgen::CertificateParams::new(names.to_vec()).map_err(err("--names"))?;
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(err("server certificate"))?;
    Ok(CertSet {
        chain_pem: format!("{}{}", cert.pem(), ca_cert.pem()),
        ca_pem: ca_cert.pem(),
        key_pem: key.serialize_pem(),
    })
}
