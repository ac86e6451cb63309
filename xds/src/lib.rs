//! IHE XDS.b document sharing as the Italian Affinity Domain applies it: the ebRIM
//! model, the transaction messages, the registry's metadata rules and the PostgreSQL
//! store of the regional registry and the ASL repositories.
//!
//! # Layout
//! - [`error`]: the crate's error enum (unreadable messages, store failures).
//! - [`registry_error`]: IHE error codes returned inside responses.
//! - [`ns`]: namespaces, UUIDs and URNs of XDS.b and ebRIM.
//! - [`ids`]: document and repository unique ids (OIDs, `root^extension`).
//! - [`rim`]: ebRIM objects, read and written.
//! - [`entry`]: typed views (DocumentEntry, SubmissionSet).
//! - [`submission`]: the registry's checks of a submission, UUID assignment.
//! - [`messages`]: request and response bodies of ITI-18/41/42/43/57/62.
//! - [`store`]: the PostgreSQL registry and repository store.

pub mod entry;
pub mod error;
pub mod ids;
pub mod messages;
pub mod ns;
pub mod registry_error;
pub mod rim;
pub mod store;
pub mod submission;

pub use error::Error;
