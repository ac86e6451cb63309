//! What a consultation service reads of the registry: a patient's Approved documents
//! with the metadata that decide access.

use super::Registry;
use crate::Error;
use crate::ns::status;

/// One document as a consultation lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntrySummary {
    /// `XDSDocumentEntry.uniqueId`.
    pub unique_id: String,
    /// `repositoryUniqueId`.
    pub repository_unique_id: Option<String>,
    /// `XDSDocumentEntry.patientId`.
    pub patient_id: String,
    /// classCode (`code^^scheme`).
    pub class_code: Option<String>,
    /// typeCode (`code^^scheme`).
    pub type_code: Option<String>,
    /// `creationTime`.
    pub creation_time: Option<String>,
    /// MIME type.
    pub mime_type: String,
    /// confidentialityCode values.
    pub confidentiality_codes: Vec<String>,
    /// eventCodeList values.
    pub event_codes: Vec<String>,
}

const COLUMNS: &str = "unique_id, repository_unique_id, patient_id, class_code, type_code, \
    creation_time, mime_type, confidentiality_codes, event_codes";

fn summary(r: &tokio_postgres::Row) -> EntrySummary {
    EntrySummary {
        unique_id: r.get(0),
        repository_unique_id: r.get(1),
        patient_id: r.get(2),
        class_code: r.get(3),
        type_code: r.get(4),
        creation_time: r.get(5),
        mime_type: r.get(6),
        confidentiality_codes: r.get(7),
        event_codes: r.get(8),
    }
}

// === impl Registry ===

impl Registry {
    /// A patient's Approved documents, newest first.
    pub async fn patient_documents(&self, patient_id: &str) -> Result<Vec<EntrySummary>, Error> {
        let client = self.pool().get().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {COLUMNS} FROM xds_document_entry WHERE patient_id = $1 AND status = $2 \
                     ORDER BY creation_time DESC NULLS LAST LIMIT 1000"
                ),
                &[&patient_id, &status::APPROVED],
            )
            .await?;
        Ok(rows.iter().map(summary).collect())
    }

    /// The Approved document with this uniqueId.
    pub async fn approved_document(&self, unique_id: &str) -> Result<Option<EntrySummary>, Error> {
        let client = self.pool().get().await?;
        let row = client
            .query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM xds_document_entry WHERE unique_id = $1 AND status = $2 LIMIT 1"
                ),
                &[&unique_id, &status::APPROVED],
            )
            .await?;
        Ok(row.as_ref().map(summary))
    }
}

impl EntrySummary {
    /// Whether the document's own access rules hide it from consultation: very restricted
    /// confidentiality (`V`) or the patient's obscuring (`P99` in the event codes).
    pub fn hidden(&self) -> bool {
        self.confidentiality_codes
            .iter()
            .any(|c| c.split("^^").next() == Some("V"))
            || self
                .event_codes
                .iter()
                .any(|c| c.split("^^").next() == Some("P99"))
    }
}
