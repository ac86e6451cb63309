//! Errors of the key-custody crate.

/// Everything that can go wrong while loading keys, parsing certificates or signing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// PEM or DER content could not be decoded.
    #[error("{what}: {detail}")]
    Decode {
        /// What was being decoded.
        what: String,
        /// Why it failed.
        detail: String,
    },
    /// The private key does not belong to the certificate.
    #[error("the key in {key} does not match the certificate {cert}")]
    KeyMismatch {
        /// Key origin.
        key: String,
        /// Certificate origin.
        cert: String,
    },
    /// The token or its module failed.
    #[error("PKCS#11: {0}")]
    Token(String),
    /// The signing operation failed.
    #[error("signing failed: {0}")]
    Sign(String),
    /// A JWT is malformed.
    #[error("malformed JWT: {0}")]
    JwtMalformed(String),
    /// A JWT signature does not verify.
    #[error("JWT signature does not verify: {0}")]
    JwtSignature(String),
}
