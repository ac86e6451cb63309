//! Prometheus metrics of the middleware, on an explicit registry.
//!
//! Labels are bounded: operation names, status codes, refusal reasons. Never a
//! patient, document or transaction identifier.

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

/// All metrics of one middleware instance.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    /// Requests answered, by operation, HTTP status, status class and regional profile.
    pub requests: IntCounterVec,
    /// The regional profile (`puglia`), a label of every request.
    pub profile: String,
    /// Gateway answers by operation and outcome (`success` or the `/msg/…` type).
    pub gateway_responses: IntCounterVec,
    /// Gateway refusals by cause (`/msg/…`), document type (LOINC) and ASL.
    pub rejections: IntCounterVec,
    /// Age of the oldest publication still to deliver (0 when none).
    pub outbox_oldest_age: Gauge,
    /// Database pool connections by state (`in_use`, `idle`, `max`).
    pub db_pool: IntGaugeVec,
    /// Requests waiting for a database connection.
    pub db_pool_waiters: IntGauge,
    /// Gateway round-trip time, by operation.
    pub gateway_latency: HistogramVec,
    /// Whole request time inside the middleware, by operation.
    pub request_latency: HistogramVec,
    /// Producers refused, by reason.
    pub refusals: IntCounterVec,
    /// Time a CPU-bound job waited for a place in the pool, by work.
    pub cpu_pool_wait: HistogramVec,
    /// CPU-bound jobs running.
    pub cpu_pool_busy: IntGauge,
    /// Requests to the admin listener refused (`credential`, `role`) and console sign-ins
    /// refused or throttled (`sign_in`, `throttled`).
    pub admin_refusals: IntCounterVec,
    /// Gateway calls that failed without an answer, by kind.
    pub gateway_failures: IntCounterVec,
    /// TLS handshakes that failed or timed out on the producer listener.
    pub tls_handshake_failures: IntCounter,
    /// Audit rows that could not be written.
    pub audit_write_failures: IntCounter,
    /// Audit rows put in the local journal because the database could not take them.
    pub audit_rows_journaled: IntCounter,
    /// Audit rows in the local journal, waiting for the database.
    pub audit_journal_rows: IntGauge,
    /// Audit rows written per statement (group commit).
    pub audit_rows_per_statement: Histogram,
    /// Local (regional) warnings added, by check.
    pub regional_warnings: IntCounterVec,
    /// JWT signature time with the regional key, by backend.
    pub signing_latency: HistogramVec,
    /// Failed regional signatures, by backend.
    pub signing_errors: IntCounterVec,
    /// Seconds to expiry of the regional certificates.
    pub certificate_expiry: IntGaugeVec,
    /// Seconds until each producer CA's revocation list is due to be replaced
    /// (negative: stale), by issuer.
    pub client_crl_next_update: IntGaugeVec,
    /// Whether the token behind each key answers (1) or not (0).
    pub hsm_up: IntGaugeVec,
    /// Times the token sessions were re-opened, by key.
    pub hsm_reopens: IntGaugeVec,
    /// XDS transactions answered, by transaction, endpoint and outcome.
    pub xds_transactions: IntCounterVec,
    /// Legacy SOAP calls, by service operation and outcome.
    pub soap_calls: IntCounterVec,
    /// Publications queued because the gateway could not be reached.
    pub outbox_queued: IntCounter,
    /// Delivery attempts of queued publications, by outcome.
    pub outbox_deliveries: IntCounterVec,
    /// Queued publications by state (refreshed at each scrape).
    pub outbox_rows: IntGaugeVec,
}

// === impl Metrics ===

