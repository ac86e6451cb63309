//! Prometheus metrics of the middleware, on an explicit registry.
//!
//! Labels are bounded: operation names, status codes, refusal reasons. Never a
//! patient, document or transaction identifier.

use prometheus::core::Collector;
use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry,
};

/// The latency buckets of request and gateway times (seconds).
const LATENCY_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Declares the metrics once: each field's type, name, help, buckets and labels; the
/// struct and `Metrics::new` (which creates and registers every one) follow from it.
macro_rules! metrics {
    ($( $(#[$doc:meta])* $field:ident: $ty:ty = $make:ident($($arg:expr),* $(,)?); )*) => {
        /// All metrics of one middleware instance.
        #[derive(Clone)]
        pub struct Metrics {
            registry: Registry,
            /// The regional profile (`puglia`), a label of every request.
            pub profile: String,
            $( $(#[$doc])* pub $field: $ty, )*
        }

        impl Metrics {
            /// Creates and registers every metric on a fresh registry.
            pub fn new() -> Self {
                let registry = Registry::new();
                Self {
                    $( $field: register(&registry, $make($($arg),*)), )*
                    profile: "default".into(),
                    registry,
                }
            }
        }
    };
}

metrics! {
    /// Requests answered, by operation, HTTP status, status class and regional profile.
    requests: IntCounterVec = counters("fsemw_requests_total", "Producer requests answered", &["operation", "status", "status_class", "profile"]);
    /// Gateway answers by operation and outcome (`success` or the `/msg/…` type).
    gateway_responses: IntCounterVec = counters("fsemw_gateway_responses_total", "Gateway answers by operation and outcome (success or the /msg/ error type)", &["operation", "outcome"]);
    /// Gateway refusals by cause (`/msg/…`), document type (LOINC) and ASL.
    rejections: IntCounterVec = counters("fsemw_rejections_total", "Requests the gateway refused, by cause (/msg/ type), document type (LOINC) and ASL", &["cause", "document_type", "asl"]);
    /// Age of the oldest publication still to deliver (0 when none).
    outbox_oldest_age: Gauge = gauge("fsemw_outbox_oldest_age_seconds", "Age of the oldest queued publication still to deliver (0 when none)");
    /// Database pool connections by state (`in_use`, `idle`, `max`).
    db_pool: IntGaugeVec = int_gauges("fsemw_db_pool_connections", "Database pool connections by state (in_use, idle, max)", &["state"]);
    /// Requests waiting for a database connection.
    db_pool_waiters: IntGauge = int_gauge("fsemw_db_pool_waiters", "Requests waiting for a database connection");
    /// Gateway round-trip time, by operation.
    gateway_latency: HistogramVec = histograms("fsemw_gateway_request_duration_seconds", "Gateway round trip", LATENCY_BUCKETS, &["operation"]);
    /// Whole request time inside the middleware, by operation.
    request_latency: HistogramVec = histograms("fsemw_request_duration_seconds", "Time from request to answer", LATENCY_BUCKETS, &["operation"]);
    /// Producers refused, by reason.
    refusals: IntCounterVec = counters("fsemw_producer_refusals_total", "Producers refused by authentication", &["reason"]);
    /// Time a CPU-bound job waited for a place in the pool, by work.
    cpu_pool_wait: HistogramVec = histograms("fsemw_cpu_pool_wait_seconds", "Time a CPU-bound job (signature, SOAP identity, PDF) waited for a worker", &[0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0], &["work"]);
    /// CPU-bound jobs running.
    cpu_pool_busy: IntGauge = int_gauge("fsemw_cpu_pool_busy", "CPU-bound jobs running");
    /// Requests to the admin listener refused (`credential`, `role`) and console sign-ins
    /// refused or throttled (`sign_in`, `throttled`).
    admin_refusals: IntCounterVec = counters("fsemw_admin_refusals_total", "Admin API requests and console sign-ins refused", &["reason"]);
    /// Gateway calls that failed without an answer, by kind.
    gateway_failures: IntCounterVec = counters("fsemw_gateway_failures_total", "Gateway calls without an answer", &["kind"]);
    /// TLS handshakes that failed or timed out on the producer listener.
    tls_handshake_failures: IntCounter = counter("fsemw_tls_handshake_failures_total", "Failed producer TLS handshakes");
    /// Audit rows that could not be written.
    audit_write_failures: IntCounter = counter("fsemw_audit_write_failures_total", "Audit rows not written");
    /// Audit rows put in the local journal because the database could not take them.
    audit_rows_journaled: IntCounter = counter("fsemw_audit_rows_journaled_total", "Audit rows kept on local disk because the database could not take them");
    /// Audit rows in the local journal, waiting for the database.
    audit_journal_rows: IntGauge = int_gauge("fsemw_audit_journal_rows", "Audit rows on local disk waiting for the database");
    /// Audit rows written per statement (group commit).
    audit_rows_per_statement: Histogram = histogram("fsemw_audit_rows_per_statement", "Transaction rows written by one INSERT (batched under load)", &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0]);
    /// Local (regional) warnings added, by check.
    regional_warnings: IntCounterVec = counters("fsemw_regional_warnings_total", "Non-blocking regional warnings added", &["check"]);
    /// JWT signature time with the regional key, by backend.
    signing_latency: HistogramVec = histograms("fsemw_signing_duration_seconds", "Regional JWT signature time", &[0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], &["backend"]);
    /// Failed regional signatures, by backend.
    signing_errors: IntCounterVec = counters("fsemw_signing_errors_total", "Regional signatures that failed", &["backend"]);
    /// Seconds to expiry of the regional certificates.
    certificate_expiry: IntGaugeVec = int_gauges("fsemw_certificate_expiry_seconds", "Seconds until a regional certificate expires", &["certificate"]);
    /// Seconds until each producer CA's revocation list is due to be replaced
    /// (negative: stale), by issuer.
    client_crl_next_update: IntGaugeVec = int_gauges("fsemw_client_crl_next_update_seconds", "Seconds until a producer CA's revocation list is due (negative: stale)", &["issuer"]);
    /// Whether the token behind each key answers (1) or not (0).
    hsm_up: IntGaugeVec = int_gauges("fsemw_hsm_up", "Token answering (1) or not (0)", &["key"]);
    /// Times the token sessions were re-opened, by key.
    hsm_reopens: IntGaugeVec = int_gauges("fsemw_hsm_session_reopens", "Times the token sessions were re-opened", &["key"]);
    /// XDS transactions answered, by transaction, endpoint and outcome.
    xds_transactions: IntCounterVec = counters("fsemw_xds_transactions_total", "XDS transactions answered by the regional registry and repositories", &["transaction", "endpoint", "outcome"]);
    /// Legacy SOAP calls, by service operation and outcome.
    soap_calls: IntCounterVec = counters("fsemw_soap_calls_total", "Legacy SOAP service calls (IGestoreConsensoService…)", &["operation", "outcome"]);
    /// Publications queued because the gateway could not be reached.
    outbox_queued: IntCounter = counter("fsemw_outbox_queued_total", "Publications queued because the gateway could not be reached");
    /// Delivery attempts of queued publications, by outcome.
    outbox_deliveries: IntCounterVec = counters("fsemw_outbox_deliveries_total", "Delivery attempts of queued publications (delivered, retry, revalidated, failed)", &["outcome"]);
    /// Status notifications the gateway pushed to the touchpoint, by result (`stored` or
    /// the problem type).
    touchpoint_notifications: IntCounterVec = counters("fsemw_touchpoint_notifications_total", "Workflow status notifications pushed by the gateway, by result", &["result"]);
    /// Events in those notifications, `new` or `repeated` (kept once).
    touchpoint_events: IntCounterVec = counters("fsemw_touchpoint_events_total", "Workflow status events received, new or repeated", &["kind"]);
    /// Queued publications by state (refreshed at each scrape).
    outbox_rows: IntGaugeVec = int_gauges("fsemw_outbox_rows", "Queued publications by state (pending, sending, delivered, failed)", &["state"]);
}

// === impl Metrics ===

impl Metrics {
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

fn register<C: Collector + Clone + 'static>(registry: &Registry, metric: C) -> C {
    registry
        .register(Box::new(metric.clone()))
        .expect("metric names are unique");
    metric
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::new(name, help).expect("valid metric")
}

fn counters(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn gauge(name: &str, help: &str) -> Gauge {
    Gauge::new(name, help).expect("valid metric")
}

fn int_gauge(name: &str, help: &str) -> IntGauge {
    IntGauge::new(name, help).expect("valid metric")
}

fn int_gauges(name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric")
}

fn histogram(name: &str, help: &str, buckets: &[f64]) -> Histogram {
    Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("valid metric")
}

fn histograms(name: &str, help: &str, buckets: &[f64], labels: &[&str]) -> HistogramVec {
    HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid metric")
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
