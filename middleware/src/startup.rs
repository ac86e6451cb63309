//! Building and running the middleware: listeners bound from the configuration.
//!
//! `main` and the tests both go through [`App::build`], so the tests exercise
//! exactly what runs in production.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRef;
use axum::routing::on;
use deadpool_postgres::Pool;
use http::{HeaderName, Request};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::audit::CfHasher;
use crate::config::Config;
use crate::config::routes::Route;
use crate::forward::checks::RegionalChecks;
use crate::forward::gateway_client::GatewayClient;
use crate::forward::handler::{Served, handle};
use crate::forward::tokens::TokenPolicy;
use crate::front_door::{Caller, Transaction, front_door};
use crate::keys::{KeyError, KeyStore};
use crate::metrics::Metrics;
use crate::server::accept::{ConnectionHooks, serve_plain, serve_tls};
use crate::server::identity::{ClientIdentity, CnPatterns};
use crate::server::tls::producer_server_config;
use crate::trust::Trust;

/// Shared state of all handlers.
#[derive(Debug)]
pub struct AppState {
    /// Database pool.
    pub pool: Pool,
    /// Metrics.
    pub metrics: Metrics,
    /// Client towards the gateway.
    pub gateway: GatewayClient,
    /// JWT treatment (case 1 or 2).
    pub tokens: Arc<TokenPolicy>,
    /// The bounded pool for signatures, SOAP identity checks and PDF parsing.
    pub cpu: crate::cpu_pool::CpuPool,
    /// Non-blocking regional checks.
    pub checks: RegionalChecks,
    /// Producer CN conventions.
    pub cn_patterns: CnPatterns,
    /// Fiscal-code hasher for the audit trail.
    pub cf_hasher: CfHasher,
    /// Request body limit.
    pub max_body: u64,
    /// Transaction header name.
    pub tx_header: HeaderName,
    /// Certificate case in force.
    pub certificate_case: u8,
    /// The regional keys in force.
    pub keys: Arc<KeyStore>,
    /// Producer CAs and their revocation lists in force.
    pub client_trust: Arc<Trust>,
    /// Bearer tokens of the admin API.
    pub admin_tokens: crate::admin_access::AdminTokens,
    /// The regional XDS registry and repositories.
    pub xds: crate::xds_service::XdsService,
    /// Region code (`160`), for identifiers built locally.
    pub region_code: String,
    /// The recovery worker's settings.
    pub outbox: crate::config::OutboxConfig,
    /// ASLs of the legacy SOAP services.
    pub soap_asl: Vec<String>,
    /// Whom the SOAP services trust (assertion signers, smart-card CAs).
    pub soap_trust: crate::soap_services::security::Trust,
    /// Days a publication's CDA is kept for support bundles (0: not kept).
    pub document_retention_days: u32,
    /// Keeps publications' CDAs (none when they are not kept).
    pub document_keeper: Option<crate::forward::document_keeper::DocumentKeeper>,
    /// Console sign-in and sessions.
    pub console: Arc<crate::console::auth::Auth>,
    /// Whether `/public` is served.
    pub public_page: bool,
    /// Writes transaction rows (batched under load).
    pub transaction_writer: crate::db::transaction_writer::TransactionWriter,
    /// Transaction rows kept on disk while the database cannot take them.
    pub audit_journal: Arc<crate::db::audit_journal::AuditJournal>,
    /// Producer registry entries reused between requests.
    pub producers: crate::db::producer_cache::ProducerCache,
    /// Where publication bodies are kept while forwarded.
    pub spool_dir: std::path::PathBuf,
}

// Substates: a handler takes what it uses of the application (`State<Pool>`,
// `State<CfHasher>`…), not the whole `AppState`.

impl FromRef<Arc<AppState>> for crate::db::Db {
    fn from_ref(state: &Arc<AppState>) -> Self {
        Self(state.pool.clone())
    }
}

impl FromRef<Arc<AppState>> for Metrics {
    fn from_ref(state: &Arc<AppState>) -> Self {
        state.metrics.clone()
    }
}

impl FromRef<Arc<AppState>> for CfHasher {
    fn from_ref(state: &Arc<AppState>) -> Self {
        state.cf_hasher.clone()
    }
}

impl FromRef<Arc<AppState>> for crate::console::auth::ConsoleAuth {
    fn from_ref(state: &Arc<AppState>) -> Self {
        Self(state.console.clone())
    }
}

impl FromRef<Arc<AppState>> for crate::console::reports::PublicPage {
    fn from_ref(state: &Arc<AppState>) -> Self {
        Self {
            enabled: state.public_page,
            profile: state.metrics.profile.clone(),
        }
    }
}

