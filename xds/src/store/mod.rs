//! The PostgreSQL store of the regional registry and of the ASL repositories
//! (tables in `migrations/V3__xds.sql`).
//!
//! - [`registry`]: registering, updating and deleting metadata.
//! - [`queries`]: the stored queries.
//! - [`consultation`]: a patient's documents as consultation services read them.
//! - [`repository`]: document content by repository and document unique id.
//! - `local_changes`: event codes and removals applied after the gateway accepted them.

pub mod consultation;
mod local_changes;
pub mod queries;
pub mod registry;
pub mod repository;
mod update;

pub use registry::{Origin, Registry};
pub use repository::{Repository, StoredDocument};

use crate::Error;

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        if unreachable(&e) {
            Self::StoreUnavailable(e.to_string())
        } else {
            Self::Store(e.to_string())
        }
    }
}

impl From<deadpool_postgres::PoolError> for Error {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        // No connection could be had in time, or opening one failed.
        Self::StoreUnavailable(e.to_string())
    }
}

/// Whether a PostgreSQL error means the server could not be reached or could not take the
/// statement, rather than refusing it: no answer at all (the connection broke or could not be
/// opened), SQLSTATE class 08 (connection exception), 53 (insufficient resources: disk full,
/// out of memory, too many connections) or 57P0x (shutting down, starting up).
pub fn unreachable(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("53") || code.starts_with("57P0")
        }
    }
}

/// Rewrites the availability status written on an object's root element.
pub(crate) fn with_status(xml: &str, status: &str) -> String {
    let approved = format!("status=\"{}\"", crate::ns::status::APPROVED);
    if status == crate::ns::status::APPROVED || !xml.contains(&approved) {
        return xml.to_string();
    }
    xml.replacen(&approved, &format!("status=\"{status}\""), 1)
}
