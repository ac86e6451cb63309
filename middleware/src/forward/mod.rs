//! Synchronous forwarding of producer calls to the national gateway.
//!
//! - the gateway's endpoint catalogue is `gateway_contract::operation`, shared with the
//!   simulator.
//! - [`inspect`]: the body passes through untouched while each chunk is read on its way
//!   for the file hash and the `requestBody` fields (`gateway_contract::form_scanner` finds the parts).
//! - [`tokens`]: case 1 (tokens untouched) and case 2 (verified, re-signed by the region).
//! - [`checks`]: the non-blocking regional checks.
//! - [`warnings`]: the `--middlewarewarning--` merge rule.
//! - [`gateway_client`]: the mTLS client towards the gateway.
//! - [`handler`]: one request, from producer to gateway and back, with its audit row.
//! - [`local_status`]: status answers from the trail of the publications queued here.
//! - [`spool`]: a publication's whole body, on disk while it is forwarded.
//! - [`document_keeper`]: the CDA of each publication, kept for the support bundle.

pub mod checks;
pub mod document_keeper;
pub mod gateway_client;
pub mod handler;
pub mod inspect;
pub mod local_status;
pub mod spool;
pub mod status_scope;
pub mod tokens;
pub mod warnings;

pub use gateway_contract::operation::Operation;
