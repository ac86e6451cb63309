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
use crate::forward::handler::{authenticate, finish, with_transaction_header};
use crate::server::identity::ClientIdentity;
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
                any(move |req: Request<Body>| serve(s, a, service, req)),
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

async fn serve(
    state: Arc<AppState>,
    asl: String,
    service: Service,
    req: Request<Body>,
) -> Response {
    if let Some(host) = soap_io::wsdl_request_host(&req) {
        let text = soap_wsdl::wsdl::render(
            service.wsdl(),
            &[
                (
                    "ADDRESS",
                    &format!("https://{host}/{asl}/{}", service.name()),
                ),
                ("ASL", &asl),
            ],
        );
        return Response::builder()
            .header(header::CONTENT_TYPE, "text/xml; charset=UTF-8")
            .body(Body::from(text))
            .expect("valid response");
    }
    let tx = TxContext::start();
    let identity = ClientIdentity::of(&req);
    let path = req.uri().path().to_string();
    let mut rec = tx.record(
        service.name(),
        req.method().as_str(),
        &path,
        state.certificate_case,
    );
    let v11 = SoapVersion::V11;
    let fault = |version, status, code: Option<&str>, reason: &str| {
        soap_io::fault_response(version, status, code, reason)
    };
    let response = 'answer: {
        let producer = match authenticate(&state, &identity, &mut rec).await {
            Ok(p) => p,
            Err(e) => {
                rec.outcome = Outcome::Fault;
                break 'answer fault(
                    v11,
                    StatusCode::UNAUTHORIZED,
                    Some("wsse:FailedAuthentication"),
                    &e.to_string(),
                );
            }
        };
        let (parts, body) = req.into_parts();
        let bytes = match soap_io::read_body(&state, body).await {
            Ok(b) => b,
            Err(f) => {
                rec.outcome = Outcome::Fault;
                break 'answer fault(v11, f.status(), None, f.reason());
            }
        };
        let incoming = match soap_io::read(&parts.headers, bytes).await {
            Ok(i) => i,
            Err(e) => break 'answer fault(v11, StatusCode::BAD_REQUEST, None, &e.0),
        };
        let limits = soap_wsdl::hardened::Limits {
            max_bytes: state.max_body as usize,
            ..Default::default()
        };
        let doc = match soap_wsdl::hardened::parse(&incoming.envelope, limits) {
            Ok(d) => d,
            Err(e) => {
                rec.outcome = Outcome::Fault;
                break 'answer fault(v11, StatusCode::BAD_REQUEST, None, &e.to_string());
            }
        };
        let env = match soap_wsdl::envelope::parse_envelope(&doc) {
            Ok(e) => e,
            Err(e) => {
                rec.outcome = Outcome::Fault;
                break 'answer fault(v11, StatusCode::BAD_REQUEST, None, &e.to_string());
            }
        };
        let version = env.version;
        let operation = env
            .action
            .clone()
            .or(incoming.header_action.clone())
            .and_then(|a| a.rsplit('/').next().map(str::to_string))
            .unwrap_or_else(|| env.payload.tag_name().name().to_string());
        rec.operation = format!("{}.{operation}", service.name());
        let handled = if env.payload.tag_name().name() != operation {
            Err(ServiceFault::new(
                FaultCode::UnknownOperation,
                format!(
                    "operazione {operation} con corpo {}",
                    env.payload.tag_name().name()
                ),
            ))
        } else {
            match identify_on_pool(&state, &incoming.envelope, limits, service, &operation).await {
                Err(f) => Err(f),
                Ok(caller) => {
                    let call = Call {
                        state: &state,
                        asl: &asl,
                        producer: &producer,
                        tx: &tx,
                        caller: &caller,
                    };
                    match service {
                        Service::Consent => {
                            consent::handle(&call, &operation, env.payload, &mut rec).await
                        }
                        Service::Document => {
                            document::handle(&call, &operation, env.payload, &mut rec).await
                        }
                        Service::Notebook => {
                            notebook::handle(&call, &operation, env.payload, &mut rec).await
                        }
                    }
                }
            }
        };
        match handled {
            Ok(body) => {
                // A publication the outbox holds stays `queued`, as on its audit row.
                if rec.outcome != Outcome::Queued {
                    rec.outcome = Outcome::Success;
                }
                let action = format!("{SIST}/{operation}Response");
                let envelope =
                    soap_wsdl::write::envelope(version, &action, env.message_id.as_deref(), &body);
                soap_io::answer(version, envelope, false, &[])
            }
            Err(f) => {
                // Identity, smart card, patient, purpose, organisation: E00023x.
                if f.code.is_identity() {
                    state
                        .metrics
                        .refusals
                        .with_label_values(&["soap_identity"])
                        .inc();
                }
                rec.outcome = Outcome::Fault;
                rec.problem_type = Some(f.code.to_string());
                rec.problem_title = Some(f.reason.clone());
                let action = format!(
                    "{SIST}/{}/{operation}/Fault/SOAPFaultException",
                    service.interface()
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
    };
    state
        .metrics
        .soap_calls
        .with_label_values(&[rec.operation.as_str(), rec.outcome.as_str()])
        .inc();
    let header_name = state.tx_header.clone();
    let resp = finish(&state, rec, response, &tx).await;
    with_transaction_header(resp, &header_name, &tx)
}
