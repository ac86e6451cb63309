//! Configuration: one TOML file plus `FSEMW_`-prefixed environment overrides.
//!
//! Nested keys use `__` in the environment: `FSEMW_DATABASE__URL` overrides
//! `[database] url`. Unknown keys are refused, and every semantic problem names
//! the key that carries it. Secrets are [`SecretString`]s and never printed.

use std::path::Path;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::SecretString;
use serde::Deserialize;

pub mod routes;
pub use routes::RouteConfig;

/// The whole configuration of `fsemw serve`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Producer-facing and admin listeners.
    pub server: ServerConfig,
    /// The national gateway (or its simulator).
    pub gateway: GatewayConfig,
    /// The regional certificate pair.
    pub keys: KeysConfig,
    /// PostgreSQL.
    pub database: DatabaseConfig,
    /// Audit trail.
    pub audit: AuditConfig,
    /// The regional profile: everything that differs between regions.
    pub region: RegionConfig,
    /// The regional XDS registry and the ASL repositories.
    #[serde(default)]
    pub xds: XdsConfig,
    /// Publications queued while the gateway cannot be reached.
    #[serde(default)]
    pub outbox: OutboxConfig,
    /// The legacy regional SOAP services.
    #[serde(default)]
    pub soap: SoapConfig,
    /// Operations console.
    #[serde(default)]
    pub console: ConsoleConfig,
    /// Who may use the admin API.
    #[serde(default)]
    pub admin: AdminConfig,
    /// Logging.
    #[serde(default)]
    pub log: LogConfig,
    /// The touchpoint the gateway pushes workflow status to (none: no listener).
    #[serde(default)]
    pub touchpoint: Option<TouchpointConfig>,
}

/// The region's touchpoint: its own mutual-TLS listener for the gateway's status
/// notifications (spec 2.22 §11.1: the gateway presents a certificate of the Ministry's CA).
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct TouchpointConfig {
    /// Address to listen on (`0.0.0.0:9445`).
    pub listen: String,
    /// The touchpoint's server certificate (PEM chain).
    pub tls_cert: String,
    /// Its key (PEM).
    pub tls_key: String,
    /// CA (PEM) whose client certificates may push: the gateway's.
    pub client_ca: String,
}

/// The regional registry and repositories served on the producer listener
/// (`/xds/registry`, `/xds/repository/<name>`).
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct XdsConfig {
    /// One entry per repository (each ASL, and the regional one).
    #[serde(default)]
    pub repositories: Vec<RepositoryConfig>,
    /// `homeCommunityId` written on responses, e.g. `urn:oid:2.16.840.1.113883.2.9.2.160`.
    #[serde(default)]
    pub home_community_id: Option<String>,
}

/// The legacy SOAP services, one path per ASL: `/<asl>/IGestoreConsensoService`.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct SoapConfig {
    /// The ASL codes (`aslba`…) the services answer for.
    #[serde(default)]
    pub asl: Vec<String>,
    /// PEM files of the certificates trusted to sign SAML identity assertions (the
    /// signer itself, or its issuing CA). Required when `asl` is not empty.
    #[serde(default)]
    pub saml_signers: Vec<String>,
    /// PEM files of the CAs that issue operators' smart cards (CNS). Required when `asl`
    /// is not empty.
    #[serde(default)]
    pub smartcard_cas: Vec<String>,
    /// `organization-id` values accepted in assertions; empty means the region's code.
    #[serde(default)]
    pub organisations: Vec<String>,
    /// Tolerated clock difference on assertion and timestamp windows, seconds.
    #[serde(default = "default_soap_skew")]
    pub clock_skew_secs: i64,
    /// Revocation lists (PEM or DER files) of the CAs of SAML signers and smart cards; a
    /// certificate one of them names is refused. Re-read like `server.client_crls`.
    #[serde(default)]
    pub crls: Vec<String>,
    /// Longest validity window (`NotOnOrAfter` − `NotBefore`) of an identity assertion,
    /// seconds; a longer one is refused.
    #[serde(default = "default_assertion_lifetime")]
    pub max_assertion_lifetime_secs: i64,
    /// Oldest WS-Security `Created` accepted, and longest `Created`–`Expires` window,
    /// seconds. A message seen once is refused again until its `Expires` (replay).
    #[serde(default = "default_message_age")]
    pub max_message_age_secs: i64,
}

impl Default for SoapConfig {
    fn default() -> Self {
        Self {
            asl: Vec::new(),
            saml_signers: Vec::new(),
            smartcard_cas: Vec::new(),
            organisations: Vec::new(),
            clock_skew_secs: default_soap_skew(),
            crls: Vec::new(),
            max_assertion_lifetime_secs: default_assertion_lifetime(),
            max_message_age_secs: default_message_age(),
        }
    }
}

