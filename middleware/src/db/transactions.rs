//! The audit trail: one row per producer request.

use super::outcome::Outcome;
use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::ToSql;

use super::DbError;

/// One audited request. Never holds clinical content or a clear fiscal code.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TransactionRecord {
    /// The id returned to the producer in the transaction header.
    pub tx_id: uuid::Uuid,
    /// When the request arrived.
    #[serde(with = "time::serde::rfc3339")]
    pub received_at: OffsetDateTime,
    /// Registry id of the producer, when identified.
    pub producer_id: Option<i64>,
    /// CN of the client certificate, when one was presented.
    pub client_cn: Option<String>,
    /// `subject_application_id` of the JWT.
    pub application_id: Option<String>,
    /// `subject_application_vendor` of the JWT.
    pub application_vendor: Option<String>,
    /// `subject_application_version` of the JWT.
    pub application_version: Option<String>,
    /// Gateway operation (`validation`, `create`, …).
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Request path as received.
    pub path: String,
    /// Status returned to the producer.
    pub http_status: i32,
    /// What became of it.
    pub outcome: Outcome,
    /// `type` of the problem returned, if any (gateway's or ours).
    pub problem_type: Option<String>,
    /// `title` of the problem returned, if any.
    pub problem_title: Option<String>,
    /// Gateway `traceID`.
    pub gtw_trace_id: Option<String>,
    /// Gateway `spanID`.
    pub gtw_span_id: Option<String>,
    /// Gateway `workflowInstanceId`.
    pub workflow_instance_id: Option<String>,
    /// `identificativoDoc` (body) or the document id of the path.
    pub document_id: Option<String>,
    /// SHA-256 (hex) of the `file` part.
    pub file_sha256: Option<String>,
    /// Size of the `file` part.
    pub file_bytes: Option<i64>,
    /// HMAC-SHA-256 (hex) of the patient's fiscal code.
    pub patient_cf_hmac: Option<String>,
    /// Certificate case in force (1 or 2).
    pub certificate_case: i16,
    /// Regional warnings appended to the answer.
    pub local_warnings: Option<String>,
    /// Time spent answering, milliseconds.
    pub duration_ms: f64,
    /// Time spent waiting for the gateway, milliseconds.
    pub gtw_duration_ms: Option<f64>,
    /// For a publication queued during a gateway outage: `queued`, `delivered`, `failed`.
    pub delivery: Option<String>,
    /// The gateway's HTTP status at delivery.
    pub delivery_status: Option<i32>,
    /// When the gateway answered the delivery.
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub delivered_at: Option<OffsetDateTime>,
    /// Document type: LOINC code of the token's `resource_hl7_type`.
    pub document_type: Option<String>,
    /// The request's JSON part (`requestBody`, or the JSON body), at most 64 KiB.
    #[serde(skip)]
    pub request_body: Option<String>,
    /// The answer returned, at most 64 KiB.
    #[serde(skip)]
    pub response_body: Option<String>,
}

/// The most of a request or answer body kept on the audit row.
pub const MAX_BODY_KEPT: usize = 64 * 1024;

