//! The national gateway simulator (`fsemw-dev gateway-sim`), a library of its own: the
//! production binary `fsemw` never links it.
//!
//! The real gateway cannot be reached from development and CI machines, so this
//! module serves its contract over mutual TLS: GovWay frontier checks on both
//! tokens, the dispatcher's validation pipeline (steps 1–8: claims, coherence,
//! body, file, CDA extraction, JWT↔CDA), the single-use validation record with
//! its 5-day limit, `attachment_hash`, INI-like document state, status events,
//! and the gateway's error documents and status codes.
//!
//! XSD, schematron and vocabulary checks plug in through [`CdaValidator`]; until
//! the validation engine lands, [`NoSchemaValidation`] accepts every document.
//!
//! - [`respond`]: the contract's answers as responses; the GovWay frontier's errors.
//! - [`jwt_checks`]: frontier and dispatcher token checks.
//! - [`request`]: multipart form and body DTO rules.
//! - [`handlers`]: the operations.
//! - [`store`]: records, documents, events.
//! - [`faults`]: fault injection.
//! - [`fiscal_code`]: Italian fiscal-code check character.
//! - [`push`]: the status notifications pushed to a publication's `X-Callback-Url`.
//! - [`pades`]: the publication's signature check (its CMS verified by `cms`, read by `der`).

pub mod accreditation;
pub mod clock;
mod cms;
mod der;
pub mod faults;
pub mod fhir;
pub mod fiscal_code;
pub mod handlers;
pub mod jwt_checks;
pub mod media;
pub mod openapi;
pub mod pades;
pub mod push;
pub mod request;
pub mod respond;
pub mod store;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, RawPathParams, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, post};
use bytes::Bytes;
use hsm::Certificate;
use http::{HeaderMap, StatusCode};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use cda_validation::stage::{CdaValidator, NoSchemaValidation, ValidatorVerdict};
use faults::{FaultConfig, FaultMode, Faults};
use gateway_contract::operation::Operation;
use middleware::server::accept::{ConnectionFate, ConnectionHooks, serve_plain, serve_tls};
use middleware::server::tls::strict_server_config;
use store::Store;

/// Operations whose tokens the dispatcher checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimOp {
    /// Validation and FHIR validation.
    Validation,
    /// Create.
    Create,
    /// Replace.
    Replace,
    /// Validate-and-create.
    ValidateAndCreate,
    /// Validate-and-replace.
    ValidateAndReplace,
    /// Metadata updates.
    Metadata,
    /// Delete.
    Delete,
}

/// The simulator's connections: named by the client certificate's CN; the network faults
/// in force refuse them, drop them after the handshake, or cut the open ones (outages).
struct SimConnections(Arc<SimState>);

impl ConnectionHooks for SimConnections {
    type Info = TlsClient;

    fn describe(&self, conn: &rustls::ServerConnection, _: SocketAddr) -> TlsClient {
        let cn = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .and_then(|c| Certificate::from_der(c.clone().into_owned()).ok())
            .map(|c| c.subject_cn().to_string())
            .unwrap_or_default();
        TlsClient(cn)
    }

    fn fate(&self) -> ConnectionFate {
        match self.0.faults.get().mode {
            FaultMode::Down => ConnectionFate::Refuse,
            FaultMode::Reset => ConnectionFate::DropAfterHandshake,
            _ => ConnectionFate::Serve,
        }
    }

    fn cuts(&self) -> Option<watch::Receiver<u64>> {
        Some(self.0.faults.outages())
    }
}

