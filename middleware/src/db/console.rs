//! What the operations console reads and writes besides the audit trail: the CDA kept for
//! support bundles, the console's own audit, and the aggregates of its reports.

use deadpool_postgres::Pool;
use time::OffsetDateTime;

use super::DbError;

/// Keeps the CDA of a transaction (a second write for the same transaction is ignored).
pub async fn keep_document(pool: &Pool, tx_id: uuid::Uuid, cda: &str) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO transaction_documents (tx_id, cda) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            &[&tx_id, &cda],
        )
        .await?;
    Ok(())
}

/// The CDA kept for a transaction, if still within the retention.
pub async fn document(pool: &Pool, tx_id: uuid::Uuid) -> Result<Option<String>, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT cda FROM transaction_documents WHERE tx_id = $1",
            &[&tx_id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Removes the documents kept longer than `days`; how many.
pub async fn purge_documents(pool: &Pool, days: u32) -> Result<u64, DbError> {
    let client = pool.get().await?;
    Ok(client
        .execute(
            "DELETE FROM transaction_documents WHERE stored_at < now() - make_interval(days => $1)",
            &[&(days as i32)],
        )
        .await?)
}

/// Records what a console user did.
pub async fn record(
    pool: &Pool,
    user: &str,
    action: &str,
    subject: Option<&str>,
) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute(
            "INSERT INTO console_audit (username, action, subject) VALUES ($1, $2, $3)",
            &[&user, &action, &subject],
        )
        .await?;
    Ok(())
}

/// Operations and outcomes seen in the last 90 days, for the filter choices.
pub async fn choices(pool: &Pool) -> Result<(Vec<String>, Vec<String>), DbError> {
    let client = pool.get().await?;
    let list = |sql: &str| {
        let sql = sql.to_string();
        let client = &client;
        async move {
            Ok::<_, DbError>(
                client
                    .query(&sql, &[])
                    .await?
                    .iter()
                    .map(|r| r.get::<_, String>(0))
                    .collect::<Vec<_>>(),
            )
        }
    };
    let operations = list(
        "SELECT DISTINCT operation FROM transactions WHERE received_at > now() - interval '90 days' ORDER BY 1",
    )
    .await?;
    let outcomes = list(
        "SELECT DISTINCT outcome FROM transactions WHERE received_at > now() - interval '90 days' ORDER BY 1",
    )
    .await?;
    Ok((operations, outcomes))
}

/// One group of refusals by the national gateway.
#[derive(Debug, Clone)]
pub struct RejectionCount {
    /// `YYYY-MM`.
    pub month: String,
    /// The producer's ASL.
    pub asl: String,
    /// The producer's certificate CN.
    pub producer: String,
    /// LOINC code of the document type.
    pub document_type: String,
    /// The gateway's `/msg/…` type.
    pub cause: String,
    /// How many.
    pub count: i64,
}

/// Refusals by the national gateway since `from`, grouped by month, ASL, producer,
/// document type and cause.
pub async fn rejections(pool: &Pool, from: OffsetDateTime) -> Result<Vec<RejectionCount>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT to_char(date_trunc('month', t.received_at), 'YYYY-MM'), \
             COALESCE(p.organization, '-'), COALESCE(t.client_cn, '-'), \
             COALESCE(t.document_type, '-'), t.problem_type, count(*) \
             FROM transactions t LEFT JOIN producers p ON p.id = t.producer_id \
             WHERE t.received_at >= $1 AND t.http_status >= 400 AND t.problem_type LIKE '/msg/%' \
             GROUP BY 1, 2, 3, 4, 5 ORDER BY 1 DESC, 6 DESC",
            &[&from],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| RejectionCount {
            month: r.get(0),
            asl: r.get(1),
            producer: r.get(2),
            document_type: r.get(3),
            cause: r.get(4),
            count: r.get(5),
        })
        .collect())
}

/// Requests by month, operation and status class since `from` (no identifiers).
pub async fn volumes(
    pool: &Pool,
    from: OffsetDateTime,
) -> Result<Vec<(String, String, String, i64)>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT to_char(date_trunc('month', received_at), 'YYYY-MM'), operation, \
             (http_status / 100)::text || 'xx', count(*) FROM transactions \
             WHERE received_at >= $1 GROUP BY 1, 2, 3 ORDER BY 1 DESC, 2, 3",
            &[&from],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect())
}