fn default_soap_skew() -> i64 {
    120
}
fn default_assertion_lifetime() -> i64 {
    12 * 3600
}
fn default_message_age() -> i64 {
    300
}

/// The recovery worker of queued publications.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Whether this replica runs the recovery worker.
    #[serde(default = "default_true")]
    pub worker: bool,
    /// Pause between polls when nothing is due, milliseconds.
    #[serde(default = "default_outbox_poll_ms")]
    pub poll_ms: u64,
    /// First retry delay, doubled at each attempt, milliseconds.
    #[serde(default = "default_outbox_backoff_base_ms")]
    pub backoff_base_ms: u64,
    /// Longest retry delay, milliseconds.
    #[serde(default = "default_outbox_backoff_max_ms")]
    pub backoff_max_ms: u64,
    /// How long a replica owns the deliveries it claimed, seconds.
    #[serde(default = "default_outbox_lease_secs")]
    pub lease_secs: u64,
    /// Gateway answers 502/503/504 tolerated for one publication before it fails.
    #[serde(default = "default_outbox_max_attempts")]
    pub max_attempts: i32,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        Self {
            worker: true,
            poll_ms: default_outbox_poll_ms(),
            backoff_base_ms: default_outbox_backoff_base_ms(),
            backoff_max_ms: default_outbox_backoff_max_ms(),
            lease_secs: default_outbox_lease_secs(),
            max_attempts: default_outbox_max_attempts(),
        }
    }
}

fn default_true() -> bool {
    true
}
fn default_outbox_poll_ms() -> u64 {
    1_000
}
fn default_outbox_backoff_base_ms() -> u64 {
    1_000
}
fn default_outbox_backoff_max_ms() -> u64 {
    60_000
}
fn default_outbox_lease_secs() -> u64 {
    60
}
fn default_outbox_max_attempts() -> i32 {
    50
}

/// One document repository.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct RepositoryConfig {
    /// Path segment (`aslba`), also the name in logs and metrics.
    pub name: String,
    /// `repositoryUniqueId` (an OID).
    pub unique_id: String,
}

/// Listeners.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Producer-facing HTTPS address (mutual TLS), e.g. `0.0.0.0:8443`; port 0 picks one.
    pub listen: String,
    /// Admin address (plain HTTP: health, readiness and metrics open; the admin API behind
    /// a bearer token, the console behind its sign-in). Loopback unless set; keep it on the
    /// operations network.
    #[serde(default = "default_admin_listen")]
    pub admin_listen: String,
    /// Server certificate chain (PEM) of the producer-facing listener.
    pub tls_cert: String,
    /// Its private key (PEM).
    pub tls_key: String,
    /// Trust roots (PEM bundle) for producer client certificates.
    pub client_ca: String,
    /// Revocation lists (PEM or DER files) of the producer CAs; a producer whose
    /// certificate one of them lists is refused (401, reason `revoked`).
    #[serde(default)]
    pub client_crls: Vec<String>,
    /// Refuse producers whose issuing CA has no list among `client_crls` (default: they
    /// are accepted; only listed certificates are refused).
    #[serde(default)]
    pub client_crl_required: bool,
    /// Seconds between checks of the CRL files for a newer version (0: only on `SIGHUP`
    /// and `POST /admin/crls/reload`).
    #[serde(default = "default_crl_refresh")]
    pub crl_refresh_secs: u64,
    /// Base path of the gateway-identical API.
    #[serde(default = "default_base_path")]
    pub base_path: String,
    /// Further base paths serving the same contract (e.g. `/gateway/v2`).
    #[serde(default)]
    pub alias_base_paths: Vec<String>,
    /// Largest accepted request body in bytes; larger ones get 413.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: u64,
    /// TLS handshake timeout in milliseconds.
    #[serde(default = "default_handshake_ms")]
    pub handshake_timeout_ms: u64,
    /// Time a client has to send a request's headers (HTTP/1.1), in milliseconds.
    #[serde(default = "default_header_read_ms")]
    pub header_read_timeout_ms: u64,
    /// Longest pause in a request body while the middleware waits for it, in
    /// milliseconds; then the request ends with 408.
    #[serde(default = "default_body_idle_ms")]
    pub body_idle_timeout_ms: u64,
    /// Seconds a producer's registry entry is reused before it is read again (0: every
    /// request reads it). A disabled producer is refused at most this long after.
    #[serde(default = "default_producer_cache")]
    pub producer_cache_secs: u64,
    /// CPU-bound jobs (signatures, SOAP identity checks, PDF parsing) run at once on the
    /// blocking pool (default: the number of cores).
    #[serde(default)]
    pub cpu_workers: Option<usize>,
    /// Folder where publication bodies are kept while they are forwarded (default: the
    /// system's temporary folder, `fsemw-spool`). On a disk, not in memory.
    #[serde(default)]
    pub spool_dir: Option<String>,
}

