//! IDocumentService publication, for structures that keep their documents in the
//! region's repositories: `addDocument`, `replaceDocument`, `updateMetadata`,
//! `deleteDocument`. Each is one gateway call through the same path as REST
//! ([`crate::forward::handler::send`]: audit, outbox when the gateway is down), with the
//! tokens the region mints from the caller's verified identity (SOAP callers have none).
//!
//! add/replace: the PDF is stored in the ASL's repository first, then sent to
//! validate-and-create / validate-and-replace; accepted (or queued) it is registered in
//! the regional registry (provisionally, until INI's own metadata arrives); refused by
//! the gateway, newly stored content is removed again and the fault carries the
//! gateway's error. An outcome the middleware cannot know (timeout, reset) keeps the
//! content and says so: the caller sends the same document again.

use super::fault_code::FaultCode;
use crate::db::outcome::Outcome;
use std::fmt::Write;

use aws_lc_rs::digest;
use base64::Engine;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, header};
use roxmltree::Node;
use serde_json::{Map, Value, json};

use super::consent::{child, required, text};
use super::{Call, ServiceFault};
use crate::db::transactions::TransactionRecord;
use crate::forward::Operation;
use crate::forward::handler::{Outbound, send};
use crate::forward::tokens::REGIONAL_TOKENS_HEADER;
use crate::problem::MwError;

/// Coding scheme of `attiCliniciRegoleAccesso` (eventCodeList).
const EVENT_CODE_SCHEME: &str = "2.16.840.1.113883.2.9.3.3.6.1.3";
/// Largest gateway answer read back.
const MAX_ANSWER: usize = 1 << 20;

/// `metadati` children sent as JSON strings, named as in the gateway's `requestBody`.
const SCALARS: [&str; 10] = [
    "tipologiaStruttura",
    "tipoDocumentoLivAlto",
    "assettoOrganizzativo",
    "tipoAttivitaClinica",
    "dataInizioPrestazione",
    "dataFinePrestazione",
    "conservazioneANorma",
    "identificativoSottomissione",
    "mode",
    "healthDataFormat",
];
/// `metadati` children sent as JSON arrays (the element repeated).
const LISTS: [&str; 3] = [
    "attiCliniciRegoleAccesso",
    "descriptions",
    "administrativeRequest",
];
/// Fields a metadata update does not accept (they describe the file).
const NOT_IN_UPDATES: [&str; 2] = ["mode", "healthDataFormat"];

/// Runs one publication operation.
pub async fn handle(
    call: &Call<'_>,
    operation: &str,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    match operation {
        "addDocument" => publish(call, payload, None, rec).await,
        "replaceDocument" => {
            let old = required(payload, "identificativoDocDaSostituire")?;
            publish(call, payload, Some(old), rec).await
        }
        "updateMetadata" => update_metadata(call, payload, rec).await,
        "deleteDocument" => delete(call, payload, rec).await,
        other => Err(ServiceFault::new(
            FaultCode::UnknownOperation,
            format!("operazione non disponibile: {other}"),
        )),
    }
}

/// The gateway `requestBody` fields of `metadati`, but those in `excluded`.
fn metadata(payload: Node<'_, '_>, excluded: &[&str]) -> Map<String, Value> {
    let mut out = Map::new();
    let Some(m) = child(payload, "metadati") else {
        return out;
    };
    for name in SCALARS.iter().filter(|n| !excluded.contains(n)) {
        if let Some(v) = text(m, name) {
            out.insert((*name).into(), json!(v));
        }
    }
    for name in LISTS.iter().filter(|n| !excluded.contains(n)) {
        let values: Vec<String> = m
            .children()
            .filter(|c| c.is_element() && c.tag_name().name() == *name)
            .filter_map(|c| c.text().map(|t| t.trim().to_string()))
            .filter(|t| !t.is_empty())
            .collect();
        if !values.is_empty() {
            out.insert((*name).into(), json!(values));
        }
    }
    out
}

