//! The signing seam: whatever holds a private key implements [`Signer`].

use std::fmt::Debug;
use std::sync::Arc;

use crate::{Certificate, Error};

/// A private key that signs without revealing itself, with its certificate chain.
pub trait Signer: Send + Sync + Debug {
    /// RSASSA-PKCS1-v1_5 with SHA-256 over `message` (JWT `RS256`, TLS 1.2 `RSA_PKCS1_SHA256`).
    fn sign_pkcs1_sha256(&self, message: &[u8]) -> Result<Vec<u8>, Error>;

    /// The certificate chain, leaf first.
    fn chain(&self) -> &[Certificate];

    /// The key as rustls needs it to authenticate a TLS client.
    fn rustls_signing_key(&self) -> Result<Arc<dyn rustls::sign::SigningKey>, Error>;

    /// Short name of the backend, for status output and metrics (`pem`, `pkcs11`).
    fn backend(&self) -> &'static str;

    /// Health of the token behind the key, when there is one.
    fn token_health(&self) -> Option<crate::pkcs11::TokenHealth> {
        None
    }

    /// The leaf certificate.
    fn certificate(&self) -> &Certificate {
        &self.chain()[0]
    }
}

/// The region's certificate pair: TLS authentication and JWT signature.
#[derive(Clone, Debug)]
pub struct RegionalKeys {
    /// Key and chain presented as TLS client certificate to the gateway.
    pub authentication: Arc<dyn Signer>,
    /// Key and chain that sign the JWTs.
    pub signature: Arc<dyn Signer>,
}

// === impl RegionalKeys ===

impl RegionalKeys {
    /// A rustls certified key for the authentication certificate.
    pub fn tls_certified_key(&self) -> Result<Arc<rustls::sign::CertifiedKey>, Error> {
        let chain = self
            .authentication
            .chain()
            .iter()
            .map(|c| c.der().clone())
            .collect();
        let key = self.authentication.rustls_signing_key()?;
        Ok(Arc::new(rustls::sign::CertifiedKey::new(chain, key)))
    }
}
