//! CDA validation as the national gateway performs it.
//!
//! - [`xpath`]: the XPath engine behind the schematron rules.
//! - [`schematron`]: rule files compiled once, run with the gateway's semantics.
//! - [`vocabulary`]: code systems, versions and codes against the configured code lists.
//! - [`xsd`]: the schema sets, with includes resolved by file name.

pub mod schematron;
pub mod vocabulary;
pub mod xpath;
pub mod xsd;
