//! Status answers from the middleware's own trail of the publications it queued.
//!
//! A queued publication's 202 carries the region's ids (M3, `docs/gateway-fidelity.md`):
//! its `traceID` is the regional transaction, a hyphenated UUID the gateway never issues.
//! - `GET /status/search/{that traceID}` is answered here, before and after delivery: the
//!   gateway does not know the id. After delivery the `FORWARDED` event carries the
//!   gateway's `traceId` and `workflowInstanceId`, which the producer then asks the
//!   gateway about as usual.
//! - `GET /status/{wii}` is answered here only while the gateway cannot be reached, for a
//!   publication queued with that id (the validation's, or the gateway's once delivered).
//!
//! Both answers keep the gateway's schema (`TransactionInspectResDTO`, closed): no
//! `warning`, no `spanID`; their `traceID` is this status call's own transaction.

use axum::body::Body;
use axum::response::Response;
use http::{StatusCode, header};
use serde_json::{Map, Value, json};

use super::Operation;
use crate::db::outbox::{Trail, TrailKey};
use crate::db::outcome::Outcome;
use crate::db::transactions::TransactionRecord;
use crate::problem::MwError;
use crate::startup::AppState;

/// The event fields of the gateway's `StatusCheckDTO`, in its order.
const EVENT_FIELDS: [&str; 14] = [
    "eventType",
    "eventDate",
    "eventStatus",
    "message",
    "identificativoDocumento",
    "subject",
    "subjectRole",
    "tipoAttivita",
    "organizzazione",
    "workflowInstanceId",
    "traceId",
    "issuer",
    "expiringDate",
    "extra",
];

/// `GET /status/search/{id}` naming a regional transaction of this producer's queue:
/// its trail, else `None` (the call goes to the gateway as usual).
pub async fn by_regional_trace(
    state: &AppState,
    op: Operation,
    id: Option<&str>,
    producer_id: i64,
    rec: &mut TransactionRecord,
) -> Result<Option<Response>, MwError> {
    if op != Operation::StatusByTrace {
        return Ok(None);
    }
    let Some(tx) = id.and_then(regional_trace) else {
        return Ok(None);
    };
    let trail = find(state, TrailKey::Transaction(tx), producer_id).await?;
    Ok(trail.map(|t| answer(&t, rec)))
}

/// `GET /status/{wii}` while the gateway cannot answer: the trail of a publication queued
/// under that id, else the usual 504.
pub async fn while_unreachable(
    state: &AppState,
    wii: &str,
    producer_id: i64,
    why: String,
    rec: &mut TransactionRecord,
) -> Result<Response, MwError> {
    match find(state, TrailKey::Workflow(wii), producer_id).await? {
        Some(t) => Ok(answer(&t, rec)),
        None => Err(MwError::GatewayUnreachable(why)),
    }
}

/// A regional transaction id: the hyphenated form only (the gateway's traces are 32 hex).
fn regional_trace(id: &str) -> Option<uuid::Uuid> {
    if id.len() != 36 {
        return None;
    }
    uuid::Uuid::try_parse(id).ok()
}

async fn find(
    state: &AppState,
    key: TrailKey<'_>,
    producer_id: i64,
) -> Result<Option<Trail>, MwError> {
    crate::db::outbox::trail(&state.pool, key, producer_id)
        .await
        .map_err(|e| MwError::from_db("outbox", e))
}

/// The answer in the gateway's shape, and the status call's audit row.
fn answer(trail: &Trail, rec: &mut TransactionRecord) -> Response {
    let body = json!({
        "traceID": rec.tx_id.hyphenated().to_string(),
        "transactionData": events(trail),
    });
    rec.outcome = Outcome::Success;
    rec.http_status = i32::from(StatusCode::OK.as_u16());
    rec.document_id = trail.document_id.clone();
    rec.workflow_instance_id = trail.workflow_instance_id.clone();
    rec.response_body = Some(body.to_string());
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response")
}

/// Each event with the document, the ids it concerns (its own, else the publication's:
/// the regional transaction for the middleware's events) and the fields in schema order.
fn events(trail: &Trail) -> Vec<Value> {
    let queuing_tx = trail.tx_id.hyphenated().to_string();
    trail
        .events
        .iter()
        .map(|e| {
            let mut e = e.as_object().cloned().unwrap_or_default();
            fill(
                &mut e,
                "identificativoDocumento",
                trail.document_id.as_deref(),
            );
            fill(
                &mut e,
                "workflowInstanceId",
                trail.workflow_instance_id.as_deref(),
            );
            fill(&mut e, "traceId", Some(&queuing_tx));
            let ordered: Map<String, Value> = EVENT_FIELDS
                .iter()
                .filter_map(|k| e.get(*k).map(|v| (k.to_string(), v.clone())))
                .collect();
            Value::Object(ordered)
        })
        .collect()
}

fn fill(event: &mut Map<String, Value>, field: &str, value: Option<&str>) {
    if let Some(v) = value
        && !event.contains_key(field)
    {
        event.insert(field.into(), json!(v));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hyphenated_form_is_a_regional_trace() {
        let tx = uuid::Uuid::new_v4();
        assert_eq!(regional_trace(&tx.hyphenated().to_string()), Some(tx));
        assert_eq!(regional_trace(&tx.simple().to_string()), None);
        assert_eq!(regional_trace("not-a-uuid-but-thirty-six-chars-long"), None);
    }

    #[test]
    fn events_keep_their_own_ids_and_take_the_publications_otherwise() {
        let tx = uuid::Uuid::new_v4();
        let trail = Trail {
            tx_id: tx,
            workflow_instance_id: Some("gtw-wii".into()),
            document_id: Some("doc".into()),
            events: vec![
                json!({"eventType": "QUEUED", "issuer": "fsemw", "eventStatus": "ASYNC_RETRY"}),
                json!({"eventType": "FORWARDED", "traceId": "0af7651916cd43dd8448eb211c80319c"}),
            ],
        };
        let out = events(&trail);
        assert_eq!(out[0]["traceId"], json!(tx.hyphenated().to_string()));
        assert_eq!(out[0]["workflowInstanceId"], json!("gtw-wii"));
        assert_eq!(out[0]["identificativoDocumento"], json!("doc"));
        let keys: Vec<&String> = out[0].as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "eventType",
                "eventStatus",
                "identificativoDocumento",
                "workflowInstanceId",
                "traceId",
                "issuer"
            ]
        );
        assert_eq!(out[1]["traceId"], json!("0af7651916cd43dd8448eb211c80319c"));
    }
}
