//! The gateway operations as the simulator performs them.

use std::sync::Arc;

use axum::response::Response;
use bytes::Bytes;
use hsm::jwt::{Jwt, RawClaims};
use http::{HeaderMap, StatusCode};

use super::jwt_checks::{FrontierRefusal, Token, against_cda, dispatcher, frontier};
use super::request::{
    Dto, check_document_id, check_publication, check_repository_id, check_validation, parse_body,
    parse_form,
};
use super::respond::{self, frontier_error};
use super::store::{Crash, DocumentRecord, Event, UNKNOWN_WII, ValidationRecord};
use super::{SimOp, SimState, accreditation};
use gateway_contract::cda::document::validation_hash;
use gateway_contract::cda::{CdaFacts, signature};
use gateway_contract::problem::{Answer, ErrPath, GtwError, Kind, Shape, err};
use gateway_contract::steps::{
    change_workflow_instance_id, check_pdf, publication_warning, read_cda, validation_warning,
};
const DAY: i64 = 24 * 3600;
/// Days a validation may be published after (`days.allow-publish-after-validation`).
const ALLOWED_DAYS: i64 = 5;

/// An early exit: a dispatcher error or a frontier refusal.
pub enum Stop {
    /// A `/msg/...` error.
    Gtw(GtwError),
    /// A ready response (frontier).
    Ready(Box<Response>),
}

impl From<GtwError> for Stop {
    fn from(e: GtwError) -> Self {
        Stop::Gtw(e)
    }
}

pub(crate) fn finish(ans: &Answer, r: Result<Response, Stop>) -> Response {
    match r {
        Ok(resp) => resp,
        Err(Stop::Gtw(e)) => respond::error(ans, &e),
        Err(Stop::Ready(resp)) => *resp,
    }
}

fn refuse(r: FrontierRefusal) -> Stop {
    Stop::Ready(Box::new(frontier_error(&r)))
}

/// A bearer that is not a JWT at all: a token that fails validation.
fn invalid_bearer() -> FrontierRefusal {
    FrontierRefusal {
        status: StatusCode::UNAUTHORIZED,
        title: "TokenAuthenticationFailed",
        detail: "Invalid token".into(),
        realm: None,
    }
}

/// Frontier and dispatcher checks of the tokens; returns the signature claims.
pub(crate) fn tokens(
    state: &SimState,
    headers: &HeaderMap,
    op: Option<SimOp>,
) -> Result<RawClaims, Stop> {
    let bearer = govway_tokens(state, headers)?;
    let Some(op) = op else {
        return Ok(bearer);
    };
    let signature = headers
        .get("fse-jwt-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .trim();
    if signature.is_empty() {
        return Err(err(
            Kind::MissingToken,
            "Attenzione il jwt fornito risulta essere vuoto",
            "/missing-jwt",
        )
        .into());
    }
    let jwt = Jwt::parse(signature).map_err(|_| {
        err(
            Kind::MandatoryElementToken,
            "Token JWT non valido.",
            "/jwt-mandatory-field-missing",
        )
    })?;
    dispatcher(&jwt.claims, op)?;
    Ok(jwt.claims)
}

/// What GovWay answers before the dispatcher: its token checks, then (when on) the
/// request against the published OpenAPI (`crate::openapi`).
pub(crate) fn govway_refusal(
    state: &SimState,
    (method, template): (http::Method, &str),
    id: Option<&str>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Option<Response> {
    if let Err(Stop::Ready(r)) = govway_tokens(state, headers) {
        return Some(*r);
    }
    let contract = state.openapi.as_ref()?;
    let detail = contract.check(&method, template, id, headers, body).err()?;
    Some(frontier_error(&FrontierRefusal {
        status: StatusCode::BAD_REQUEST,
        title: "InvalidRequestContent",
        detail: detail.into(),
        realm: None,
    }))
}

/// GovWay's token checks: the bearer always, the signature token when it reads as a
/// JWT (otherwise the dispatcher refuses it); the bearer's claims.
fn govway_tokens(state: &SimState, headers: &HeaderMap) -> Result<RawClaims, Stop> {
    // GovWay keeps real time; only the dispatcher's records follow the simulated clock.
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let audience = state.audience.as_deref();
    let bearer = headers
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| {
            // GovWay's answer to a call without a token (live #53).
            refuse(FrontierRefusal {
                status: StatusCode::UNAUTHORIZED,
                title: "TokenAuthenticationRequired",
                detail: "A token is required".into(),
                realm: None,
            })
        })?;
    let bearer = Jwt::parse(bearer).map_err(|_| refuse(invalid_bearer()))?;
    frontier(&bearer, Token::Bearer, &state.jwt_roots, audience, now).map_err(refuse)?;
    let signature = headers
        .get("fse-jwt-signature")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| Jwt::parse(v.trim()).ok());
    if let Some(jwt) = signature {
        frontier(&jwt, Token::Signature, &state.jwt_roots, audience, now).map_err(refuse)?;
    }
    Ok(bearer.claims)
}

