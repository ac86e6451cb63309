//! The regional XDS registry and the ASL repositories over SOAP 1.2 (1.1 accepted):
//! `/xds/registry` (ITI-18, ITI-42, ITI-57, ITI-62 and INI's delete action) and
//! `/xds/repository/<name>` (ITI-41, ITI-43), WSDLs at `?wsdl`.
//!
//! Callers are authenticated like producers (verified client certificate, registered
//! and enabled CN) and every call is a row of the audit trail. Business errors travel
//! in the RegistryResponse with IHE codes; SOAP faults are for what is not a readable
//! SOAP request (envelope, addressing, authentication, size).

pub mod registry_endpoint;
pub mod repository_endpoint;
pub mod soap_io;
mod wsdl;

use crate::db::outcome::Outcome;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::any;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use soap_wsdl::SoapVersion;
use xds::registry_error::{ErrorCode, RegistryError};
use xds::store::{Registry, Repository};

use crate::audit::TxContext;
use crate::config::{RepositoryConfig, XdsConfig};
use crate::db::transactions::TransactionRecord;
use crate::front_door::{Caller, Transaction, hand_back};
use crate::problem::MwError;
use crate::startup::AppState;

/// Registry and repositories, with their configuration.
#[derive(Debug)]
pub struct XdsService {
    /// Registry store.
    pub registry: Registry,
    /// Repository content store.
    pub repository: Repository,
    /// Configured repositories.
    pub repositories: Vec<RepositoryConfig>,
    /// `homeCommunityId` for responses.
    pub home: Option<String>,
}

/// Which endpoint a request reached.
#[derive(Debug, Clone, Copy)]
pub enum Endpoint {
    /// `/xds/registry`.
    Registry,
    /// `/xds/repository/<name>`: index in the configuration.
    Repository(usize),
}

/// A transaction's answer.
#[derive(Debug)]
pub(crate) struct Reply {
    /// Transaction name for the audit trail and metrics (`ITI-41`…).
    pub transaction: &'static str,
    /// `wsa:Action` of the response.
    pub action: &'static str,
    /// Response body element.
    pub body: String,
    /// MTOM parts.
    pub parts: Vec<(String, String, Bytes)>,
    /// Errors reported inside the body (decide the outcome).
    pub errors: Vec<RegistryError>,
    /// Document unique id concerned, for the audit trail.
    pub document_id: Option<String>,
}

/// A request that is not a readable SOAP call.
#[derive(Debug)]
pub(crate) struct Fault {
    status: StatusCode,
    subcode: Option<&'static str>,
    reason: String,
}

impl Fault {
    pub(crate) fn new(status: StatusCode, subcode: Option<&'static str>, reason: String) -> Self {
        Self {
            status,
            subcode,
            reason,
        }
    }

    /// HTTP status of the fault.
    pub(crate) fn status(&self) -> StatusCode {
        self.status
    }

    /// Why.
    pub(crate) fn reason(&self) -> &str {
        &self.reason
    }

    pub(crate) fn sender(subcode: Option<&'static str>, reason: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            subcode,
            reason: reason.into(),
        }
    }
}

// === impl XdsService ===

impl XdsService {
    /// The service over the middleware's pool.
    pub fn new(pool: deadpool_postgres::Pool, config: &XdsConfig) -> Self {
        Self {
            registry: Registry::new(pool.clone()),
            repository: Repository::new(pool),
            repositories: config.repositories.clone(),
            home: config.home_community_id.clone(),
        }
    }

    fn endpoint_name(&self, e: Endpoint) -> &str {
        match e {
            Endpoint::Registry => "registry",
            Endpoint::Repository(i) => &self.repositories[i].name,
        }
    }
}

/// Adds the XDS routes.
pub fn routes(mut router: Router, state: Arc<AppState>) -> Router {
    let s = state.clone();
    router = router.route(
        "/xds/registry",
        any(
            move |txn: Transaction, caller: Caller, req: Request<Body>| {
                serve(s, Endpoint::Registry, txn, caller, req)
            },
        ),
    );
    for (i, r) in state.xds.repositories.iter().enumerate() {
        let s = state.clone();
        router = router.route(
            &format!("/xds/repository/{}", r.name),
            any(
                move |txn: Transaction, caller: Caller, req: Request<Body>| {
                    serve(s, Endpoint::Repository(i), txn, caller, req)
                },
            ),
        );
    }
    router
}

/// An internal failure as IHE reports it (`XDSRegistryError`, "Internal Error").
pub(crate) fn internal(tx: &TxContext, what: &str, e: &xds::Error) -> RegistryError {
    tracing::error!(tx = %tx.id, error = %e, "{what}");
    RegistryError::new(
        ErrorCode::RegistryError,
        format!("Internal Error (transaction {})", tx.id),
    )
}

