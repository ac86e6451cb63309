//! Custody of the region's certificate pair towards the national gateway.
//!
//! The region owns one *authentication* key (TLS client certificate) and one
//! *signature* key (JWTs). Everything that signs goes through the [`Signer`]
//! trait, so the private key can live in an HSM (PKCS#11) while the rest of the
//! product never sees it. The PEM backend exists for development only.
//!
//! # Layout
//! - [`error`]: the crate's error enum.
//! - [`cert`]: parsed X.509 certificates (CN, expiry, public key, issuer checks).
//! - [`signer`]: the [`Signer`] trait and the regional key pair.
//! - [`pem_signer`]: the dev-only backend holding a key from a PEM file.
//! - [`jwt`]: compact JWS parsing, RS256 verification and signing through a [`Signer`].
//! - [`pkcs11`]: the PKCS#11 backend (token, session pool, rustls key, administration).
//! - [`der`]: the few DER encodings the backend needs.
//! - [`trust`]: certificate paths (rustls-webpki) for every certificate the product trusts.

pub mod cert;
pub mod der;
pub mod error;
pub mod jwt;
pub mod pem_signer;
pub mod pkcs11;
pub mod signer;
pub mod trust;

pub use cert::Certificate;
pub use error::Error;
pub use pem_signer::PemSigner;
pub use pkcs11::Pkcs11Signer;
pub use signer::{RegionalKeys, Signer};
pub use trust::{Purpose, TrustError, TrustStore};
