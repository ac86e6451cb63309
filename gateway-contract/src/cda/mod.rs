//! CDA2 documents inside PDFs, as the national gateway reads them.
//!
//! - [`pdf`]: finding the CDA in a PDF (ATTACHMENT and RESOURCE modes).
//! - [`signature`]: the PDF's signatures as the dispatcher's PDFBox finds them.
//! - [`document`]: the facts of a CDA the gateway compares with the JWT.

pub mod document;
pub mod pdf;
pub mod signature;

pub use document::CdaFacts;
pub use pdf::{ExtractionMode, extract_cda};

/// Why a CDA could not be obtained or read.
#[derive(Debug, thiserror::Error)]
pub enum CdaError {
    /// The bytes are not a PDF lopdf can read.
    #[error("PDF not readable: {0}")]
    Pdf(String),
    /// No CDA where the mode says it should be.
    #[error("no CDA found in the PDF ({0})")]
    NotFound(&'static str),
    /// The CDA is not well-formed XML or lacks a required element.
    #[error("CDA not readable: {0}")]
    Xml(String),
}
