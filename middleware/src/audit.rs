//! Building audit rows: one per request, whatever its outcome.

use std::time::Instant;

use aws_lc_rs::hmac;
use time::OffsetDateTime;

use crate::db::transactions::TransactionRecord;

/// The transaction a request belongs to, created when it arrives.
#[derive(Debug, Clone)]
pub struct TxContext {
    /// Transaction id (returned in the transaction header).
    pub id: uuid::Uuid,
    /// Arrival time.
    pub received_at: OffsetDateTime,
    /// Arrival instant, for durations.
    pub started: Instant,
}

// === impl TxContext ===

impl TxContext {
    /// A new transaction starting now.
    pub fn start() -> Self {
        Self {
            id: uuid::Uuid::new_v4(),
            received_at: OffsetDateTime::now_utc(),
            started: Instant::now(),
        }
    }

    /// An empty audit row for this transaction.
    pub fn record(&self, operation: &str, method: &str, path: &str, case: u8) -> TransactionRecord {
        TransactionRecord {
            tx_id: self.id,
            received_at: self.received_at,
            producer_id: None,
            client_cn: None,
            application_id: None,
            application_vendor: None,
            application_version: None,
            operation: operation.into(),
            method: method.into(),
            path: path.into(),
            http_status: 0,
            outcome: String::new(),
            problem_type: None,
            problem_title: None,
            gtw_trace_id: None,
            gtw_span_id: None,
            workflow_instance_id: None,
            document_id: None,
            file_sha256: None,
            file_bytes: None,
            patient_cf_hmac: None,
            certificate_case: i16::from(case),
            local_warnings: None,
            duration_ms: 0.0,
            gtw_duration_ms: None,
            delivery: None,
            delivery_status: None,
            delivered_at: None,
            document_type: None,
            request_body: None,
            response_body: None,
        }
    }
}

/// Keyed hash of fiscal codes: searchable by whoever holds the key, unreadable otherwise.
#[derive(Clone)]
pub struct CfHasher(hmac::Key);

// === impl CfHasher ===

impl CfHasher {
    /// Uses `key` (the configured secret) as HMAC-SHA-256 key.
    pub fn new(key: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, key))
    }

    /// Hex HMAC of the upper-cased, trimmed fiscal code.
    pub fn hash(&self, cf: &str) -> String {
        hex::encode(hmac::sign(&self.0, cf.trim().to_ascii_uppercase().as_bytes()).as_ref())
    }
}

impl std::fmt::Debug for CfHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CfHasher(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_keyed_and_normalised() {
        let a = CfHasher::new(b"k1");
        assert_eq!(a.hash("rssmra22a01a399z "), a.hash("RSSMRA22A01A399Z"));
        assert_ne!(
            a.hash("RSSMRA22A01A399Z"),
            CfHasher::new(b"k2").hash("RSSMRA22A01A399Z")
        );
        assert!(!a.hash("RSSMRA22A01A399Z").contains("RSSMRA"));
    }
}
