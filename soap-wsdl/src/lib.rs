//! SOAP envelopes and the bindings of the legacy regional services.
//!
//! The services themselves arrive with the SOAP issue; today the crate fixes the
//! dependency direction (`soap-wsdl → xds`) and the protocol versions it speaks.
//!
//! # Layout
//! - [`error`]: the crate's error enum.
//! - [`version`]: SOAP 1.1 and 1.2 namespaces and content types.

pub mod error;
pub mod version;

pub use error::Error;
pub use version::SoapVersion;
