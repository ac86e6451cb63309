//! Errors of the SOAP crate.

/// A SOAP message cannot be understood.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The envelope namespace is neither SOAP 1.1 nor SOAP 1.2.
    #[error("unknown SOAP envelope namespace {0:?}")]
    UnknownEnvelope(String),
    /// An XDS identifier inside the message is malformed.
    #[error(transparent)]
    Xds(#[from] xds::Error),
}
