//! A producer sees the status of its own workflows only (issue 19 §5, `docs/outcomes.md`).
//!
//! Since January 2026 the gateway shows a workflow's status only to callers of the same
//! region (dispatcher 21948128, `docs/gateway-fidelity.md` row S5); in certificate case 2
//! every call that reaches it is the region's, so only the middleware can keep producers
//! apart. `GET /status/{wii}` and `GET /status/search/{traceId}` go to the gateway only
//! when a transaction of the same producer carried that id (the audit trail: every
//! answer waits for its row, so a producer's own id is always there when it asks); any
//! other gets the gateway's own not-found answer (row S4), so that a producer cannot
//! tell another's workflow from one that does not exist.

use axum::body::Body;
use axum::response::Response;
use http::{StatusCode, header};

use super::Operation;
use crate::db::transactions::{GatewayId, carried_by};
use crate::problem::MwError;
use crate::startup::AppState;

/// Whether `id` of a status call is not this producer's (answered as not found, never
/// forwarded).
pub async fn is_foreign(
    state: &AppState,
    op: Operation,
    id: Option<&str>,
    producer_id: i64,
) -> Result<bool, MwError> {
    let which = match op {
        Operation::StatusByWorkflow => GatewayId::Workflow,
        Operation::StatusByTrace => GatewayId::Trace,
        _ => return Ok(false),
    };
    let Some(id) = id else {
        return Ok(false);
    };
    let ours = carried_by(&state.pool, which, id, producer_id)
        .await
        .map_err(|e| MwError::from_db("status scope", e))?;
    Ok(!ours)
}

/// The gateway's answer to a status lookup with no events (the status service's 404,
/// passed on by the dispatcher: row S4, live it-fse-support #1493).
pub fn not_found() -> Response {
    let body = serde_json::to_vec(&gateway_contract::problem::status_not_found_body())
        .expect("a JSON value");
    Response::builder()
        .status(StatusCode::NOT_FOUND)
        .header(header::CONTENT_TYPE, "application/problem+json")
        .body(Body::from(body))
        .expect("valid response")
}