fn validator(
    state: &SimState,
    xml: &str,
    facts: &CdaFacts,
    claims: &RawClaims,
) -> Result<Vec<String>, GtwError> {
    let ts_issuer = is_ts_issuer(claims);
    state
        .validator
        .validate(xml, facts, ts_issuer)
        .into_result()
}

pub(crate) fn event(
    at_ms: i64,
    ans: &Answer,
    kind: &str,
    claims: Option<&RawClaims>,
    doc: Option<&str>,
    e: Option<&GtwError>,
) -> Event {
    const FIVE_DAYS_MS: i64 = 5 * DAY * 1000;
    Event {
        event_type: kind.into(),
        event_date: crate::clock::rome_event_date(at_ms),
        event_status: if e.is_some() {
            "BLOCKING_ERROR"
        } else {
            "SUCCESS"
        }
        .into(),
        message: e.map(|e| e.detail.clone()),
        identificativo_documento: doc.map(str::to_owned),
        subject: claims.and_then(|c| c.string("sub")),
        organizzazione: claims.and_then(|c| c.string("subject_organization_id")),
        tipo_attivita: None,
        workflow_instance_id: ans.wii.clone().unwrap_or_else(|| UNKNOWN_WII.into()),
        trace_id: Some(ans.trace_id.clone()),
        issuer: claims.and_then(|c| c.string("iss")),
        expiring_date: Some(crate::clock::rome_event_date(at_ms + FIVE_DAYS_MS)),
        at_ms,
    }
}

/// The `VALIDATION` event of a validation, now, with its error if it failed.
pub(crate) fn validation_event(
    state: &SimState,
    ans: &Answer,
    claims: &RawClaims,
    e: Option<&GtwError>,
) -> Event {
    event(state.now_ms(), ans, "VALIDATION", Some(claims), None, e)
}

/// The message of a VERIFICA's event (`ValidationCTL.validate` @ de019846).
const VERIFICA_MESSAGE: &str =
    "Attenzione - è stato chiamato l'endpoint di validazione con VERIFICA";

/// `POST /documents/validation`.
pub async fn validation(state: Arc<SimState>, headers: HeaderMap, body: Bytes) -> Response {
    let mut ans = Answer::new(ErrPath::A);
    let mut seen = None;
    let r = validation_flow(&state, &headers, body, (&mut ans, &mut seen)).await;
    // A refusal before the CDA's id is known: its event carries the placeholder id, and
    // the token's fields once it was read (later ones are recorded by the flow).
    if ans.wii.is_none() {
        early_failure_event(&state, (&ans, seen.as_ref()), "VALIDATION", &r);
    }
    finish(&ans, r)
}

/// The event of a dispatcher refusal that came before anything was known: placeholder id,
/// `UNDEFINED_JWT_ISSUER`, no token fields nor document (`ErrorHandlerSRV` with the
/// placeholder object, review S15 notes). A timeout is a `NON_BLOCKING_ERROR`.
pub(crate) fn early_failure_event(
    state: &SimState,
    (ans, claims): (&Answer, Option<&RawClaims>),
    kind: &str,
    r: &Result<Response, Stop>,
) {
    let Err(Stop::Gtw(e)) = r else {
        return;
    };
    // Spring's own refusals (the form, its `file` part) come before the controller.
    if e.kind == Kind::GenericError && e.instance.is_empty() {
        return;
    }
    // The token's fields once it was read (a validation refused for its body keeps them).
    let mut ev = event(state.now_ms(), ans, kind, claims, None, Some(e));
    ev.workflow_instance_id = UNKNOWN_WII.into();
    if claims.is_none() {
        ev.issuer = Some("UNDEFINED_JWT_ISSUER".into());
    }
    if e.kind == Kind::GenericTimeout {
        // The event keeps the exception's text (`ErrorHandlerSRV` @ de019846).
        ev.event_status = "NON_BLOCKING_ERROR".into();
        ev.message = Some("Timeout simulation".into());
    }
    state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .record(ev);
}

