//! The legacy regional SOAP services, one path per ASL (`/<asl>/<Service>`), SOAP 1.1 as
//! the SIST services (1.2 accepted). Today: `IGestoreConsensoService` ([`consent`]),
//! `ITaccuinoService` ([`notebook`]) and the consultation operations of `IDocumentService`
//! ([`document`]).
//!
//! Callers are authenticated like producers (verified client certificate, registered and
//! enabled CN); every call is an audit row (`operation` = `<Service>.<operation>`) with the
//! transaction header, and counted in `fsemw_soap_calls_total`. Business refusals are SOAP
//! faults with a six-digit code in `faultcode` (`env:E…`), as observed on the SIST services.
//! Every call carries a signed SAML identity assertion and the operator's smart-card
//! signature ([`security`]); the patient of the request must be the assertion's.

pub mod consent;
pub mod document;
pub mod fault_code;
pub mod notebook;
pub mod publication;
pub mod security;

use crate::db::outcome::Outcome;
pub use fault_code::FaultCode;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::any;
use http::{Request, StatusCode, header};
use soap_wsdl::SoapVersion;

use crate::audit::TxContext;
use crate::db::transactions::TransactionRecord;
use crate::front_door::{Caller, Transaction, hand_back};
use crate::startup::AppState;
use crate::xds_service::soap_io;

/// Namespace and action prefix of the SIST services.
pub const SIST: &str = "http://www.sist.puglia.it/Schemas/PDD_SIST/SCATEL/FSE";

/// The context of one call.
#[derive(Debug)]
pub struct Call<'a> {
    /// Shared state.
    pub state: &'a AppState,
    /// ASL of the endpoint.
    pub asl: &'a str,
    /// The calling application's registry entry.
    pub producer: &'a crate::db::producers::Producer,
    /// The transaction.
    pub tx: &'a TxContext,
    /// The verified caller (assertion and smart card).
    pub caller: &'a security::Caller,
}

impl Call<'_> {
    /// The request's `codiceFiscalePaziente`: a fiscal code, the assertion's patient;
    /// recorded (hashed) on the audit row.
    pub fn patient(
        &self,
        payload: roxmltree::Node<'_, '_>,
        rec: &mut crate::db::transactions::TransactionRecord,
    ) -> Result<String, ServiceFault> {
        let cf = consent::fiscal_code(payload, "codiceFiscalePaziente")?;
        rec.patient_cf_hmac = Some(self.state.cf_hasher.hash(&cf));
        self.caller.same_patient(&cf)?;
        Ok(cf)
    }

    /// A failure of the middleware while serving the call, logged, answered with the
    /// transaction id: `E000503` when a dependency is unreachable for now (the database,
    /// the regional keys) so that the caller tries again, else `E000500`.
    pub fn failure(&self, what: &str, e: impl Failure) -> ServiceFault {
        tracing::error!(tx = %self.tx.id, error = %e, "{what}");
        if e.unavailable() {
            ServiceFault::new(
                FaultCode::Unavailable,
                format!(
                    "servizio regionale temporaneamente non disponibile (transazione {}): ripetere la richiesta",
                    self.tx.id
                ),
            )
        } else {
            ServiceFault::new(
                FaultCode::Internal,
                format!("errore interno (transazione {})", self.tx.id),
            )
        }
    }
}

/// The cause of a failure met while serving a call.
pub trait Failure: std::fmt::Display {
    /// Whether it is a dependency unreachable for now rather than a defect.
    fn unavailable(&self) -> bool {
        false
    }
}

impl Failure for crate::db::DbError {
    fn unavailable(&self) -> bool {
        self.is_unavailable()
    }
}

impl Failure for xds::Error {
    fn unavailable(&self) -> bool {
        self.is_unavailable()
    }
}

impl Failure for crate::problem::MwError {
    fn unavailable(&self) -> bool {
        self.is_unavailable()
    }
}

impl Failure for tokio_postgres::Error {
    fn unavailable(&self) -> bool {
        xds::store::unreachable(self)
    }
}

impl Failure for deadpool_postgres::PoolError {
    fn unavailable(&self) -> bool {
        true
    }
}

impl Failure for hsm::Error {}
impl Failure for axum::Error {}
impl Failure for http::header::InvalidHeaderValue {}
impl Failure for serde_json::Error {}

/// A business refusal: `faultcode` `env:<code>` and its text.
#[derive(Debug)]
pub struct ServiceFault {
    /// The code (`E000101`).
    pub code: FaultCode,
    /// What is wrong.
    pub reason: String,
}

