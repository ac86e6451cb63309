//! One producer request through the gateway-identical API: tokens, forward, merge
//! warnings, and the audit facts handed back to the front door.

use crate::db::outcome::Outcome;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};

use super::checks::{CheckInput, fiscal_code_of};
use super::gateway_client::GatewayClient;
use super::gateway_client::describe;
use super::inspect::{BodyFacts, BodyKind, tee};
use super::{Operation, warnings};
use crate::cpu_pool::Work;
use crate::db::producers::Producer;
use crate::db::transactions::TransactionRecord;
use crate::front_door::{Caller, Transaction, hand_back};
use crate::problem::MwError;
use crate::server::identity::ClientIdentity;
use crate::startup::AppState;
use gateway_contract::headers::RELAYED_ANSWER_HEADERS;

/// Request headers forwarded besides the tokens.
const FORWARDED_HEADERS: [&str; 4] = ["content-type", "content-length", "accept", "x-callback-url"];

/// A configured path of the gateway: its rule and its route template (relative to the base).
#[derive(Debug, Clone, Copy)]
pub struct Served {
    /// How the call is read.
    pub op: Operation,
    /// The route, e.g. `/documents/{id}/metadata`.
    pub template: &'static str,
}

/// Serves one gateway operation; `base` is the base path the request came in under. The
/// front door has opened the transaction and named the caller.
pub async fn handle(
    state: Arc<AppState>,
    served: Option<Served>,
    base: &'static str,
    txn: Transaction,
    caller: Caller,
    req: Request<Body>,
) -> Response {
    let Transaction { tx, mut row } = txn;
    row.operation = served.map(|s| s.op.name()).unwrap_or("unknown").into();
    let result = match (caller.producer, served) {
        // Refused at the front door (and counted there).
        (Err(e), _) => Err(e),
        (Ok(_), None) => Err(MwError::NotFound(req.uri().path().to_string())),
        (Ok(producer), Some(served)) => {
            let forwarded = forward(
                &state,
                served,
                base,
                &caller.identity,
                &producer,
                req,
                &mut row,
            )
            .await;
            if let Err(MwError::Unauthorized { reason, .. }) = &forwarded {
                state.metrics.refusals.with_label_values(&[reason]).inc();
            }
            forwarded
        }
    };
    let response = match result {
        Ok(resp) => {
            if row.outcome == Outcome::Pending {
                row.outcome = Outcome::Forwarded;
            }
            resp
        }
        Err(e) => {
            let (_, kind, title) = e.parts();
            row.response_body = Some(e.to_problem(&tx.id.to_string()).to_string());
            row.outcome = e.outcome();
            row.problem_type = Some(kind.into());
            row.problem_title = Some(title.into());
            if let MwError::GatewayUnreachable(_) = &e {
                state
                    .metrics
                    .gateway_failures
                    .with_label_values(&["unreachable"])
                    .inc();
            }
            e.into_response_for(&tx.id.to_string())
        }
    };
    hand_back(row, response)
}

