//! The admin listener: health, readiness, metrics and the audit trail.
//!
//! Plain HTTP on its own port (loopback unless configured), meant for the operations
//! network only. `/healthz`, `/readyz` and `/metrics` are open; the admin API needs a
//! bearer token ([`crate::admin_access`]): `monitor` searches transactions, `helpdesk` also
//! reads their stored bodies, `operator` also reloads keys and revocation lists. The
//! console has its own sign-in.

use std::sync::Arc;

use axum::extract::{Extension, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Router, middleware};
use http::{StatusCode, header};

use crate::admin_access::{AdminCaller, refused, require_token};
use crate::db::transactions::{TransactionQuery, search};
use crate::startup::AppState;

/// Routes of the admin listener.
pub fn router(state: Arc<AppState>) -> Router {
    // Reloads change what is in force: operators only (the token layer runs first).
    let reloads = Router::new()
        .route("/admin/keys/reload", axum::routing::post(reload_keys))
        .route("/admin/crls/reload", axum::routing::post(reload_crls))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            operators_only,
        ));
    let api = Router::new()
        .route("/openapi.yaml", get(openapi))
        .route("/admin/transactions", get(transactions))
        .merge(reloads)
        .layer(middleware::from_fn_with_state(state.clone(), require_token));
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api)
        .with_state(state.clone())
        .merge(crate::console::router(state))
}

/// 403 for a caller who may not change things.
async fn operators_only(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<AdminCaller>,
    req: axum::extract::Request,
    next: middleware::Next,
) -> Response {
    if caller.role.operates() {
        next.run(req).await
    } else {
        refused(
            &state,
            StatusCode::FORBIDDEN,
            &format!(
                "il ruolo {} non può eseguire questa operazione",
                caller.role.name()
            ),
        )
    }
}

/// The producer API's OpenAPI document (`docs/openapi.yaml`).
async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/yaml")],
        include_str!("../../docs/openapi.yaml"),
    )
        .into_response()
}

