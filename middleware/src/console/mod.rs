//! The operations console on the admin listener: server-rendered HTML, no JavaScript, no
//! external asset, behind a sign-in ([`auth`]).
//!
//! - [`transactions`]: the live list with filters, a transaction's trail, its support bundle.
//! - [`reports`]: gateway refusals by ASL, producer, document type and month; the optional
//!   public page of aggregate volumes.
//! - [`operations`]: the outbox with manual retry; gateway, HSM, database and certificates.

pub mod auth;
pub mod html;
pub mod operations;
pub mod reports;
pub mod transactions;

use std::sync::Arc;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Form, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use http::{StatusCode, header};
use serde::Deserialize;

use crate::db::Db;
use crate::metrics::Metrics;
use crate::startup::AppState;
use auth::{ConsoleAuth, Session};

/// The console's routes (`/console/…`, `/public`).
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route(
            "/console",
            get(|| async { Redirect::to("/console/transactions") }),
        )
        .route("/console/login", get(login_page).post(login))
        .route("/console/logout", post(logout))
        .route("/console/transactions", get(transactions::list))
        .route("/console/transactions/{id}", get(transactions::detail))
        .route(
            "/console/transactions/{id}/bundle",
            get(transactions::bundle),
        )
        .route("/console/rejections", get(reports::rejections))
        .route("/console/outbox", get(operations::outbox))
        .route("/console/outbox/{id}/retry", post(operations::retry))
        .route("/console/health", get(operations::health))
        .route("/public", get(reports::public))
        .layer(axum::middleware::map_response(page_headers))
        .with_state(state)
}

/// What every console answer carries: no script, no framing, no outside resource, no
/// referrer (the pages use inline style only and post forms to themselves).
async fn page_headers(mut response: Response) -> Response {
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        http::HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        http::HeaderValue::from_static("DENY"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        http::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        http::HeaderValue::from_static("no-referrer"),
    );
    response
}

/// A page answer.
pub fn html(page: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        Html(page),
    )
        .into_response()
}

/// An error page.
pub fn problem(status: StatusCode, session: Option<&Session>, text: &str) -> Response {
    let body = format!("<p class=\"ko\">{}</p>", html::esc(text));
    let mut r = html(html::page("Errore", session, &body, None));
    *r.status_mut() = status;
    r
}

async fn login_page() -> Response {
    html(login_form(None))
}

fn login_form(error: Option<&str>) -> String {
    let error = error
        .map(|e| format!("<p class=\"ko\">{}</p>", html::esc(e)))
        .unwrap_or_default();
    html::page(
        "Accesso alla console",
        None,
        &format!(
            "{error}<form method=\"post\" action=\"/console/login\" class=\"filters\"><label>Utente<input name=\"user\" autocomplete=\"username\" required></label><label>Password<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label><button type=\"submit\">Entra</button></form>"
        ),
        None,
    )
}

#[derive(Deserialize)]
struct Credentials {
    user: String,
    password: String,
}

async fn login(
    State(Db(pool)): State<Db>,
    State(ConsoleAuth(auth)): State<ConsoleAuth>,
    State(metrics): State<Metrics>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(c): Form<Credentials>,
) -> Response {
    // PBKDF2 is slow on purpose: off the async workers.
    let user = c.user.clone();
    let outcome = tokio::task::spawn_blocking(move || auth.sign_in(&user, &c.password, peer.ip()))
        .await
        .unwrap_or(auth::SignIn::Refused);
    match outcome {
        auth::SignIn::Accepted(cookie) => {
            let _ = crate::db::console::record(&pool, &c.user, "sign-in", None).await;
            (
                [(header::SET_COOKIE, cookie)],
                Redirect::to("/console/transactions"),
            )
                .into_response()
        }
        auth::SignIn::Refused => {
            tracing::warn!(user = %c.user, %peer, "console sign-in refused");
            metrics.admin_refusals.with_label_values(&["sign_in"]).inc();
            let mut r = html(login_form(Some("Utente o password non validi")));
            *r.status_mut() = StatusCode::UNAUTHORIZED;
            r
        }
        auth::SignIn::Throttled(secs) => {
            tracing::warn!(user = %c.user, %peer, secs, "console sign-in throttled");
            metrics
                .admin_refusals
                .with_label_values(&["throttled"])
                .inc();
            let mut r = html(login_form(Some(&format!(
                "Troppi tentativi non riusciti: riprovare tra {secs} secondi"
            ))));
            *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
            r.headers_mut()
                .insert(header::RETRY_AFTER, http::HeaderValue::from(secs));
            r
        }
    }
}

async fn logout(State(ConsoleAuth(auth)): State<ConsoleAuth>) -> Response {
    (
        [(header::SET_COOKIE, auth.sign_out_cookie())],
        Redirect::to("/console/login"),
    )
        .into_response()
}