impl ServiceFault {
    /// A refusal.
    pub fn new(code: FaultCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// The services.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// Consents.
    Consent,
    /// Documents (publication, consultation).
    Document,
    /// The patient's notebook.
    Notebook,
}

impl Service {
    /// The path segment and service name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Consent => "IGestoreConsensoService",
            Self::Document => "IDocumentService",
            Self::Notebook => "ITaccuinoService",
        }
    }

    /// The interface name in fault actions (`IDocument`, as observed).
    pub fn interface(self) -> &'static str {
        self.name().trim_end_matches("Service")
    }

    fn wsdl(self) -> &'static str {
        match self {
            Self::Consent => soap_wsdl::wsdl::CONSENT_SERVICE,
            Self::Document => soap_wsdl::wsdl::DOCUMENT_SERVICE,
            Self::Notebook => soap_wsdl::wsdl::NOTEBOOK_SERVICE,
        }
    }
}

/// Adds `/<asl>/<Service>` for every configured ASL and service.
pub fn routes(mut router: Router, state: Arc<AppState>, asls: &[String]) -> Router {
    for asl in asls {
        for service in [Service::Consent, Service::Document, Service::Notebook] {
            let (s, a) = (state.clone(), asl.clone());
            router = router.route(
                &format!("/{asl}/{}", service.name()),
                any(
                    move |txn: Transaction, caller: Caller, req: Request<Body>| {
                        serve(s, a, service, txn, caller, req)
                    },
                ),
            );
        }
    }
    router
}

/// The caller's identity, verified on the CPU pool (libxml2 canonicalisation and RSA): the
/// envelope is read again there, its trees (not `Send`) living only on that thread.
async fn identify_on_pool(
    state: &Arc<AppState>,
    envelope: &str,
    limits: soap_wsdl::hardened::Limits,
    service: Service,
    operation: &str,
) -> Result<security::Caller, ServiceFault> {
    let (st, text, op) = (state.clone(), envelope.to_string(), operation.to_string());
    let job = move || {
        let doc = soap_wsdl::hardened::parse(&text, limits)
            .map_err(|e| ServiceFault::new(FaultCode::Assertion, e.to_string()))?;
        security::identify(
            &st.soap_trust,
            &crate::xmldsig::SignedDocument::new(&text, &doc),
            service,
            &op,
            time::OffsetDateTime::now_utc(),
        )
    };
    match state
        .cpu
        .run(crate::cpu_pool::Work::SoapIdentity, job)
        .await
    {
        Ok(identified) => identified,
        Err(e) => Err(ServiceFault::new(FaultCode::Internal, e.to_string())),
    }
}

/// One call of a legacy service: the service description on `GET ?wsdl`, else the
/// envelope read, the caller identified and the operation served.
async fn serve(
    state: Arc<AppState>,
    asl: String,
    service: Service,
    txn: Transaction,
    caller: Caller,
    req: Request<Body>,
) -> Response {
    let Transaction { tx, mut row } = txn;
    row.operation = service.name().to_string();
    if let Some(host) = soap_io::wsdl_request_host(&req) {
        row.operation = format!("{}.wsdl", service.name());
        row.outcome = Outcome::Success;
        return hand_back(row, description(&asl, service, &host));
    }
    let response = match caller.producer {
        Ok(producer) => {
            let endpoint = Endpoint {
                state: &state,
                asl: &asl,
                service,
                producer: &producer,
                tx: &tx,
            };
            endpoint.answer(req, &mut row).await
        }
        Err(e) => {
            row.outcome = Outcome::Fault;
            soap_io::fault_response(
                SoapVersion::V11,
                StatusCode::UNAUTHORIZED,
                Some("wsse:FailedAuthentication"),
                &e.to_string(),
            )
        }
    };
    state
        .metrics
        .soap_calls
        .with_label_values(&[row.operation.as_str(), row.outcome.as_str()])
        .inc();
    hand_back(row, response)
}

/// The service's WSDL with this endpoint's address.
fn description(asl: &str, service: Service, host: &str) -> Response {
    let text = soap_wsdl::wsdl::render(
        service.wsdl(),
        &[
            (
                "ADDRESS",
                &format!("https://{host}/{asl}/{}", service.name()),
            ),
            ("ASL", asl),
        ],
    );
    Response::builder()
        .header(header::CONTENT_TYPE, "text/xml; charset=UTF-8")
        .body(Body::from(text))
        .expect("valid response")
}

/// An authenticated caller's call on one service of one ASL.
struct Endpoint<'a> {
    state: &'a Arc<AppState>,
    asl: &'a str,
    service: Service,
    producer: &'a crate::db::producers::Producer,
    tx: &'a TxContext,
}

