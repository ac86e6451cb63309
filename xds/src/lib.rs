//! IHE XDS.b document sharing as the Italian Affinity Domain applies it.
//!
//! This crate holds the registry/repository domain: identifiers, ebRIM objects
//! and metadata. It depends on nothing HTTP- or database-specific.
//!
//! # Layout
//! - [`error`]: the crate's error enum.
//! - [`ids`]: document and repository unique ids (OIDs, `root^extension`).

pub mod error;
pub mod ids;

pub use error::Error;
