//! Spring's own refusals before a controller runs (review S10): a request whose content type
//! the mapping does not consume gets 415, one whose `Accept` excludes what it produces gets
//! 406 (`RequestMappingInfoHandlerMapping`: consumes is checked before produces). The
//! dispatcher's `ControllerExceptionHandler` extends `ResponseEntityExceptionHandler` without
//! overriding either (@ de019846, Spring Boot 3.5.7), so the answer is Spring's ProblemDetail.

use axum::response::{IntoResponse, Response};
use gateway_contract::headers::{is_json, media_essence};
use gateway_contract::operation::Operation;
use http::{HeaderMap, StatusCode, header};

use super::respond;

/// `consumes = multipart/form-data` in the dispatcher's mappings.
fn consumes_multipart(op: Operation) -> bool {
    matches!(
        op,
        Operation::Validation
            | Operation::FhirValidation
            | Operation::Create
            | Operation::Replace
            | Operation::ValidateAndCreate
            | Operation::ValidateAndReplace
            | Operation::FhirCreate
            | Operation::FhirReplace
    )
}

/// `produces = application/json` in the dispatcher's mappings.
fn produces_json(op: Operation) -> bool {
    matches!(
        op,
        Operation::Validation
            | Operation::FhirValidation
            | Operation::Replace
            | Operation::Delete
            | Operation::Metadata
            | Operation::MetadataIti57
            | Operation::ValidateAndReplace
            | Operation::FhirReplace
    )
}

/// Spring's refusal of the request's media types, if any; `path` is the request's path.
pub fn refusal(op: Operation, headers: &HeaderMap, path: &str) -> Option<Response> {
    let text = |name| headers.get(name).and_then(|v| v.to_str().ok());
    // `consumes` is checked with or without a body: the mappings' `@RequestBody(required =
    // false)` is Swagger's annotation, not Spring's, so `bodyRequired` keeps its default and
    // a call without a content type is "Content-Type 'null'" (review of 2026-12-04).
    if consumes_multipart(op) {
        let content_type = text(header::CONTENT_TYPE).unwrap_or("null");
        if media_essence(content_type) != "multipart/form-data" {
            return Some(unsupported(content_type, path));
        }
    }
    if produces_json(op) && text(header::ACCEPT).is_some_and(|a| !accepts_json(a)) {
        // The ProblemDetail cannot be written in a type the caller accepts: no body.
        return Some(StatusCode::NOT_ACCEPTABLE.into_response());
    }
    None
}

/// A `@RequestBody` read by Spring's JSON converter (the metadata update, which declares no
/// `consumes`): a declared content type that is not JSON is 415, as for `consumes`.
/// **Unverified**: a body without any content type (Spring reads it as
/// `application/octet-stream`) is let through to the binding here.
pub fn json_body_refusal(headers: &HeaderMap, path: &str) -> Option<Response> {
    let content_type = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    (!is_json(content_type)).then(|| unsupported(content_type, path))
}

/// Spring's 415 ProblemDetail.
fn unsupported(content_type: &str, path: &str) -> Response {
    let body = serde_json::json!({
        "type": "about:blank", "title": "Unsupported Media Type", "status": 415,
        "detail": format!("Content-Type '{content_type}' is not supported."),
        "instance": path,
    });
    let status = StatusCode::UNSUPPORTED_MEDIA_TYPE;
    respond::json_response(status, &body, "application/problem+json")
}

/// Whether an `Accept` value admits `application/json`.
fn accepts_json(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let range = range.split(';').next().unwrap_or_default().trim();
        ["application/json", "application/*", "*/*"]
            .iter()
            .any(|ok| range.eq_ignore_ascii_case(ok))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_ranges() {
        assert!(accepts_json("application/json"));
        assert!(accepts_json("text/html, */*;q=0.1"));
        assert!(accepts_json("Application/*"));
        assert!(!accepts_json("application/xml"));
        assert!(!accepts_json("text/plain, application/problem+json"));
    }
}