/// Claims of the tokens the region mints for this caller; absent identity values are
/// left out, so that the gateway names what is missing.
fn claims(call: &Call<'_>, action: &str, patient_cf: &str) -> Map<String, Value> {
    let c = call.caller;
    let p = call.producer;
    let mut out = Map::new();
    out.insert("sub".into(), json!(c.operator_id));
    if let Some(r) = &c.role {
        out.insert("subject_role".into(), json!(r));
    }
    out.insert("purpose_of_use".into(), json!(c.purpose));
    if let Some(l) = &c.locality {
        out.insert("locality".into(), json!(l));
    }
    if let Some(o) = &c.organisation {
        out.insert("subject_organization".into(), json!(o));
    }
    out.insert("subject_organization_id".into(), json!(c.organisation_id));
    out.insert(
        "person_id".into(),
        json!(super::security::person_id(patient_cf)),
    );
    if let Some(consent) = c.patient_consent {
        out.insert("patient_consent".into(), json!(consent));
    }
    out.insert("action_id".into(), json!(action));
    out.insert("subject_application_id".into(), json!(p.application_id));
    out.insert(
        "subject_application_vendor".into(),
        json!(p.application_vendor),
    );
    out.insert(
        "subject_application_version".into(),
        json!(p.application_version),
    );
    out
}

/// A fault from a middleware error on the way to the gateway.
fn gateway_fault(call: &Call<'_>, e: MwError) -> ServiceFault {
    match e {
        MwError::GatewayUnreachable(why) => ServiceFault::new(
            FaultCode::GatewayOutcomeUnknown,
            format!(
                "esito presso il gateway nazionale non noto ({why}): ripetere la richiesta con lo stesso documento (transazione {})",
                call.tx.id
            ),
        ),
        // An identifier that would change the gateway path (".", ".."): nothing was sent.
        MwError::NotFound(path) => ServiceFault::new(
            FaultCode::UnsendableId,
            format!(
                "identificativo documento non inoltrabile al gateway nazionale ({path}): nulla è stato inviato"
            ),
        ),
        other => call.failure("gateway", other),
    }
}

/// What the gateway answered.
struct Answer {
    status: http::StatusCode,
    json: Value,
}

impl Answer {
    fn field(&self, name: &str) -> Option<&str> {
        self.json.get(name).and_then(Value::as_str)
    }

    fn refused(&self, what: &str) -> ServiceFault {
        ServiceFault::new(
            FaultCode::GatewayRefused,
            format!(
                "{what} rifiutata dal gateway nazionale (HTTP {}): {} - {} [{}]",
                self.status.as_u16(),
                self.field("title").unwrap_or_default(),
                self.field("detail").unwrap_or_default(),
                self.field("type").unwrap_or_default()
            ),
        )
    }
}

/// One call to the gateway.
struct GatewayCall<'a> {
    op: Operation,
    method: Method,
    path: String,
    content_type: &'a str,
    body: Bytes,
}

async fn gateway(
    call: &Call<'_>,
    request: GatewayCall<'_>,
    claims: Map<String, Value>,
    rec: &mut TransactionRecord,
) -> Result<Answer, ServiceFault> {
    let GatewayCall {
        op,
        method,
        path,
        content_type,
        body,
    } = request;
    let state = call.state;
    let tokens = state
        .tokens
        .mint(&Value::Object(claims))
        .map_err(|e| call.failure("regional tokens", e))?;
    let mut headers = HeaderMap::new();
    let value = |v: &str| HeaderValue::from_str(v).map_err(|e| call.failure("header", e));
    headers.insert(header::CONTENT_TYPE, value(content_type)?);
    headers.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
    headers.insert(REGIONAL_TOKENS_HEADER, HeaderValue::from_static("1"));
    // Kept with the request should it be queued (issued anew at delivery).
    if let Some(v) = &tokens.authorization {
        headers.insert(header::AUTHORIZATION, v.clone());
    }
    if let Some(v) = &tokens.signature {
        headers.insert(crate::forward::tokens::SIGNATURE_HEADER, v.clone());
    }
    let outbound = Outbound {
        op,
        method,
        path_id: op
            .template()
            .and_then(|t| gateway_contract::operation::id_segment(t, &path))
            .map(xds::messages::submit::percent_decode),
        gateway_path: path,
        headers: &headers,
        tokens,
        held: Some(crate::forward::spool::Held::Memory(body)),
        body: None,
    };
    let response = send(state, outbound, call.producer, rec)
        .await
        .map_err(|e| gateway_fault(call, e))?;
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), MAX_ANSWER)
        .await
        .map_err(|e| call.failure("gateway answer", e))?;
    Ok(Answer {
        status,
        json: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    })
}