/// `text` cut to [`MAX_BODY_KEPT`] bytes at a character boundary.
pub fn kept(text: &str) -> String {
    let mut end = text.len().min(MAX_BODY_KEPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

/// Search filters of `GET /admin/transactions` and `fsemw tx show`.
#[derive(Debug, Default, Deserialize)]
pub struct TransactionQuery {
    /// Matches transaction id, gateway traceID or workflowInstanceId.
    pub id: Option<String>,
    /// Document id (`identificativoDoc`).
    pub document_id: Option<String>,
    /// Patient fiscal-code hashes, one per configured key (the HTTP layer computes them
    /// from `cf` with [`crate::audit::CfHasher::candidates`]).
    #[serde(skip)]
    pub patient_cf_hmac: Option<Vec<String>>,
    /// Patient fiscal code in clear: hashed before it reaches the database.
    pub cf: Option<String>,
    /// Producer certificate CN.
    pub client_cn: Option<String>,
    /// ASL (the producer's `organization` in the registry).
    pub asl: Option<String>,
    /// Operation (`validation`, `IDocumentService.addDocument`…).
    pub operation: Option<String>,
    /// Outcome (`forwarded`, `refused`, `queued`…).
    pub outcome: Option<String>,
    /// Lower bound on `received_at` (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub from: Option<OffsetDateTime>,
    /// Upper bound on `received_at` (RFC 3339).
    #[serde(default, with = "time::serde::rfc3339::option")]
    pub to: Option<OffsetDateTime>,
    /// Most rows (default 100, at most 1000).
    pub limit: Option<i64>,
    /// Include the stored request and answer bodies (admin API: `helpdesk`, `operator`).
    pub bodies: Option<bool>,
}

const COLUMNS: &str = "tx_id, received_at, producer_id, client_cn, application_id, application_vendor, \
    application_version, operation, method, path, http_status, outcome, problem_type, problem_title, \
    gtw_trace_id, gtw_span_id, workflow_instance_id, document_id, file_sha256, file_bytes, \
    patient_cf_hmac, certificate_case, local_warnings, duration_ms, gtw_duration_ms, delivery, \
    delivery_status, delivered_at, request_body, response_body, document_type";

/// Writes records with one statement (see [`super::transaction_writer`]). A row already
/// written for the transaction (a queued publication records itself with its outbox row)
/// only gets its timings.
pub async fn insert_many(pool: &Pool, rows: &[&TransactionRecord]) -> Result<(), DbError> {
    let client = pool.get().await?;
    let stmt = client.prepare_cached(&insert_sql_for(rows.len())).await?;
    let params: Vec<&(dyn ToSql + Sync)> = rows.iter().flat_map(|r| params(r)).collect();
    client.execute(&stmt, &params).await?;
    Ok(())
}

/// [`insert`] inside a database transaction.
pub async fn insert_in(
    tx: &deadpool_postgres::Transaction<'_>,
    r: &TransactionRecord,
) -> Result<(), DbError> {
    tx.execute(&insert_sql(), &params(r)).await?;
    Ok(())
}

fn insert_sql() -> String {
    insert_sql_for(1)
}

/// The insert statement for `rows` records.
fn insert_sql_for(rows: usize) -> String {
    const N: usize = 31;
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=N).map(|c| format!("${}", r * N + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect();
    format!(
        "INSERT INTO transactions ({COLUMNS}) VALUES {} \
         ON CONFLICT (tx_id) DO UPDATE SET duration_ms = EXCLUDED.duration_ms, \
         gtw_duration_ms = COALESCE(EXCLUDED.gtw_duration_ms, transactions.gtw_duration_ms), \
         response_body = COALESCE(transactions.response_body, EXCLUDED.response_body)",
        values.join(", ")
    )
}

fn params(r: &TransactionRecord) -> [&(dyn ToSql + Sync); 31] {
    [
        &r.tx_id,
        &r.received_at,
        &r.producer_id,
        &r.client_cn,
        &r.application_id,
        &r.application_vendor,
        &r.application_version,
        &r.operation,
        &r.method,
        &r.path,
        &r.http_status,
        &r.outcome,
        &r.problem_type,
        &r.problem_title,
        &r.gtw_trace_id,
        &r.gtw_span_id,
        &r.workflow_instance_id,
        &r.document_id,
        &r.file_sha256,
        &r.file_bytes,
        &r.patient_cf_hmac,
        &r.certificate_case,
        &r.local_warnings,
        &r.duration_ms,
        &r.gtw_duration_ms,
        &r.delivery,
        &r.delivery_status,
        &r.delivered_at,
        &r.request_body,
        &r.response_body,
        &r.document_type,
    ]
}

/// Finds records matching every given filter, newest first.
#[tracing::instrument(skip_all)]
pub async fn search(pool: &Pool, q: &TransactionQuery) -> Result<Vec<TransactionRecord>, DbError> {
    let mut clauses: Vec<String> = Vec::new();
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let mut push = |clause: &str, value: Box<dyn ToSql + Sync + Send>| {
        params.push(value);
        clauses.push(clause.replace('?', &format!("${}", params.len())));
    };
    if let Some(id) = &q.id {
        match uuid::Uuid::parse_str(id) {
            // A transaction id, or the gateway's traceID: 32 hex characters read as a UUID too.
            Ok(_) => push(
                "(tx_id = (?::text)::uuid OR gtw_trace_id = ?::text)",
                Box::new(id.clone()),
            ),
            Err(_) => push(
                "(gtw_trace_id = ? OR workflow_instance_id = ?)",
                Box::new(id.clone()),
            ),
        }
    }
    if let Some(v) = &q.document_id {
        push("document_id = ?", Box::new(v.clone()));
    }
    if let Some(v) = &q.patient_cf_hmac {
        push("patient_cf_hmac = ANY(?)", Box::new(v.clone()));
    }
    if let Some(v) = &q.client_cn {
        push("client_cn = ?", Box::new(v.clone()));
    }
    if let Some(v) = &q.asl {
        push(
            "producer_id IN (SELECT id FROM producers WHERE organization = ?)",
            Box::new(v.clone()),
        );
    }
    if let Some(v) = &q.operation {
        push("operation = ?", Box::new(v.clone()));
    }
    if let Some(v) = &q.outcome {
        push("outcome = ?", Box::new(v.clone()));
    }
    if let Some(v) = q.from {
        push("received_at >= ?", Box::new(v));
    }
    if let Some(v) = q.to {
        push("received_at <= ?", Box::new(v));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 1000);
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM transactions {filter} ORDER BY received_at DESC LIMIT {limit}"
    );
    let client = pool.get().await?;
    let refs: Vec<&(dyn ToSql + Sync)> = params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect();
    let rows = client.query(&sql, &refs).await?;
    Ok(rows.iter().map(from_row).collect())
}

fn from_row(r: &Row) -> TransactionRecord {
    TransactionRecord {
        tx_id: r.get(0),
        received_at: r.get(1),
        producer_id: r.get(2),
        client_cn: r.get(3),
        application_id: r.get(4),
        application_vendor: r.get(5),
        application_version: r.get(6),
        operation: r.get(7),
        method: r.get(8),
        path: r.get(9),
        http_status: r.get(10),
        // A text this version does not write (a newer replica's) reads as pending; the
        // row keeps it.
        outcome: Outcome::from_stored(r.get(11)).unwrap_or_default(),
        problem_type: r.get(12),
        problem_title: r.get(13),
        gtw_trace_id: r.get(14),
        gtw_span_id: r.get(15),
        workflow_instance_id: r.get(16),
        document_id: r.get(17),
        file_sha256: r.get(18),
        file_bytes: r.get(19),
        patient_cf_hmac: r.get(20),
        certificate_case: r.get(21),
        local_warnings: r.get(22),
        duration_ms: r.get(23),
        gtw_duration_ms: r.get(24),
        delivery: r.get(25),
        delivery_status: r.get(26),
        delivered_at: r.get(27),
        request_body: r.get(28),
        response_body: r.get(29),
        document_type: r.get(30),
    }
}

/// Which gateway id of a transaction a status call names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GatewayId {
    /// `workflow_instance_id`.
    Workflow,
    /// `gtw_trace_id`.
    Trace,
}

/// Whether a transaction of `producer_id` carried `id` (its workflowInstanceId or the
/// gateway's traceID).
pub async fn carried_by(
    pool: &Pool,
    which: GatewayId,
    id: &str,
    producer_id: i64,
) -> Result<bool, DbError> {
    let sql = match which {
        GatewayId::Workflow => {
            "SELECT EXISTS (SELECT 1 FROM transactions WHERE workflow_instance_id = $1 AND producer_id = $2)"
        }
        GatewayId::Trace => {
            "SELECT EXISTS (SELECT 1 FROM transactions WHERE gtw_trace_id = $1 AND producer_id = $2)"
        }
    };
    let client = pool.get().await?;
    let row = client.query_one(sql, &[&id, &producer_id]).await?;
    Ok(row.get(0))
}
