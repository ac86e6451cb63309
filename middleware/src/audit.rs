//! Building audit rows: one per request, whatever its outcome.

use crate::db::outcome::Outcome;
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
            outcome: Outcome::Pending,
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
pub struct CfHasher {
    current: (String, hmac::Key),
    previous: Vec<(String, hmac::Key)>,
}

// === impl CfHasher ===

impl CfHasher {
    /// Uses `key` (the configured secret, id `id`) as HMAC-SHA-256 key for new hashes.
    pub fn new(id: &str, key: &[u8]) -> Self {
        Self {
            current: (id.to_string(), hmac::Key::new(hmac::HMAC_SHA256, key)),
            previous: Vec::new(),
        }
    }

    /// The hasher of the audit configuration: the key in force and the previous ones.
    pub fn of(config: &crate::config::AuditConfig) -> Self {
        use secrecy::ExposeSecret;
        let mut hasher = Self::new(
            &config.cf_hmac_key_id,
            config.cf_hmac_key.expose_secret().as_bytes(),
        );
        hasher.previous = config
            .previous_cf_hmac_keys
            .iter()
            .map(|k| {
                let key = hmac::Key::new(hmac::HMAC_SHA256, k.key.expose_secret().as_bytes());
                (k.id.clone(), key)
            })
            .collect();
        hasher
    }

    /// `<key id>:<hex HMAC>` of the upper-cased, trimmed fiscal code, with the key in force.
    pub fn hash(&self, cf: &str) -> String {
        let (id, key) = &self.current;
        format!("{id}:{}", Self::hex(key, cf))
    }

    /// Every value a row about `cf` may hold: the hash of each configured key, with its id
    /// and without (rows written before key ids).
    pub fn candidates(&self, cf: &str) -> Vec<String> {
        std::iter::once(&self.current)
            .chain(&self.previous)
            .flat_map(|(id, key)| {
                let hex = Self::hex(key, cf);
                [format!("{id}:{hex}"), hex]
            })
            .collect()
    }

    fn hex(key: &hmac::Key, cf: &str) -> String {
        hex::encode(hmac::sign(key, cf.trim().to_ascii_uppercase().as_bytes()).as_ref())
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
        let a = CfHasher::new("1", b"k1");
        assert_eq!(a.hash("rssmra22a01a399z "), a.hash("RSSMRA22A01A399Z"));
        assert_ne!(
            a.hash("RSSMRA22A01A399Z"),
            CfHasher::new("1", b"k2").hash("RSSMRA22A01A399Z")
        );
        assert!(!a.hash("RSSMRA22A01A399Z").contains("RSSMRA"));
        assert!(a.hash("RSSMRA22A01A399Z").starts_with("1:"));
    }

    #[test]
    fn a_new_key_keeps_old_rows_searchable() {
        let old = CfHasher::new("1", b"k1");
        let mut rotated = CfHasher::new("2", b"k2");
        rotated.previous = vec![("1".into(), hmac::Key::new(hmac::HMAC_SHA256, b"k1"))];
        let cf = "RSSMRA22A01A399Z";
        let candidates = rotated.candidates(cf);
        assert!(candidates.contains(&rotated.hash(cf)));
        assert!(candidates.contains(&old.hash(cf)));
        // A row from before key ids: the bare hex of the old key.
        assert!(candidates.contains(&old.hash(cf)[2..].to_string()));
        assert!(
            !CfHasher::new("3", b"k3")
                .candidates(cf)
                .contains(&old.hash(cf))
        );
    }
}
