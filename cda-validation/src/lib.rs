//! CDA validation as the national gateway performs it: XML Schema, schematron, XPath and
//! vocabulary over a rules folder. Used by `fsemw validate`, by the gateway simulator,
//! and by any pre-check the middleware makes.
//!
//! - [`stage`]: the seam ([`stage::CdaValidator`], [`stage::ValidatorVerdict`]) the simulator calls.
//! - [`engine`]: [`engine::Rules`], the stages in the gateway's order over a rules folder.
//! - [`verdict`]: the gateway's status and body for one document (`fsemw validate`).
//! - [`xpath`]: the XPath engine behind the schematron rules.
//! - [`schematron`]: rule files compiled once, run with the gateway's semantics.
//! - [`vocabulary`]: code systems, versions and codes against the configured code lists.
//! - [`xsd`]: the schema sets, with includes resolved by file name.
//! - [`Error`]: why rules cannot be loaded, compiled or evaluated.
//!
//! A leaf beside `gateway-contract`: no server, no database, no simulator.

pub mod engine;
mod error;
pub mod schematron;
pub mod stage;
pub mod verdict;
pub mod vocabulary;
pub mod xpath;
pub mod xsd;

pub use error::Error;