/// Percent-encodes a path segment (the gateway's `identificativoDocUpdate`).
fn segment(id: &str) -> String {
    let mut out = String::new();
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

async fn publish(
    call: &Call<'_>,
    payload: Node<'_, '_>,
    replaces: Option<String>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    let state = call.state;
    let pdf = pdf_of(payload)?;
    let mut request = metadata(payload, &[]);
    let (cda, facts) = cda_of(call, &pdf, &request).await?;
    let patient_cf = facts
        .patient_ids
        .first()
        .map(|(_, ext)| ext.to_ascii_uppercase())
        .ok_or_else(|| {
            ServiceFault::new(FaultCode::BadDocument, "il CDA non indica il paziente")
        })?;
    rec.patient_cf_hmac = Some(state.cf_hasher.hash(&patient_cf));
    call.caller.same_patient(&patient_cf)?;
    let repository = repository_of(call)?;
    let unique_id = metadata_text(payload, "identificativoDoc")
        .unwrap_or_else(|| format!("{}^{}", facts.id_root, facts.id_extension));
    rec.document_id = Some(unique_id.clone());
    complete_request(call, &mut request, &unique_id, &repository);
    let request = Value::Object(request);

    // Kept in the ASL's repository first: what the gateway accepts must be retrievable.
    let fresh = keep_in_repository(call, &repository, &unique_id, &pdf).await?;
    let sent = publish_at_gateway(
        call,
        &request,
        &pdf,
        &facts,
        &patient_cf,
        replaces.as_deref(),
        rec,
    )
    .await;
    let (answer, op, minted) = match sent {
        Ok(sent) if sent.0.status.is_success() => sent,
        Ok((a, ..)) => {
            if fresh {
                forget(call, &repository, &unique_id).await;
            }
            return Err(a.refused("pubblicazione"));
        }
        Err(f) if f.code == FaultCode::GatewayOutcomeUnknown => return Err(f),
        Err(f) => {
            if fresh {
                forget(call, &repository, &unique_id).await;
            }
            return Err(f);
        }
    };
    let queued = rec.outcome == Outcome::Queued;
    let mut warnings: Vec<String> = answer
        .field("warning")
        .map(str::to_string)
        .into_iter()
        .collect();
    if !queued {
        // Registered now for consultation; the outbox indexes what it queues itself.
        let parsed = crate::outbox::Parsed {
            request,
            pdf: Some(pdf),
            cda: Some(cda),
            path_id: replaces,
            request_sha256: String::new(),
        };
        if let Some(Err(why)) =
            crate::outbox::index_publication(state, op, &parsed, Some(&minted)).await
        {
            tracing::warn!(tx = %call.tx.id, %why, "regional registry: document not indexed");
            warnings.push(format!(
                "indicizzazione nel registro regionale non riuscita: {why}"
            ));
        }
    }
    let stored = Stored {
        queued,
        unique_id: &unique_id,
        repository: &repository,
    };
    Ok(outcome_xml(call, &stored, &answer, &warnings))
}

/// The `document` element: base64 of a PDF.
fn pdf_of(payload: Node<'_, '_>) -> Result<Bytes, ServiceFault> {
    let document = child(payload, "document").ok_or_else(|| {
        ServiceFault::new(
            FaultCode::MissingField,
            "campo obbligatorio mancante: document",
        )
    })?;
    let encoded = required(document, "document")?;
    let pdf = base64::engine::general_purpose::STANDARD
        .decode(encoded.split_whitespace().collect::<String>())
        .map_err(|_| ServiceFault::new(FaultCode::BadDocument, "document non è base64 valido"))?;
    if !pdf.starts_with(b"%PDF") {
        return Err(ServiceFault::new(
            FaultCode::BadDocument,
            "il documento non è un PDF (atteso PDF firmato con CDA iniettato)",
        ));
    }
    Ok(Bytes::from(pdf))
}

/// The CDA injected in the PDF (by the request's `mode`, on the CPU pool) and its facts.
async fn cda_of(
    call: &Call<'_>,
    pdf: &Bytes,
    request: &Map<String, Value>,
) -> Result<(String, gateway_contract::cda::CdaFacts), ServiceFault> {
    let mode = request.get("mode").and_then(Value::as_str).and_then(|m| {
        serde_json::from_value::<gateway_contract::cda::ExtractionMode>(json!(m)).ok()
    });
    let parsed = pdf.clone();
    let cda = call
        .state
        .cpu
        .run(crate::cpu_pool::Work::Pdf, move || {
            gateway_contract::cda::extract_cda(&parsed, mode)
        })
        .await
        .map_err(|e| ServiceFault::new(FaultCode::Internal, e.to_string()))?
        .map_err(|e| {
            ServiceFault::new(
                FaultCode::BadDocument,
                format!("CDA non estraibile dal PDF: {e}"),
            )
        })?;
    let facts = gateway_contract::cda::CdaFacts::parse(&cda).map_err(|e| {
        ServiceFault::new(FaultCode::BadDocument, format!("CDA non leggibile: {e}"))
    })?;
    Ok((cda, facts))
}

/// The unique id of the ASL's repository.
fn repository_of(call: &Call<'_>) -> Result<String, ServiceFault> {
    call.state
        .xds
        .repositories
        .iter()
        .find(|r| r.name == call.asl)
        .map(|r| r.unique_id.clone())
        .ok_or_else(|| {
            ServiceFault::new(
                FaultCode::NoRepository,
                format!("nessun repository regionale configurato per {}", call.asl),
            )
        })
}

/// `identificativoSottomissione` when the caller gave none: the transaction's own
/// submission id (the published OpenAPI requires it on publications and metadata updates).
fn default_submission(call: &Call<'_>, request: &mut Map<String, Value>) {
    request
        .entry("identificativoSottomissione")
        .or_insert_with(|| {
            json!(format!(
                "2.16.840.1.113883.2.9.2.{}.4.3.{}",
                call.state.region_code,
                call.tx.id.as_u128()
            ))
        });
}

/// The gateway's `requestBody`: the caller's metadata, the document and repository ids,
/// and the defaults (submission id from the transaction, ATTACHMENT, CDA).
fn complete_request(
    call: &Call<'_>,
    request: &mut Map<String, Value>,
    unique_id: &str,
    repository: &str,
) {
    request.insert("identificativoDoc".into(), json!(unique_id));
    request.insert("identificativoRep".into(), json!(repository));
    default_submission(call, request);
    request.entry("mode").or_insert_with(|| json!("ATTACHMENT"));
    request
        .entry("healthDataFormat")
        .or_insert_with(|| json!("CDA"));
}

/// Stores the PDF in the ASL's repository; `true` when this call stored it (to be
/// forgotten if the gateway refuses), `false` when the same bytes were already there.
async fn keep_in_repository(
    call: &Call<'_>,
    repository: &str,
    unique_id: &str,
    pdf: &Bytes,
) -> Result<bool, ServiceFault> {
    let sha1 = hex::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, pdf));
    let put = call
        .state
        .xds
        .repository
        .put(repository, unique_id, "application/pdf", &sha1, pdf)
        .await
        .map_err(|e| call.failure("repository", e))?;
    match put {
        xds::store::repository::PutOutcome::Stored => Ok(true),
        xds::store::repository::PutOutcome::AlreadyStored => Ok(false),
        xds::store::repository::PutOutcome::Conflict => Err(ServiceFault::new(
            FaultCode::UniqueIdTaken,
            format!("un documento diverso è già archiviato come {unique_id}"),
        )),
    }
}

