//! Errors of the XDS crate: a message or value that cannot be read.
//!
//! IHE business errors (`XDSPatientIdDoesNotMatch`…) are data, not Rust errors: see
//! [`crate::registry_error`].

/// An XDS message or identifier is not well formed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not a dotted-decimal OID.
    #[error("{0:?} is not an OID")]
    NotAnOid(String),
    /// A `root^extension` unique id is missing a part.
    #[error("{0:?} is not a root^extension unique id")]
    NotAUniqueId(String),
    /// The XML cannot be parsed.
    #[error("malformed XML: {0}")]
    Xml(String),
    /// A required attribute is absent.
    #[error("{element} has no {attribute} attribute")]
    MissingAttribute {
        /// Element local name.
        element: String,
        /// Attribute name.
        attribute: String,
    },
    /// A required element is absent.
    #[error("{0} is missing")]
    MissingElement(&'static str),
    /// The body is not the expected request.
    #[error("expected {expected}, found {found}")]
    UnexpectedElement {
        /// What the transaction needs.
        expected: &'static str,
        /// What came.
        found: String,
    },
    /// Inline document content is not base64.
    #[error("document {0}: content is not base64")]
    Base64(String),
    /// The store failed.
    #[error("registry store: {0}")]
    Store(String),
    /// The store's database could not be reached or could not take the statement (down,
    /// restarting, out of connections or disk): nothing was read or written, try again.
    #[error("registry store unavailable: {0}")]
    StoreUnavailable(String),
}

impl Error {
    /// Whether the failure is the database being unreachable rather than this request.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::StoreUnavailable(_))
    }
}

impl From<roxmltree::Error> for Error {
    fn from(e: roxmltree::Error) -> Self {
        Self::Xml(e.to_string())
    }
}
