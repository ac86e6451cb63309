//! The simulator's memory: validation records, published documents, status events.

use std::collections::HashMap;

use serde::Serialize;

/// A VALIDATION outcome waiting for its publication.
#[derive(Debug, Clone)]
pub struct ValidationRecord {
    /// The workflowInstanceId returned by the validation.
    pub wii: String,
    /// When (unix seconds, simulator clock).
    pub at: i64,
}

/// A document indexed "on INI".
#[derive(Debug, Clone)]
pub struct DocumentRecord {
    /// workflowInstanceId of its publication.
    pub wii: String,
}

/// One status event (contract §5.6).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    /// `VALIDATION`, `PUBLICATION`, `REPLACE`, `DELETE`, `UPDATE`, …
    pub event_type: String,
    /// RFC 3339 date.
    pub event_date: String,
    /// `SUCCESS` or `BLOCKING_ERROR`.
    pub event_status: String,
    /// Error text, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Document id, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identificativo_documento: Option<String>,
    /// `sub` of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// `subject_organization_id` of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizzazione: Option<String>,
    /// The workflowInstanceId.
    pub workflow_instance_id: String,
    /// The traceID of the request.
    pub trace_id: String,
    /// `iss` of the signature token.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Expiry of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expiring_date: Option<String>,
}

/// All simulator state.
#[derive(Debug, Default)]
pub struct Store {
    /// Validation records by CDA hash.
    pub validations: HashMap<String, ValidationRecord>,
    /// Documents by `identificativoDoc`.
    pub documents: HashMap<String, DocumentRecord>,
    /// Every event, in order.
    pub events: Vec<Event>,
}

// === impl Store ===

impl Store {
    /// Events of a workflowInstanceId, by date.
    pub fn events_for_wii(&self, wii: &str) -> Vec<Event> {
        let mut v: Vec<Event> = self
            .events
            .iter()
            .filter(|e| e.workflow_instance_id == wii)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.event_date.cmp(&b.event_date));
        v
    }

    /// Events of a traceID.
    pub fn events_for_trace(&self, trace: &str) -> Vec<Event> {
        self.events
            .iter()
            .filter(|e| e.trace_id == trace)
            .cloned()
            .collect()
    }
}