/// Validate-and-create (or -replace) at the gateway with region-minted tokens; the answer,
/// the operation and the minted claims (for the registry entry).
async fn publish_at_gateway(
    call: &Call<'_>,
    request: &Value,
    pdf: &Bytes,
    facts: &gateway_contract::cda::CdaFacts,
    patient_cf: &str,
    replaces: Option<&str>,
    rec: &mut TransactionRecord,
) -> Result<(Answer, Operation, hsm::jwt::RawClaims), ServiceFault> {
    let action = if replaces.is_some() {
        "UPDATE"
    } else {
        "CREATE"
    };
    let mut token_claims = claims(call, action, patient_cf);
    token_claims.insert("resource_hl7_type".into(), json!(facts.resource_hl7_type()));
    token_claims.insert(
        "attachment_hash".into(),
        json!(hex::encode(digest::digest(&digest::SHA256, pdf))),
    );
    let minted = hsm::jwt::RawClaims::from_value(&Value::Object(token_claims.clone()))
        .map_err(|e| call.failure("claims", e))?;
    let (op, method, path) = match replaces {
        None => (
            Operation::ValidateAndCreate,
            Method::POST,
            "/documents/validate-and-create".to_string(),
        ),
        Some(old) => (
            Operation::ValidateAndReplace,
            Method::PUT,
            format!("/documents/validate-and-replace/{}", segment(old)),
        ),
    };
    let (content_type, body) = gateway_contract::form::write_form(&request.to_string(), pdf);
    let call_spec = GatewayCall {
        op,
        method,
        path,
        content_type: &content_type,
        body,
    };
    let answer = gateway(call, call_spec, token_claims, rec).await?;
    Ok((answer, op, minted))
}