async fn forward(
    state: &AppState,
    served: Served,
    base: &str,
    identity: &ClientIdentity,
    producer: &Producer,
    req: Request<Body>,
    rec: &mut TransactionRecord,
) -> Result<Response, MwError> {
    let op = served.op;
    let (parts, body) = req.into_parts();
    if let Some(len) = content_length(&parts.headers)
        && len > state.max_body
    {
        return Err(MwError::PayloadTooLarge {
            limit: state.max_body,
        });
    }
    let signing_certs = producer_signing_certs(producer, identity)?;
    // Case 2 verifies and re-signs both tokens (two HSM signatures): on the CPU pool.
    // Case 1 only compares certificates and reads claims: inline.
    let tokens = if state.tokens.case == 1 {
        state.tokens.process(&parts.headers, &signing_certs)?
    } else {
        let (policy, headers) = (state.tokens.clone(), parts.headers.clone());
        state
            .cpu
            .run(Work::Signature, move || {
                policy.process(&headers, &signing_certs)
            })
            .await??
    };
    if let Some(claims) = &tokens.claims {
        rec.application_id = claims.string("subject_application_id");
        rec.application_vendor = claims.string("subject_application_vendor");
        rec.application_version = claims.string("subject_application_version");
        rec.patient_cf_hmac = claims
            .string("person_id")
            .map(|p| state.cf_hasher.hash(&fiscal_code_of(&p)));
    }
    let suffix = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let gateway_path = suffix.strip_prefix(base).unwrap_or(suffix).to_string();
    // The id where the route has it (a document, or a status id).
    let path_id = gateway_contract::operation::id_segment(served.template, &gateway_path)
        .map(xds::messages::submit::percent_decode);
    if op.path_is_document_id() {
        rec.document_id = path_id.clone();
    }
    // Publications are held whole (spooled to disk) so that they can be queued if the
    // gateway is down.
    let (held, body) = if op.is_publication() {
        let held = super::spool::receive(body, &state.spool_dir, state.max_body).await?;
        (Some(held), None)
    } else {
        (None, Some(body))
    };
    let outbound = Outbound {
        op,
        method: parts.method,
        gateway_path,
        path_id,
        headers: &parts.headers,
        tokens,
        held,
        body,
    };
    send(state, outbound, producer, rec).await
}

/// A call the gateway gave no answer to, and what is needed to decide what becomes of it.
struct Unanswered<'a> {
    op: Operation,
    method: &'a http::Method,
    gateway_path: &'a str,
    path_id: Option<&'a str>,
    headers: &'a HeaderMap,
    held: Option<super::spool::Held>,
    facts_task: super::inspect::FactsReceiver,
    body_flags: &'a super::inspect::BodyFlags,
    tokens: &'a super::tokens::Tokens,
    producer: &'a Producer,
}

impl Unanswered<'_> {
    /// Too large or broken off on the producer's side; a publication the gateway has not
    /// seen (connection refused) queued; a status asked of the local trail; else 504.
    async fn settle(
        self,
        state: &AppState,
        e: reqwest::Error,
        rec: &mut TransactionRecord,
    ) -> Result<Response, MwError> {
        if self.body_flags.too_large() {
            return Err(MwError::PayloadTooLarge {
                limit: state.max_body,
            });
        }
        // The producer's side failed, not the gateway's: its body broke off, or the time
        // ran out while the middleware was still waiting for it.
        if self.body_flags.incomplete()
            || (e.is_timeout() && self.body_flags.waiting_for_producer())
        {
            return Err(MwError::IncompleteBody(
                "il produttore ha smesso di inviare il corpo della richiesta".into(),
            ));
        }
        // The connection could not be opened: the gateway has not seen the request.
        if e.is_connect()
            && let Some(held) = self.held
        {
            state
                .metrics
                .gateway_failures
                .with_label_values(&["unreachable"])
                .inc();
            let facts = self.facts_task.await.unwrap_or_default();
            rec.file_sha256 = facts.file_sha256;
            rec.file_bytes = facts.file_bytes.map(|b| b as i64);
            let body = held.bytes().await?;
            let hold = crate::outbox::Held {
                op: self.op,
                method: self.method,
                path: self.gateway_path,
                path_id: self.path_id,
                headers: self.headers,
                body: &body,
                producer: self.producer,
                claims: self.tokens.claims.as_ref(),
            };
            return crate::outbox::queue(state, hold, rec).await;
        }
        if self.op == Operation::StatusByWorkflow {
            let why = describe(&e);
            let Some(id) = self.path_id else {
                return Err(MwError::GatewayUnreachable(why));
            };
            return super::local_status::while_unreachable(state, id, self.producer.id, why, rec)
                .await;
        }
        Err(MwError::GatewayUnreachable(describe(&e)))
    }
}