async fn readyz(State(state): State<Arc<AppState>>) -> Response {
    let (ok, body) = readiness(&state).await;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Whether the instance can serve, and each check: database, gateway, keys (a test
/// signature with each), certificates.
pub async fn readiness(state: &AppState) -> (bool, serde_json::Value) {
    let db = crate::db::ping(&state.pool)
        .await
        .map_err(|e| e.to_string());
    let gtw = state.gateway.reachable().await;
    let keys = state.keys.current();
    let hsm: Result<(), String> = [&keys.keys.authentication, &keys.keys.signature]
        .into_iter()
        .filter_map(|k| k.token_health().map(|_| k))
        .try_for_each(|k| {
            k.sign_pkcs1_sha256(b"readiness probe")
                .map(|_| ())
                .map_err(|e| e.to_string())
        });
    let expiries = state.keys.expiries();
    let expired = expiries.iter().any(|e| e.status == "expired");
    let ok = db.is_ok() && gtw.is_ok() && hsm.is_ok() && !expired;
    let verdict = |r: &Result<(), String>| match r {
        Ok(()) => serde_json::json!({"status": "up"}),
        Err(e) => serde_json::json!({"status": "down", "detail": e}),
    };
    let body = serde_json::json!({
        "status": if ok { "ready" } else { "not_ready" },
        "checks": {
            "database": verdict(&db),
            "gateway": verdict(&gtw),
            "keys": verdict(&hsm),
            "certificates": expiries,
        },
    });
    (ok, body)
}

/// Reads the producer CA bundle and revocation lists again; 409 leaves them unchanged.
async fn reload_crls(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<AdminCaller>,
) -> Response {
    tracing::info!(by = %caller.name, "revocation lists reload requested");
    let s = state.clone();
    reload_answer(
        move || {
            let crls = s.client_trust.reload()?;
            s.soap_trust.reload()?;
            Ok::<_, crate::trust::TrustLoadError>(crls)
        },
        |crls| {
            serde_json::json!({
                "crls": crls,
                "soap_crls": state.soap_trust.smartcards.crls(),
            })
        },
    )
    .await
}

async fn reload_keys(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<AdminCaller>,
) -> Response {
    tracing::info!(by = %caller.name, "regional keys reload requested");
    let keys = state.keys.clone();
    reload_answer(
        move || keys.reload(),
        |()| serde_json::json!({ "certificates": state.keys.expiries() }),
    )
    .await
}

/// Runs a reload off the async threads: 200 `{"status": "reloaded", …what}`, or 409 with
/// the reason (what was in force stays), or 500 if the task itself failed.
async fn reload_answer<T: Send + 'static, E: std::fmt::Display + Send + 'static>(
    reload: impl FnOnce() -> Result<T, E> + Send + 'static,
    what: impl FnOnce(T) -> serde_json::Value,
) -> Response {
    match tokio::task::spawn_blocking(reload).await {
        Ok(Ok(done)) => {
            let mut body = what(done);
            body["status"] = "reloaded".into();
            axum::Json(body).into_response()
        }
        Ok(Err(e)) => {
            let body = serde_json::json!({"status": "failed", "detail": e.to_string()});
            (StatusCode::CONFLICT, axum::Json(body)).into_response()
        }
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

/// Refreshes the gauges that describe state rather than events.
fn refresh_gauges(state: &AppState) {
    let pool = state.pool.status();
    let in_use = pool.size.saturating_sub(pool.available) as i64;
    let m = &state.metrics;
    m.db_pool.with_label_values(&["in_use"]).set(in_use);
    m.db_pool
        .with_label_values(&["idle"])
        .set(pool.available as i64);
    m.db_pool
        .with_label_values(&["max"])
        .set(pool.max_size as i64);
    m.db_pool_waiters.set(pool.waiting as i64);
    m.audit_journal_rows
        .set(state.audit_journal.waiting().max(0));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    for crl in state.client_trust.crls() {
        if let Some(next) = crl.next_update {
            m.client_crl_next_update
                .with_label_values(&[&crl.issuer])
                .set(next - now);
        }
    }
    for e in state.keys.expiries() {
        state
            .metrics
            .certificate_expiry
            .with_label_values(&[e.certificate])
            .set(e.seconds_left);
    }
    let keys = state.keys.current();
    for (name, key) in [
        ("authentication", &keys.keys.authentication),
        ("signature", &keys.keys.signature),
    ] {
        if let Some(h) = key.token_health() {
            state
                .metrics
                .hsm_up
                .with_label_values(&[name])
                .set(i64::from(h.up));
            state
                .metrics
                .hsm_reopens
                .with_label_values(&[name])
                .set(h.reopens as i64);
        }
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> Response {
    refresh_gauges(&state);
    match crate::db::outbox::counts(&state.pool).await {
        Ok(counts) => {
            for s in ["pending", "sending", "delivered", "failed"] {
                let n = counts.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
                state.metrics.outbox_rows.with_label_values(&[s]).set(n);
            }
        }
        Err(e) => tracing::warn!(error = %e, "outbox counts unavailable"),
    }
    match crate::db::outbox::oldest_open_age(&state.pool).await {
        Ok(age) => state.metrics.outbox_oldest_age.set(age),
        Err(e) => tracing::warn!(error = %e, "outbox age unavailable"),
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn transactions(
    State(state): State<Arc<AppState>>,
    Extension(caller): Extension<AdminCaller>,
    Query(mut q): Query<TransactionQuery>,
) -> Response {
    let bodies = q.bodies.unwrap_or(false);
    if bodies && !caller.role.reads_bodies() {
        return refused(
            &state,
            StatusCode::FORBIDDEN,
            "il ruolo monitor non legge i corpi delle richieste e delle risposte",
        );
    }
    if let Some(cf) = q.cf.take() {
        q.patient_cf_hmac = Some(state.cf_hasher.candidates(&cf));
    }
    match search(&state.pool, &q).await {
        Ok(rows) => {
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|r| {
                    let mut v = serde_json::to_value(r).unwrap_or_default();
                    if bodies {
                        v["request_body"] = r.request_body.clone().into();
                        v["response_body"] = r.response_body.clone().into();
                    }
                    v
                })
                .collect();
            axum::Json(serde_json::json!({ "transactions": rows })).into_response()
        }
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
