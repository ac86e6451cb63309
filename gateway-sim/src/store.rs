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
    /// When it happens on the simulator's clock (unix ms): an asynchronous step is stored
    /// ahead and shows only once its time has come.
    #[serde(skip)]
    pub at_ms: i64,
}

/// What an asynchronous step of a publication does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crash {
    /// Every step succeeds.
    None,
    /// `CRASH_INI`: INI refuses.
    Ini,
    /// `CRASH_EDS`: EDS refuses.
    Eds,
    /// `CRASH_WF_EDS`: the EDS workflow fails after EDS took the document.
    EdsWorkflow,
}

// === impl Crash ===

impl Crash {
    /// The crash a document id asks for (its accreditation prefix).
    pub fn of(document_id: &str) -> Self {
        if document_id.starts_with("CRASH_INI") {
            Self::Ini
        } else if document_id.starts_with("CRASH_EDS") {
            Self::Eds
        } else if document_id.starts_with("CRASH_WF_EDS") {
            Self::EdsWorkflow
        } else {
            Self::None
        }
    }
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
    /// Events of a workflowInstanceId that have happened by `now_ms`, in time order.
    pub fn events_for_wii(&self, wii: &str, now_ms: i64) -> Vec<Event> {
        self.visible(now_ms, |e| e.workflow_instance_id == wii)
    }

    /// Events of a traceID that have happened by `now_ms`, in time order.
    pub fn events_for_trace(&self, trace: &str, now_ms: i64) -> Vec<Event> {
        self.visible(now_ms, |e| e.trace_id == trace)
    }

    fn visible(&self, now_ms: i64, keep: impl Fn(&Event) -> bool) -> Vec<Event> {
        let mut v: Vec<Event> = self
            .events
            .iter()
            .filter(|e| e.at_ms <= now_ms && keep(e))
            .cloned()
            .collect();
        v.sort_by_key(|e| e.at_ms);
        v
    }

    /// The asynchronous steps that follow an accepted publication (`published`), each
    /// `delay_ms` after the one before: INI, EDS, the regional archive (UA-R) and its final
    /// status (spec 2.22 §11.3, §11.6); a crash ends the chain with its `BLOCKING_ERROR`.
    pub fn schedule_outcome(&mut self, published: &Event, delay_ms: i64, crash: Crash) {
        let steps: &[(&str, bool)] = match crash {
            Crash::None => &[
                ("SEND_TO_INI", true),
                ("SEND_TO_EDS", true),
                ("SEND_TO_UAR", true),
                ("UAR_FINAL_STATUS", true),
            ],
            Crash::Ini => &[("SEND_TO_INI", false)],
            Crash::Eds => &[("SEND_TO_INI", true), ("SEND_TO_EDS", false)],
            Crash::EdsWorkflow => &[
                ("SEND_TO_INI", true),
                ("SEND_TO_EDS", true),
                ("EDS_WORKFLOW", false),
            ],
        };
        for (i, (kind, ok)) in steps.iter().enumerate() {
            let at_ms = published.at_ms + delay_ms * (i as i64 + 1);
            self.events.push(Event {
                event_type: (*kind).into(),
                event_date: crate::clock::rome_event_date(at_ms),
                event_status: if *ok { "SUCCESS" } else { "BLOCKING_ERROR" }.into(),
                message: None,
                expiring_date: None,
                at_ms,
                ..published.clone()
            });
        }
    }
}
