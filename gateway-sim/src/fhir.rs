//! The FHIR operations as the dispatcher performs them (`main` @ de019846:
//! `ValidationCTL.fhirValidate`, `FhirPublicationCTL.create`/`replace`, `AbstractCTL`
//! `extractFHIR`, `validateJWTFhirDiretto`, `getValidationInfoFhirBundle`; rows in
//! `docs/gateway-fidelity.md`): the bundle travels in a PDF like a CDA, the token is
//! checked with the validation rules and against the bundle, a validation record keyed by
//! the bundle's hash is consumed by one publication.
//!
//! Not the real FHIR validator: the simulator refuses only what is not a bundle's
//! structure (`type`, entries with a `resourceType`), under the validator's error.

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use hsm::jwt::RawClaims;
use http::{HeaderMap, StatusCode};

use super::handlers::{
    Stop, after_the_record, consume_record, early_failure_event, event, finish,
    publication_request, validation_event, validation_request,
};
use super::jwt_checks::patient_fiscal_code;
use super::request::Dto;
use super::respond;
use super::store::{Crash, DocumentRecord, ValidationRecord};
use super::{SimOp, SimState};
use gateway_contract::cda::ExtractionMode;
use gateway_contract::cda::pdf::extract_fhir;
use gateway_contract::fhir::{BundleFacts, validation_hash};
use gateway_contract::problem::{Answer, ErrPath, GtwError, Kind, Shape, err};
use gateway_contract::steps::publication_warning;

/// `POST /documents/fhir-validation`.
pub async fn validation(state: Arc<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut ans = Answer::new(ErrPath::A);
    let mut seen = None;
    let r = validation_flow(&state, &headers, body, (&mut ans, &mut seen));
    if ans.wii.is_none() {
        early_failure_event(&state, (&ans, seen.as_ref()), "VALIDATION", &r);
    }
    finish(&ans, r)
}

fn validation_flow(
    state: &SimState,
    headers: &HeaderMap,
    body: Bytes,
    (ans, seen): (&mut Answer, &mut Option<RawClaims>),
) -> Result<Response, Stop> {
    let (file, claims, req) =
        validation_request(state, headers, &body, (Dto::FhirValidation, seen))?;
    if file.is_empty() {
        return Err(err(Kind::EmptyFile, "File vuoto.", "/empty-multipart-file").into());
    }
    let (bundle, facts) = read_bundle(&file, req.mode)?;
    ans.wii = Some(facts.new_workflow_instance_id().ok_or_else(|| {
        err(
            Kind::WorkflowIdExtraction,
            "Errore durante l'estrazione del workflow instance id ",
            "/msg/workflow-id-error-extraction",
        )
    })?);
    let checked = against_bundle(&claims, &facts).and_then(|_| structure(&bundle));
    let mut store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Err(e) = checked {
        let ev = validation_event(state, ans, &claims, Some(&e));
        store.record(ev);
        return Err(e.into());
    }
    let wii = ans.wii.clone().unwrap_or_default();
    if req.str("activity") == Some("VALIDATION") {
        let record = ValidationRecord {
            wii: wii.clone(),
            at: state.now(),
        };
        store.validations.insert(validation_hash(&bundle), record);
        let ev = validation_event(state, ans, &claims, None);
        store.record(ev);
    }
    // Always 200 (the OpenAPI says 201): `ValidationCTL.fhirValidate`.
    Ok(respond::success(
        ans,
        StatusCode::OK,
        Shape::Validation,
        Some(&wii),
        None,
    ))
}

/// `POST /fhir-documents` (no path id) and `PUT /fhir-documents/{id}`.
pub async fn publication(
    state: Arc<SimState>,
    path_id: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut ans = Answer::new(ErrPath::B);
    let replace = path_id.is_some();
    let r = publication_flow(&state, path_id, &headers, body, &mut ans);
    // A refusal is one event under the placeholder (`FhirPublicationCTL` @ de019846); INI's
    // refusal of a replace leaves none.
    let ini = matches!(&r, Err(Stop::Gtw(e)) if e.kind == Kind::RecordNotFound);
    if !ini {
        let kind = if replace { "REPLACE" } else { "PUBLICATION" };
        early_failure_event(&state, (&ans, None), kind, &r);
    }
    if r.is_ok() {
        crate::push::after_publication(&state, &headers, ans.wii.as_deref());
    }
    finish(&ans, r)
}