/// The national gateway.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GatewayConfig {
    /// Base URL including the version, e.g. `https://modipa-val.fse.salute.gov.it/govway/rest/in/FSE/gateway/v1`.
    pub base_url: String,
    /// Trust roots (PEM) for the gateway's server certificate.
    pub ca: String,
    /// Connection timeout in milliseconds.
    #[serde(default = "default_connect_ms")]
    pub connect_timeout_ms: u64,
    /// Whole-request timeout in milliseconds (headers and body of the answer).
    #[serde(default = "default_request_ms")]
    pub request_timeout_ms: u64,
    /// 1: producer-signed JWTs forwarded untouched; 2: the region re-signs them.
    #[serde(default = "default_case")]
    pub certificate_case: u8,
    /// Lifetime of re-issued tokens (case 2), seconds.
    #[serde(default = "default_jwt_lifetime")]
    pub jwt_lifetime_secs: i64,
    /// Clock skew tolerated on producer tokens' `exp`, seconds.
    #[serde(default = "default_skew")]
    pub jwt_clock_skew_secs: i64,
    /// Paths added to (or changing the rule of) those of OpenAPI 2.6.3: see [`routes`].
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
}

/// Where the regional keys are.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// `pkcs11` (keys in an HSM, the normal path) or `pem` (development only: keys in files).
    pub backend: KeyBackend,
    /// Authentication (TLS client) certificate chain, PEM; with `pkcs11` it may come from the token.
    #[serde(default)]
    pub auth_cert: Option<String>,
    /// Signature (JWT) certificate chain, PEM; with `pkcs11` it may come from the token.
    #[serde(default)]
    pub signature_cert: Option<String>,
    /// Authentication private key, PEM (backend `pem` only).
    #[serde(default)]
    pub auth_key: Option<String>,
    /// Signature private key, PEM (backend `pem` only).
    #[serde(default)]
    pub signature_key: Option<String>,
    /// The token (backend `pkcs11`).
    #[serde(default)]
    pub pkcs11: Option<Pkcs11Config>,
    /// Days before expiry from which `/readyz` warns about a certificate.
    #[serde(default = "default_expiry_warning_days")]
    pub expiry_warning_days: i64,
}

/// A PKCS#11 token holding both regional keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pkcs11Config {
    /// Path of the PKCS#11 module (e.g. `/usr/lib/softhsm/libsofthsm2.so`).
    pub module: String,
    /// Token label.
    pub token_label: String,
    /// File holding the user PIN (mode 0600); never put the PIN itself in this file.
    #[serde(default)]
    pub pin_file: Option<String>,
    /// Environment variable holding the user PIN when there is no `pin_file`.
    #[serde(default = "default_pin_env")]
    pub pin_env: String,
    /// `CKA_ID` (hex) of the authentication key.
    pub auth_key_id: String,
    /// `CKA_LABEL` of the authentication key (informational).
    #[serde(default = "default_auth_label")]
    pub auth_key_label: String,
    /// `CKA_ID` (hex) of the signature key.
    pub signature_key_id: String,
    /// `CKA_LABEL` of the signature key (informational).
    #[serde(default = "default_signature_label")]
    pub signature_key_label: String,
    /// Logged-in sessions kept ready.
    #[serde(default = "default_sessions")]
    pub sessions: usize,
}

/// Key custody backends.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum KeyBackend {
    /// Keys inside a PKCS#11 token (HSM; SoftHSM2 in development).
    Pkcs11,
    /// Private keys read from PEM files: development only.
    Pem,
}

/// PostgreSQL.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// libpq-style connection string (`host=/run/postgresql user=fsemw dbname=fsemw`).
    pub url: String,
    /// Password, if not in a `.pgpass` (prefer `FSEMW_DATABASE__PASSWORD`).
    #[serde(default)]
    pub password: Option<SecretString>,
    /// Pool size.
    #[serde(default = "default_pool")]
    pub pool_size: usize,
    /// `disable` (the default: a local socket) or `verify-full`: TLS, the server's
    /// certificate checked against `sslrootcert` and the host name (as libpq's).
    #[serde(default)]
    pub sslmode: DbSslMode,
    /// PEM bundle of the CAs that issue the database server's certificate.
    #[serde(default)]
    pub sslrootcert: Option<String>,
}