async fn validation_flow(
    state: &SimState,
    headers: &HeaderMap,
    body: Bytes,
    (ans, seen): (&mut Answer, &mut Option<RawClaims>),
) -> Result<Response, Stop> {
    let (file, claims, req) = validation_request(state, headers, &body, (Dto::Validation, seen))?;
    check_pdf(&file)?;
    let (xml, facts) = read_cda(&file, req.mode)?;
    ans.wii = Some(workflow_id(&facts)?);
    let outcome =
        against_cda(&claims, &facts).and_then(|_| validator(state, &xml, &facts, &claims));
    let mut store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let semantic = match outcome {
        Ok(w) => w,
        Err(e) => {
            store.record(validation_event(state, ans, &claims, Some(&e)));
            return Err(e.into());
        }
    };
    // The CDA was extracted, so the PDF loads.
    let signed = signature::is_signed(&file).unwrap_or(false);
    let warning = validation_warning(signed, semantic, req.mode);
    let wii = ans.wii.clone().unwrap_or_default();
    let status = if req.str("activity") == Some("VALIDATION") {
        store.validations.insert(
            validation_hash(&xml),
            ValidationRecord {
                wii: wii.clone(),
                at: state.now(),
            },
        );
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut ev = validation_event(state, ans, &claims, None);
    if req.str("activity") == Some("VERIFICA") {
        ev.message = Some(VERIFICA_MESSAGE.into());
    }
    store.record(ev);
    Ok(respond::success(
        ans,
        status,
        Shape::Validation,
        Some(&wii),
        warning.as_deref(),
    ))
}

/// A validation's form, token claims and `requestBody` (with its `activity`), read in the
/// dispatcher's order; the file may still be empty.
pub(crate) fn validation_request(
    state: &SimState,
    headers: &HeaderMap,
    body: &Bytes,
    (dto, seen): (Dto, &mut Option<RawClaims>),
) -> Result<(Bytes, RawClaims, crate::request::Body), Stop> {
    let form = parse_form(content_type(headers), body)?;
    let claims = tokens(state, headers, Some(SimOp::Validation))?;
    *seen = Some(claims.clone());
    let req = parse_body(form.request_body.as_deref(), dto)?;
    check_validation(&req)?;
    Ok((form.file.unwrap_or_default(), claims, req))
}

/// `POST /documents`, `PUT /documents/{id}`, and the validate-and- forms.
pub async fn publication(
    state: Arc<SimState>,
    op: SimOp,
    path_id: Option<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let validate_first = matches!(op, SimOp::ValidateAndCreate | SimOp::ValidateAndReplace);
    let mut ans = Answer::new(if validate_first {
        ErrPath::A
    } else {
        ErrPath::B
    });
    let r = publication_flow(&state, op, path_id, &headers, body, &mut ans).await;
    publication_failure_event(&state, op, &ans, &r);
    if r.is_ok() {
        crate::push::after_publication(&state, &headers, ans.wii.as_deref());
    }
    finish(&ans, r)
}

/// A refused create or replace is recorded as one `PUBLICATION`/`REPLACE` event with the
/// placeholder object's fields (the catch blocks see the placeholder, review S15 notes); a
/// validate-and-* refused in its validation phase as `VALIDATION`, in its publication
/// phase as `PUBLICATION` (also for a replace). INI's refusal records nothing.
fn publication_failure_event(
    state: &SimState,
    op: SimOp,
    ans: &Answer,
    r: &Result<Response, Stop>,
) {
    if let Err(Stop::Gtw(e)) = r
        && e.kind == Kind::RecordNotFound
    {
        return;
    }
    let kind = match op {
        SimOp::Replace => "REPLACE",
        SimOp::ValidateAndCreate | SimOp::ValidateAndReplace if ans.path == ErrPath::A => {
            "VALIDATION"
        }
        _ => "PUBLICATION",
    };
    // A timeout is always reported as a publication's.
    let timeout = matches!(r, Err(Stop::Gtw(e)) if e.kind == Kind::GenericTimeout);
    // The catch blocks see the placeholder object: no token fields.
    early_failure_event(
        state,
        (ans, None),
        if timeout { "PUBLICATION" } else { kind },
        r,
    );
}

/// A publication's form, token claims (checked with the rules of `token_op`) and body, read
/// in the dispatcher's order — the form, the replaced id when there is one to check, the
/// tokens, the body and its document id, the PDF — for CDA and FHIR publications alike.
pub(crate) fn publication_request(
    state: &SimState,
    (headers, body): (&HeaderMap, &Bytes),
    (token_op, replace): (SimOp, bool),
    path_id: Option<&str>,
) -> Result<(Bytes, RawClaims, crate::request::Body), Stop> {
    let form = parse_form(content_type(headers), body)?;
    if let Some(id) = path_id {
        check_document_id(id, "/invalid-req-id")?;
    }
    let claims = tokens(state, headers, Some(token_op))?;
    let dto = if replace { Dto::Update } else { Dto::Creation };
    let req = parse_body(form.request_body.as_deref(), dto)?;
    check_publication(&req, replace)?;
    // `isValidMasterId` on the body's id, also when a replace leaves it out.
    check_document_id(
        req.str("identificativoDoc").unwrap_or_default(),
        "/invalid-id",
    )?;
    let file = form.file.unwrap_or_default();
    check_pdf(&file)?;
    Ok((file, claims, req))
}

async fn publication_flow(
    state: &SimState,
    op: SimOp,
    path_id: Option<String>,
    headers: &HeaderMap,
    body: Bytes,
    ans: &mut Answer,
) -> Result<Response, Stop> {
    let replace = matches!(op, SimOp::Replace | SimOp::ValidateAndReplace);
    let validate_first = matches!(op, SimOp::ValidateAndCreate | SimOp::ValidateAndReplace);
    // The replaced id first, before the tokens (`PublicationCTL.replace`).
    let checked_path = path_id.as_deref().filter(|_| op == SimOp::Replace);
    let (file, claims, req) =
        publication_request(state, (headers, &body), (op, replace), checked_path)?;
    let simulated_wii = simulate(state, op, path_id.as_deref(), &req, &file)
        .inspect_err(|stop| accreditation_miss_event(state, ans, (&claims, &req), stop))?;
    check_signature(&claims, &file)?;
    let (xml, facts) = read_cda(&file, req.mode)?;
    against_cda(&claims, &facts)?;
    let mut warnings = Vec::new();
    if validate_first {
        ans.wii = Some(workflow_id(&facts)?);
        warnings = validator(state, &xml, &facts, &claims)?;
        ans.path = ErrPath::B;
    }
    let mut store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if validate_first {
        // A validate-and-* makes its own validation record, then publishes against it.
        let record = ValidationRecord {
            wii: ans.wii.clone().unwrap_or_default(),
            at: state.now(),
        };
        store.validations.insert(validation_hash(&xml), record);
    }
    let requested_wii = simulated_wii.as_deref().or(req.str("workflowInstanceId"));
    let validated = consume_validation(&mut store, &xml, requested_wii)?;
    ans.wii = Some(validated.wii.clone());
    after_the_record(state, &validated, &claims, &file, &req)?;
    // INI's reference of the replaced document, after the record was consumed
    // (`IniException` → `handleIniException`: no instance). The text is INI's, unverified.
    if replace
        && !store
            .documents
            .contains_key(path_id.as_deref().unwrap_or_default())
    {
        let detail = "IniException: documento da sostituire non trovato su INI";
        return Err(err(Kind::RecordNotFound, detail, "").into());
    }
    if let (true, Some(old)) = (replace, path_id.as_deref()) {
        store.documents.remove(old);
    }
    let wii = ans.wii.clone().unwrap_or_default();
    record_publication(state, &mut store, ans, op, &claims, &req);
    let warning = publication_warning(validate_first, warnings, req.mode);
    Ok(respond::success(
        ans,
        StatusCode::ACCEPTED,
        Shape::Publication,
        Some(&wii),
        warning.as_deref(),
    ))
}

/// `handleConnectionRefusedException`: the exception's text as title and detail.
fn connection_refused(message: &str) -> Response {
    let ans = Answer::new(ErrPath::B);
    let body = serde_json::json!({
        "traceID": ans.trace_id, "spanID": ans.span_id, "type": "/msg/connection-refused",
        "title": message, "detail": message, "status": 500, "instance": "/msg/connection-refused",
    });
    respond::json_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        &body,
        "application/problem+json",
    )
}

