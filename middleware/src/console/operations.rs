//! The state of the service: the outbox with a manual retry (operators), and the health of
//! the gateway, the HSM, the database and the certificates.

use std::fmt::Write;
use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use http::StatusCode;
use serde::Deserialize;
use serde_json::Value;

use super::auth::{ConsoleAuth, Role, Session};
use super::html::{esc, page, table, when};
use super::{html, problem};
use crate::db::Db;
use crate::startup::AppState;

/// `GET /console/outbox`.
pub async fn outbox(
    State(Db(pool)): State<Db>,
    State(ConsoleAuth(auth)): State<ConsoleAuth>,
    session: Session,
) -> Response {
    let rows = match crate::db::outbox_view::rows(&pool, 500).await {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "console: outbox");
            return problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&session),
                "coda non disponibile",
            );
        }
    };
    let token = auth.csrf_token(&session);
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for r in &rows {
        *counts.entry(r.state.as_str()).or_default() += 1;
    }
    let mut body = String::from("<div class=\"cards\">");
    for s in ["pending", "sending", "failed"] {
        let _ = write!(
            body,
            "<div class=\"card\"><strong>{s}</strong><p>{}</p></div>",
            counts.get(s).copied().unwrap_or(0)
        );
    }
    body.push_str("</div><h2>Pubblicazioni in coda</h2>");
    let operator = session.role == Role::Operator;
    let table_rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| queue_row(r, operator, &token))
        .collect();
    body.push_str(&table(
        &[
            "Id",
            "Transazione",
            "Operazione",
            "Documento",
            "Stato",
            "Tentativi",
            "In coda dal (UTC)",
            "Prossimo tentativo",
            "Ultimo errore",
            "Ultimo evento",
            "",
        ],
        &table_rows,
    ));
    html(page("Coda e recupero", Some(&session), &body, Some(30)))
}

/// The retry form.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    csrf: String,
}

/// One queued publication as a row; operators get the retry button on pending and
/// failed ones.
fn queue_row(r: &crate::db::outbox_view::Row, operator: bool, token: &str) -> Vec<String> {
    let last = r
        .events
        .as_array()
        .and_then(|e| e.last())
        .map(|e| {
            format!(
                "{} {}",
                e["eventType"].as_str().unwrap_or_default(),
                e["eventStatus"].as_str().unwrap_or_default()
            )
        })
        .unwrap_or_default();
    let action = if operator && matches!(r.state.as_str(), "pending" | "failed") {
        format!(
            "<form method=\"post\" action=\"/console/outbox/{}/retry\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button type=\"submit\">Riprova ora</button></form>",
            r.id,
            esc(token)
        )
    } else {
        String::new()
    };
    vec![
        r.id.to_string(),
        format!(
            "<a href=\"/console/transactions/{}\">{}</a>",
            r.tx_id, r.tx_id
        ),
        esc(&r.operation),
        esc(r.document_id.as_deref().unwrap_or("")),
        esc(&r.state),
        r.attempts.to_string(),
        esc(&when(r.created_at)),
        esc(&when(r.next_attempt_at)),
        esc(r.last_error.as_deref().unwrap_or("")),
        esc(&last),
        action,
    ]
}

/// `POST /console/outbox/{id}/retry` (operators).
pub async fn retry(
    State(Db(pool)): State<Db>,
    State(ConsoleAuth(auth)): State<ConsoleAuth>,
    session: Session,
    Path(id): Path<i64>,
    Form(form): Form<RetryForm>,
) -> Response {
    if session.role != Role::Operator || !auth.csrf_ok(&session, &form.csrf) {
        return problem(
            StatusCode::FORBIDDEN,
            Some(&session),
            "operazione riservata agli operatori (o modulo scaduto)",
        );
    }
    match crate::db::outbox_view::retry_now(&pool, id, &session.user).await {
        Ok(true) => {
            let _ = crate::db::console::record(
                &pool,
                &session.user,
                "outbox-retry",
                Some(&id.to_string()),
            )
            .await;
            Redirect::to("/console/outbox").into_response()
        }
        Ok(false) => problem(
            StatusCode::CONFLICT,
            Some(&session),
            "la pubblicazione non è in attesa né fallita",
        ),
        Err(e) => {
            tracing::error!(error = %e, "console: retry");
            problem(
                StatusCode::INTERNAL_SERVER_ERROR,
                Some(&session),
                "nuovo invio non registrato",
            )
        }
    }
}

/// `GET /console/health`.
pub async fn health(State(state): State<Arc<AppState>>, session: Session) -> Response {
    let (ready, checks) = crate::admin::readiness(&state).await;
    let mut body = format!(
        "<p class=\"{}\">{}</p><div class=\"cards\">",
        if ready { "ok" } else { "ko" },
        if ready {
            "Pronto a servire"
        } else {
            "Non pronto: vedere i controlli"
        }
    );
    for (key, title) in [
        ("gateway", "Gateway nazionale"),
        ("keys", "HSM (firma di prova con entrambe le chiavi)"),
        ("database", "Database"),
    ] {
        let c = &checks["checks"][key];
        let up = c["status"] == "up";
        let _ = write!(
            body,
            "<div class=\"card\" id=\"check-{key}\"><strong>{title}</strong><p class=\"{}\">{}</p><p>{}</p></div>",
            if up { "ok" } else { "ko" },
            if up {
                "raggiungibile"
            } else {
                "non disponibile"
            },
            esc(c["detail"].as_str().unwrap_or(""))
        );
    }
    body.push_str("</div><h2>Certificati regionali</h2>");
    let rows: Vec<Vec<String>> = checks["checks"]["certificates"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c: &Value| {
            let days = c["seconds_left"].as_i64().unwrap_or(0) / 86_400;
            vec![
                esc(c["certificate"].as_str().unwrap_or_default()),
                esc(c["subject"].as_str().unwrap_or_default()),
                days.to_string(),
                esc(c["status"].as_str().unwrap_or_default()),
            ]
        })
        .collect();
    body.push_str(&table(
        &["Certificato", "Soggetto", "Giorni alla scadenza", "Stato"],
        &rows,
    ));
    let pool = state.pool.status();
    let _ = write!(
        body,
        "<h2>Connessioni al database</h2><p>{} in uso, {} libere, {} al massimo, {} in attesa</p>",
        pool.size.saturating_sub(pool.available),
        pool.available,
        pool.max_size,
        pool.waiting
    );
    html(page("Stato del servizio", Some(&session), &body, Some(30)))
}