/// How the database is reached.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DbSslMode {
    /// Without TLS (a Unix socket, or a network the region trusts).
    #[default]
    Disable,
    /// TLS with the server's certificate and host name verified.
    VerifyFull,
}

/// Audit trail.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditConfig {
    /// Key of the HMAC that turns patient fiscal codes into searchable hashes (at least 32
    /// bytes in production; set it with `FSEMW_AUDIT__CF_HMAC_KEY`).
    pub cf_hmac_key: SecretString,
    /// The key's id, written before each hash (`<id>:<hex>`) so that keys can be rotated.
    #[serde(default = "default_cf_key_id")]
    pub cf_hmac_key_id: String,
    /// Keys in force before, still used to search the rows they hashed.
    #[serde(default)]
    pub previous_cf_hmac_keys: Vec<PreviousCfKey>,
    /// Days the CDA of a publication is kept for the help desk's support bundle (0: never).
    #[serde(default = "default_document_retention")]
    pub document_retention_days: u32,
}

/// A CF HMAC key no longer used for new rows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviousCfKey {
    /// Its id (the prefix of the hashes it made; rows from before key ids have none).
    pub id: String,
    /// The key.
    pub key: SecretString,
}

fn default_cf_key_id() -> String {
    "1".into()
}

fn default_admin_listen() -> String {
    "127.0.0.1:9090".into()
}

fn default_producer_cache() -> u64 {
    5
}

fn default_document_retention() -> u32 {
    30
}

/// The operations console on the admin listener (`/console`).
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Who may sign in. None: the console only shows its sign-in page.
    #[serde(default)]
    pub users: Vec<ConsoleUser>,
    /// Key signing the session cookies, shared by the replicas behind one address
    /// (default: random at each start, so sessions end with the process).
    #[serde(default)]
    pub session_key: Option<SecretString>,
    /// Hours a sign-in lasts.
    #[serde(default = "default_session_hours")]
    pub session_hours: u32,
    /// Serve `/public`: aggregate volumes only, no sign-in, no identifiers.
    #[serde(default)]
    pub public_page: bool,
    /// Mark the session cookie `Secure` (sent over HTTPS only): set it when the console is
    /// reached through TLS (a terminating proxy). Default: on in `production`.
    #[serde(default)]
    pub secure_cookie: Option<bool>,
}

/// The admin API (`/admin/…`, `/openapi.yaml`) on the admin listener.
#[derive(Debug, Deserialize, Clone, Default)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Bearer tokens, each read from a file (at least 32 characters) with the role it gives.
    #[serde(default)]
    pub tokens: Vec<AdminToken>,
}

/// One bearer token of the admin API.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct AdminToken {
    /// Who holds it (logs, the console's audit of actions).
    pub name: String,
    /// File holding the token (mode 0600).
    pub file: String,
    /// `monitor` (search transactions), `helpdesk` (also their stored bodies) or
    /// `operator` (also key and revocation-list reloads).
    pub role: String,
}

fn default_session_hours() -> u32 {
    8
}

/// A console user.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConsoleUser {
    /// Sign-in name.
    pub name: String,
    /// `fsemw console-password` output (PBKDF2-HMAC-SHA256).
    pub password_hash: String,
    /// `monitor` (read, no stored bodies nor support bundles), `helpdesk` (read, support
    /// bundles) or `operator` (also manual retries).
    pub role: String,
}

/// A regional profile.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// Region name, e.g. `Puglia`.
    pub name: String,
    /// Region code (organisation code), e.g. `160`.
    pub code: String,
    /// `test` or `production`.
    pub environment: Environment,
    /// Regexes over the client certificate CN; the first that matches identifies a producer.
    pub cn_patterns: Vec<String>,
    /// Regex that `identificativoDoc` should match (non-blocking check).
    pub document_id_pattern: String,
    /// Regex that `identificativoRep` should match (non-blocking check).
    pub repository_id_pattern: String,
    /// Fiscal codes reserved to the test environment.
    #[serde(default)]
    pub test_fiscal_codes: Vec<String>,
    /// Name of the transaction-id response header.
    #[serde(default = "default_tx_header")]
    pub transaction_header: String,
}

/// Deployment environment.
#[derive(Debug, Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    /// Test / validation environment.
    Test,
    /// Production.
    Production,
}

/// Logging.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `plain` or `json`.
    #[serde(default = "default_log_format")]
    pub format: String,
    /// tracing filter, e.g. `info,middleware=debug`.
    #[serde(default = "default_log_filter")]
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            format: default_log_format(),
            filter: default_log_filter(),
        }
    }
}

/// A configuration problem, naming the key.
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

// === impl Config ===

