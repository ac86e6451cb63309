//! A gateway simulator and a middleware wired together over real mTLS.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use cda_validation::engine::Rules;
use dev_tools::dev_hsm::{DevTokenFiles, DevTokenSpec, create, softhsm_module, write_softhsm_conf};
use dev_tools::dev_pki::{DevPki, PkiNames, generate};
use gateway_sim::{CdaValidator, GatewaySim, NoSchemaValidation, SimOptions};
use middleware::config::{
    AdminConfig, AdminToken, AuditConfig, Config, ConsoleConfig, ConsoleUser, DatabaseConfig,
    Environment, GatewayConfig, KeyBackend, KeysConfig, LogConfig, OutboxConfig, Pkcs11Config,
    RegionConfig, RepositoryConfig, RouteConfig, ServerConfig, SoapConfig, XdsConfig,
};
use serde_json::{Map, Value};
use tokio::sync::watch;

static PKI: OnceLock<DevPki> = OnceLock::new();
static RULES: OnceLock<Arc<Rules>> = OnceLock::new();

/// The gateway's rules and code lists from `shared/testdata`, compiled once per process.
pub fn rules() -> &'static Arc<Rules> {
    RULES.get_or_init(|| {
        Arc::new(Rules::load(&crate::shared_dir().join("testdata")).expect("rules"))
    })
}
static TOKEN: OnceLock<HsmToken> = OnceLock::new();
static TOKEN_COUNT: AtomicUsize = AtomicUsize::new(0);

/// A SoftHSM2 token holding the regional keys (ids 01 and 02).
#[derive(Debug, Clone)]
pub struct HsmToken {
    /// Token label.
    pub label: String,
    /// The module.
    pub module: PathBuf,
    /// Files: certificates and PIN.
    pub files: DevTokenFiles,
}

/// The process's shared token, created on first use.
pub fn shared_token() -> &'static HsmToken {
    TOKEN.get_or_init(|| new_token("shared"))
}

/// A new token of its own (for tests that break or change it).
pub fn new_token(purpose: &str) -> HsmToken {
    let pki = pki();
    let conf = PathBuf::from(
        std::env::var("SOFTHSM2_CONF")
            .expect("SOFTHSM2_CONF (set by .cargo/config.toml or ops/test.sh)"),
    );
    let dir = conf.parent().expect("conf folder").to_path_buf();
    if TOKEN_COUNT.fetch_add(1, Ordering::SeqCst) == 0 {
        // First token of the process, before the module is loaded: start from an empty folder.
        let _ = std::fs::remove_dir_all(dir.join("tokens"));
        write_softhsm_conf(&dir).expect("SoftHSM2 configuration");
        assert_eq!(
            dir.join("softhsm2.conf"),
            conf,
            "SOFTHSM2_CONF must end in softhsm2.conf"
        );
    }
    let label = format!(
        "t{}-{purpose}-{}",
        std::process::id(),
        TOKEN_COUNT.load(Ordering::SeqCst)
    );
    let module = softhsm_module().expect("SoftHSM2 (Debian package softhsm2) is required");
    let out_dir = dir.join(&label);
    let spec = DevTokenSpec {
        module: module.clone(),
        label: label.clone(),
        pin: "1234-test".into(),
        ca_cert: pki.cert("national-ca").into(),
        ca_key: pki.key("national-ca").into(),
        region_code: "160".into(),
        out_dir,
    };
    let files = create(&spec).expect("dev token");
    HsmToken {
        label,
        module,
        files,
    }
}

/// The dev PKI: `MW_TEST_PKI` when set (made by ops/test.sh), else generated once per process.
pub fn pki() -> &'static DevPki {
    PKI.get_or_init(|| {
        middleware::install_crypto_provider();
        if let Ok(dir) = std::env::var("MW_TEST_PKI") {
            return DevPki {
                dir: PathBuf::from(dir),
            };
        }
        let dir = std::env::temp_dir().join(format!("fsemw-pki-{}", std::process::id()));
        generate(&dir, &PkiNames::default()).expect("dev PKI")
    })
}

