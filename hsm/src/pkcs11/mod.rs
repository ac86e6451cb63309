//! The PKCS#11 backend: the regional keys stay inside a token.
//!
//! - [`token`]: one token, found by label, with a pool of logged-in sessions that
//!   re-opens itself when the token or its sessions go away.
//! - [`signer`]: a key of the token as a [`crate::Signer`] and as a rustls signing key
//!   (TLS 1.2 `RSA_PKCS1_SHA256`, TLS 1.3 `RSA_PSS_SHA256`).
//! - [`admin`]: key generation, certificate objects and the inventory used by
//!   `fsemw-dev hsm init-dev` and `fsemw hsm status`.

pub mod admin;
pub mod signer;
pub mod token;

pub use signer::Pkcs11Signer;
pub use token::{Token, TokenHealth};

/// How a key is found in the token.
#[derive(Debug, Clone)]
pub struct KeyRef {
    /// `CKA_ID` bytes.
    pub id: Vec<u8>,
    /// `CKA_LABEL` (informational; the id decides).
    pub label: String,
}

/// Decodes a hex `CKA_ID` such as `01` or `a1b2`.
pub fn parse_key_id(hex_id: &str) -> Result<Vec<u8>, crate::Error> {
    let s = hex_id.trim();
    let bad = || crate::Error::Decode {
        what: "key id".into(),
        detail: format!("{hex_id:?} is not hex"),
    };
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return Err(bad());
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}