impl Metrics {
    /// Creates and registers every metric on a fresh registry.
    pub fn new() -> Self {
        let registry = Registry::new();
        let buckets = vec![
            0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ];
        let requests = IntCounterVec::new(
            Opts::new("fsemw_requests_total", "Producer requests answered"),
            &["operation", "status", "status_class", "profile"],
        )
        .expect("valid metric");
        let gateway_latency = HistogramVec::new(
            HistogramOpts::new(
                "fsemw_gateway_request_duration_seconds",
                "Gateway round trip",
            )
            .buckets(buckets.clone()),
            &["operation"],
        )
        .expect("valid metric");
        let request_latency = HistogramVec::new(
            HistogramOpts::new(
                "fsemw_request_duration_seconds",
                "Time from request to answer",
            )
            .buckets(buckets),
            &["operation"],
        )
        .expect("valid metric");
        let cpu_pool_wait = HistogramVec::new(
            HistogramOpts::new(
                "fsemw_cpu_pool_wait_seconds",
                "Time a CPU-bound job (signature, SOAP identity, PDF) waited for a worker",
            )
            .buckets(vec![0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0]),
            &["work"],
        )
        .expect("valid metric");
        let cpu_pool_busy =
            IntGauge::new("fsemw_cpu_pool_busy", "CPU-bound jobs running").expect("valid metric");
        let refusals = IntCounterVec::new(
            Opts::new(
                "fsemw_producer_refusals_total",
                "Producers refused by authentication",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let admin_refusals = IntCounterVec::new(
            Opts::new(
                "fsemw_admin_refusals_total",
                "Admin API requests and console sign-ins refused",
            ),
            &["reason"],
        )
        .expect("valid metric");
        let gateway_failures = IntCounterVec::new(
            Opts::new(
                "fsemw_gateway_failures_total",
                "Gateway calls without an answer",
            ),
            &["kind"],
        )
        .expect("valid metric");
        let tls_handshake_failures = IntCounter::new(
            "fsemw_tls_handshake_failures_total",
            "Failed producer TLS handshakes",
        )
        .expect("valid metric");
        let audit_rows_journaled = IntCounter::new(
            "fsemw_audit_rows_journaled_total",
            "Audit rows kept on local disk because the database could not take them",
        )
        .expect("valid metric");
        let audit_journal_rows = IntGauge::new(
            "fsemw_audit_journal_rows",
            "Audit rows on local disk waiting for the database",
        )
        .expect("valid metric");
        let audit_write_failures =
            IntCounter::new("fsemw_audit_write_failures_total", "Audit rows not written")
                .expect("valid metric");
        let audit_rows_per_statement = Histogram::with_opts(
            HistogramOpts::new(
                "fsemw_audit_rows_per_statement",
                "Transaction rows written by one INSERT (batched under load)",
            )
            .buckets(vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]),
        )
        .expect("valid metric");
        let regional_warnings = IntCounterVec::new(
            Opts::new(
                "fsemw_regional_warnings_total",
                "Non-blocking regional warnings added",
            ),
            &["check"],
        )
        .expect("valid metric");
        let signing_latency = HistogramVec::new(
            HistogramOpts::new(
                "fsemw_signing_duration_seconds",
                "Regional JWT signature time",
            )
            .buckets(vec![
                0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5,
            ]),
            &["backend"],
        )
        .expect("valid metric");
        let signing_errors = IntCounterVec::new(
            Opts::new(
                "fsemw_signing_errors_total",
                "Regional signatures that failed",
            ),
            &["backend"],
        )
        .expect("valid metric");
        let certificate_expiry = IntGaugeVec::new(
            Opts::new(
                "fsemw_certificate_expiry_seconds",
                "Seconds until a regional certificate expires",
            ),
            &["certificate"],
        )
        .expect("valid metric");
        let client_crl_next_update = IntGaugeVec::new(
            Opts::new(
                "fsemw_client_crl_next_update_seconds",
                "Seconds until a producer CA's revocation list is due (negative: stale)",
            ),
            &["issuer"],
        )
        .expect("valid metric");
        let hsm_up = IntGaugeVec::new(
            Opts::new("fsemw_hsm_up", "Token answering (1) or not (0)"),
            &["key"],
        )
        .expect("valid metric");
        let hsm_reopens = IntGaugeVec::new(
            Opts::new(
                "fsemw_hsm_session_reopens",
                "Times the token sessions were re-opened",
            ),
            &["key"],
        )
        .expect("valid metric");
        let xds_transactions = IntCounterVec::new(
            Opts::new(
                "fsemw_xds_transactions_total",
                "XDS transactions answered by the regional registry and repositories",
            ),
            &["transaction", "endpoint", "outcome"],
        )
        .expect("valid metric");
        let soap_calls = IntCounterVec::new(
            Opts::new(
                "fsemw_soap_calls_total",
                "Legacy SOAP service calls (IGestoreConsensoService…)",
            ),
            &["operation", "outcome"],
        )
        .expect("valid metric");
        let outbox_queued = IntCounter::new(
            "fsemw_outbox_queued_total",
            "Publications queued because the gateway could not be reached",
        )
        .expect("valid metric");
        let outbox_deliveries = IntCounterVec::new(
            Opts::new(
                "fsemw_outbox_deliveries_total",
                "Delivery attempts of queued publications (delivered, retry, revalidated, failed)",
            ),
            &["outcome"],
        )
        .expect("valid metric");
        let outbox_rows = IntGaugeVec::new(
            Opts::new(
                "fsemw_outbox_rows",
                "Queued publications by state (pending, sending, delivered, failed)",
            ),
            &["state"],
        )
        .expect("valid metric");
        let gateway_responses = IntCounterVec::new(
            Opts::new(
                "fsemw_gateway_responses_total",
                "Gateway answers by operation and outcome (success or the /msg/ error type)",
            ),
            &["operation", "outcome"],
        )
        .expect("valid metric");
        let rejections = IntCounterVec::new(
            Opts::new(
                "fsemw_rejections_total",
                "Requests the gateway refused, by cause (/msg/ type), document type (LOINC) and ASL",
            ),
            &["cause", "document_type", "asl"],
        )
        .expect("valid metric");
        let outbox_oldest_age = Gauge::new(
            "fsemw_outbox_oldest_age_seconds",
            "Age of the oldest queued publication still to deliver (0 when none)",
        )
        .expect("valid metric");
        let db_pool = IntGaugeVec::new(
            Opts::new(
                "fsemw_db_pool_connections",
                "Database pool connections by state (in_use, idle, max)",
            ),
            &["state"],
        )
        .expect("valid metric");
        let db_pool_waiters = IntGauge::new(
            "fsemw_db_pool_waiters",
            "Requests waiting for a database connection",
        )
        .expect("valid metric");
        for c in [
            Box::new(requests.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(gateway_responses.clone()),
            Box::new(rejections.clone()),
            Box::new(outbox_oldest_age.clone()),
            Box::new(db_pool.clone()),
            Box::new(db_pool_waiters.clone()),
            Box::new(xds_transactions.clone()),
            Box::new(outbox_queued.clone()),
            Box::new(soap_calls.clone()),
            Box::new(outbox_deliveries.clone()),
            Box::new(outbox_rows.clone()),
            Box::new(gateway_latency.clone()),
            Box::new(request_latency.clone()),
            Box::new(refusals.clone()),
            Box::new(cpu_pool_wait.clone()),
            Box::new(cpu_pool_busy.clone()),
            Box::new(admin_refusals.clone()),
            Box::new(gateway_failures.clone()),
            Box::new(tls_handshake_failures.clone()),
            Box::new(audit_write_failures.clone()),
            Box::new(audit_rows_journaled.clone()),
            Box::new(audit_journal_rows.clone()),
            Box::new(audit_rows_per_statement.clone()),
            Box::new(regional_warnings.clone()),
            Box::new(signing_latency.clone()),
            Box::new(signing_errors.clone()),
            Box::new(certificate_expiry.clone()),
            Box::new(client_crl_next_update.clone()),
            Box::new(hsm_up.clone()),
            Box::new(hsm_reopens.clone()),
        ] {
            registry.register(c).expect("metric names are unique");
        }
        Self {
            registry,
            requests,
            profile: "default".into(),
            gateway_responses,
            rejections,
            outbox_oldest_age,
            db_pool,
            db_pool_waiters,
            gateway_latency,
            request_latency,
            refusals,
            cpu_pool_wait,
            cpu_pool_busy,
            admin_refusals,
            gateway_failures,
            tls_handshake_failures,
            audit_write_failures,
            audit_rows_journaled,
            audit_journal_rows,
            audit_rows_per_statement,
            regional_warnings,
            signing_latency,
            signing_errors,
            certificate_expiry,
            client_crl_next_update,
            hsm_up,
            hsm_reopens,
            xds_transactions,
            outbox_queued,
            soap_calls,
            outbox_deliveries,
            outbox_rows,
        }
    }

    /// The same metrics labelled with a regional profile.
    pub fn with_profile(mut self, profile: &str) -> Self {
        self.profile = label_value(profile);
        self
    }

    /// Counts one answered request.
    pub fn request(&self, operation: &str, status: http::StatusCode) {
        let class = format!("{}xx", status.as_u16() / 100);
        self.requests
            .with_label_values(&[operation, status.as_str(), &class, &self.profile])
            .inc();
    }

    /// Counts one gateway answer; a refusal also by cause, document type and ASL.
    pub fn gateway_answer(
        &self,
        operation: &str,
        success: bool,
        problem_type: Option<&str>,
        document_type: Option<&str>,
        asl: &str,
    ) {
        let cause = if success {
            "success".to_string()
        } else {
            problem_type
                .filter(|t| {
                    t.len() <= 64
                        && t.starts_with("/msg/")
                        && t[5..].bytes().all(|b| b.is_ascii_lowercase() || b == b'-')
                })
                .map_or_else(|| "other".to_string(), str::to_string)
        };
        self.gateway_responses
            .with_label_values(&[operation, &cause])
            .inc();
        if !success {
            let document = document_type
                .filter(|d| d.len() <= 16 && d.bytes().all(|b| b.is_ascii_digit() || b == b'-'))
                .unwrap_or("unknown");
            self.rejections
                .with_label_values(&[&cause, document, &label_value(asl)])
                .inc();
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        prometheus::TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding does not fail");
        String::from_utf8(buf).expect("exposition is UTF-8")
    }
}

/// A bounded label value: lower-case letters, digits, `_` and `-`, at most 32 characters.
fn label_value(v: &str) -> String {
    let cleaned: String = v
        .to_ascii_lowercase()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .take(32)
        .collect();
    if cleaned.is_empty() {
        "unknown".into()
    } else {
        cleaned
    }
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}
