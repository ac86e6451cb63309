//! CDA validation as the national gateway performs it.
//!
//! - [`xpath`]: the XPath engine behind the schematron rules.
//! - [`schematron`]: rule files compiled once, run with the gateway's semantics.

pub mod schematron;
pub mod xpath;