/// Whether every segment of `path` is a plain name: not `.` or `..` (also percent-encoded,
/// which URL parsers resolve as well), no encoded `/` or `\`. An identifier such as `..`
/// would otherwise move the forwarded request to another of the gateway's paths, sent with
/// the region's certificate.
fn plain_segments(path: &str) -> bool {
    path.split('/').all(|segment| {
        let decoded = xds::messages::submit::percent_decode(segment);
        // Servlet containers drop a segment's `;` parameters before resolving dot segments.
        let bare = decoded.split(';').next().unwrap_or_default();
        bare != "." && bare != ".." && !decoded.contains(['/', '\\'])
    })
}

/// A request on its way to the gateway, tokens already treated.
#[derive(Debug)]
pub struct Outbound<'a> {
    /// The operation.
    pub op: Operation,
    /// HTTP method.
    pub method: http::Method,
    /// Path (and query) relative to the gateway base URL.
    pub gateway_path: String,
    /// The id the route's `{id}` stands for, decoded.
    pub path_id: Option<String>,
    /// The request headers (content type, accept, callback are forwarded).
    pub headers: &'a HeaderMap,
    /// The tokens to send and their claims.
    pub tokens: super::tokens::Tokens,
    /// The whole body of a publication (queued if the gateway cannot be reached).
    pub held: Option<super::spool::Held>,
    /// Any other body, streamed.
    pub body: Option<Body>,
}

/// Sends a request to the gateway and builds the producer's answer: a publication
/// the gateway cannot be reached for is queued; warnings are merged; the transaction
/// record gets the gateway's identifiers. REST and the SOAP services share it.
pub async fn send(
    state: &AppState,
    out: Outbound<'_>,
    producer: &Producer,
    rec: &mut TransactionRecord,
) -> Result<Response, MwError> {
    let Outbound {
        op,
        method,
        gateway_path,
        path_id,
        headers,
        tokens,
        held,
        body,
    } = out;
    // REST and SOAP alike: an identifier must not move the call to another gateway path.
    let gateway_route = gateway_path.split('?').next().unwrap_or_default();
    if !plain_segments(gateway_route) {
        return Err(MwError::NotFound(gateway_route.to_string()));
    }
    // The region's own trace ids are answered here: the gateway never issued them.
    if let Some(local) =
        super::local_status::by_regional_trace(state, op, path_id.as_deref(), producer.id, rec)
            .await?
    {
        return Ok(local);
    }
    // Another producer's workflow (or none): the gateway's not-found, never forwarded.
    if super::status_scope::is_foreign(state, op, path_id.as_deref(), producer.id).await? {
        rec.outcome = Outcome::Success;
        return Ok(super::status_scope::not_found());
    }
    // REST and SOAP alike: the document type names the request in reports and metrics.
    rec.document_type = tokens
        .claims
        .as_ref()
        .and_then(|c| c.string("resource_hl7_type"))
        .map(|t| loinc_code(&t));
    // Whether the call came with no body at all (known from the body, not the headers: an
    // HTTP/2 body needs no Content-Length).
    let empty = match (&held, &body) {
        (Some(h), _) => h.is_empty(),
        (None, Some(b)) => http_body::Body::size_hint(b).exact() == Some(0),
        (None, None) => true,
    };
    let stream = match (&held, body) {
        (Some(h), _) => h.stream().await?,
        (None, Some(body)) => body.into_data_stream(),
        (None, None) => Body::empty().into_data_stream(),
    };
    let (outbound, facts_task, body_flags) = tee(
        stream,
        body_kind(op, headers),
        state.max_body,
        op.is_publication(),
    );
    let upstream = state.gateway.request(
        method.clone(),
        &gateway_path,
        headers,
        &FORWARDED_HEADERS,
        &tokens,
    );
    let upstream = with_length(upstream, headers, held.as_ref(), empty);

    let answer = timed_exchange(
        state,
        op,
        upstream.body(reqwest::Body::wrap_stream(outbound)),
        rec,
    )
    .await;
    let (status, answer_headers, answer) = match answer {
        Ok(a) => a,
        Err(e) => {
            let unanswered = Unanswered {
                op,
                method: &method,
                gateway_path: &gateway_path,
                path_id: path_id.as_deref(),
                headers,
                held,
                facts_task,
                body_flags: &body_flags,
                tokens: &tokens,
                producer,
            };
            return unanswered.settle(state, e, rec).await;
        }
    };
    let facts = facts_task.await.unwrap_or_default();
    if let Some(body) = held {
        keep_document(state, body, &facts, rec.tx_id);
    }
    Ok(respond(
        state,
        op,
        producer,
        &tokens.claims,
        facts,
        status,
        &answer_headers,
        answer,
        rec,
    ))
}