/// The status service's "not found" of the accreditation lookup: a `REPLACE` event with an
/// empty id, also for a create (`PublicationCTL.publicationAndReplaceValidation` @ de019846).
fn accreditation_miss_event(
    state: &SimState,
    ans: &Answer,
    (claims, req): (&RawClaims, &crate::request::Body),
    stop: &Stop,
) {
    if let Stop::Ready(_) = stop {
        let doc = req.str("identificativoDoc");
        let mut ev = event(state.now_ms(), ans, "REPLACE", Some(claims), doc, None);
        ev.tipo_attivita = req.str("tipoAttivitaClinica").map(str::to_string);
        ev.event_status = "BLOCKING_ERROR".into();
        ev.message = Some("Id documento non presente".into());
        ev.workflow_instance_id = String::new();
        state
            .store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .record(ev);
    }
}

/// The workflowInstanceId of a CDA (`CdaUtility.getWorkflowInstanceId` @ de019846): none
/// without an `id` element.
fn workflow_id(facts: &CdaFacts) -> Result<String, GtwError> {
    if facts.has_id {
        return Ok(facts.new_workflow_instance_id());
    }
    Err(err(
        Kind::WorkflowIdExtraction,
        "Errore durante l'estrazione del workflow instance id ",
        "/msg/workflow-id-error-extraction",
    ))
}