/// Knobs of one stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// Certificate case.
    pub case: u8,
    /// Gateway request timeout.
    pub request_timeout_ms: u64,
    /// Body limit.
    pub max_body_bytes: u64,
    /// `test` or `production`.
    pub environment: Environment,
    /// Test fiscal codes of the profile.
    pub test_fiscal_codes: Vec<String>,
    /// Whether the simulator checks `aud` against its own base URL.
    pub sim_checks_audience: bool,
    /// The token holding the regional keys (default: the process's shared token).
    pub token: Option<HsmToken>,
    /// Whether the simulator runs XSD, schematron and vocabulary (rules from `shared/testdata`).
    pub full_validation: bool,
    /// Whether the simulator's GovWay validates requests against the published OpenAPI
    /// (`shared/reference/upstream/gtw-openapi/swagger_gtw.yaml`), as the real one does.
    pub govway_validates_content: bool,
    /// Revocation lists of the producer CAs (`server.client_crls`).
    pub client_crls: Vec<String>,
    /// Seconds a producer's registry entry is reused (`server.producer_cache_secs`).
    pub producer_cache_secs: u64,
}

impl Default for StackOptions {
    fn default() -> Self {
        Self {
            case: 2,
            request_timeout_ms: 5_000,
            max_body_bytes: 5 * 1024 * 1024,
            environment: Environment::Test,
            test_fiscal_codes: vec!["RMSLSO31M04Z404R".into()],
            sim_checks_audience: true,
            token: None,
            full_validation: false,
            govway_validates_content: true,
            client_crls: Vec::new(),
            producer_cache_secs: 5,
        }
    }
}

/// A running simulator + middleware.
pub struct TestStack {
    /// Producer-facing base URL (`…/v1`).
    pub mw_url: String,
    /// Middleware admin base URL.
    pub admin_url: String,
    /// Simulator base URL (`…/v1`).
    pub sim_url: String,
    /// Simulator admin base URL.
    pub sim_admin_url: String,
    /// The middleware's touchpoint (`https://localhost:<port>`), where the gateway pushes.
    pub touchpoint_url: String,
    /// Database connection string.
    pub database_url: String,
    /// The middleware state (pool, metrics).
    pub state: Arc<middleware::startup::AppState>,
    opts: StackOptions,
    stop: watch::Sender<bool>,
}