/// Where the publication stands, for the answer.
struct Stored<'a> {
    queued: bool,
    unique_id: &'a str,
    repository: &'a str,
}

/// `esitoPubblicazione`: state, ids, the gateway's workflowInstanceId and traceID, warnings.
fn outcome_xml(
    call: &Call<'_>,
    stored: &Stored<'_>,
    answer: &Answer,
    warnings: &[String],
) -> String {
    let esc = soap_wsdl::write::escape;
    let mut out = format!(
        "<fse:esitoPubblicazione xmlns:fse=\"{}\"><esito>OK</esito><stato>{}</stato><uniqueId>{}</uniqueId><repositoryUniqueId>{}</repositoryUniqueId>",
        super::SIST,
        if stored.queued {
            "IN_CODA"
        } else {
            "PUBBLICATO"
        },
        esc(stored.unique_id),
        esc(stored.repository)
    );
    for (tag, name) in [
        ("workflowInstanceId", "workflowInstanceId"),
        ("traceID", "traceID"),
    ] {
        if let Some(v) = answer.field(name) {
            let _ = write!(out, "<{tag}>{}</{tag}>", esc(v));
        }
    }
    for w in warnings {
        let _ = write!(out, "<warning>{}</warning>", esc(w));
    }
    let _ = write!(
        out,
        "<transazione>{}</transazione></fse:esitoPubblicazione>",
        call.tx.id
    );
    out
}

fn metadata_text(payload: Node<'_, '_>, name: &str) -> Option<String> {
    child(payload, "metadati").and_then(|m| text(m, name))
}

async fn forget(call: &Call<'_>, repository: &str, unique_id: &str) {
    if let Err(e) = call
        .state
        .xds
        .repository
        .forget(repository, unique_id)
        .await
    {
        tracing::error!(tx = %call.tx.id, error = %e, "refused document left in the repository");
    }
}

/// The document a metadata update or a delete is about (`uniqueId`): its registry entry
/// and its patient, who must be the assertion's.
async fn target(
    call: &Call<'_>,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<(String, xds::store::consultation::EntrySummary, String), ServiceFault> {
    let unique_id = required(payload, "uniqueId")?;
    rec.document_id = Some(unique_id.clone());
    let entry = call
        .state
        .xds
        .registry
        .approved_document(&unique_id)
        .await
        .map_err(|e| call.failure("registry", e))?
        .ok_or_else(|| {
            ServiceFault::new(
                FaultCode::UnknownDocument,
                format!("documento {unique_id} non presente nel registro regionale"),
            )
        })?;
    let cf = super::security::fiscal_code_of(&entry.patient_id);
    rec.patient_cf_hmac = Some(call.state.cf_hasher.hash(&cf));
    call.caller.same_patient(&cf)?;
    Ok((unique_id, entry, cf))
}

