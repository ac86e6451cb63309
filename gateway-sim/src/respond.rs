//! The simulator's HTTP answers: the contract's error and success bodies
//! ([`gateway_contract::problem`]) as responses, and the GovWay frontier's own errors.

use axum::response::{IntoResponse, Response};
use gateway_contract::problem::{Answer, GtwError, Shape};
use http::{HeaderValue, StatusCode, header};

/// The problem response for `e`.
pub fn error(ans: &Answer, e: &GtwError) -> Response {
    let (status, body) = ans.error_body(e);
    json_response(status, &body, "application/problem+json")
}

/// A success response with `traceID`, `spanID`, and the given extra fields.
pub fn success(
    ans: &Answer,
    status: StatusCode,
    shape: Shape,
    wii: Option<&str>,
    warning: Option<&str>,
) -> Response {
    let body = ans.success_body(shape, wii, warning);
    json_response(status, &body, "application/json")
}

/// A JSON response with the given content type.
pub fn json_response(
    status: StatusCode,
    body: &serde_json::Value,
    content_type: &'static str,
) -> Response {
    let mut resp = (status, body.to_string()).into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp
}

/// An error of the GovWay frontier (token signature, certificate, expiry), which
/// never reaches the dispatcher and carries `govway_id`.
pub fn frontier_error(r: &crate::jwt_checks::FrontierRefusal) -> Response {
    // GovWay's transaction id is time-based (live ids such as
    // `d9d241d9-7e64-11f0-bbf0-005056ae54fa`), and the header carries the same (#742).
    let govway_id = govway_transaction_id();
    let body = serde_json::json!({
        "type": format!("https://govway.org/handling-errors/{}/{}.html", r.status.as_u16(), r.title),
        "title": r.title,
        "status": r.status.as_u16(),
        "detail": r.detail,
        "govway_id": govway_id,
    });
    let mut resp = json_response(r.status, &body, "application/problem+json");
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&govway_id) {
        headers.insert("govway-transaction-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(r.title) {
        headers.insert("govway-transaction-errortype", v);
    }
    if let Some(realm) = r.realm {
        let value = format!(
            "Bearer realm=\"{realm}\", error=\"invalid_token\", error_description=\"Token invalid\""
        );
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(http::header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}

/// A time-based (version 1) UUID, as GovWay's transaction ids are.
fn govway_transaction_id() -> String {
    let node: [u8; 6] = rand_node();
    uuid::Uuid::now_v1(&node).to_string()
}

fn rand_node() -> [u8; 6] {
    let random = uuid::Uuid::new_v4();
    let mut node = [0u8; 6];
    node.copy_from_slice(&random.as_bytes()[..6]);
    node
}

/// GovWay's identifiers on every answer that does not carry them yet (a transaction id
/// and a message id, fresh for each answer).
pub async fn govway_ids(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    // The transaction id is time-based, the message id random (both forms seen on GovWay's
    // answers, anticorruzione/npa #2298).
    let ids = [
        ("govway-transaction-id", govway_transaction_id()),
        ("govway-message-id", uuid::Uuid::new_v4().to_string()),
    ];
    for (name, id) in ids {
        if !headers.contains_key(name)
            && let Ok(v) = HeaderValue::from_str(&id)
        {
            headers.insert(name, v);
        }
    }
    resp
}