/// A built middleware: bound listeners, ready to run.
pub struct App {
    state: Arc<AppState>,
    producer_listener: TcpListener,
    admin_listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    router: Router,
    timeouts: crate::server::accept::ConnectionTimeouts,
    touchpoint: Option<Touchpoint>,
}

/// The touchpoint's listener, bound: the gateway's pushes over strict mutual TLS.
struct Touchpoint {
    listener: TcpListener,
    tls: tokio_rustls::TlsAcceptor,
    trust: Arc<Trust>,
}

/// Why the middleware could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A configuration value is unusable.
    #[error("{0}")]
    Config(String),
    /// A key or certificate problem.
    #[error("{0}")]
    Keys(#[from] KeyError),
    /// A TLS problem.
    #[error("tls: {0}")]
    Tls(#[from] crate::server::tls::TlsError),
    /// A database problem.
    #[error("{0}")]
    Db(#[from] crate::db::DbError),
    /// Trusted certificates or revocation lists that cannot be loaded.
    #[error("trust: {0}")]
    Trust(#[from] crate::trust::TrustLoadError),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

// === impl App ===

impl App {
    /// Loads keys, opens the pool, applies migrations, binds both listeners.
    pub async fn build(config: &Config, metrics: Metrics) -> Result<Self, StartError> {
        let metrics = metrics.with_profile(&config.region.name);
        let keys = Arc::new(KeyStore::open(&config.keys)?);
        let pool = crate::db::pool(&config.database)?;
        let applied = crate::db::migrate(&pool).await?;
        if applied > 0 {
            tracing::info!(applied, "database migrations applied");
        }
        let client_trust = client_trust(&config.server)?;
        let server_config = producer_server_config(
            &config.server.tls_cert,
            &config.server.tls_key,
            &client_trust,
        )?;
        let spool_dir = spool_dir(&config.server)?;
        let audit_journal = audit_journal(&spool_dir, &pool)?;
        let cfg_err = |e: regex::Error| StartError::Config(e.to_string());
        let state = Arc::new(AppState {
            gateway: GatewayClient::new(&config.gateway, keys.clone())?,
            tokens: Arc::new(TokenPolicy {
                case: config.gateway.certificate_case,
                keys: keys.clone(),
                metrics: metrics.clone(),
                audience: config.gateway.base_url.trim_end_matches('/').to_string(),
                lifetime_secs: config.gateway.jwt_lifetime_secs,
                skew_secs: config.gateway.jwt_clock_skew_secs,
            }),
            cpu: cpu_pool(config, &metrics),
            checks: RegionalChecks::new(&config.region).map_err(cfg_err)?,
            cn_patterns: CnPatterns::new(&config.region.cn_patterns).map_err(cfg_err)?,
            cf_hasher: CfHasher::of(&config.audit),
            max_body: config.server.max_body_bytes,
            tx_header: HeaderName::from_bytes(config.region.transaction_header.as_bytes())
                .map_err(|e| StartError::Config(e.to_string()))?,
            certificate_case: config.gateway.certificate_case,
            xds: crate::xds_service::XdsService::new(pool.clone(), &config.xds),
            region_code: config.region.code.clone(),
            outbox: config.outbox.clone(),
            soap_asl: config.soap.asl.clone(),
            soap_trust: crate::soap_services::security::Trust::load(
                &config.soap,
                &config.region.code,
            )?,
            document_retention_days: config.audit.document_retention_days,
            document_keeper: document_keeper(config, &pool)?,
            console: Arc::new(console_auth(config)),
            public_page: config.console.public_page,
            admin_tokens: crate::admin_access::AdminTokens::load(&config.admin.tokens)
                .map_err(StartError::Config)?,
            spool_dir,
            transaction_writer: crate::db::transaction_writer::TransactionWriter::start(
                pool.clone(),
                metrics.audit_rows_per_statement.clone(),
                Some(audit_journal.clone()),
            ),
            audit_journal,
            producers: crate::db::producer_cache::ProducerCache::new(
                config.server.producer_cache_secs,
            ),
            pool,
            metrics,
            keys,
            client_trust,
        });
        if state.soap_trust.has_crls() {
            let s = state.clone();
            let every = Duration::from_secs(config.server.crl_refresh_secs);
            crate::trust::spawn_refresh(move || s.soap_trust.reload_if_changed(), every);
        }
        let bind = |addr: String| async move {
            TcpListener::bind(&addr)
                .await
                .map_err(|source| StartError::Bind { addr, source })
        };
        let mut bases = vec![config.server.base_path.clone()];
        bases.extend(config.server.alias_base_paths.iter().cloned());
        let routes = crate::config::routes::resolve(&config.gateway.routes)
            .map_err(|e| StartError::Config(e.to_string()))?;
        let touchpoint = match &config.touchpoint {
            Some(t) => Some(Touchpoint {
                listener: bind(t.listen.clone()).await?,
                tls: tokio_rustls::TlsAcceptor::from(Arc::new(
                    crate::server::tls::strict_server_config(
                        &t.tls_cert,
                        &t.tls_key,
                        &t.client_ca,
                    )?,
                )),
                trust: Arc::new(Trust::load(
                    hsm::Purpose::ClientAuth,
                    std::slice::from_ref(&t.client_ca),
                    &[],
                    false,
                )?),
            }),
            None => None,
        };
        Ok(Self {
            touchpoint,
            router: producer_router(state.clone(), &bases, &routes),
            producer_listener: bind(config.server.listen.clone()).await?,
            admin_listener: bind(config.server.admin_listen.clone()).await?,
            tls: tokio_rustls::TlsAcceptor::from(Arc::new(server_config)),
            timeouts: crate::server::accept::ConnectionTimeouts {
                handshake: Duration::from_millis(config.server.handshake_timeout_ms),
                header_read: Duration::from_millis(config.server.header_read_timeout_ms),
                body_idle: Duration::from_millis(config.server.body_idle_timeout_ms),
            },
            state,
        })
    }

    /// Address of the producer-facing listener.
    pub fn producer_addr(&self) -> SocketAddr {
        self.producer_listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Address of the admin listener.
    pub fn admin_addr(&self) -> SocketAddr {
        self.admin_listener
            .local_addr()
            .expect("bound listener has an address")
    }

    /// Address of the touchpoint listener, when there is one.
    pub fn touchpoint_addr(&self) -> Option<SocketAddr> {
        self.touchpoint.as_ref().map(|t| {
            t.listener
                .local_addr()
                .expect("bound listener has an address")
        })
    }

    /// The shared state (for tests).
    pub fn state(&self) -> Arc<AppState> {
        self.state.clone()
    }

    /// Serves until `shutdown` turns true.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> std::io::Result<()> {
        let admin = crate::admin::router(self.state.clone());
        let worker = self.state.outbox.worker.then(|| {
            tokio::spawn(crate::outbox::worker::run(
                self.state.clone(),
                self.state.outbox.clone(),
                shutdown.clone(),
            ))
        });
        // CDAs kept for support bundles go when their retention ends (checked hourly).
        let retention = self.state.document_retention_days;
        if retention > 0 {
            let (pool, mut stop) = (self.state.pool.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(3600));
                loop {
                    tokio::select! {
                        _ = every.tick() => {
                            match crate::db::console::purge_documents(&pool, retention).await {
                                Ok(0) => {}
                                Ok(n) => tracing::info!(removed = n, "support-bundle documents past retention removed"),
                                Err(e) => tracing::warn!(error = %e, "support-bundle documents not purged"),
                            }
                        }
                        () = async { let _ = stop.wait_for(|s| *s).await; } => break,
                    }
                }
            });
        }
        let mut admin_shutdown = shutdown.clone();
        let admin_task = tokio::spawn(serve_plain(self.admin_listener, admin, async move {
            let _ = admin_shutdown.wait_for(|s| *s).await;
        }));
        let touchpoint_task = self.touchpoint.map(|t| {
            let mut stop = shutdown.clone();
            let hooks = ProducerConnections {
                trust: t.trust,
                metrics: self.state.metrics.clone(),
            };
            let router = crate::touchpoint::router(self.state.clone());
            tokio::spawn(serve_tls(
                t.listener,
                t.tls,
                self.timeouts,
                router,
                hooks,
                async move {
                    let _ = stop.wait_for(|s| *s).await;
                },
            ))
        });
        let hooks = ProducerConnections {
            trust: self.state.client_trust.clone(),
            metrics: self.state.metrics.clone(),
        };
        serve_tls(
            self.producer_listener,
            self.tls,
            self.timeouts,
            self.router,
            hooks,
            async move {
                let _ = shutdown.wait_for(|s| *s).await;
            },
        )
        .await;
        if let Some(w) = worker {
            let _ = w.await;
        }
        if let Some(t) = touchpoint_task {
            let _ = t.await;
        }
        admin_task.await.map_err(std::io::Error::other)?
    }
}

/// The producer listener's connections: each named by its verified client certificate
/// (checked against the producer CAs in force), failed handshakes counted.
struct ProducerConnections {
    trust: Arc<Trust>,
    metrics: Metrics,
}

impl ConnectionHooks for ProducerConnections {
    type Info = ClientIdentity;

    fn describe(
        &self,
        conn: &rustls::ServerConnection,
        peer: std::net::SocketAddr,
    ) -> ClientIdentity {
        ClientIdentity::from_connection(conn, &self.trust.store(), peer)
    }

    fn handshake_failed(&self) {
        self.metrics.tls_handshake_failures.inc();
    }
}

/// The gateway-identical API (the allow-list of `routes`) under every configured base
/// path, the XDS endpoints and the legacy SOAP services, all behind the one front door.
fn producer_router(state: Arc<AppState>, bases: &[String], routes: &[Route]) -> Router {
    let mut router = Router::new();
    for base in bases {
        let base: &'static str = Box::leak(base.clone().into_boxed_str());
        for route in routes {
            let template: &'static str = Box::leak(route.path.clone().into_boxed_str());
            let served = Served {
                op: route.op,
                template,
            };
            let state = state.clone();
            let handler = move |txn: Transaction, caller: Caller, req: Request<Body>| {
                handle(state, Some(served), base, txn, caller, req)
            };
            let filter = route.method.clone().try_into().expect("known method");
            router = router.route(&format!("{base}{}", route.path), on(filter, handler));
        }
    }
    router = crate::xds_service::routes(router, state.clone());
    router = crate::soap_services::routes(router, state.clone(), &state.soap_asl);
    // Outside the allow-list, also a listed path with another method: a problem document,
    // never axum's bare 405.
    let fallback_state = state.clone();
    let unlisted = move |txn: Transaction, caller: Caller, req: Request<Body>| {
        handle(fallback_state, None, "", txn, caller, req)
    };
    router
        .fallback(unlisted.clone())
        .method_not_allowed_fallback(unlisted)
        .layer(axum::middleware::from_fn_with_state(state, front_door))
}

/// The producer CAs and their revocation lists, refreshed every `server.crl_refresh_secs`.
fn client_trust(server: &crate::config::ServerConfig) -> Result<Arc<Trust>, StartError> {
    let trust = Arc::new(Trust::load(
        hsm::Purpose::ClientAuth,
        std::slice::from_ref(&server.client_ca),
        &server.client_crls,
        server.client_crl_required,
    )?);
    if trust.has_crls() {
        let t = trust.clone();
        let every = Duration::from_secs(server.crl_refresh_secs);
        crate::trust::spawn_refresh(move || t.reload_if_changed(), every);
    }
    Ok(trust)
}

/// The audit journal in the spool folder, replayed into the database every 2 s.
fn audit_journal(
    spool_dir: &std::path::Path,
    pool: &Pool,
) -> Result<Arc<crate::db::audit_journal::AuditJournal>, StartError> {
    let dir = spool_dir.join("audit-journal");
    let journal = Arc::new(
        crate::db::audit_journal::AuditJournal::open(&dir)
            .map_err(|e| StartError::Config(format!("audit journal {}: {e}", dir.display())))?,
    );
    crate::db::audit_journal::spawn_replay(journal.clone(), pool.clone(), Duration::from_secs(2));
    Ok(journal)
}

/// The CPU pool: `server.cpu_workers` threads, or one per core.
fn cpu_pool(config: &Config, metrics: &Metrics) -> crate::cpu_pool::CpuPool {
    crate::cpu_pool::CpuPool::new(
        config
            .server
            .cpu_workers
            .unwrap_or_else(crate::cpu_pool::CpuPool::default_size),
        metrics.cpu_pool_wait.clone(),
        metrics.cpu_pool_busy.clone(),
    )
}

/// The thread that keeps publications' CDAs, when `audit.document_retention_days` > 0.
fn document_keeper(
    config: &Config,
    pool: &Pool,
) -> Result<Option<crate::forward::document_keeper::DocumentKeeper>, StartError> {
    if config.audit.document_retention_days == 0 {
        return Ok(None);
    }
    let runtime = tokio::runtime::Handle::current();
    crate::forward::document_keeper::DocumentKeeper::start(pool.clone(), runtime)
        .map(Some)
        .map_err(|e| StartError::Config(format!("CDA keeper thread: {e}")))
}

/// The console's sign-in: `Secure` cookies in production unless configured otherwise.
fn console_auth(config: &Config) -> crate::console::auth::Auth {
    let production = config.region.environment == crate::config::Environment::Production;
    crate::console::auth::Auth::new(
        &config.console,
        config.console.secure_cookie.unwrap_or(production),
    )
}

/// The spool folder, created if missing.
fn spool_dir(server: &crate::config::ServerConfig) -> Result<std::path::PathBuf, StartError> {
    let dir = server
        .spool_dir
        .as_ref()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("fsemw-spool"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| StartError::Config(format!("server.spool_dir {}: {e}", dir.display())))?;
    // Bodies left by a process that was killed: none is older than an hour in use.
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for e in entries.flatten() {
            let stale = e
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.elapsed().ok())
                .is_some_and(|age| age > Duration::from_secs(3600));
            if stale && e.path().extension().is_some_and(|x| x == "body") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    Ok(dir)
}