impl Config {
    /// Loads `path` (TOML) with environment overrides, then validates.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        if !path.exists() {
            return Err(ConfigError(format!("file {} not found", path.display())));
        }
        let config: Config = Figment::new()
            .merge(Toml::file(path))
            // Only `SECTION__KEY` variables are overrides: `FSEMW_CONFIG` and the
            // dev-tool variables share the prefix but are not configuration keys.
            .merge(
                Env::prefixed("FSEMW_")
                    .filter(|k| k.as_str().contains("__"))
                    .split("__"),
            )
            .extract()
            .map_err(|e| ConfigError(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Semantic checks that serde cannot express; each error names its key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_gateway()?;
        self.validate_region()?;
        self.validate_server()?;
        self.keys.validate()?;
        self.database.validate()?;
        self.validate_soap()?;
        self.validate_console_and_admin()?;
        self.secrets()?;
        self.validate_xds()
    }

    /// `[gateway]`: certificate case, an https base URL, a positive token lifetime.
    fn validate_gateway(&self) -> Result<(), ConfigError> {
        if !matches!(self.gateway.certificate_case, 1 | 2) {
            return bad("gateway.certificate_case", "must be 1 or 2".into());
        }
        match reqwest::Url::parse(&self.gateway.base_url) {
            Ok(u) if u.scheme() == "https" => {}
            Ok(_) => return bad("gateway.base_url", "must be an https URL".into()),
            Err(e) => return bad("gateway.base_url", e.to_string()),
        }
        if self.gateway.jwt_lifetime_secs <= 0 {
            return bad("gateway.jwt_lifetime_secs", "must be positive".into());
        }
        routes::resolve(&self.gateway.routes).map(|_| ())
    }

    /// `[region]`: CN and id patterns that compile, a valid transaction header name.
    fn validate_region(&self) -> Result<(), ConfigError> {
        for (i, p) in self.region.cn_patterns.iter().enumerate() {
            if let Err(e) = regex::Regex::new(p) {
                return bad(&format!("region.cn_patterns[{i}]"), e.to_string());
            }
        }
        if self.region.cn_patterns.is_empty() {
            return bad(
                "region.cn_patterns",
                "at least one pattern is needed".into(),
            );
        }
        for (key, p) in [
            (
                "region.document_id_pattern",
                &self.region.document_id_pattern,
            ),
            (
                "region.repository_id_pattern",
                &self.region.repository_id_pattern,
            ),
        ] {
            if let Err(e) = regex::Regex::new(p) {
                return bad(key, e.to_string());
            }
        }
        if http::HeaderName::from_bytes(self.region.transaction_header.as_bytes()).is_err() {
            return bad(
                "region.transaction_header",
                "not a valid header name".into(),
            );
        }
        Ok(())
    }

    /// `[server]`: base paths, the TLS files and revocation lists present, a body limit.
    fn validate_server(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for base in std::iter::once(&self.server.base_path).chain(&self.server.alias_base_paths) {
            if !seen.insert(base.as_str()) {
                return bad(
                    "server.alias_base_paths",
                    format!("{base:?} is given twice (base paths must differ)"),
                );
            }
        }
        for (key, base) in std::iter::once(("server.base_path", &self.server.base_path)).chain(
            self.server
                .alias_base_paths
                .iter()
                .map(|b| ("server.alias_base_paths", b)),
        ) {
            if !base.starts_with('/') || base.ends_with('/') || base.len() < 2 {
                return bad(
                    key,
                    format!("{base:?} must start with '/' and not end with '/'"),
                );
            }
        }
        for (key, file) in [
            ("server.tls_cert", &self.server.tls_cert),
            ("server.tls_key", &self.server.tls_key),
            ("server.client_ca", &self.server.client_ca),
            ("gateway.ca", &self.gateway.ca),
        ] {
            if !Path::new(file).is_file() {
                return bad(key, format!("file {file:?} not found"));
            }
        }
        for file in &self.server.client_crls {
            if !Path::new(file).is_file() {
                return bad("server.client_crls", format!("file {file:?} not found"));
            }
        }
        if self.server.max_body_bytes == 0 {
            return bad("server.max_body_bytes", "must be positive".into());
        }
        Ok(())
    }

    /// `[soap]`: ASL names, the trust needed when SOAP is on, durations, revocation lists.
    fn validate_soap(&self) -> Result<(), ConfigError> {
        for (i, a) in self.soap.asl.iter().enumerate() {
            if a.is_empty() || !a.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return bad(
                    &format!("soap.asl[{i}]"),
                    format!("{a:?}: letters, digits and '_' only"),
                );
            }
        }
        if !self.soap.asl.is_empty() {
            if self.soap.saml_signers.is_empty() {
                return bad(
                    "soap.saml_signers",
                    "at least one certificate: SOAP calls must carry a trusted SAML assertion"
                        .into(),
                );
            }
            if self.soap.smartcard_cas.is_empty() {
                return bad(
                    "soap.smartcard_cas",
                    "at least one CA: operators sign SOAP calls with their smart card".into(),
                );
            }
        }
        for (key, v) in [
            ("soap.clock_skew_secs", self.soap.clock_skew_secs),
            (
                "soap.max_assertion_lifetime_secs",
                self.soap.max_assertion_lifetime_secs,
            ),
            ("soap.max_message_age_secs", self.soap.max_message_age_secs),
        ] {
            if v < 0 || (v == 0 && key != "soap.clock_skew_secs") {
                return bad(key, "must be positive".into());
            }
        }
        for file in &self.soap.crls {
            if !Path::new(file).is_file() {
                return bad("soap.crls", format!("file {file:?} not found"));
            }
        }
        Ok(())
    }

    /// `[[console.users]]` and `[[admin.tokens]]`: known roles, real hashes, token files.
    fn validate_console_and_admin(&self) -> Result<(), ConfigError> {
        for (i, u) in self.console.users.iter().enumerate() {
            if !matches!(u.role.as_str(), "monitor" | "helpdesk" | "operator") {
                return bad(
                    &format!("console.users[{i}].role"),
                    format!("{:?}: monitor, helpdesk or operator", u.role),
                );
            }
            if !u.password_hash.starts_with("pbkdf2-sha256$") {
                return bad(
                    &format!("console.users[{i}].password_hash"),
                    "not a hash made by `fsemw console-password`".into(),
                );
            }
        }
        for (i, t) in self.admin.tokens.iter().enumerate() {
            if !matches!(t.role.as_str(), "monitor" | "helpdesk" | "operator") {
                return bad(
                    &format!("admin.tokens[{i}].role"),
                    format!("{:?}: monitor, helpdesk or operator", t.role),
                );
            }
            if !Path::new(&t.file).is_file() {
                return bad(
                    &format!("admin.tokens[{i}].file"),
                    format!("file {:?} not found", t.file),
                );
            }
        }
        Ok(())
    }

    /// `[[xds.repositories]]`: names, OIDs, both unique.
    fn validate_xds(&self) -> Result<(), ConfigError> {
        let mut names = std::collections::HashSet::new();
        let mut ids = std::collections::HashSet::new();
        for (i, r) in self.xds.repositories.iter().enumerate() {
            let key = format!("xds.repositories[{i}]");
            if r.name.is_empty()
                || !r
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                return bad(
                    &key,
                    format!("name {:?}: letters, digits and '-' only", r.name),
                );
            }
            if let Err(e) = xds::ids::check_oid(&r.unique_id) {
                return bad(&key, e.to_string());
            }
            if !names.insert(r.name.as_str()) || !ids.insert(r.unique_id.as_str()) {
                return bad(&key, "name and unique_id must be unique".into());
            }
        }
        Ok(())
    }
}

