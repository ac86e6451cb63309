//! Publications accepted while the national gateway cannot be reached.
//!
//! When a publication (create, replace, validate-and-*, delete, metadata update) finds
//! the gateway unreachable — the connection could not be opened, so the gateway has
//! certainly not seen it — the middleware keeps the request as received in the
//! PostgreSQL `outbox`, indexes the document provisionally in the regional registry,
//! and answers 202 with a local warning. The [`worker`] of any replica delivers the
//! queue in order when the gateway is back. A failure after the request may have
//! reached the gateway (reset, timeout) is not queued: the producer gets 504, as
//! before, because a second delivery could publish twice.
//!
//! - the table: `db::outbox`; as the console lists it: `db::outbox_view`.
//! - [`provisional`]: the local XDS metadata of a queued publication.
//! - [`worker`]: delivery, retries, conversion to validate-and-create/replace.

pub mod provisional;
pub mod worker;

use crate::db::outcome::Outcome;
use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, StatusCode, header};
use serde_json::{Value, json};

use crate::db::producers::Producer;
use crate::db::transactions::TransactionRecord;
use crate::forward::Operation;
use crate::forward::tokens::{REGIONAL_TOKENS_HEADER, SIGNATURE_HEADER};
use crate::problem::MwError;
use crate::startup::AppState;

/// Text of the local warning of a queued publication.
pub const QUEUED_WARNING: &str = "[MW-QUEUED] Gateway nazionale non raggiungibile: pubblicazione presa in carico dal middleware regionale e inviata appena possibile";

/// The request as the handler received it.
#[derive(Debug)]
pub struct Held<'a> {
    /// The operation.
    pub op: Operation,
    /// HTTP method.
    pub method: &'a http::Method,
    /// Gateway path relative to its base URL.
    pub path: &'a str,
    /// The id the route's `{id}` stands for (replace, delete, metadata), decoded.
    pub path_id: Option<&'a str>,
    /// Request headers as received.
    pub headers: &'a HeaderMap,
    /// The whole body.
    pub body: &'a Bytes,
    /// The producer.
    pub producer: &'a Producer,
    /// The producer's token claims (verified).
    pub claims: Option<&'a hsm::jwt::RawClaims>,
}

/// What the middleware reads from a held publication.
#[derive(Debug)]
pub struct Parsed {
    /// The `requestBody` (or the JSON body).
    pub request: Value,
    /// The PDF, if any.
    pub pdf: Option<Bytes>,
    /// The CDA extracted from it.
    pub cda: Option<String>,
    /// The document id of the path (replace, delete, metadata).
    pub path_id: Option<String>,
    /// SHA-256 (hex) of what identifies the request (requestBody + file, or the body):
    /// the multipart boundary and the tokens change when a producer sends it again.
    pub request_sha256: String,
}