/// Sends the request and reads the answer, timing the exchange for the audit row and the
/// gateway latency metric.
async fn timed_exchange(
    state: &AppState,
    op: Operation,
    upstream: reqwest::RequestBuilder,
    rec: &mut TransactionRecord,
) -> Result<super::gateway_client::Answer, reqwest::Error> {
    let started = Instant::now();
    let answer = match upstream.send().await {
        Ok(r) => GatewayClient::read_answer(r).await,
        Err(e) => Err(e),
    };
    let elapsed = started.elapsed();
    rec.gtw_duration_ms = Some(elapsed.as_secs_f64() * 1000.0);
    state
        .metrics
        .gateway_latency
        .with_label_values(&[op.name()])
        .observe(elapsed.as_secs_f64());
    answer
}

/// How the body is read on its way: a configured pass-through not at all.
fn body_kind(op: Operation, headers: &HeaderMap) -> BodyKind {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match op {
        Operation::PassThrough => BodyKind::Other,
        _ => BodyKind::from_content_type(ct),
    }
}

/// A held body goes with its length, a call that came without a body without one (`empty`):
/// streamed, either would travel chunked, not as the producer sent it. A streamed body of
/// unknown length (HTTP/2 needs no Content-Length) travels as it comes.
fn with_length(
    upstream: reqwest::RequestBuilder,
    headers: &HeaderMap,
    held: Option<&super::spool::Held>,
    empty: bool,
) -> reqwest::RequestBuilder {
    if headers.contains_key(header::CONTENT_LENGTH) {
        return upstream;
    }
    match held {
        Some(h) => upstream.header(header::CONTENT_LENGTH, h.len()),
        None if empty => upstream.header(header::CONTENT_LENGTH, "0"),
        None => upstream,
    }
}

/// Hands a forwarded publication to the keeper of CDAs for the support bundle.
fn keep_document(state: &AppState, body: super::spool::Held, facts: &BodyFacts, tx_id: uuid::Uuid) {
    let (Some(keeper), Some(start), Some(len)) =
        (&state.document_keeper, facts.file_offset, facts.file_bytes)
    else {
        return;
    };
    let mode = facts
        .request_json
        .as_deref()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(t).ok())
        .and_then(|r| serde_json::from_value(r.get("mode")?.clone()).ok());
    keeper.submit(super::document_keeper::Job {
        tx_id,
        body,
        file: start..start + len,
        mode,
    });
}