/// The PAdES check `SignSRV.checkPades` makes unless the issuer is the TS system's.
fn check_signature(claims: &RawClaims, file: &[u8]) -> Result<(), GtwError> {
    if is_ts_issuer(claims) {
        return Ok(());
    }
    crate::pades::check(file)
}

/// The Sistema TS's issuer: exactly `jwt.ts.issuer` (`JwtSRV.getSystemByIssuer` @
/// de019846, `integrity:S1#TS` in `application.properties`).
fn is_ts_issuer(claims: &RawClaims) -> bool {
    claims.string("iss").is_some_and(|i| i == "integrity:S1#TS")
}

/// What follows the record's consumption, CDA and FHIR alike: the five days (whole days,
/// as the dispatcher counts them: refused from the sixth day on), the attachment hash, and
/// the repository id the mapping checks.
pub(crate) fn after_the_record(
    state: &SimState,
    validated: &ValidationRecord,
    claims: &RawClaims,
    file: &[u8],
    req: &crate::request::Body,
) -> Result<(), GtwError> {
    if (state.now() - validated.at) / DAY > ALLOWED_DAYS {
        let detail = "Error: cannot publish documents older than 5 days";
        return Err(err(Kind::MaxDayLimit, detail, "/msg/max-day-limit-exceed"));
    }
    check_attachment_hash(claims, file)?;
    check_repository_id(req.str("identificativoRep").unwrap_or_default())
}