impl Endpoint<'_> {
    /// Reads the envelope, serves its operation, answers with its response or its fault.
    async fn answer(&self, req: Request<Body>, row: &mut TransactionRecord) -> Response {
        let unreadable = |row: &mut TransactionRecord, status, reason: &str| {
            row.outcome = Outcome::Fault;
            soap_io::fault_response(SoapVersion::V11, status, None, reason)
        };
        let incoming = match self.receive(req).await {
            Ok(i) => i,
            Err((status, reason)) => return unreadable(row, status, &reason),
        };
        let limits = soap_wsdl::hardened::Limits {
            max_bytes: self.state.max_body as usize,
            ..Default::default()
        };
        let doc = match soap_wsdl::hardened::parse(&incoming.envelope, limits) {
            Ok(d) => d,
            Err(e) => return unreadable(row, StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let env = match soap_wsdl::envelope::parse_envelope(&doc) {
            Ok(e) => e,
            Err(e) => return unreadable(row, StatusCode::BAD_REQUEST, &e.to_string()),
        };
        let operation = env
            .action
            .clone()
            .or(incoming.header_action.clone())
            .and_then(|a| a.rsplit('/').next().map(str::to_string))
            .unwrap_or_else(|| env.payload.tag_name().name().to_string());
        row.operation = format!("{}.{operation}", self.service.name());
        let handled = self
            .perform(&incoming.envelope, limits, &operation, env.payload, row)
            .await;
        self.reply(&env, &operation, handled, row)
    }

    /// The whole body (within the limit) and the envelope in it (MTOM or plain).
    async fn receive(&self, req: Request<Body>) -> Result<soap_io::Incoming, (StatusCode, String)> {
        let (parts, body) = req.into_parts();
        let bytes = soap_io::read_body(self.state, body)
            .await
            .map_err(|f| (f.status(), f.reason().to_string()))?;
        soap_io::read(&parts.headers, bytes)
            .await
            .map_err(|e| (StatusCode::BAD_REQUEST, e.0))
    }

    /// The caller identified (assertion, smart card) and the operation served.
    async fn perform(
        &self,
        envelope: &str,
        limits: soap_wsdl::hardened::Limits,
        operation: &str,
        payload: roxmltree::Node<'_, '_>,
        row: &mut TransactionRecord,
    ) -> Result<String, ServiceFault> {
        if payload.tag_name().name() != operation {
            return Err(ServiceFault::new(
                FaultCode::UnknownOperation,
                format!(
                    "operazione {operation} con corpo {}",
                    payload.tag_name().name()
                ),
            ));
        }
        let caller =
            identify_on_pool(self.state, envelope, limits, self.service, operation).await?;
        let call = Call {
            state: self.state,
            asl: self.asl,
            producer: self.producer,
            tx: self.tx,
            caller: &caller,
        };
        match self.service {
            Service::Consent => consent::handle(&call, operation, payload, row).await,
            Service::Document => document::handle(&call, operation, payload, row).await,
            Service::Notebook => notebook::handle(&call, operation, payload, row).await,
        }
    }

    /// The operation's response, or its fault (`env:E…`) on the interface's fault action.
    fn reply(
        &self,
        env: &soap_wsdl::envelope::Envelope<'_, '_>,
        operation: &str,
        handled: Result<String, ServiceFault>,
        row: &mut TransactionRecord,
    ) -> Response {
        let version = env.version;
        match handled {
            Ok(body) => {
                // A publication the outbox holds stays `queued`, as on its audit row.
                if row.outcome != Outcome::Queued {
                    row.outcome = Outcome::Success;
                }
                let action = format!("{SIST}/{operation}Response");
                let envelope =
                    soap_wsdl::write::envelope(version, &action, env.message_id.as_deref(), &body);
                soap_io::answer(version, envelope, false, &[])
            }
            Err(f) => {
                // Identity, smart card, patient, purpose, organisation: E00023x.
                if f.code.is_identity() {
                    self.state
                        .metrics
                        .refusals
                        .with_label_values(&["soap_identity"])
                        .inc();
                }
                row.outcome = Outcome::Fault;
                row.problem_type = Some(f.code.to_string());
                row.problem_title = Some(f.reason.clone());
                let action = format!(
                    "{SIST}/{}/{operation}/Fault/SOAPFaultException",
                    self.service.interface()
                );
                let text = soap_wsdl::write::service_fault(
                    version,
                    &action,
                    env.message_id.as_deref(),
                    &format!("env:{}", f.code),
                    &f.reason,
                );
                soap_io::fault_body(version, StatusCode::BAD_REQUEST, text)
            }
        }
    }
}
