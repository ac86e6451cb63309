//! Who may use the admin API (`/admin/…`, `/openapi.yaml`): a bearer token, each read from
//! a file at start (`[admin] tokens`, at least 32 characters) with the role it gives. Health,
//! readiness and metrics stay open; the console has its own sign-in.
//!
//! Tokens are compared by their SHA-256 in constant time. A request without a known token
//! gets `401` with `WWW-Authenticate: Bearer`, one whose role does not allow the action
//! `403`; both are problem documents and counted in `fsemw_admin_refusals_total`.

use std::sync::Arc;

use aws_lc_rs::{constant_time, digest};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use crate::config::AdminToken;
use crate::console::auth::Role;
use crate::startup::AppState;

/// Shortest token accepted.
pub const MIN_TOKEN_CHARS: usize = 32;

/// The tokens in force.
pub struct AdminTokens(Vec<(String, [u8; 32], Role)>);

impl std::fmt::Debug for AdminTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(n, _, r)| (n, r)))
            .finish()
    }
}

/// The holder of a token, as the handlers see it.
#[derive(Debug, Clone)]
pub struct AdminCaller {
    /// The token's name.
    pub name: String,
    /// What it may do.
    pub role: Role,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    digest::digest(&digest::SHA256, bytes)
        .as_ref()
        .try_into()
        .expect("a SHA-256 digest")
}

// === impl AdminTokens ===

impl AdminTokens {
    /// Reads every token file; each error names the key.
    pub fn load(tokens: &[AdminToken]) -> Result<Self, String> {
        let mut out = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            let key = format!("admin.tokens[{i}]");
            let text = std::fs::read_to_string(&t.file)
                .map_err(|e| format!("{key}.file {}: {e}", t.file))?;
            let token = text.trim();
            if token.chars().count() < MIN_TOKEN_CHARS {
                return Err(format!(
                    "{key}.file {}: a token of at least {MIN_TOKEN_CHARS} characters",
                    t.file
                ));
            }
            let role = Role::parse(&t.role).ok_or_else(|| format!("{key}.role {:?}", t.role))?;
            out.push((t.name.clone(), sha256(token.as_bytes()), role));
        }
        Ok(Self(out))
    }

    /// The caller a request's `Authorization: Bearer` names, if any.
    pub fn caller(&self, headers: &HeaderMap) -> Option<AdminCaller> {
        let presented = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        let presented = sha256(presented.as_bytes());
        // Every token is compared, whichever matches.
        let mut found = None;
        for (name, digest, role) in &self.0 {
            if constant_time::verify_slices_are_equal(digest, &presented).is_ok() {
                found = Some(AdminCaller {
                    name: name.clone(),
                    role: *role,
                });
            }
        }
        found
    }
}

/// A refusal of the admin API, as a problem document.
pub fn refused(state: &AppState, status: StatusCode, detail: &str) -> Response {
    let reason = if status == StatusCode::UNAUTHORIZED {
        "credential"
    } else {
        "role"
    };
    state
        .metrics
        .admin_refusals
        .with_label_values(&[reason])
        .inc();
    let body = serde_json::json!({
        "type": "mw/unauthorized", "title": "Accesso non autorizzato",
        "status": status.as_u16(), "detail": detail,
    });
    let mut r = (status, axum::Json(body)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            http::HeaderValue::from_static("Bearer realm=\"fsemw-admin\""),
        );
    }
    r
}

/// The layer of the admin API: the caller found, or 401.
pub async fn require_token(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    match state.admin_tokens.caller(req.headers()) {
        Some(caller) => {
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        None => refused(
            &state,
            StatusCode::UNAUTHORIZED,
            "serve un token di amministrazione (Authorization: Bearer)",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_named_and_matched() {
        let dir = std::env::temp_dir().join(format!("fsemw-admin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = |name: &str, text: &str| {
            let f = dir.join(name);
            std::fs::write(&f, text).unwrap();
            f.display().to_string()
        };
        let token = |file: String, role: &str| AdminToken {
            name: "ops".into(),
            file,
            role: role.into(),
        };
        let short = token(file("short", "abc\n"), "operator");
        assert!(
            AdminTokens::load(&[short])
                .unwrap_err()
                .contains("admin.tokens[0]")
        );
        let good = "0123456789abcdef0123456789abcdef";
        let tokens =
            AdminTokens::load(&[token(file("ok", &format!("{good}\n")), "monitor")]).unwrap();
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            format!("Bearer {good}").parse().unwrap(),
        );
        assert_eq!(tokens.caller(&h).unwrap().role, Role::Monitor);
        h.insert(header::AUTHORIZATION, "Bearer wrong".parse().unwrap());
        assert!(tokens.caller(&h).is_none());
        assert!(tokens.caller(&HeaderMap::new()).is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