/// An accepted CDA publication: the document on INI, its events (a validate-and-*'s
/// validation phase first), and the asynchronous steps that will follow.
fn record_publication(
    state: &SimState,
    store: &mut super::store::Store,
    ans: &Answer,
    op: SimOp,
    claims: &RawClaims,
    req: &crate::request::Body,
) {
    let replace = matches!(op, SimOp::Replace | SimOp::ValidateAndReplace);
    let new_id = req.str("identificativoDoc").unwrap_or_default().to_string();
    let wii = ans.wii.clone().unwrap_or_default();
    store
        .documents
        .insert(new_id.clone(), DocumentRecord::new(wii));
    let phase = match op {
        SimOp::ValidateAndCreate => Some("VALIDATION_FOR_PUBLICATION"),
        SimOp::ValidateAndReplace => Some("VALIDATION_FOR_REPLACE"),
        _ => None,
    };
    if let Some(phase) = phase {
        store.record(event(state.now_ms(), ans, phase, Some(claims), None, None));
    }
    let kind = if replace { "REPLACE" } else { "PUBLICATION" };
    let mut published = event(state.now_ms(), ans, kind, Some(claims), Some(&new_id), None);
    published.tipo_attivita = req.str("tipoAttivitaClinica").map(str::to_string);
    store.record(published.clone());
    store.schedule_outcome(&published, state.async_delay_ms, Crash::of(&new_id));
}

/// The test environment's accreditation simulation of a create or replace (not of the
/// validate-and- forms): refusals, or the workflowInstanceId of the validation record a
/// `SKIP_VALIDATION`/`CRASH_*` id makes from the attached CDA.
fn simulate(
    state: &SimState,
    op: SimOp,
    path_id: Option<&str>,
    req: &crate::request::Body,
    file: &[u8],
) -> Result<Option<String>, Stop> {
    if !state.accreditation_check || op == SimOp::Validation {
        return Ok(None);
    }
    let id = path_id.or(req.str("identificativoDoc")).unwrap_or_default();
    let mut store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let replace = matches!(op, SimOp::Replace | SimOp::ValidateAndReplace);
    let validate_first = matches!(op, SimOp::ValidateAndCreate | SimOp::ValidateAndReplace);
    let simulation = accreditation::run(&store, id, replace).map_err(|stop| match stop {
        // In a validate-and-* the timeout escapes the first `try`: the connection-refused
        // handler's 500 (`PublicationCTL.java:573, 626`, `ControllerExceptionHandler`).
        Stop::Gtw(e) if validate_first && e.kind == Kind::GenericTimeout => {
            Stop::Ready(Box::new(connection_refused("Timeout simulation")))
        }
        other => other,
    })?;
    // A validate-and-* makes its own record; what the simulated one does to it there is
    // not verified (docs/gateway-fidelity.md, S18).
    if simulation != accreditation::Simulation::SkipValidation || validate_first {
        return Ok(None);
    }
    let Ok((xml, facts)) = read_cda(
        file,
        Some(gateway_contract::cda::ExtractionMode::Attachment),
    ) else {
        return Ok(None);
    };
    let wii = facts.new_workflow_instance_id();
    let record = ValidationRecord {
        wii: wii.clone(),
        at: state.now(),
    };
    store.validations.insert(validation_hash(&xml), record);
    Ok(Some(wii))
}

/// The validation record of this CDA, consumed by the publication that matches it;
/// `/msg/cda-match` when there is none, or when its workflowInstanceId is not the request's
/// (the record then stays: the refusal comes before the consumption).
fn consume_validation(
    store: &mut super::store::Store,
    xml: &str,
    requested_wii: Option<&str>,
) -> Result<ValidationRecord, GtwError> {
    consume_record(store, &validation_hash(xml), requested_wii)
}

/// The validation record under `hash`, consumed as [`consume_validation`] says.
pub(crate) fn consume_record(
    store: &mut super::store::Store,
    hash: &str,
    requested_wii: Option<&str>,
) -> Result<ValidationRecord, GtwError> {
    let not_validated = || {
        err(
            Kind::CdaMatch,
            "Il CDA non risulta validato",
            "/cda-validation",
        )
    };
    let rec = store.validations.get(hash).ok_or_else(not_validated)?;
    if requested_wii.is_some_and(|w| !w.is_empty() && w != rec.wii) {
        return Err(not_validated());
    }
    store.validations.remove(hash).ok_or_else(not_validated)
}

/// The signature token's `attachment_hash` must be the PDF's SHA-256 (`/msg/document-hash`).
pub(crate) fn check_attachment_hash(claims: &RawClaims, file: &[u8]) -> Result<(), GtwError> {
    let hash = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, file).as_ref());
    if claims
        .string("attachment_hash")
        .is_some_and(|h| h.eq_ignore_ascii_case(&hash))
    {
        Ok(())
    } else {
        Err(err(
            Kind::DocumentHash,
            "Verifica hash fallita.",
            "/jwt-hash-match",
        ))
    }
}