/// A configuration error naming its key.
fn bad(key: &str, why: String) -> Result<(), ConfigError> {
    Err(ConfigError(format!("{key}: {why}")))
}

/// Values shipped as examples, never secrets.
const PLACEHOLDERS: &[&str] = &[
    "change-me",
    "changeme",
    "change_me",
    "secret",
    "password",
    "demo-only-key",
    "test-key",
    "example",
];

/// Shortest secret accepted in production, bytes.
pub const MIN_SECRET_BYTES: usize = 32;

impl Config {
    /// In production, refuses a placeholder or short HMAC key (CF hashes, session
    /// cookies): each error names the key.
    fn secrets(&self) -> Result<(), ConfigError> {
        use secrecy::ExposeSecret;
        let mut keys: Vec<(String, &SecretString)> =
            vec![("audit.cf_hmac_key".into(), &self.audit.cf_hmac_key)];
        keys.extend(
            self.audit
                .previous_cf_hmac_keys
                .iter()
                .enumerate()
                .map(|(i, k)| (format!("audit.previous_cf_hmac_keys[{i}].key"), &k.key)),
        );
        if let Some(k) = &self.console.session_key {
            keys.push(("console.session_key".into(), k));
        }
        let production = self.region.environment == Environment::Production;
        for (key, value) in keys {
            let value = value.expose_secret();
            let placeholder = PLACEHOLDERS
                .iter()
                .any(|p| value.trim().eq_ignore_ascii_case(p));
            if production && (placeholder || value.len() < MIN_SECRET_BYTES) {
                return Err(ConfigError(format!(
                    "{key}: a placeholder or shorter than {MIN_SECRET_BYTES} bytes: set a random secret (e.g. `openssl rand -base64 48`) for production"
                )));
            }
        }
        let mut ids = vec![self.audit.cf_hmac_key_id.as_str()];
        for k in &self.audit.previous_cf_hmac_keys {
            if ids.contains(&k.id.as_str()) || k.id.is_empty() || k.id.contains(':') {
                return Err(ConfigError(format!(
                    "audit.previous_cf_hmac_keys: id {:?} empty, repeated or with ':'",
                    k.id
                )));
            }
            ids.push(&k.id);
        }
        if self.audit.cf_hmac_key_id.is_empty() || self.audit.cf_hmac_key_id.contains(':') {
            return Err(ConfigError(
                "audit.cf_hmac_key_id: not empty, without ':'".into(),
            ));
        }
        Ok(())
    }
}

