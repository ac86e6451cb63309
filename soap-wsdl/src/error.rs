//! Errors of the SOAP crate.

/// A SOAP message cannot be understood.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The envelope namespace is neither SOAP 1.1 nor SOAP 1.2.
    #[error("unknown SOAP envelope namespace {0:?}")]
    UnknownEnvelope(String),
    /// The root element is not an Envelope.
    #[error("the root element is {0}, not a SOAP Envelope")]
    NotAnEnvelope(String),
    /// No Body or an empty Body.
    #[error("the envelope has no Body payload")]
    NoBody,
    /// The XML cannot be parsed.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// The multipart/related package cannot be read.
    #[error("MTOM package: {0}")]
    Mtom(String),
    /// An XDS identifier inside the message is malformed.
    #[error(transparent)]
    Xds(#[from] xds::Error),
}
