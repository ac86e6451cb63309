//! The admin listener: health, readiness, metrics and the audit trail.
//!
//! Plain HTTP on its own port, meant for the operations network only.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};

use crate::db::transactions::{TransactionQuery, search};
use crate::startup::AppState;

/// Routes of the admin listener.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/admin/transactions", get(transactions))
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let db = crate::db::ping(&state.pool)
        .await
        .map_err(|e| e.to_string());
    let gtw = state.gateway.reachable().await;
    let ok = db.is_ok() && gtw.is_ok();
    let verdict = |r: &Result<(), String>| match r {
        Ok(()) => serde_json::json!({"status": "up"}),
        Err(e) => serde_json::json!({"status": "down", "detail": e}),
    };
    let body = serde_json::json!({
        "status": if ok { "ready" } else { "not_ready" },
        "checks": { "database": verdict(&db), "gateway": verdict(&gtw) },
    });
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn transactions(
    State(state): State<Arc<AppState>>,
    Query(mut q): Query<TransactionQuery>,
) -> Response {
    if let Some(cf) = q.cf.take() {
        q.patient_cf_hmac = Some(state.cf_hasher.hash(&cf));
    }
    match search(&state.pool, &q).await {
        Ok(rows) => axum::Json(serde_json::json!({ "transactions": rows })).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "transaction search failed");
            let body = serde_json::json!({
                "type": "mw/internal_error", "title": "Errore Interno", "status": 500,
                "detail": "ricerca nel registro delle transazioni non riuscita",
            });
            (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
        }
    }
}