// === impl DatabaseConfig ===

impl DatabaseConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("{key}: {why}")));
        let url: tokio_postgres::Config = match self.url.parse() {
            Ok(u) => u,
            Err(e) => return bad("database.url", format!("{e}")),
        };
        match self.sslmode {
            DbSslMode::Disable => {
                if url.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
                    return bad(
                        "database.url",
                        "sslmode=require in the URL: set database.sslmode = \"verify-full\" and database.sslrootcert instead".into(),
                    );
                }
            }
            DbSslMode::VerifyFull => {
                match &self.sslrootcert {
                    None => {
                        return bad(
                            "database.sslrootcert",
                            "verify-full needs the CA bundle of the database server".into(),
                        );
                    }
                    Some(f) if !Path::new(f).is_file() => {
                        return bad("database.sslrootcert", format!("file {f:?} not found"));
                    }
                    Some(_) => {}
                }
                let unix = url
                    .get_hosts()
                    .iter()
                    .any(|h| !matches!(h, tokio_postgres::config::Host::Tcp(_)));
                if unix || url.get_hosts().is_empty() {
                    return bad(
                        "database.url",
                        "verify-full needs a host name (TLS is not spoken over a Unix socket)"
                            .into(),
                    );
                }
            }
        }
        Ok(())
    }
}

// === impl KeysConfig ===

impl KeysConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("{key}: {why}")));
        let file = |key: &str, v: &Option<String>, required: bool| match v {
            Some(f) if !Path::new(f).is_file() => bad(key, format!("file {f:?} not found")),
            None if required => bad(key, "required with this backend".into()),
            _ => Ok(()),
        };
        let pem = self.backend == KeyBackend::Pem;
        file("keys.auth_cert", &self.auth_cert, pem)?;
        file("keys.signature_cert", &self.signature_cert, pem)?;
        file("keys.auth_key", &self.auth_key, pem)?;
        file("keys.signature_key", &self.signature_key, pem)?;
        if pem {
            return Ok(());
        }
        let Some(p) = &self.pkcs11 else {
            return bad("keys.pkcs11", "required with backend \"pkcs11\"".into());
        };
        if !Path::new(&p.module).is_file() {
            return bad(
                "keys.pkcs11.module",
                format!("file {:?} not found", p.module),
            );
        }
        for (key, id) in [
            ("keys.pkcs11.auth_key_id", &p.auth_key_id),
            ("keys.pkcs11.signature_key_id", &p.signature_key_id),
        ] {
            if let Err(e) = hsm::pkcs11::parse_key_id(id) {
                return bad(key, e.to_string());
            }
        }
        match &p.pin_file {
            Some(f) if !Path::new(f).is_file() => {
                bad("keys.pkcs11.pin_file", format!("file {f:?} not found"))
            }
            None if std::env::var_os(&p.pin_env).is_none() => bad(
                "keys.pkcs11.pin_file",
                format!("no pin_file and ${} is not set", p.pin_env),
            ),
            _ => Ok(()),
        }
    }
}

fn default_expiry_warning_days() -> i64 {
    30
}
fn default_pin_env() -> String {
    "FSEMW_HSM_PIN".into()
}
fn default_auth_label() -> String {
    "authentication".into()
}
fn default_signature_label() -> String {
    "signature".into()
}
fn default_sessions() -> usize {
    4
}
fn default_base_path() -> String {
    "/v1".into()
}
fn default_max_body() -> u64 {
    20 * 1024 * 1024
}
fn default_crl_refresh() -> u64 {
    300
}

