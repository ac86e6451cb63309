//! The national gateway's contract as both of its sides read it: the middleware that
//! forwards to the gateway and the simulator that stands in for it.
//!
//! - [`cda`]: the CDA inside a PDF (ATTACHMENT and RESOURCE modes), found and read as the
//!   gateway does, and the facts it compares with the tokens.
//! - [`form_scanner`]: the streaming `multipart/form-data` scanner (bodies read chunk by chunk
//!   where they lie); [`form`]: a whole form read with it (`requestBody` and `file`).
//! - [`headers`]: the answer headers of the contract (GovWay's identifiers).
//! - [`java`]: the iteration order of Java's `HashMap`, where the gateway's code shows it.
//! - [`operation`]: the gateway's operations, their methods and paths.
//! - [`claims`]: the tokens' claim names, the bearer's, the mandatory and the re-issued ones.
//! - [`request_body`]: the `requestBody` DTOs' fields and enumerated values.
//! - [`problem`]: the error catalogue (`type`, `title`, status per exception path) and the
//!   bodies of the gateway's answers.
//! - [`steps`]: the first steps on a document (a PDF, its CDA) and the warning merge rule.
//!
//! A leaf: no server, no database, no simulator.

pub mod cda;
pub mod claims;
pub mod fhir;
pub mod form;
pub mod form_scanner;
pub mod headers;
pub mod java;
pub mod operation;
pub mod problem;
pub mod request_body;
pub mod steps;
