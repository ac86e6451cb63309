//! The one error type of CDA validation: why a rules folder cannot be loaded, or an
//! XPath expression cannot be read, is beyond the engine, or fails on a document.

use std::path::PathBuf;

/// Why validation rules cannot be loaded, compiled or evaluated.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or folder of the rules cannot be read.
    #[error("{}: {source}", path.display())]
    Read {
        /// The file or folder.
        path: PathBuf,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A file of the rules folder (registry, code list, rule file) is not what it should be.
    #[error("{}: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A rule file element without what it must have (a rule's context, a test, a name).
    #[error("{0}")]
    Incomplete(&'static str),
    /// An XPath expression that cannot be read.
    #[error("{0}")]
    XPathSyntax(String),
    /// An expression using what the engine does not implement: a function or arity, an
    /// undeclared prefix, an unbound variable, a pattern the regex engine refuses.
    #[error("{0}")]
    Unsupported(String),
    /// An expression that failed on a document.
    #[error("{0}")]
    Evaluation(String),
    /// A schema set that libxml2 cannot compile.
    #[error("schema set {set} does not compile: {message}")]
    Schema {
        /// The set (`typeId/@extension`).
        set: String,
        /// libxml2's first message.
        message: String,
    },
    /// No schema set for a CDA's `typeId/@extension` (the gateway's words).
    #[error("Schema with version {0} not found on database.")]
    NoSchemaSet(String),
    /// An error at a place of a rule file (file, rule, `let`, test).
    #[error("{place}: {cause}")]
    In {
        /// Where.
        place: String,
        /// What.
        #[source]
        cause: Box<Error>,
    },
}

// === impl Error ===

impl Error {
    /// This error, located at `place`.
    pub fn within(self, place: impl Into<String>) -> Self {
        Self::In {
            place: place.into(),
            cause: Box::new(self),
        }
    }

    /// A file that cannot be read.
    pub(crate) fn read(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Read {
            path: path.into(),
            source,
        }
    }

    /// A file that is not what it should be.
    pub(crate) fn malformed(path: impl Into<PathBuf>, message: impl ToString) -> Self {
        Self::Malformed {
            path: path.into(),
            message: message.to_string(),
        }
    }
}
