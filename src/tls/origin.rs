//! Origin-side TLS: the rustls client configurations for `ssl` targets (https and wss).
//!
//! Owns: the trusted roots (Mozilla's, from `webpki-roots`, plus the PEM file of
//! `--origin-ca`) and the `insecure` target prop's verifier, which accepts any certificate
//! (Pushpin's zurl option of the same name).
//! Must not: open sockets; `origin::pool` runs the handshakes.

use super::certs::CertError;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use std::path::Path;
use std::sync::Arc;

/// The two client configurations an origin connection may use.
#[derive(Debug)]
pub struct OriginTls {
    verified: Arc<ClientConfig>,
    insecure: Arc<ClientConfig>,
}

impl OriginTls {
    /// Configurations trusting Mozilla's roots plus every certificate in `extra_ca`.
    pub fn new(extra_ca: Option<&Path>) -> Result<OriginTls, CertError> {
        let provider = super::provider();
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        if let Some(path) = extra_ca {
            add_pem_roots(&mut roots, path)?;
        }
        let builder = || {
            ClientConfig::builder_with_provider(Arc::clone(&provider))
                .with_safe_default_protocol_versions()
                .expect("the ring provider supports the default TLS versions")
        };
        let mut verified = builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        verified.alpn_protocols = vec![b"http/1.1".to_vec()];
        let mut insecure = builder()
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(Arc::clone(&provider))))
            .with_no_client_auth();
        insecure.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(OriginTls {
            verified: Arc::new(verified),
            insecure: Arc::new(insecure),
        })
    }

    /// The configuration for a target: certificate checks unless it has `insecure`.
    pub fn config(&self, insecure: bool) -> Arc<ClientConfig> {
        Arc::clone(if insecure {
            &self.insecure
        } else {
            &self.verified
        })
    }
}

fn add_pem_roots(roots: &mut RootCertStore, path: &Path) -> Result<(), CertError> {
    let invalid = |reason: String| CertError::Invalid {
        path: path.to_path_buf(),
        reason,
    };
    let pem = std::fs::read(path).map_err(|source| CertError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    let mut added = 0;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| invalid(e.to_string()))?;
        roots.add(cert).map_err(|e| invalid(e.to_string()))?;
        added += 1;
    }
    if added == 0 {
        return Err(invalid("no PEM certificate in the file".to_owned()));
    }
    Ok(())
}

/// The `insecure` prop's verifier: any chain is accepted, but the handshake signatures are
/// still checked, so the connection is encrypted to whoever holds the presented key.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls12_signature(message, cert, dss, algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        let algorithms = &self.0.signature_verification_algorithms;
        verify_tls13_signature(message, cert, dss, algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
