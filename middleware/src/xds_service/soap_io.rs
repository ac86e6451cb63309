//! From an HTTP request to a SOAP envelope and its MTOM parts, and back.

use std::collections::HashMap;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use soap_wsdl::SoapVersion;
use soap_wsdl::mtom;
use soap_wsdl::write::{FaultSide, fault};

/// A received SOAP request before its envelope is parsed.
#[derive(Debug)]
pub struct Incoming {
    /// The envelope text.
    pub envelope: String,
    /// MTOM parts by Content-ID.
    pub parts: HashMap<String, Bytes>,
    /// Whether it came as MTOM (answers go back the same way).
    pub mtom: bool,
    /// `action` from the Content-Type or `SOAPAction`.
    pub header_action: Option<String>,
}

/// Why a request cannot be read as SOAP.
#[derive(Debug)]
pub struct Unreadable(pub String);

/// Reads the body as a plain envelope or an MTOM package.
pub async fn read(headers: &HeaderMap, body: Bytes) -> Result<Incoming, Unreadable> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let header_action = soap_wsdl::envelope::action_from_headers(
        Some(&content_type),
        headers.get("soapaction").and_then(|v| v.to_str().ok()),
    );
    let (root, parts, is_mtom) = if mtom::is_multipart(&content_type) {
        let pkg = mtom::parse(&content_type, body)
            .await
            .map_err(|e| Unreadable(e.to_string()))?;
        (pkg.root, pkg.parts, true)
    } else {
        (body, HashMap::new(), false)
    };
    let envelope = String::from_utf8(root.to_vec())
        .map_err(|_| Unreadable("the envelope is not UTF-8".into()))?;
    Ok(Incoming {
        envelope,
        parts,
        mtom: is_mtom,
        header_action,
    })
}

/// For `GET …?wsdl`: the host the caller used (the WSDL's address is built on it).
pub(crate) fn wsdl_request_host<B>(req: &http::Request<B>) -> Option<String> {
    let asks = req.method() == http::Method::GET
        && req
            .uri()
            .query()
            .is_some_and(|q| q.eq_ignore_ascii_case("wsdl"));
    asks.then(|| {
        req.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .or_else(|| req.uri().authority().map(|a| a.as_str()))
            .unwrap_or("localhost")
            .to_string()
    })
}

/// The whole body, within `server.max_body_bytes`.
pub(crate) async fn read_body(
    state: &crate::startup::AppState,
    body: Body,
) -> Result<Bytes, super::Fault> {
    use http_body_util::BodyExt;
    let limit = state.max_body as usize;
    let mut body = body;
    let mut kept = bytes::BytesMut::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            super::Fault::new(
                StatusCode::BAD_REQUEST,
                None,
                format!("the request body could not be read: {e}"),
            )
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= limit {
            kept.extend_from_slice(&data);
        } else {
            // Too large: nothing more is kept, but a moderate excess is read to its end so
            // that the client gets the fault instead of a reset connection.
            kept = bytes::BytesMut::new();
            if seen > limit.saturating_mul(2) {
                break;
            }
        }
    }
    if seen > limit {
        return Err(super::Fault::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the request exceeds {} bytes", state.max_body),
        ));
    }
    Ok(kept.freeze())
}

/// A SOAP answer: plain or MTOM with parts `(content id, mime type, bytes)`.
pub fn answer(
    version: SoapVersion,
    envelope: String,
    mtom_reply: bool,
    parts: &[(String, String, Bytes)],
) -> Response {
    if mtom_reply || !parts.is_empty() {
        let pkg = mtom::package(version, &envelope, parts);
        return Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, pkg.content_type)
            .body(Body::from(pkg.body))
            .expect("valid response");
    }
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, plain_content_type(version))
        .body(Body::from(envelope))
        .expect("valid response")
}

/// A SOAP fault answer with the status the SOAP HTTP binding uses.
pub fn fault_response(
    version: SoapVersion,
    status: StatusCode,
    subcode: Option<&str>,
    reason: &str,
) -> Response {
    let side = if status.is_server_error() {
        FaultSide::Receiver
    } else {
        FaultSide::Sender
    };
    // SOAP 1.1 over HTTP answers every fault with 500.
    fault_body(version, status, fault(version, side, subcode, reason))
}

/// A fault envelope already written; SOAP 1.1 answers it with 500.
pub fn fault_body(version: SoapVersion, status: StatusCode, envelope: String) -> Response {
    let status = match version {
        SoapVersion::V11 => StatusCode::INTERNAL_SERVER_ERROR,
        SoapVersion::V12 => status,
    };
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, plain_content_type(version))
        .body(Body::from(envelope))
        .expect("valid response")
}

fn plain_content_type(version: SoapVersion) -> String {
    format!("{}; charset=UTF-8", version.content_type())
}
