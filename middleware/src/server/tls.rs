//! rustls configurations for both hops.

use std::sync::Arc;

use hsm::Certificate;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use hsm::TrustStore;

use crate::keys::KeyStore;
use crate::trust::Trust;

/// A TLS set-up problem (bad file, bad certificate), with the file named.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// Reads a PEM bundle of trust anchors.
pub fn load_roots(path: &str) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    for cert in load_certs(path)? {
        roots
            .add(cert)
            .map_err(|e| TlsError(format!("{path}: {e}")))?;
    }
    Ok(roots)
}

/// Reads a PEM certificate chain.
pub fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| TlsError(format!("{path}: {e}")))?
        .collect();
    let certs = certs.map_err(|e| TlsError(format!("{path}: {e}")))?;
    if certs.is_empty() {
        return Err(TlsError(format!("{path}: no certificate found")));
    }
    Ok(certs)
}

/// Reads a PEM private key.
pub fn load_key(path: &str) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| TlsError(format!("{path}: {e}")))
}

/// Producer-facing server config. The handshake accepts any client certificate
/// whose signature proves key possession; its chain is checked afterwards with
/// the store of `trust` in force ([`verify_client_chain`]), so an untrusted producer gets
/// a problem document (with a transaction id) instead of a bare TLS alert.
pub fn producer_server_config(
    cert: &str,
    key: &str,
    trust: &Trust,
) -> Result<rustls::ServerConfig, TlsError> {
    let deferred = Arc::new(DeferredClientVerifier {
        hints: trust
            .store()
            .anchor_subjects()
            .map(DistinguishedName::in_sequence)
            .collect(),
        algorithms: rustls::crypto::aws_lc_rs::default_provider().signature_verification_algorithms,
    });
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(deferred)
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| TlsError(format!("{cert}: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A server config that requires a client certificate from `client_ca` at handshake
/// (the gateway simulator's frontier behaves like this).
pub fn strict_server_config(
    cert: &str,
    key: &str,
    client_ca: &str,
) -> Result<rustls::ServerConfig, TlsError> {
    let verifier = WebPkiClientVerifier::builder(Arc::new(load_roots(client_ca)?))
        .build()
        .map_err(|e| TlsError(format!("{client_ca}: {e}")))?;
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(load_certs(cert)?, load_key(key)?)
        .map_err(|e| TlsError(format!("{cert}: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// Client config towards the gateway: its CA, and the regional authentication key.
/// The key in force is read at each handshake, so a rotation applies to new connections.
pub fn gateway_client_config(
    ca: &str,
    keys: Arc<KeyStore>,
) -> Result<rustls::ClientConfig, TlsError> {
    Ok(rustls::ClientConfig::builder()
        .with_root_certificates(load_roots(ca)?)
        .with_client_cert_resolver(Arc::new(RegionalClientCert(keys))))
}

/// Why a client certificate is not accepted.
#[derive(Clone, Debug)]
pub struct CertRefusal {
    /// Refusal reason as counted in `fsemw_producer_refusals_total`: `certificate`, or
    /// `revoked` when a revocation list names it.
    pub reason: &'static str,
    /// What the producer is told.
    pub detail: String,
}

impl CertRefusal {
    /// A refusal counted as `certificate`.
    pub fn certificate(detail: impl Into<String>) -> Self {
        Self {
            reason: "certificate",
            detail: detail.into(),
        }
    }
}

impl std::fmt::Display for CertRefusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.detail)
    }
}

/// Checks a client chain after the handshake against `store`; the refusal says why.
pub fn verify_client_chain(
    store: &TrustStore,
    chain: &[CertificateDer<'static>],
) -> Result<Certificate, CertRefusal> {
    let (leaf, rest) = chain
        .split_first()
        .ok_or_else(|| CertRefusal::certificate("no client certificate presented"))?;
    let leaf =
        Certificate::from_der(leaf.clone()).map_err(|e| CertRefusal::certificate(e.to_string()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    store.verify(&leaf, rest, now).map_err(|e| CertRefusal {
        reason: if e == hsm::TrustError::Revoked {
            "revoked"
        } else {
            "certificate"
        },
        detail: format!("client certificate not accepted ({}): {e}", e.reason()),
    })?;
    Ok(leaf)
}

/// Verifier that proves key possession during the handshake and defers the chain check.
#[derive(Debug)]
struct DeferredClientVerifier {
    hints: Vec<DistinguishedName>,
    algorithms: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for DeferredClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }
    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// Always presents the regional authentication certificate in force.
#[derive(Debug)]
struct RegionalClientCert(Arc<KeyStore>);

impl ResolvesClientCert for RegionalClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.current().tls.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}
