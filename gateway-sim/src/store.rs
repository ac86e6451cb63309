//! The simulator's memory: validation records, published documents, status events.

use std::collections::HashMap;

use serde::Serialize;

/// The dispatcher's placeholder while a request's workflowInstanceId is not known yet.
pub const UNKNOWN_WII: &str = "UNKNOWN_WORKFLOW_ID";

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
    /// Its DocumentEntry's entryUUID on INI (`Riferimenti trovati: [...]`).
    pub entry_uuid: String,
}

// === impl DocumentRecord ===

impl DocumentRecord {
    /// A document published under `wii`, with a new entryUUID.
    pub fn new(wii: String) -> Self {
        Self {
            wii,
            entry_uuid: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        }
    }
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
    /// The body's `tipoAttivitaClinica` (publications), `PHR` (delete).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tipo_attivita: Option<String>,
    /// `subject_organization_id` of the caller.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organizzazione: Option<String>,
    /// The workflowInstanceId.
    pub workflow_instance_id: String,
    /// The traceID of the request (none on the asynchronous steps: their services set none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
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
        self.visible(now_ms, |e| e.trace_id.as_deref() == Some(trace))
    }

    /// Records an event as the status manager does: one per (workflowInstanceId, type,
    /// status) — per (traceId, type, status) when the id is unknown — the later replacing
    /// the earlier (`TransactionEventsRepo` upsert, review S15).
    pub fn record(&mut self, event: Event) {
        let unknown = event.workflow_instance_id == UNKNOWN_WII;
        let same = |e: &Event| {
            e.event_type == event.event_type
                && e.event_status == event.event_status
                && if unknown {
                    e.workflow_instance_id == UNKNOWN_WII && e.trace_id == event.trace_id
                } else {
                    e.workflow_instance_id == event.workflow_instance_id
                }
        };
        match self.events.iter().position(same) {
            Some(i) => self.events[i] = event,
            None => self.events.push(event),
        }
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
                ("EDS_WORKFLOW", true),
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
        // The indexer, the publisher, the status manager's scheduler and the UA-R callback
        // set none of the caller's fields (review S15 notes: no traceId, issuer, subject).
        for (i, (kind, ok)) in steps.iter().enumerate() {
            let at_ms = published.at_ms + delay_ms * (i as i64 + 1);
            self.events.push(Event {
                event_type: (*kind).into(),
                event_date: crate::clock::rome_event_date(at_ms),
                event_status: if *ok { "SUCCESS" } else { "BLOCKING_ERROR" }.into(),
                message: None,
                identificativo_documento: None,
                subject: None,
                tipo_attivita: None,
                organizzazione: None,
                workflow_instance_id: published.workflow_instance_id.clone(),
                trace_id: None,
                issuer: None,
                expiring_date: None,
                at_ms,
            });
        }
    }
}