#[allow(clippy::too_many_arguments)]
fn respond(
    state: &AppState,
    op: Operation,
    producer: &Producer,
    claims: &Option<hsm::jwt::RawClaims>,
    facts: BodyFacts,
    status: StatusCode,
    headers: &HeaderMap,
    answer: Bytes,
    rec: &mut TransactionRecord,
) -> Response {
    rec.file_sha256 = facts.file_sha256;
    rec.file_bytes = facts.file_bytes.map(|b| b as i64);
    let request_text = facts.request_json.as_deref();
    let request: Option<serde_json::Value> =
        request_text.and_then(|t| serde_json::from_str(t).ok());
    if let Some(doc) = request
        .as_ref()
        .and_then(|r| r.get("identificativoDoc"))
        .and_then(|v| v.as_str())
    {
        rec.document_id = Some(doc.to_string());
    }
    let answer_json: Option<serde_json::Value> = serde_json::from_slice(&answer).ok();
    if let Some(a) = &answer_json {
        let field = |k: &str| a.get(k).and_then(|v| v.as_str()).map(str::to_owned);
        rec.gtw_trace_id = field("traceID");
        rec.gtw_span_id = field("spanID");
        rec.workflow_instance_id = field("workflowInstanceId");
        rec.problem_type = field("type");
        rec.problem_title = field("title");
    }
    state.metrics.gateway_answer(
        &rec.operation,
        status.is_success(),
        rec.problem_type.as_deref(),
        rec.document_type.as_deref(),
        &producer.organization,
    );
    let input = CheckInput {
        producer,
        claims: claims.as_ref(),
        request: request.as_ref(),
    };
    // Only answers whose `warning` is a note get regional ones (status answers have no
    // such field; on delete and metadata a warning means an INI retry).
    let local = if op.answer_takes_notes() {
        state.checks.run(&input)
    } else {
        Vec::new()
    };
    for w in &local {
        state
            .metrics
            .regional_warnings
            .with_label_values(&[w.check])
            .inc();
    }
    let texts: Vec<String> = local.into_iter().map(|w| w.text).collect();
    let mut body = answer;
    if status.is_success()
        && !texts.is_empty()
        && let Some(merged) = warnings::apply(&body, &texts)
    {
        body = Bytes::from(merged);
        rec.local_warnings = Some(texts.join(","));
    }
    rec.request_body = request_text.map(crate::db::transactions::kept);
    rec.response_body = Some(crate::db::transactions::kept(&String::from_utf8_lossy(
        &body,
    )));
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    for name in RELAYED_ANSWER_HEADERS {
        if let Some(v) = headers.get(name) {
            resp.headers_mut()
                .insert(http::HeaderName::from_static(name), v.clone());
        }
    }
    resp
}

fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// The certificates whose keys may sign the producer's tokens: those registered (parsed
/// when its registry entry was read), else its TLS certificate.
fn producer_signing_certs(
    producer: &Producer,
    identity: &ClientIdentity,
) -> Result<Arc<[hsm::Certificate]>, MwError> {
    match &producer.signing_certs {
        Some(certs) => Ok(certs.clone()),
        None => identity
            .certificate
            .clone()
            .map(|c| Arc::from(vec![c]))
            .map_err(|why| MwError::Internal(why.detail)),
    }
}

/// The LOINC code of a `resource_hl7_type` claim (`('11502-2^^2.16.840.1.113883.6.1')`).
fn loinc_code(resource_type: &str) -> String {
    resource_type
        .trim_start_matches("('")
        .split("^^")
        .next()
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_segments_and_encoded_separators_are_not_plain() {
        assert!(plain_segments("/v1/documents/2.16.840.1%5EABC/metadata"));
        for bad in [
            "/v1/documents/..",
            "/v1/documents/%2e%2E",
            "/v1/documents/./metadata",
            "/v1/documents/a%2Fb",
            "/v1/documents/a%5cb",
            "/v1/status/%2E",
            "/v1/documents/..;/metadata-iti-57",
            "/v1/documents/%2e%2e;x=1",
        ] {
            assert!(!plain_segments(bad), "{bad}");
        }
    }

    #[test]
    fn loinc_codes_and_percent_decoding() {
        assert_eq!(xds::messages::submit::percent_decode("%5"), "%5");
        assert_eq!(loinc_code("('11502-2^^2.16.840.1.113883.6.1')"), "11502-2");
    }
}