/// `DELETE /documents/{id}` and the metadata updates.
pub async fn document_change(
    state: Arc<SimState>,
    op: SimOp,
    (id, path): (String, String),
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut ans = Answer::new(ErrPath::C);
    let r = change_flow(&state, op, (&id, &path), &headers, body, &mut ans);
    finish(&ans, r)
}

fn change_flow(
    state: &SimState,
    op: SimOp,
    (id, path): (&str, &str),
    headers: &HeaderMap,
    body: Bytes,
    ans: &mut Answer,
) -> Result<Response, Stop> {
    let claims = if op == SimOp::Metadata {
        metadata_checks(state, id, headers, &body, path, ans)?
    } else {
        // The id first, outside the `try` (`PublicationCTL.delete` @ de019846).
        check_document_id(id, "/invalid-id")?;
        tokens(state, headers, Some(op))?
    };
    ans.wii = Some(change_workflow_instance_id(id));
    let mut store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let steps = change_steps(op);
    let step = |kind: &str, message: &str, failed: Option<&GtwError>| {
        let mut ev = event(state.now_ms(), ans, kind, Some(&claims), Some(id), failed);
        ev.message = Some(message.into());
        ev.tipo_attivita = (op == SimOp::Delete).then(|| "PHR".into());
        ev
    };
    let Some(entry) = store.documents.get(id).map(|d| d.entry_uuid.clone()) else {
        // `handleIniException`: no instance; INI's text is unverified.
        let detail = "IniException: documento non trovato su INI";
        let e = err(Kind::RecordNotFound, detail, "");
        store.record(step("RIFERIMENTI_INI", detail, Some(&e)));
        return Err(e.into());
    };
    let found = match op {
        SimOp::Delete => format!("Riferimenti trovati: [{entry}]"),
        _ => "Merge metadati effettuato correttamente".into(),
    };
    store.record(step("RIFERIMENTI_INI", &found, None));
    for (kind, message) in steps {
        store.record(step(kind, message, None));
    }
    if op == SimOp::Delete {
        store.documents.remove(id);
    }
    let wii = ans.wii.clone();
    Ok(respond::success(
        ans,
        StatusCode::OK,
        Shape::Publication,
        wii.as_deref(),
        None,
    ))
}

/// A metadata update's checks in `updateAbstract`'s order (review S17, @ de019846): Spring
/// binds the body first (an unreadable one is its 400 ProblemDetail), then the path id
/// (a plain validation error), then — answered on the validation path, without a
/// workflowInstanceId (`wif` is still empty) — the tokens and the mandatory fields.
fn metadata_checks(
    state: &SimState,
    id: &str,
    headers: &HeaderMap,
    body: &Bytes,
    path: &str,
    ans: &mut Answer,
) -> Result<RawClaims, Stop> {
    // Spring's JSON converter reads only JSON: another declared type is its 415.
    if let Some(refused) = crate::media::json_body_refusal(headers, path) {
        return Err(Stop::Ready(Box::new(refused)));
    }
    let Some(req) = crate::request::parse_metadata(body) else {
        let problem = serde_json::json!({
            "type": "about:blank", "title": "Bad Request", "status": 400,
            "detail": "Failed to read request", "instance": path,
        });
        let r = respond::json_response(
            StatusCode::BAD_REQUEST,
            &problem,
            "application/problem+json",
        );
        return Err(Stop::Ready(Box::new(r)));
    };
    check_document_id(id, "/invalid-id")?;
    ans.path = ErrPath::A;
    ans.wii = Some(String::new());
    let claims = tokens(state, headers, Some(SimOp::Metadata)).inspect_err(|stop| {
        if let Stop::Gtw(e) = stop {
            update_refused(state, ans, (None, id), e);
        }
    })?;
    crate::request::check_update(&req)
        .inspect_err(|e| update_refused(state, ans, (Some(&claims), id), e))?;
    Ok(claims)
}