impl Drop for TestStack {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// The demo producer's CN.
pub const PRODUCER_CN: &str = "01234567890.labdemo.it";

// === impl TestStack ===

impl TestStack {
    /// Starts both servers with `opts` and registers the demo producer.
    pub async fn spawn(opts: StackOptions) -> Self {
        let pki = pki();
        let (stop, rx) = watch::channel(false);
        let mut sim_opts = SimOptions {
            listen: "127.0.0.1:0".into(),
            admin_listen: "127.0.0.1:0".into(),
            cert: pki.cert("gtw-sim"),
            key: pki.key("gtw-sim"),
            client_ca: pki.cert("national-ca"),
            jwt_ca: vec![pki.cert("national-ca")],
            audience: None,
            base_path: "/v1".into(),
            rules: None,
            no_accreditation_check: false,
            async_delay_ms: 1000,
            push_cert: Some(pki.cert("gtw-notifier")),
            push_key: Some(pki.key("gtw-notifier")),
            push_ca: Some(pki.cert("regional-ca")),
            openapi: opts.govway_validates_content.then(|| {
                crate::shared_dir().join("reference/upstream/gtw-openapi/swagger_gtw.yaml")
            }),
        };
        if opts.case == 1 {
            // In case 1 producers sign with their own (here: regionally issued) certificates.
            sim_opts.jwt_ca.push(pki.cert("regional-ca"));
        }
        // Bind first to learn the port, then rebuild with the audience when it is checked.
        let validator: Arc<dyn CdaValidator> = if opts.full_validation {
            rules().clone()
        } else {
            Arc::new(NoSchemaValidation)
        };
        let probe = GatewaySim::build(&sim_opts, validator.clone())
            .await
            .expect("sim");
        let sim_addr = probe.addr();
        drop(probe);
        sim_opts.listen = sim_addr.to_string();
        let sim_url = format!("https://localhost:{}/v1", sim_addr.port());
        if opts.sim_checks_audience {
            sim_opts.audience = Some(sim_url.clone());
        }
        let sim = GatewaySim::build(&sim_opts, validator).await.expect("sim");
        let sim_admin_url = format!("http://{}", sim.admin_addr());
        tokio::spawn(sim.run(rx.clone()));

        let database_url = crate::pg::fresh_database().await;
        let token = opts.token.clone().unwrap_or_else(|| shared_token().clone());
        let config = config(pki, &opts, &sim_url, &database_url, &token);
        let app = middleware::startup::App::build(&config, middleware::metrics::Metrics::new())
            .await
            .expect("app");
        let mw_url = format!("https://localhost:{}/v1", app.producer_addr().port());
        let admin_url = format!("http://{}", app.admin_addr());
        let touchpoint_url = format!(
            "https://localhost:{}",
            app.touchpoint_addr().expect("a touchpoint").port()
        );
        let state = app.state();
        tokio::spawn(app.run(rx));
        middleware::db::producers::upsert(&state.pool, &demo_producer(None))
            .await
            .expect("register producer");
        Self {
            mw_url,
            admin_url,
            sim_url,
            sim_admin_url,
            touchpoint_url,
            database_url,
            state,
            opts,
            stop,
        }
    }

    /// Another middleware replica on the same database and simulator (its own
    /// listeners and recovery worker); stops with the stack. Returns its base URL.
    pub async fn replica(&self) -> String {
        let token = self
            .opts
            .token
            .clone()
            .unwrap_or_else(|| shared_token().clone());
        let config = config(pki(), &self.opts, &self.sim_url, &self.database_url, &token);
        let app = middleware::startup::App::build(&config, middleware::metrics::Metrics::new())
            .await
            .expect("replica");
        let url = format!("https://localhost:{}/v1", app.producer_addr().port());
        tokio::spawn(app.run(self.stop.subscribe()));
        url
    }