/// Reads a held request.
pub async fn parse(
    cpu: &crate::cpu_pool::CpuPool,
    op: Operation,
    path_id: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Parsed {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    // A publication's form has its file; without one the body is read as JSON.
    let form = content_type
        .and_then(|ct| gateway_contract::form::read_form(ct, body).ok())
        .filter(|f| f.file.is_some());
    let request: Value = form
        .as_ref()
        .and_then(|f| f.request_body.as_deref())
        .or_else(|| std::str::from_utf8(body).ok())
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Value::Null);
    let pdf = form.as_ref().and_then(|f| f.file.clone());
    let path_id = path_id
        .filter(|_| op.path_is_document_id())
        .map(str::to_string);
    let mode = request.get("mode").and_then(Value::as_str).and_then(|m| {
        serde_json::from_value::<gateway_contract::cda::ExtractionMode>(json!(m)).ok()
    });
    let cda = match &pdf {
        Some(p) => {
            let p = p.clone();
            cpu.run(crate::cpu_pool::Work::Pdf, move || {
                gateway_contract::cda::extract_cda(&p, mode).ok()
            })
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    let mut ident = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    match &form {
        Some(f) => {
            ident.update(f.request_body.as_deref().unwrap_or_default().as_bytes());
            ident.update(b"\0");
            ident.update(f.file.as_deref().unwrap_or_default());
        }
        None => ident.update(body),
    }
    Parsed {
        request,
        pdf,
        cda,
        path_id,
        request_sha256: hex::encode(ident.finish().as_ref()),
    }
}

/// The identifiers a queued publication is found and ordered by.
struct QueueIds {
    /// The document (`identificativoDoc`, or the replaced one of the path).
    document_id: Option<String>,
    /// Publications of one document are delivered in order.
    ordering_key: String,
    /// The validation's (create, replace), when the request carries it.
    workflow_instance_id: Option<String>,
}

impl QueueIds {
    fn of(parsed: &Parsed, tx_id: uuid::Uuid) -> Self {
        let body_doc = parsed
            .request
            .get("identificativoDoc")
            .and_then(Value::as_str)
            .map(str::to_string);
        let document_id = body_doc.clone().or(parsed.path_id.clone());
        let ordering_key = parsed
            .path_id
            .clone()
            .or(body_doc)
            .unwrap_or_else(|| tx_id.to_string());
        // Only an id the gateway issued (the validation's): its own for this publication
        // has a random part and is learnt when the publication is delivered.
        let wii = parsed
            .request
            .get("workflowInstanceId")
            .and_then(Value::as_str)
            .map(str::to_string);
        Self {
            document_id,
            ordering_key,
            workflow_instance_id: wii,
        }
    }
}

/// The request headers a delivery needs again (content type, tokens, callback).
fn headers_to_keep(headers: &HeaderMap) -> serde_json::Map<String, Value> {
    let mut stored_headers = serde_json::Map::new();
    for name in [
        header::CONTENT_TYPE.as_str(),
        header::AUTHORIZATION.as_str(),
        SIGNATURE_HEADER,
        "accept",
        "x-callback-url",
        REGIONAL_TOKENS_HEADER,
    ] {
        if let Some(v) = headers.get(name).and_then(|v| v.to_str().ok()) {
            stored_headers.insert(name.to_string(), json!(v));
        }
    }
    stored_headers
}

/// The producer's answer: 202 with the region's ids only. `traceID` is the regional
/// transaction (a hyphenated UUID, never mistaken for the gateway's 32-hex trace), there
/// is no `spanID`, and `workflowInstanceId` only when the gateway issued it (the
/// validation's). The warning says where the gateway's ids will be found once delivered.
fn queued_answer(tx_id: uuid::Uuid, wii: Option<String>) -> Value {
    let trace = tx_id.hyphenated().to_string();
    // `PublicationResDTO`'s order: `warning` before `workflowInstanceId`.
    let mut body = json!({
        "traceID": trace,
        "warning": format!(
            "--middlewarewarning--{QUEUED_WARNING} (transazione {trace}; identificativi del \
             gateway su GET …/status/search/{trace} dopo la consegna)"
        ),
    });
    if let Some(w) = wii {
        body["workflowInstanceId"] = json!(w);
    }
    body
}

/// Queues a publication and builds the 202 answer.
pub async fn queue(
    state: &AppState,
    held: Held<'_>,
    rec: &mut TransactionRecord,
) -> Result<Response, MwError> {
    let parsed = parse(&state.cpu, held.op, held.path_id, held.headers, held.body).await;
    let ids = QueueIds::of(&parsed, rec.tx_id);
    let stored_headers = headers_to_keep(held.headers);

    rec.outcome = Outcome::Queued;
    rec.request_body = Some(crate::db::transactions::kept(&parsed.request.to_string()));
    rec.http_status = i32::from(StatusCode::ACCEPTED.as_u16());
    rec.delivery = Some("queued".into());
    rec.document_id = ids.document_id.clone().or(rec.document_id.take());
    rec.workflow_instance_id = ids.workflow_instance_id.clone();
    let queued = crate::db::outbox::enqueue(
        &state.pool,
        &crate::db::outbox::NewQueued {
            tx_id: rec.tx_id,
            producer_id: Some(held.producer.id),
            operation: held.op.name(),
            method: held.method.as_str(),
            path: held.path,
            path_id: parsed.path_id.as_deref(),
            headers: Value::Object(stored_headers),
            body: held.body,
            ordering_key: &ids.ordering_key,
            document_id: ids.document_id.as_deref(),
            workflow_instance_id: ids.workflow_instance_id.as_deref(),
            request_sha256: &parsed.request_sha256,
        },
        rec,
    )
    .await
    .map_err(|e| MwError::from_db("outbox", e))?;
    let wii = queued.workflow_instance_id.clone();
    rec.workflow_instance_id = wii.clone();
    state.metrics.outbox_queued.inc();
    // Local indexing: best effort, the queued request is what must not be lost (a row
    // left unindexed by a crash is indexed by the worker).
    if !queued.indexed {
        index_queued(state, queued.id, held.op, &parsed, held.claims).await;
    }

    let body = queued_answer(rec.tx_id, wii);
    rec.response_body = Some(body.to_string());
    if state.document_retention_days > 0
        && let Some(cda) = &parsed.cda
        && let Err(e) = crate::db::console::keep_document(&state.pool, rec.tx_id, cda).await
    {
        tracing::warn!(tx = %rec.tx_id, error = %e, "CDA not kept for the support bundle");
    }
    Ok(Response::builder()
        .status(StatusCode::ACCEPTED)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .expect("valid response"))
}

/// Indexes a queued publication provisionally and records the outcome on its row.
pub async fn index_queued(
    state: &AppState,
    id: i64,
    op: Operation,
    parsed: &Parsed,
    claims: Option<&hsm::jwt::RawClaims>,
) {
    // Nothing to index (delete, metadata, a FHIR bundle): marked, so that the worker does not
    // read the request again at every attempt.
    let Some(indexed) = index_publication(state, op, parsed, claims).await else {
        if let Err(e) = crate::db::outbox::mark_indexed(&state.pool, id, None).await {
            tracing::warn!(outbox = id, error = %e, "outbox row not marked");
        }
        return;
    };
    let ev = match &indexed {
        Ok(()) => crate::db::outbox::event(
            "INDEXED",
            "SUCCESS",
            "indicizzato in via provvisoria nel registro regionale",
        ),
        Err(why) => {
            tracing::warn!(outbox = id, %why, "provisional indexing not done");
            crate::db::outbox::event(
                "INDEXED",
                "NON_BLOCKING_ERROR",
                &format!("indicizzazione provvisoria non riuscita: {why}"),
            )
        }
    };
    // Marked indexed either way: a refusal by the registry does not change on retry.
    if let Err(e) = crate::db::outbox::mark_indexed(&state.pool, id, Some(ev)).await {
        tracing::warn!(outbox = id, error = %e, "outbox event not written");
    }
}

/// Registers a publication (create or replace with its PDF) in the regional registry
/// with the provisional flag, its metadata built as the gateway builds INI's; `None`
/// when there is no document to index (delete, metadata update).
pub async fn index_publication(
    state: &AppState,
    op: Operation,
    parsed: &Parsed,
    claims: Option<&hsm::jwt::RawClaims>,
) -> Option<Result<(), String>> {
    let (Some(pdf), Some(cda)) = (&parsed.pdf, &parsed.cda) else {
        return None;
    };
    let replaces = match (&parsed.path_id, op) {
        (Some(old), Operation::Replace | Operation::ValidateAndReplace) => {
            state.xds.registry.approved_uuid(old).await.ok().flatten()
        }
        _ => None,
    };
    let mut src = provisional::Source {
        request: &parsed.request,
        pdf,
        cda,
        claims,
        region_code: &state.region_code,
        replaces,
        fresh_submission_id: false,
    };
    let mut indexed = index(state, &src).await;
    if indexed
        .as_ref()
        .is_err_and(|e| e.contains("XDSDuplicateUniqueIdInRegistry"))
    {
        // The producer's submission id is taken locally: the document still gets indexed.
        src.fresh_submission_id = true;
        indexed = index(state, &src).await;
    }
    Some(indexed)
}

async fn index(state: &AppState, src: &provisional::Source<'_>) -> Result<(), String> {
    let objects = provisional::objects(src);
    let sub = xds::submission::prepare(objects, || format!("urn:uuid:{}", uuid::Uuid::new_v4()))
        .map_err(|errors| {
            errors
                .iter()
                .map(|e| format!("{} {}", e.code.as_str(), e.context))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
    let errors = state
        .xds
        .registry
        .register(&sub, xds::store::Origin::Provisional)
        .await
        .map_err(|e| e.to_string())?;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors
            .iter()
            .map(|e| format!("{} {}", e.code.as_str(), e.context))
            .collect::<Vec<_>>()
            .join("; "))
    }
}