/// A metadata update refused for its token or body: an `UPDATE` event with an empty id (the
/// wii is made only after those checks), the document, and the token once it was read
/// (`ErrorHandlerSRV.updateValidationExceptionHandler` @ de019846). A delete's token refusal
/// records nothing.
fn update_refused(
    state: &SimState,
    ans: &Answer,
    (claims, id): (Option<&RawClaims>, &str),
    e: &GtwError,
) {
    let mut ev = event(state.now_ms(), ans, "UPDATE", claims, Some(id), Some(e));
    ev.workflow_instance_id = String::new();
    if claims.is_none() {
        ev.issuer = Some("UNDEFINED_JWT_ISSUER".into());
    }
    state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .record(ev);
}

/// The events after INI's references, with their texts (`PublicationCTL.delete`,
/// `AbstractCTL.updateAbstract` @ de019846): EDS, then INI; no `DELETE` or `UPDATE` event.
fn change_steps(op: SimOp) -> [(&'static str, &'static str); 2] {
    match op {
        SimOp::Delete => [
            ("EDS_DELETE", "Delete effettuata su eds"),
            ("INI_DELETE", "Delete effettuata su ini"),
        ],
        _ => [
            ("EDS_UPDATE", "Update EDS effettuato correttamente"),
            ("INI_UPDATE", "Update ini effettuato correttamente"),
        ],
    }
}

/// `GET /status/{wii}` and `GET /status/search/{traceId}`.
pub async fn status(
    state: Arc<SimState>,
    by_trace: bool,
    id: String,
    headers: HeaderMap,
) -> Response {
    let ans = Answer::new(ErrPath::C);
    let r = status_flow(&state, by_trace, &id, &headers, &ans);
    finish(&ans, r)
}

fn status_flow(
    state: &SimState,
    by_trace: bool,
    id: &str,
    headers: &HeaderMap,
    ans: &Answer,
) -> Result<Response, Stop> {
    let bearer = tokens(state, headers, None)?;
    // By workflowInstanceId: the id, then the bearer's region, both before the lookup.
    let mine = if by_trace {
        None
    } else {
        if id == "UNKNOWN_WORKFLOW_ID" {
            return Err(err(Kind::Wii, "Il wii non è valido", "/invalid-id").into());
        }
        let sub = bearer.string("sub").unwrap_or_default();
        let Some(mine) = region_of(&sub) else {
            return Err(unverifiable_sub(ans));
        };
        Some(mine)
    };
    let store = state
        .store
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let events = if by_trace {
        store.events_for_trace(id, state.now_ms())
    } else {
        store.events_for_wii(id, state.now_ms())
    };
    if events.is_empty() {
        return Err(Stop::Ready(Box::new(status_not_found())));
    }
    if let Some(mine) = mine
        && !events
            .iter()
            .any(|e| e.issuer.as_deref().and_then(region_of).as_deref() == Some(mine.as_str()))
    {
        return Err(err(
            Kind::Unauthorized,
            "Mismatch sub/issuer",
            "/msg/invalid-issuer-sub",
        )
        .into());
    }
    let body = serde_json::json!({ "traceID": ans.trace_id, "spanID": ans.span_id, "transactionData": events });
    Ok(respond::json_response(
        StatusCode::OK,
        &body,
        "application/json",
    ))
}

/// The region of a `sub` or `iss`: the first three characters of its second `#` field.
fn region_of(s: &str) -> Option<String> {
    s.split('#')
        .nth(1)
        .map(|r| r.chars().take(3).collect::<String>())
}

/// A bearer `sub` without a region: HTTP 401 whose body says `status` 400 (review S5,
/// live it-fse-support #2508).
fn unverifiable_sub(ans: &Answer) -> Stop {
    let e = err(
        Kind::MandatoryElementToken,
        "Token JWT non valido.",
        "/missing-jwt",
    );
    let (status, mut body) = ans.error_body(&e);
    body["status"] = 400.into();
    Stop::Ready(Box::new(respond::json_response(
        status,
        &body,
        "application/problem+json",
    )))
}

/// No event for the id: the status service's own 404, passed on by the dispatcher (review
/// S4, live it-fse-support #1493).
fn status_not_found() -> Response {
    let body = gateway_contract::problem::status_not_found_body();
    respond::json_response(StatusCode::NOT_FOUND, &body, "application/problem+json")
}

pub(crate) fn content_type(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
}