    /// An HTTPS client presenting `name`'s certificate (`None`: no client certificate).
    pub fn client(&self, name: Option<&str>) -> reqwest::Client {
        use middleware::server::tls::{load_certs, load_key, load_roots};
        let pki = pki();
        let builder = rustls::ClientConfig::builder()
            .with_root_certificates(load_roots(&pki.cert("ca-bundle")).unwrap());
        let tls = match name {
            Some(n) => builder
                .with_client_auth_cert(
                    load_certs(&pki.cert(n)).unwrap(),
                    load_key(&pki.key(n)).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .build()
            .unwrap()
    }

    /// A request to the middleware (`path` after the base) as `cert`, with the token pair when given.
    pub fn call(
        &self,
        cert: Option<&str>,
        method: reqwest::Method,
        path: &str,
        pair: Option<(&str, &str)>,
    ) -> reqwest::RequestBuilder {
        let mut r = self
            .client(cert)
            .request(method, format!("{}{path}", self.mw_url));
        if let Some((auth, sig)) = pair {
            r = r
                .header("Authorization", auth)
                .header("FSE-JWT-Signature", sig);
        }
        r
    }

    /// Sets the simulator's fault mode.
    pub async fn fault(&self, body: Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/faults", self.sim_admin_url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "fault not accepted");
    }

    /// The WSDL at `path` (below the listener's root, e.g. `/aslba/IDocumentService`).
    pub async fn wsdl(&self, path: &str) -> String {
        let base = self.mw_url.trim_end_matches("/v1");
        self.client(Some("producer"))
            .get(format!("{base}{path}?wsdl"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// What the simulator saw, oldest first.
    pub async fn observed(&self) -> Vec<Value> {
        let r = reqwest::get(format!("{}/observed", self.sim_admin_url))
            .await
            .unwrap();
        r.json().await.unwrap()
    }

    /// Audit rows matching a query string.
    pub async fn transactions(&self, query: &str) -> Vec<Value> {
        let r = self
            .admin(
                reqwest::Method::GET,
                &format!("/admin/transactions?{query}"),
            )
            .send()
            .await
            .unwrap();
        let v: Value = r.json().await.unwrap();
        v["transactions"].as_array().cloned().unwrap_or_default()
    }

    /// A request to the admin API with the operator's token.
    pub fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .request(method, format!("{}{path}", self.admin_url))
            .bearer_auth(admin_token("operator"))
    }

    /// Registers a second producer (ASL BT) for the certificate `producer-unregistered`
    /// (CN `11111111111.ignoto.it`), whose tokens it signs.
    pub async fn register_second_producer(&self) {
        middleware::db::producers::upsert(
            &self.state.pool,
            &middleware::db::producers::NewProducer {
                cert_cn: "11111111111.ignoto.it".into(),
                application_id: "ALTRO".into(),
                application_vendor: "ALTRO SPA".into(),
                application_version: "2.0".into(),
                role: "producer".into(),
                organization: "aslbt".into(),
                signing_cert_pem: None,
            },
        )
        .await
        .expect("second producer registered");
    }

    /// The Prometheus exposition.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin_url))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
}

/// Keys in `token`; certificates read from the token's objects.
pub fn keys_config(token: &HsmToken) -> KeysConfig {
    KeysConfig {
        backend: KeyBackend::Pkcs11,
        auth_cert: None,
        signature_cert: None,
        auth_key: None,
        signature_key: None,
        pkcs11: Some(Pkcs11Config {
            module: token.module.display().to_string(),
            token_label: token.label.clone(),
            pin_file: Some(token.files.pin_file.display().to_string()),
            pin_env: "FSEMW_HSM_PIN".into(),
            auth_key_id: "01".into(),
            auth_key_label: "authentication".into(),
            signature_key_id: "02".into(),
            signature_key_label: "signature".into(),
            sessions: 4,
        }),
        expiry_warning_days: 30,
    }
}

/// The paths a test stack adds to the published ones: the `/metadata` update OpenAPI 2.6.3
/// dropped (the dispatcher still maps it), and a pass-through to a path the simulator
/// does not know, to show that a configured path reaches the gateway untouched.
fn test_routes() -> Vec<RouteConfig> {
    [
        ("PUT", "/documents/{id}/metadata", "metadata"),
        ("POST", "/not-yet-published", "pass_through"),
    ]
    .map(|(method, path, inspect)| RouteConfig {
        method: method.into(),
        path: path.into(),
        inspect: inspect.into(),
    })
    .into()
}

/// The middleware configuration of a test stack.
pub fn config(
    pki: &DevPki,
    opts: &StackOptions,
    sim_url: &str,
    database_url: &str,
    token: &HsmToken,
) -> Config {
    Config {
        server: ServerConfig {
            listen: "127.0.0.1:0".into(),
            admin_listen: "127.0.0.1:0".into(),
            tls_cert: pki.cert("mw-server"),
            tls_key: pki.key("mw-server"),
            client_ca: pki.cert("regional-ca"),
            client_crls: opts.client_crls.clone(),
            client_crl_required: false,
            crl_refresh_secs: 300,
            base_path: "/v1".into(),
            alias_base_paths: vec!["/gateway/v2".into()],
            max_body_bytes: opts.max_body_bytes,
            handshake_timeout_ms: 5_000,
            header_read_timeout_ms: 5_000,
            body_idle_timeout_ms: 5_000,
            producer_cache_secs: opts.producer_cache_secs,
            cpu_workers: None,
            spool_dir: Some(spool_dir(database_url).display().to_string()),
        },
        gateway: GatewayConfig {
            base_url: sim_url.into(),
            ca: pki.cert("national-ca"),
            connect_timeout_ms: 1_000,
            request_timeout_ms: opts.request_timeout_ms,
            certificate_case: opts.case,
            jwt_lifetime_secs: 300,
            jwt_clock_skew_secs: 60,
            routes: test_routes(),
        },
        keys: keys_config(token),
        database: DatabaseConfig {
            url: database_url.into(),
            password: None,
            pool_size: 8,
            sslmode: Default::default(),
            sslrootcert: None,
        },
        audit: AuditConfig {
            cf_hmac_key: "test-key-of-the-test-stacks-0123456789abcdef"
                .to_string()
                .into(),
            cf_hmac_key_id: "1".into(),
            previous_cf_hmac_keys: vec![],
            document_retention_days: 30,
        },
        admin: AdminConfig {
            tokens: ADMIN_TOKENS
                .iter()
                .map(|(role, token)| {
                    let file = pki.dir.join(format!("admin-{role}.token"));
                    write_once(&file, token);
                    AdminToken {
                        name: format!("test-{role}"),
                        file: file.display().to_string(),
                        role: (*role).into(),
                    }
                })
                .collect(),
        },
        console: ConsoleConfig {
            users: CONSOLE_USERS
                .iter()
                .map(|(name, password, role)| ConsoleUser {
                    name: (*name).into(),
                    password_hash: middleware::console::auth::hash_password(password, 1000),
                    role: (*role).into(),
                })
                .collect(),
            session_key: None,
            session_hours: 8,
            public_page: true,
            secure_cookie: None,
        },
        region: RegionConfig {
            name: "Puglia".into(),
            code: "160".into(),
            environment: opts.environment,
            cn_patterns: vec![r"^[0-9]{11}\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.it$".into()],
            document_id_pattern: r"^2\.16\.840\.1\.113883\.2\.9\.2\.160\.4\.4\^.+$".into(),
            repository_id_pattern: r"^2\.16\.840\.1\.113883\.2\.9\.2\.160\.4\.5\.[0-9A-Za-z.]+$"
                .into(),
            test_fiscal_codes: opts.test_fiscal_codes.clone(),
            transaction_header: "X-Transaction-Id".into(),
        },
        xds: XdsConfig {
            repositories: TEST_REPOSITORIES
                .iter()
                .map(|(name, id)| RepositoryConfig {
                    name: (*name).into(),
                    unique_id: (*id).into(),
                })
                .collect(),
            home_community_id: Some("urn:oid:2.16.840.1.113883.2.9.2.160".into()),
        },
        soap: SoapConfig {
            asl: vec!["aslba".into(), "aslbt".into()],
            saml_signers: vec![pki.cert("saml-ca")],
            smartcard_cas: vec![pki.cert("cns-ca")],
            organisations: vec![],
            clock_skew_secs: 120,
            crls: vec![
                pki.dir.join("saml-ca.crl.pem").display().to_string(),
                pki.dir.join("cns-ca.crl.pem").display().to_string(),
            ],
            max_assertion_lifetime_secs: 12 * 3600,
            max_message_age_secs: 300,
        },
        // Quick retries so that recovery tests do not wait minutes.
        outbox: OutboxConfig {
            worker: true,
            poll_ms: 100,
            backoff_base_ms: 100,
            backoff_max_ms: 1_000,
            lease_secs: 10,
            max_attempts: 5,
        },
        log: LogConfig::default(),
        // The region's touchpoint: the gateway's status pushes (national CA) on its own port.
        touchpoint: Some(middleware::config::TouchpointConfig {
            listen: "127.0.0.1:0".into(),
            tls_cert: pki.cert("mw-server"),
            tls_key: pki.key("mw-server"),
            client_ca: pki.cert("national-ca"),
        }),
    }
}

/// Admin API tokens of a test stack: `(role, token)`.
pub const ADMIN_TOKENS: &[(&str, &str)] = &[
    ("monitor", "monitor-token-of-the-test-stacks-0123456789"),
    ("helpdesk", "helpdesk-token-of-the-test-stacks-0123456789"),
    ("operator", "operator-token-of-the-test-stacks-0123456789"),
];

/// Writes a file the stacks of this process share, once and whole: stacks starting
/// together must never read it half written.
fn write_once(file: &std::path::Path, text: &str) {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _held = LOCK.lock().expect("token files");
    if std::fs::read_to_string(file).is_ok_and(|t| t == text) {
        return;
    }
    let tmp = file.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, text).expect("admin token");
    std::fs::rename(&tmp, file).expect("admin token");
}

/// The admin API token of `role`.
pub fn admin_token(role: &str) -> &'static str {
    ADMIN_TOKENS
        .iter()
        .find(|(r, _)| *r == role)
        .map(|(_, t)| *t)
        .expect("a test role")
}

/// Console users of a test stack: `(name, password, role)`.
pub const CONSOLE_USERS: &[(&str, &str, &str)] = &[
    ("sportello", "sportello-password", "helpdesk"),
    ("operatore", "operatore-password", "operator"),
];

/// The repositories of a test stack: `(name, repositoryUniqueId)`.
pub const TEST_REPOSITORIES: &[(&str, &str)] = &[
    ("aslba", "2.16.840.1.113883.2.9.2.160.4.5.160114"),
    ("aslbt", "2.16.840.1.113883.2.9.2.160.4.5.160113"),
    ("aslbr", "2.16.840.1.113883.2.9.2.160.4.5.160106"),
    ("aslle", "2.16.840.1.113883.2.9.2.160.4.5.160115"),
    ("aslfg", "2.16.840.1.113883.2.9.2.160.4.5.160112"),
    ("aslta", "2.16.840.1.113883.2.9.2.160.4.5.160116"),
];

/// The demo producer's registry entry (every stack registers it), with `signing_cert_pem`.
pub fn demo_producer(signing_cert_pem: Option<String>) -> middleware::db::producers::NewProducer {
    middleware::db::producers::NewProducer {
        cert_cn: PRODUCER_CN.into(),
        application_id: "LABDEMO".into(),
        application_vendor: "FSEMW DEMO".into(),
        application_version: "1.0".into(),
        role: "producer".into(),
        organization: "aslba".into(),
        signing_cert_pem,
    }
}

/// The spool folder of the stacks on `database_url` (their own: the audit journal's rows
/// belong to that database).
pub fn spool_dir(database_url: &str) -> std::path::PathBuf {
    let db = database_url
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname="))
        .unwrap_or("default");
    std::env::temp_dir().join(format!("fsemw-spool-{db}"))
}

/// A producer's token pair for `pdf`, with claim overrides, signed by `signer` (a PKI name).
pub fn tokens(
    op: dev_tools::dev_jwt::JwtOperation,
    pdf: Option<&[u8]>,
    overrides: Value,
    signer: &str,
) -> (String, String) {
    let pki = pki();
    let overrides: Map<String, Value> = overrides.as_object().cloned().unwrap_or_default();
    let claims = dev_tools::dev_jwt::claims_for(op, pdf, &overrides).expect("claims");
    let signer = hsm::PemSigner::load(&pki.cert(signer), &pki.key(signer)).expect("signer");
    let pair = dev_tools::dev_jwt::mint(&claims, &signer).expect("mint");
    (
        pair["authorization"].as_str().unwrap().to_string(),
        pair["fse_jwt_signature"].as_str().unwrap().to_string(),
    )
}

/// A gateway multipart form.
pub fn form(request_body: &str, pdf: Vec<u8>) -> reqwest::multipart::Form {
    reqwest::multipart::Form::new()
        .text("requestBody", request_body.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(pdf)
                .file_name("doc.pdf")
                .mime_str("application/pdf")
                .unwrap(),
        )
}