/// Simulator settings (`fsemw-dev gateway-sim --help`).
#[derive(Debug, Clone, clap::Args)]
pub struct SimOptions {
    /// HTTPS (mutual TLS) address.
    #[arg(long, default_value = "127.0.0.1:9443")]
    pub listen: String,
    /// Admin address (plain HTTP: faults, clock, observed requests).
    #[arg(long, default_value = "127.0.0.1:9444")]
    pub admin_listen: String,
    /// Server certificate chain (PEM).
    #[arg(long)]
    pub cert: String,
    /// Server private key (PEM).
    #[arg(long)]
    pub key: String,
    /// CA bundle that client (regional authentication) certificates must chain to.
    #[arg(long)]
    pub client_ca: String,
    /// CA bundle(s) that JWT `x5c` certificates must chain to.
    #[arg(long, required = true)]
    pub jwt_ca: Vec<String>,
    /// Expected `aud` of every token (unchecked when absent).
    #[arg(long)]
    pub audience: Option<String>,
    /// Base path of the API.
    #[arg(long, default_value = "/v1")]
    pub base_path: String,
    /// Rules folder (schemas/, terminology/) for XSD, schematron and vocabulary;
    /// without it those stages are skipped.
    #[arg(long, env = "FSEMW_RULES_DIR")]
    pub rules: Option<std::path::PathBuf>,
    /// Turn off the test environment's accreditation simulation (`accreditation.enable-check`,
    /// on by default as in the dispatcher: document-id prefixes, the replaced document's
    /// events looked up first).
    #[arg(long)]
    pub no_accreditation_check: bool,
    /// Milliseconds between the asynchronous steps of an accepted publication (`SEND_TO_INI`,
    /// `SEND_TO_EDS`, `SEND_TO_UAR`, `UAR_FINAL_STATUS`), on the simulator's clock.
    #[arg(long, default_value_t = 1000)]
    pub async_delay_ms: i64,
    /// The API's published OpenAPI (YAML or JSON), against which GovWay validates each
    /// request before the dispatcher sees it (`InvalidRequestContent`); without it the
    /// simulator has GovWay's content validation off.
    #[arg(long, env = "FSEMW_GTW_OPENAPI")]
    pub openapi: Option<std::path::PathBuf>,
    /// Client certificate (PEM) the simulator presents when it pushes workflow status to a
    /// publication's `X-Callback-Url` (with `--push-key` and `--push-ca`; without them it
    /// does not push).
    #[arg(long)]
    pub push_cert: Option<String>,
    /// Its key (PEM).
    #[arg(long)]
    pub push_key: Option<String>,
    /// CA (PEM) trusted for the callback servers (the regions' touchpoints).
    #[arg(long)]
    pub push_ca: Option<String>,
}

/// What the simulator saw of one request (for tests and operators).
#[derive(Debug, Clone, Serialize)]
pub struct Observed {
    /// CN of the TLS client certificate.
    pub tls_client_cn: String,
    /// Method and path.
    pub request: String,
    /// `Authorization` header.
    pub authorization: Option<String>,
    /// `FSE-JWT-Signature` header.
    pub signature: Option<String>,
    /// SHA-256 (hex) of the body.
    pub body_sha256: String,
    /// HTTP status answered.
    pub response_status: u16,
    /// SHA-256 (hex) of the answer body.
    pub response_sha256: String,
}

/// How many requests `/observed` remembers.
const OBSERVED_KEPT: usize = 10_000;

/// Shared simulator state.
pub struct SimState {
    /// Trust anchors for `x5c`.
    pub jwt_roots: Vec<Certificate>,
    /// Expected `aud`.
    pub audience: Option<String>,
    /// Steps 9–11.
    pub validator: Arc<dyn CdaValidator>,
    /// Records, documents, events.
    pub store: Mutex<Store>,
    /// Fault in force.
    pub faults: Faults,
    /// Seconds added to the dispatcher's clock (ages validation records; tokens keep real time).
    pub clock_offset: AtomicI64,
    /// Last requests seen.
    pub observed: Mutex<VecDeque<Observed>>,
    /// The accreditation simulation (`gateway_sim::accreditation`) is on.
    pub accreditation_check: bool,
    /// Milliseconds between the asynchronous steps of a publication.
    pub async_delay_ms: i64,
    /// GovWay's request validation, when on.
    pub openapi: Option<openapi::RequestContract>,
    /// The client of the status pushes, when configured.
    pub pusher: Option<push::Pusher>,
    /// What is done to the pushes.
    pub push_faults: push::PushFaults,
}

// === impl SimState ===

impl SimState {
    /// The simulator's clock, unix seconds.
    pub fn now(&self) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + self.clock_offset.load(Ordering::Relaxed)
    }

    /// The simulator's clock, unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        let real = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        real as i64 + self.clock_offset.load(Ordering::Relaxed) * 1000
    }
}

/// The TLS client of one connection.
#[derive(Debug, Clone)]
struct TlsClient(String);

/// A bound simulator.
pub struct GatewaySim {
    state: Arc<SimState>,
    listener: TcpListener,
    admin: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    base_path: String,
}

// === impl GatewaySim ===

impl GatewaySim {
    /// Loads certificates and binds both listeners.
    pub async fn build(
        opts: &SimOptions,
        validator: Arc<dyn CdaValidator>,
    ) -> anyhow::Result<Self> {
        let tls = strict_server_config(&opts.cert, &opts.key, &opts.client_ca)?;
        let mut jwt_roots = Vec::new();
        for path in &opts.jwt_ca {
            jwt_roots.extend(Certificate::load_pem_chain(path)?);
        }
        let state = Arc::new(SimState {
            jwt_roots,
            audience: opts.audience.clone(),
            validator,
            store: Mutex::new(Store::default()),
            faults: Faults::default(),
            clock_offset: AtomicI64::new(0),
            observed: Mutex::new(VecDeque::new()),
            accreditation_check: !opts.no_accreditation_check,
            async_delay_ms: opts.async_delay_ms,
            openapi: opts
                .openapi
                .as_deref()
                .map(openapi::RequestContract::load)
                .transpose()?,
            pusher: match (&opts.push_cert, &opts.push_key, &opts.push_ca) {
                (Some(c), Some(k), Some(ca)) => Some(push::Pusher::new(c, k, ca)?),
                _ => None,
            },
            push_faults: push::PushFaults::default(),
        });
        Ok(Self {
            state,
            listener: TcpListener::bind(&opts.listen).await?,
            admin: TcpListener::bind(&opts.admin_listen).await?,
            tls: tokio_rustls::TlsAcceptor::from(Arc::new(tls)),
            base_path: opts.base_path.clone(),
        })
    }

