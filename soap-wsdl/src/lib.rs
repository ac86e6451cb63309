//! SOAP envelopes, WS-Addressing, MTOM/XOP and faults, for the XDS.b transactions and
//! the legacy regional services.
//!
//! # Layout
//! - [`error`]: the crate's error enum.
//! - [`version`]: SOAP 1.1 and 1.2 namespaces and content types.
//! - [`envelope`]: reading an envelope (version, WS-Addressing, payload).
//! - [`hardened`]: parsing untrusted XML (no DTD, size, node and depth limits).
//! - [`write`]: writing envelopes and faults.
//! - [`mtom`]: multipart/related packages, read and written.
//! - [`wsdl`]: the WSDL files (in `soap-wsdl/wsdl/`), rendered per endpoint.

pub mod envelope;
pub mod error;
pub mod hardened;
pub mod mtom;
pub mod version;
pub mod write;
pub mod wsdl;

pub use error::Error;
pub use version::SoapVersion;