fn done(call: &Call<'_>, unique_id: &str, answer: &Answer, queued: bool) -> String {
    let esc = soap_wsdl::write::escape;
    let mut out = format!(
        "<fse:esitoPubblicazione xmlns:fse=\"{}\"><esito>OK</esito><stato>{}</stato><uniqueId>{}</uniqueId>",
        super::SIST,
        if queued { "IN_CODA" } else { "ESEGUITO" },
        esc(unique_id)
    );
    for name in ["traceID", "warning"] {
        if let Some(v) = answer.field(name) {
            let _ = write!(out, "<{name}>{}</{name}>", esc(v));
        }
    }
    let _ = write!(
        out,
        "<transazione>{}</transazione></fse:esitoPubblicazione>",
        call.tx.id
    );
    out
}

async fn update_metadata(
    call: &Call<'_>,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    let (unique_id, entry, cf) = target(call, payload, rec).await?;
    let mut request = metadata(payload, &NOT_IN_UPDATES);
    default_submission(call, &mut request);
    let events: Option<Vec<String>> = request.get("attiCliniciRegoleAccesso").map(|v| {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e.as_str().map(str::to_string))
            .collect()
    });
    let mut token_claims = claims(call, "UPDATE", &cf);
    if let Some(t) = &entry.type_code {
        token_claims.insert("resource_hl7_type".into(), json!(format!("('{t}')")));
    }
    let body = Bytes::from(Value::Object(request).to_string());
    let answer = gateway(
        call,
        GatewayCall {
            op: Operation::MetadataIti57,
            method: Method::PUT,
            path: format!("/documents/{}/metadata-iti-57", segment(&unique_id)),
            content_type: "application/json",
            body,
        },
        token_claims,
        rec,
    )
    .await?;
    if !answer.status.is_success() {
        return Err(answer.refused("modifica dei metadati"));
    }
    let queued = rec.outcome == Outcome::Queued;
    // The access rules take effect in the region at once (obscuring included).
    if let Some(codes) = events {
        call.state
            .xds
            .registry
            .set_event_codes(&unique_id, &codes, EVENT_CODE_SCHEME, || {
                format!("urn:uuid:{}", uuid::Uuid::new_v4())
            })
            .await
            .map_err(|e| call.failure("registry", e))?;
    }
    Ok(done(call, &unique_id, &answer, queued))
}

async fn delete(
    call: &Call<'_>,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    let (unique_id, entry, cf) = target(call, payload, rec).await?;
    let answer = gateway(
        call,
        GatewayCall {
            op: Operation::Delete,
            method: Method::DELETE,
            path: format!("/documents/{}", segment(&unique_id)),
            content_type: "application/json",
            body: Bytes::new(),
        },
        claims(call, "DELETE", &cf),
        rec,
    )
    .await?;
    if !answer.status.is_success() {
        return Err(answer.refused("cancellazione"));
    }
    let queued = rec.outcome == Outcome::Queued;
    let registry = &call.state.xds.registry;
    registry
        .remove_document(&unique_id)
        .await
        .map_err(|e| call.failure("registry", e))?;
    if let Some(repository) = &entry.repository_unique_id {
        forget(call, repository, &unique_id).await;
    }
    Ok(done(call, &unique_id, &answer, queued))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_ids_are_percent_encoded_as_path_segments() {
        assert_eq!(
            segment("2.16.840.1.113883.2.9.2.160.4.4^A B/1"),
            "2.16.840.1.113883.2.9.2.160.4.4%5EA%20B%2F1"
        );
    }

    #[test]
    fn the_multipart_body_carries_request_and_file() {
        let request = json!({"mode": "ATTACHMENT"}).to_string();
        let (ct, body) = gateway_contract::form::write_form(&request, b"%PDF-1.7");
        let boundary = ct.strip_prefix("multipart/form-data; boundary=").unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")));
        assert!(text.contains("name=\"requestBody\"\r\nContent-Type: application/json\r\n\r\n{\"mode\":\"ATTACHMENT\"}\r\n"));
        assert!(text.contains("Content-Type: application/pdf\r\n\r\n%PDF-1.7\r\n"));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }
}