fn default_handshake_ms() -> u64 {
    10_000
}
fn default_header_read_ms() -> u64 {
    10_000
}
fn default_body_idle_ms() -> u64 {
    30_000
}
fn default_connect_ms() -> u64 {
    3_000
}
fn default_request_ms() -> u64 {
    30_000
}
fn default_case() -> u8 {
    2
}
fn default_jwt_lifetime() -> i64 {
    300
}
fn default_skew() -> i64 {
    60
}
fn default_pool() -> usize {
    16
}
fn default_tx_header() -> String {
    "X-Transaction-Id".into()
}
fn default_log_format() -> String {
    "plain".into()
}
fn default_log_filter() -> String {
    "info".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str) -> Result<Config, ConfigError> {
        let path = std::env::temp_dir().join(format!("fsemw-config-{}.toml", uuid::Uuid::new_v4()));
        std::fs::write(&path, text).unwrap();
        let result = Config::load(&path);
        let _ = std::fs::remove_file(&path);
        result
    }

    fn sample(case: &str, extra: &str) -> String {
        // The profile ships no CF key (it comes from the environment in production).
        let base = include_str!("../../ops/config/puglia.toml").replace(
            "cf_hmac_key_id = \"1\"",
            "cf_hmac_key_id = \"1\"\ncf_hmac_key = \"s3cr3t-of-the-config-unit-tests\"",
        );
        base.replace(
            "certificate_case = 2",
            &format!("certificate_case = {case}"),
        ) + extra
    }

    #[test]
    fn errors_name_the_key() {
        let e = load_text(&sample("3", "")).unwrap_err().to_string();
        assert!(e.contains("gateway.certificate_case"), "{e}");
        let e = load_text(&sample("2", "\n[surprise]\nx = 1\n"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("surprise"), "{e}");
        let e = load_text(&sample("2", "")).unwrap_err().to_string();
        assert!(
            e.contains("server.tls_cert"),
            "missing files are named: {e}"
        );
        let e = load_text(&sample("x", "")).unwrap_err().to_string();
        assert!(e.contains("certificate_case"), "{e}");
    }

    #[test]
    fn base_paths_must_differ_and_routes_are_checked() {
        let twice =
            sample("2", "").replace("alias_base_paths = []", "alias_base_paths = [\"/v1\"]");
        let e = load_text(&twice).unwrap_err().to_string();
        assert!(e.contains("server.alias_base_paths"), "{e}");
        let route =
            "\n[[gateway.routes]]\nmethod = \"PUT\"\npath = \"/x\"\ninspect = \"replace\"\n";
        let with_route = sample("2", "").replace("[keys]", &format!("{route}\n[keys]"));
        let e = load_text(&with_route).unwrap_err().to_string();
        assert!(e.contains("gateway.routes[0].path"), "{e}");
    }

    #[test]
    fn secrets_are_not_printed() {
        let e = load_text(&sample("3", "")).unwrap_err().to_string();
        assert!(!e.contains("s3cr3t"), "{e}");
        let cfg: Config = toml::from_str(&sample("2", "")).unwrap();
        assert!(!format!("{cfg:?}").contains("s3cr3t"));
    }

    #[test]
    fn database_tls_needs_a_ca_and_a_host_name() {
        let db = |text: &str| toml::from_str::<DatabaseConfig>(text).unwrap().validate();
        let e = db("url = \"host=db.asl.it user=fsemw\"\nsslmode = \"verify-full\"").unwrap_err();
        assert!(
            e.to_string().contains("database.sslrootcert: verify-full"),
            "{e}"
        );
        let ca = format!("{}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
        let e = db(&format!(
            "url = \"host=/run/postgresql user=fsemw\"\nsslmode = \"verify-full\"\nsslrootcert = \"{ca}\""
        ))
        .unwrap_err();
        assert!(e.to_string().contains("Unix socket"), "{e}");
        let e = db("url = \"host=db.asl.it sslmode=require\"").unwrap_err();
        assert!(
            e.to_string().contains("database.url: sslmode=require"),
            "{e}"
        );
        assert!(db("url = \"host=/run/postgresql user=fsemw\"").is_ok());
        assert!(db(&format!(
            "url = \"host=db.asl.it user=fsemw\"\nsslmode = \"verify-full\"\nsslrootcert = \"{ca}\""
        ))
        .is_ok());
        let e =
            toml::from_str::<DatabaseConfig>("url = \"x\"\nsslmode = \"verify-ca\"").unwrap_err();
        assert!(e.to_string().contains("verify-full"), "{e}");
    }

    #[test]
    fn the_profiles_ship_no_cf_key() {
        for profile in [
            include_str!("../../ops/config/puglia.toml"),
            include_str!("../../ops/config/toscana.toml"),
        ] {
            let e = toml::from_str::<Config>(profile).unwrap_err().to_string();
            assert!(e.contains("cf_hmac_key"), "{e}");
        }
    }
}