    /// The HTTPS address.
    pub fn addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound")
    }

    /// The admin address.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin.local_addr().expect("bound")
    }

    /// Serves until `shutdown` turns true.
    pub async fn run(self, shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
        let mut admin_stop = shutdown.clone();
        let admin = tokio::spawn(serve_plain(
            self.admin,
            admin_router(self.state.clone()),
            async move {
                let _ = admin_stop.wait_for(|s| *s).await;
            },
        ));
        let mut stop = shutdown;
        serve_tls(
            self.listener,
            self.tls,
            middleware::server::accept::ConnectionTimeouts {
                handshake: Duration::from_secs(10),
                header_read: Duration::from_secs(30),
                body_idle: Duration::from_secs(30),
            },
            api_router(self.state.clone(), &self.base_path),
            SimConnections(self.state),
            async move {
                let _ = stop.wait_for(|s| *s).await;
            },
        )
        .await;
        admin.await.map_err(std::io::Error::other)?
    }
}

/// `POST /faults`: the network fault (`mode`, `delay_ms`, `status`) and/or the push fault
/// (`push`, `push_delay_ms`); what is not named stays as it was.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultRequest {
    mode: Option<FaultMode>,
    #[serde(default)]
    delay_ms: u64,
    status: Option<u16>,
    push: Option<push::PushFault>,
    push_delay_ms: Option<u64>,
}

impl FaultRequest {
    fn network(&self) -> Option<FaultConfig> {
        Some(FaultConfig {
            mode: self.mode?,
            delay_ms: self.delay_ms,
            status: self.status,
        })
    }
}

fn fault_view(s: &SimState) -> serde_json::Value {
    let f = s.faults.get();
    let (push, push_delay_ms) = s.push_faults.get();
    serde_json::json!({
        "mode": f.mode, "delay_ms": f.delay_ms, "status": f.status,
        "push": push, "push_delay_ms": push_delay_ms,
    })
}

/// Where a call came: the path's id and the whole path as the dispatcher sees it.
struct Call {
    id: Option<String>,
    path: String,
}

/// One operation of the contract, by the simulator's handler for it.
async fn serve(s: Arc<SimState>, op: Operation, call: Call, h: HeaderMap, b: Bytes) -> Response {
    let Call { id, path } = call;
    let id_or_empty = || id.clone().unwrap_or_default();
    match op {
        Operation::Validation => handlers::validation(s, h, b).await,
        Operation::FhirValidation => fhir::validation(s, h, b).await,
        Operation::Create => handlers::publication(s, SimOp::Create, None, h, b).await,
        Operation::ValidateAndCreate => {
            handlers::publication(s, SimOp::ValidateAndCreate, None, h, b).await
        }
        Operation::Replace => handlers::publication(s, SimOp::Replace, id, h, b).await,
        Operation::ValidateAndReplace => {
            handlers::publication(s, SimOp::ValidateAndReplace, id, h, b).await
        }
        Operation::Delete => {
            handlers::document_change(s, SimOp::Delete, (id_or_empty(), path), h, b).await
        }
        Operation::Metadata | Operation::MetadataIti57 => {
            handlers::document_change(s, SimOp::Metadata, (id_or_empty(), path), h, b).await
        }
        Operation::StatusByWorkflow => handlers::status(s, false, id_or_empty(), h).await,
        Operation::StatusByTrace => handlers::status(s, true, id_or_empty(), h).await,
        Operation::FhirCreate => fhir::publication(s, None, h, b).await,
        Operation::FhirReplace => fhir::publication(s, id, h, b).await,
        // Not a gateway endpoint: the middleware's rule for paths it does not read.
        Operation::PassThrough => StatusCode::NOT_FOUND.into_response(),
    }
}

