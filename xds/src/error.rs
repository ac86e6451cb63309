//! Errors of the XDS crate.

/// An XDS identifier or metadata value is not well formed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a dotted-decimal OID.
    #[error("{0:?} is not an OID")]
    NotAnOid(String),
    /// A `root^extension` unique id is missing a part.
    #[error("{0:?} is not a root^extension unique id")]
    NotAUniqueId(String),
}
