//! Development-only backend: the private key is read from a PEM file into memory.
//!
//! Production keys belong in an HSM; this backend exists so that a developer can
//! run the product without one. It refuses a key that does not match its certificate.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;

use crate::{Certificate, Error, Signer};

/// An RSA key held in process memory (dev only).
pub struct PemSigner {
    key: RsaKeyPair,
    key_der: PrivateKeyDer<'static>,
    chain: Vec<Certificate>,
}

// === impl PemSigner ===

impl PemSigner {
    /// Loads `key_path` (PKCS#8 or PKCS#1 PEM) and `cert_path` (PEM chain, leaf first).
    pub fn load(cert_path: &str, key_path: &str) -> Result<Self, Error> {
        let chain = Certificate::load_pem_chain(cert_path)?;
        let pem = std::fs::read(key_path).map_err(|source| Error::Io {
            path: key_path.into(),
            source,
        })?;
        Self::from_parts(chain, &pem, key_path, cert_path)
    }

    /// Builds a signer from a parsed chain and PEM key text; names are for error messages.
    pub fn from_parts(
        chain: Vec<Certificate>,
        key_pem: &[u8],
        key_name: &str,
        cert_name: &str,
    ) -> Result<Self, Error> {
        let key_der = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| Error::Decode {
            what: key_name.into(),
            detail: e.to_string(),
        })?;
        let key = match &key_der {
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            _ => {
                return Err(Error::Decode {
                    what: key_name.into(),
                    detail: "not an RSA key".into(),
                });
            }
        }
        .map_err(|e| Error::Decode {
            what: key_name.into(),
            detail: e.to_string(),
        })?;
        if chain.is_empty() || key.public_key().as_ref() != chain[0].public_key() {
            return Err(Error::KeyMismatch {
                key: key_name.into(),
                cert: cert_name.into(),
            });
        }
        Ok(Self {
            key,
            key_der,
            chain,
        })
    }
}

impl std::fmt::Debug for PemSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PemSigner")
            .field("subject", &self.chain[0].subject_cn())
            .finish_non_exhaustive()
    }
}

impl Signer for PemSigner {
    fn sign_pkcs1_sha256(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let mut sig = vec![0u8; self.key.public_modulus_len()];
        self.key
            .sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), message, &mut sig)
            .map_err(|e| Error::Sign(e.to_string()))?;
        Ok(sig)
    }

    fn chain(&self) -> &[Certificate] {
        &self.chain
    }

    fn rustls_signing_key(&self) -> Result<Arc<dyn rustls::sign::SigningKey>, Error> {
        rustls::crypto::aws_lc_rs::sign::any_supported_type(&self.key_der)
            .map_err(|e| Error::Sign(e.to_string()))
    }

    fn backend(&self) -> &'static str {
        "pem"
    }
}