fn api_router(state: Arc<SimState>, base: &str) -> Router {
    let s = state.clone();
    let mut api = Router::new();
    for (op, method, path) in Operation::ROUTES {
        let base = base.to_string();
        let path_template = path;
        let route_method = method.clone();
        let handler = move |State(s): State<Arc<SimState>>,
                            uri: http::Uri,
                            params: RawPathParams,
                            h: HeaderMap,
                            b: Bytes| {
            let id = params.iter().next().map(|(_, v)| v.to_string());
            // Inside the nest the path lost its base; the dispatcher sees it whole.
            let path = format!("{base}{}", uri.path());
            async move {
                // GovWay first (its tokens, then the request against the OpenAPI), then
                // Spring's media types, then the dispatcher.
                let refused = handlers::govway_refusal(
                    &s,
                    (route_method.clone(), path_template),
                    id.as_deref(),
                    &h,
                    &b,
                )
                .or_else(|| media::refusal(op, &h, &path));
                match refused {
                    Some(r) => r,
                    None => serve(s, op, Call { id, path }, h, b).await,
                }
            }
        };
        api = api.route(path, on(method.try_into().expect("known method"), handler));
    }
    let api = api.with_state(state);
    Router::new()
        .nest(
            base,
            api.layer(axum::middleware::map_response(respond::govway_ids)),
        )
        .layer(DefaultBodyLimit::max(64 << 20))
        .layer(axum::middleware::from_fn_with_state(s, observe_and_fault))
        .route(
            "/status",
            get(|| async { axum::Json(serde_json::json!({"status": "UP"})) }),
        )
}

async fn observe_and_fault(
    State(state): State<Arc<SimState>>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    let header = |n: &str| {
        parts
            .headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut seen = Observed {
        tls_client_cn: parts
            .extensions
            .get::<TlsClient>()
            .map(|c| c.0.clone())
            .unwrap_or_default(),
        request: format!("{} {}", parts.method, parts.uri.path()),
        authorization: header("authorization"),
        signature: header("fse-jwt-signature"),
        body_sha256: sha256_hex(&bytes),
        response_status: 0,
        response_sha256: String::new(),
    };
    if let Some(d) = state.faults.delay() {
        tokio::time::sleep(d).await;
    }
    let fault = state.faults.get();
    let resp = if fault.mode == FaultMode::Error {
        let status = StatusCode::from_u16(fault.status.unwrap_or(503))
            .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let e = gateway_contract::problem::err(
            gateway_contract::problem::Kind::GenericError,
            "Errore simulato (fault injection)",
            "",
        );
        let ans = gateway_contract::problem::Answer::new(gateway_contract::problem::ErrPath::B);
        let mut resp = respond::error(&ans, &e);
        *resp.status_mut() = status;
        resp
    } else {
        next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
            .await
    };
    let (rparts, rbody) = resp.into_parts();
    let rbytes = axum::body::to_bytes(rbody, 64 << 20)
        .await
        .unwrap_or_default();
    seen.response_status = rparts.status.as_u16();
    seen.response_sha256 = sha256_hex(&rbytes);
    {
        let mut obs = state.observed.lock().expect("observed lock");
        if obs.len() >= OBSERVED_KEPT {
            obs.pop_front();
        }
        obs.push_back(seen);
    }
    Response::from_parts(rparts, axum::body::Body::from(rbytes))
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes).as_ref())
}

#[derive(Deserialize)]
struct ClockBody {
    offset_secs: i64,
}

fn admin_router(state: Arc<SimState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/faults",
            get(|State(s): State<Arc<SimState>>| async move { axum::Json(fault_view(&s)) }).post(
                |State(s): State<Arc<SimState>>, axum::Json(f): axum::Json<FaultRequest>| async move {
                    if let Some(push) = f.push {
                        s.push_faults.set(push, f.push_delay_ms.unwrap_or(0));
                    }
                    let set = match f.network() {
                        Some(network) => s.faults.set(network),
                        None => Ok(()),
                    };
                    match set {
                        Ok(()) => (StatusCode::OK, axum::Json(fault_view(&s))).into_response(),
                        Err(e) => (StatusCode::BAD_REQUEST, axum::Json(serde_json::json!({"error": e}))).into_response(),
                    }
                },
            ),
        )
        .route(
            "/clock",
            post(|State(s): State<Arc<SimState>>, axum::Json(c): axum::Json<ClockBody>| async move {
                // Within a century: the clock's arithmetic and dates stay in range.
                let offset = c.offset_secs.clamp(-3_155_760_000, 3_155_760_000);
                s.clock_offset.store(offset, Ordering::Relaxed);
                axum::Json(serde_json::json!({"offset_secs": c.offset_secs}))
            }),
        )
        .route(
            "/observed",
            get(|State(s): State<Arc<SimState>>| async move {
                let obs: Vec<Observed> = s.observed.lock().expect("observed lock").iter().cloned().collect();
                axum::Json(obs)
            }),
        )
        .with_state(state)
}