fn publication_flow(
    state: &SimState,
    path_id: Option<String>,
    headers: &HeaderMap,
    body: Bytes,
    ans: &mut Answer,
) -> Result<Response, Stop> {
    let replace = path_id.is_some();
    // Spring reads the form first, then the controller the path id; the token is checked
    // with the validation's rules (`FhirPublicationCTL` @ de019846).
    let (file, claims, req) = publication_request(
        state,
        (headers, &body),
        (SimOp::Validation, replace),
        path_id.as_deref(),
    )?;
    let (bundle, facts) = read_bundle(&file, req.mode)?;
    against_bundle(&claims, &facts)?;
    let mut store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let validated = consume_record(
        &mut store,
        &validation_hash(&bundle),
        req.str("workflowInstanceId"),
    )?;
    ans.wii = Some(validated.wii.clone());
    after_the_record(state, &validated, &claims, &file, &req)?;
    let new_id = req.str("identificativoDoc").unwrap_or_default().to_string();
    let wii = validated.wii;
    // A replace publishes first (`postExecutionCreate`), then asks INI for the old one.
    let published = event(
        state.now_ms(),
        ans,
        "PUBLICATION",
        Some(&claims),
        Some(&new_id),
        None,
    );
    store.record(published.clone());
    let known = path_id
        .as_deref()
        .map(|old| store.documents.remove(old).is_some());
    store
        .documents
        .insert(new_id.clone(), DocumentRecord::new(wii.clone()));
    let status = match known {
        None => StatusCode::CREATED,
        Some(false) => {
            let detail = "IniException: documento da sostituire non trovato su INI";
            return Err(err(Kind::RecordNotFound, detail, "").into());
        }
        Some(true) => {
            let replaced = event(
                state.now_ms(),
                ans,
                "REPLACE",
                Some(&claims),
                Some(&new_id),
                None,
            );
            store.record(replaced);
            StatusCode::OK
        }
    };
    store.schedule_outcome(&published, state.async_delay_ms, Crash::of(&new_id));
    let warning = publication_warning(false, Vec::new(), req.mode);
    Ok(respond::success(
        ans,
        status,
        Shape::Publication,
        Some(&wii),
        warning.as_deref(),
    ))
}

/// The bundle of the PDF and its facts: `/msg/cda-element` when none is found.
fn read_bundle(
    file: &[u8],
    mode: Option<ExtractionMode>,
) -> Result<(String, BundleFacts), GtwError> {
    let not_found = || {
        err(
            Kind::CdaElement,
            "Error while extracting FHIR from PDF document",
            "/fhir-extraction",
        )
    };
    let bundle = extract_fhir(file, mode).map_err(|_| not_found())?;
    let facts = BundleFacts::parse(&bundle).map_err(|_| not_found())?;
    Ok((bundle, facts))
}

/// The token against the bundle: the document type, then the patient.
fn against_bundle(claims: &RawClaims, facts: &BundleFacts) -> Result<(), GtwError> {
    let jwt = |detail: String, instance: &str| err(Kind::JwtValidation, detail, instance);
    let hl7 = claims.string("resource_hl7_type").unwrap_or_default();
    if !facts.type_matches(&hl7) {
        return Err(jwt(
            "JWT payload: Tipologia documento diversa dalla tipologia di CDA (code - codesystem)"
                .into(),
            "/jwt-document-type",
        ));
    }
    if facts.patient_ids.is_empty() {
        return Err(jwt(
            "JWT payload: non è stato possibile verificare il codice fiscale del paziente nel Bundle FHIR".into(),
            "/jwt-person-id",
        ));
    }
    let person = claims.string("person_id").unwrap_or_default();
    if !facts.has_patient(&person) {
        let cf = gateway_contract::fhir::fiscal_part(&person);
        return Err(jwt(
            format!(
                "JWT payload: codice fiscale '{cf}' non corrisponde ad alcun Patient.identifier nel Bundle FHIR"
            ),
            "/jwt-person-id",
        ));
    }
    patient_fiscal_code(&person)
}

/// What the simulator checks in place of the FHIR validator: a bundle `type` and a
/// `resourceType` on every entry; the issues joined with `,`, as the dispatcher joins them.
fn structure(bundle: &str) -> Result<(), GtwError> {
    let v: serde_json::Value = serde_json::from_str(bundle).unwrap_or_default();
    let mut issues = Vec::new();
    if v.get("type").and_then(|t| t.as_str()).is_none() {
        issues.push("Bundle.type: minimum required = 1, but only found 0".to_string());
    }
    let entries = v.get("entry").and_then(|e| e.as_array());
    for (i, e) in entries.into_iter().flatten().enumerate() {
        if e.pointer("/resource/resourceType").is_none() {
            issues.push(format!("Bundle.entry[{i}].resource: no resourceType"));
        }
    }
    if issues.is_empty() {
        Ok(())
    } else {
        Err(err(
            Kind::FhirValidator,
            issues.join(","),
            "/validation/error",
        ))
    }
}