/// One call of the registry or a repository: the WSDL on `GET ?wsdl`, else the
/// transaction its `wsa:Action` names; counted by transaction, endpoint and outcome.
async fn serve(
    state: Arc<AppState>,
    endpoint: Endpoint,
    txn: Transaction,
    caller: Caller,
    req: Request<Body>,
) -> Response {
    let Transaction { tx, row: mut rec } = txn;
    rec.operation = "xds".into();
    if let Some(host) = soap_io::wsdl_request_host(&req) {
        rec.operation = "xds.wsdl".into();
        rec.outcome = Outcome::Success;
        return hand_back(rec, wsdl::response(&state, endpoint, &host));
    }
    let name = state.xds.endpoint_name(endpoint).to_string();
    let (response, transaction, outcome) =
        match run(&state, endpoint, caller.producer, &mut rec, &tx, req).await {
            Ok((version, mtom, relates_to, reply)) => {
                let outcome = outcome_of(&reply);
                rec.outcome = outcome;
                rec.document_id = reply.document_id.clone();
                if let Some(e) = reply.errors.first() {
                    rec.problem_type = Some(e.code.as_str().into());
                    rec.problem_title = Some(e.context.chars().take(200).collect());
                }
                let envelope = soap_wsdl::write::envelope(
                    version,
                    reply.action,
                    relates_to.as_deref(),
                    &reply.body,
                );
                (
                    soap_io::answer(version, envelope, mtom, &reply.parts),
                    reply.transaction,
                    outcome,
                )
            }
            Err((version, fault)) => {
                rec.outcome = Outcome::Fault;
                rec.problem_type = fault.subcode.map(str::to_string);
                rec.problem_title = Some(fault.reason.chars().take(200).collect());
                (
                    soap_io::fault_response(version, fault.status, fault.subcode, &fault.reason),
                    "unknown",
                    Outcome::Fault,
                )
            }
        };
    // A call that never named its transaction (refused, unreadable) stays `xds` on its row.
    if transaction != "unknown" {
        rec.operation = transaction.to_string();
    }
    state
        .metrics
        .xds_transactions
        .with_label_values(&[transaction, &name, outcome.as_str()])
        .inc();
    hand_back(rec, response)
}

fn outcome_of(reply: &Reply) -> Outcome {
    match (
        reply.errors.iter().all(|e| e.warning),
        reply.parts.is_empty(),
    ) {
        (true, _) => Outcome::Success,
        (false, false) => Outcome::Partial,
        (false, true) => Outcome::Failure,
    }
}

type Answer = (SoapVersion, bool, Option<String>, Reply);

async fn run(
    state: &AppState,
    endpoint: Endpoint,
    producer: Result<crate::db::producers::Producer, MwError>,
    rec: &mut TransactionRecord,
    tx: &TxContext,
    req: Request<Body>,
) -> Result<Answer, (SoapVersion, Fault)> {
    let v12 = SoapVersion::V12;
    if let Err(e) = producer {
        let (status, _, _) = e.parts();
        let status = if status.is_server_error() {
            status
        } else {
            StatusCode::UNAUTHORIZED
        };
        return Err((
            v12,
            Fault {
                status,
                subcode: Some("wsse:FailedAuthentication"),
                reason: e.to_string(),
            },
        ));
    }
    if req.method() != Method::POST {
        return Err((
            v12,
            Fault::sender(None, "use POST with a SOAP envelope, or GET ?wsdl"),
        ));
    }
    let (parts, body) = req.into_parts();
    let bytes = soap_io::read_body(state, body)
        .await
        .map_err(|f| (v12, f))?;
    rec.file_bytes = Some(bytes.len() as i64);
    let incoming = soap_io::read(&parts.headers, bytes)
        .await
        .map_err(|e| (v12, Fault::sender(None, e.0)))?;
    let limits = soap_wsdl::hardened::Limits {
        max_bytes: state.max_body as usize,
        ..Default::default()
    };
    let doc = soap_wsdl::hardened::parse(&incoming.envelope, limits)
        .map_err(|e| (v12, Fault::sender(None, e.to_string())))?;
    let env = soap_wsdl::envelope::parse_envelope(&doc)
        .map_err(|e| (v12, Fault::sender(None, e.to_string())))?;
    let version = env.version;
    let Some(action) = env.action.clone().or(incoming.header_action.clone()) else {
        return Err((
            version,
            Fault::sender(
                Some("wsa:MessageAddressingHeaderRequired"),
                "wsa:Action is missing",
            ),
        ));
    };
    let reply = match endpoint {
        Endpoint::Registry => registry_endpoint::handle(state, tx, &action, env.payload).await,
        Endpoint::Repository(i) => {
            repository_endpoint::handle(state, tx, i, &action, env.payload, &incoming.parts).await
        }
    }
    .map_err(|f| (version, f))?;
    Ok((version, incoming.mtom, env.message_id.clone(), reply))
}
