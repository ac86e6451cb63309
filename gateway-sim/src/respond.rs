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
pub fn frontier_error(status: StatusCode, title: &str, detail: &str) -> Response {
    let govway_id = uuid::Uuid::new_v4().to_string();
    let body = serde_json::json!({
        "type": format!("https://govway.org/handling-errors/{}/{title}.html", status.as_u16()),
        "title": title,
        "status": status.as_u16(),
        "detail": detail,
        "govway_id": govway_id,
    });
    let mut resp = json_response(status, &body, "application/problem+json");
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&govway_id) {
        headers.insert("govway-transaction-id", v);
    }
    if let Ok(v) = HeaderValue::from_str(title) {
        headers.insert("govway-transaction-errortype", v);
    }
    resp
}

/// GovWay's identifiers on every answer that does not carry them yet (a transaction id
/// and a message id, fresh for each answer).
pub async fn govway_ids(mut resp: Response) -> Response {
    let headers = resp.headers_mut();
    for name in ["govway-transaction-id", "govway-message-id"] {
        if !headers.contains_key(name)
            && let Ok(v) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
        {
            headers.insert(name, v);
        }
    }
    resp
}
