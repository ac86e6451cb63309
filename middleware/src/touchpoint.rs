//! The region's touchpoint (`[touchpoint]`): the gateway pushes each workflow's status
//! events to `POST /v1/workflow/status` over mutual TLS (spec 2.22 §11.1–11.3, the
//! Ministry's `swagger_status.yaml`: `{workflowInstanceId, events: [{eventType,
//! eventDate, eventStatus, issuer, message}]}`, no other field). The events are stored
//! before the answer, each once however often and in whatever order it comes
//! (`db::workflow_events`); the answer is quick and says how many were new.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use http::StatusCode;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::db::workflow_events::{self, Arrival, WorkflowEvent};
use crate::problem::MwError;
use crate::server::identity::ClientIdentity;
use crate::startup::AppState;

/// The largest notification read (a workflow has tens of events).
const MAX_NOTIFICATION: usize = 1 << 20;

/// The touchpoint's one route.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/workflow/status", post(receive))
        .with_state(state)
}

async fn receive(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let identity = ClientIdentity::of(&req);
    let from = identity
        .certificate
        .as_ref()
        .ok()
        .map(|c| c.subject_cn().to_string());
    let answer = match axum::body::to_bytes(req.into_body(), MAX_NOTIFICATION).await {
        Ok(body) => store(&state, &body, from.as_deref()).await,
        Err(_) => Err(MwError::PayloadTooLarge {
            limit: MAX_NOTIFICATION as u64,
        }),
    };
    let result = match &answer {
        Ok(_) => "stored",
        Err(e) => e.parts().1,
    };
    state
        .metrics
        .touchpoint_notifications
        .with_label_values(&[result])
        .inc();
    match answer {
        Ok(body) => (StatusCode::OK, axum::Json(body)).into_response(),
        Err(e) => {
            // The notification has no transaction of its own: an id to find it in the log.
            let id = uuid::Uuid::new_v4().to_string();
            tracing::warn!(error = %e, id, from = from.as_deref().unwrap_or("-"), "status notification refused");
            e.into_response_for(&id)
        }
    }
}

async fn store(state: &AppState, body: &Bytes, from: Option<&str>) -> Result<Value, MwError> {
    let (wii, events) = read(body).map_err(MwError::BadRequest)?;
    let arrival = Arrival {
        source: "push",
        from,
    };
    let stored = workflow_events::store(&state.pool, &wii, &events, arrival)
        .await
        .map_err(|e| MwError::from_db("workflow status", e))?;
    state
        .metrics
        .touchpoint_events
        .with_label_values(&["new"])
        .inc_by(stored);
    state
        .metrics
        .touchpoint_events
        .with_label_values(&["repeated"])
        .inc_by(events.len() as u64 - stored);
    Ok(json!({"workflowInstanceId": wii, "received": events.len(), "stored": stored}))
}

/// The notification as `WorkflowStatusDTO` declares it: closed objects, strings, an
/// RFC 3339 `eventDate`; `workflowInstanceId` and each event's type, status and date are
/// needed to keep it.
fn read(body: &[u8]) -> Result<(String, Vec<WorkflowEvent>), String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let top = doc.as_object().ok_or("the body is not a JSON object")?;
    closed(top, &["workflowInstanceId", "events"], "the notification")?;
    let wii = text(top.get("workflowInstanceId"), "workflowInstanceId")?
        .ok_or("workflowInstanceId is missing")?;
    let events: &[Value] = match top.get("events") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(a)) => a,
        Some(_) => return Err("events is not an array".into()),
    };
    let events = events
        .iter()
        .enumerate()
        .map(|(i, e)| event(e).map_err(|why| format!("events[{i}]: {why}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((wii, events))
}

fn event(e: &Value) -> Result<WorkflowEvent, String> {
    let o = e.as_object().ok_or("not an object")?;
    closed(
        o,
        &["eventType", "eventDate", "eventStatus", "issuer", "message"],
        "an event",
    )?;
    let required = |k: &str| text(o.get(k), k)?.ok_or(format!("{k} is missing"));
    let date = required("eventDate")?;
    let event_date = OffsetDateTime::parse(&date, &Rfc3339)
        .map_err(|_| format!("eventDate {date:?} is not an RFC 3339 date-time"))?;
    Ok(WorkflowEvent {
        event_type: required("eventType")?,
        event_status: required("eventStatus")?,
        event_date,
        issuer: text(o.get("issuer"), "issuer")?,
        message: text(o.get("message"), "message")?,
    })
}

fn closed(o: &serde_json::Map<String, Value>, allowed: &[&str], what: &str) -> Result<(), String> {
    match o.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(k) => Err(format!("{what} has no field {k:?}")),
        None => Ok(()),
    }
}

fn text(v: Option<&Value>, name: &str) -> Result<Option<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(format!("{name} is not a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_are_read_as_the_ministrys_schema_declares_them() {
        let ok = br#"{"workflowInstanceId":"w1","events":[{"eventType":"VALIDATION","eventDate":"2025-10-10T13:48:38.425Z","eventStatus":"SUCCESS","issuer":"integrity:S1#111#TEST"}]}"#;
        let (wii, events) = read(ok).unwrap();
        assert_eq!((wii.as_str(), events.len()), ("w1", 1));
        assert_eq!(events[0].event_date.unix_timestamp(), 1_760_104_118);
        for (bad, why) in [
            (
                r#"{"workflowInstanceId":"w1","extra":1}"#,
                "no field \"extra\"",
            ),
            (r#"{"events":[]}"#, "workflowInstanceId is missing"),
            (
                r#"{"workflowInstanceId":"w1","events":[{"eventType":"X","eventStatus":"S"}]}"#,
                "events[0]: eventDate is missing",
            ),
            (
                r#"{"workflowInstanceId":"w1","events":[{"eventType":"X","eventStatus":"S","eventDate":"yesterday"}]}"#,
                "not an RFC 3339",
            ),
            (
                r#"{"workflowInstanceId":"w1","events":[{"eventType":"X","eventStatus":"S","eventDate":"2025-10-10T13:48:38Z","colour":"red"}]}"#,
                "an event has no field \"colour\"",
            ),
        ] {
            let e = read(bad.as_bytes()).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
