//! The one place where middleware errors become RFC 7807 problem documents.
//!
//! Errors of the national gateway are never built here: they are returned to the
//! producer byte for byte. Only what the middleware itself decides appears below,
//! with `type` values in the `mw/` namespace that the national rules reserve.

use crate::db::outcome::Outcome;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};

/// An error produced by the middleware itself.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MwError {
    /// No usable client certificate, or an unregistered/disabled producer.
    #[error("{detail}")]
    Unauthorized {
        /// 401 (no or untrusted certificate) or 403 (certificate not allowed).
        status: StatusCode,
        /// Why, in words a producer's developer can act on.
        detail: String,
        /// Metric label (bounded set).
        reason: &'static str,
    },
    /// The gateway could not be reached or did not answer in time.
    #[error("gateway unreachable: {0}")]
    GatewayUnreachable(String),
    /// The request body is larger than allowed.
    #[error("request body larger than {limit} bytes")]
    PayloadTooLarge {
        /// The configured limit.
        limit: u64,
    },
    /// The client stopped sending its request body (or broke the connection) before its end.
    #[error("request body incomplete: {0}")]
    IncompleteBody(String),
    /// No route for this method and path.
    #[error("no such endpoint: {0}")]
    NotFound(String),
    /// A request the middleware reads itself (the touchpoint's notifications) that does
    /// not follow its schema.
    #[error("{0}")]
    BadRequest(String),
    /// The middleware's database cannot be reached: nothing was done, try again shortly.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The regional keys (the HSM token) cannot sign: nothing was forwarded, try again shortly.
    #[error("regional keys unavailable: {0}")]
    KeysUnavailable(String),
    /// Anything else that prevents the middleware from answering.
    #[error("internal error: {0}")]
    Internal(String),
}

// === impl MwError ===

impl MwError {
    /// A database failure met while serving `what`: 503 when the database is unreachable
    /// (the producer tries again), else an internal error.
    pub fn from_db(what: &str, e: crate::db::DbError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(format!("{what}: {e}"))
        } else {
            Self::Internal(format!("{what}: {e}"))
        }
    }

    /// Whether a dependency (database, regional keys) is unreachable for now: 503, the
    /// producer tries again.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unavailable(_) | Self::KeysUnavailable(_))
    }

    /// HTTP status, `type`, `title`.
    pub fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Unauthorized { status, .. } => {
                (*status, "mw/unauthorized", "Accesso non autorizzato")
            }
            Self::GatewayUnreachable(_) => (
                StatusCode::GATEWAY_TIMEOUT,
                "mw/io_error",
                "Errore comunicazione con GTW nazionale",
            ),
            Self::PayloadTooLarge { .. } => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "mw/payload-too-large",
                "Richiesta troppo grande",
            ),
            Self::IncompleteBody(_) => (
                StatusCode::REQUEST_TIMEOUT,
                "mw/incomplete-body",
                "Richiesta incompleta",
            ),
            Self::NotFound(_) => (
                StatusCode::NOT_FOUND,
                "mw/not-found",
                "Servizio inesistente",
            ),
            Self::BadRequest(_) => (
                StatusCode::BAD_REQUEST,
                "mw/bad-request",
                "Richiesta non valida",
            ),
            Self::Unavailable(_) | Self::KeysUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "mw/unavailable",
                "Servizio temporaneamente non disponibile",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "mw/internal_error",
                "Errore Interno",
            ),
        }
    }

    /// Short outcome label for the audit trail and metrics.
    pub fn outcome(&self) -> Outcome {
        match self {
            Self::Unauthorized { .. } => Outcome::Refused,
            Self::GatewayUnreachable(_) => Outcome::GatewayUnreachable,
            Self::PayloadTooLarge { .. } => Outcome::TooLarge,
            Self::IncompleteBody(_) => Outcome::IncompleteBody,
            Self::NotFound(_) => Outcome::NotFound,
            Self::BadRequest(_) => Outcome::Refused,
            Self::Unavailable(_) => Outcome::Unavailable,
            Self::KeysUnavailable(_) => Outcome::KeysUnavailable,
            Self::Internal(_) => Outcome::InternalError,
        }
    }

    /// The problem document for this error; `instance` names the transaction.
    pub fn to_problem(&self, transaction_id: &str) -> serde_json::Value {
        let (status, kind, title) = self.parts();
        let detail = match self {
            // Internal causes go to the log, not to the producer.
            Self::Internal(_) => "Errore interno del middleware regionale".to_string(),
            Self::Unavailable(_) => {
                "Archivio del middleware regionale non raggiungibile: nulla è stato inoltrato, ripetere la richiesta".to_string()
            }
            Self::KeysUnavailable(_) => {
                "Chiavi di firma del middleware regionale non disponibili: nulla è stato inoltrato, ripetere la richiesta".to_string()
            }
            other => other.to_string(),
        };
        serde_json::json!({
            "type": kind,
            "title": title,
            "status": status.as_u16(),
            "detail": detail,
            "instance": format!("urn:uuid:{transaction_id}"),
        })
    }

    /// The HTTP response: status and `application/problem+json` body.
    pub fn into_response_for(self, transaction_id: &str) -> Response {
        if let Self::Internal(cause) | Self::Unavailable(cause) | Self::KeysUnavailable(cause) =
            &self
        {
            tracing::error!(transaction_id, %cause, "{}", self.outcome());
        }
        let (status, ..) = self.parts();
        let body = self.to_problem(transaction_id).to_string();
        let mut resp = (status, body).into_response();
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if self.is_unavailable() {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_error_matches_the_national_rules() {
        let p = MwError::GatewayUnreachable("timeout".into()).to_problem("abc");
        assert_eq!(p["type"], "mw/io_error");
        assert_eq!(p["title"], "Errore comunicazione con GTW nazionale");
        assert_eq!(p["status"], 504);
        let p = MwError::Internal("db password wrong".into()).to_problem("abc");
        assert_eq!(p["type"], "mw/internal_error");
        assert_eq!(p["status"], 500);
        assert!(!p["detail"].as_str().unwrap().contains("password"));
        let p = MwError::KeysUnavailable("CKR_TOKEN_NOT_PRESENT".into()).to_problem("abc");
        assert_eq!(p["type"], "mw/unavailable");
        assert_eq!(p["status"], 503);
        assert!(!p["detail"].as_str().unwrap().contains("CKR_"));
    }
}
