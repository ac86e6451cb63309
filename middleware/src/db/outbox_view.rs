//! The outbox as the operations console shows it, and the manual retry.

use deadpool_postgres::Pool;
use serde_json::Value;
use time::OffsetDateTime;

use crate::db::DbError;

/// A queued publication, as listed.
#[derive(Debug, Clone)]
pub struct Row {
    /// Row id.
    pub id: i64,
    /// The transaction that queued it.
    pub tx_id: uuid::Uuid,
    /// Operation to deliver.
    pub operation: String,
    /// Document id.
    pub document_id: Option<String>,
    /// `pending`, `sending`, `failed`, `delivered`.
    pub state: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When it is tried next.
    pub next_attempt_at: OffsetDateTime,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: OffsetDateTime,
    /// Its event trail.
    pub events: Value,
}

/// Rows not delivered (pending, sending, failed), oldest first, then the last delivered.
pub async fn rows(pool: &Pool, limit: i64) -> Result<Vec<Row>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "(SELECT id, tx_id, operation, document_id, state, attempts, next_attempt_at, last_error, created_at, events \
              FROM outbox WHERE state <> 'delivered' ORDER BY id LIMIT $1) \
             UNION ALL \
             (SELECT id, tx_id, operation, document_id, state, attempts, next_attempt_at, last_error, created_at, events \
              FROM outbox WHERE state = 'delivered' ORDER BY finished_at DESC NULLS LAST LIMIT 20)",
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| Row {
            id: r.get(0),
            tx_id: r.get(1),
            operation: r.get(2),
            document_id: r.get(3),
            state: r.get(4),
            attempts: r.get(5),
            next_attempt_at: r.get(6),
            last_error: r.get(7),
            created_at: r.get(8),
            events: r.get(9),
        })
        .collect())
}

/// The event trail of the publication queued by `tx_id` (as queuing or later transaction).
pub async fn events_of(pool: &Pool, tx_id: uuid::Uuid) -> Result<Option<Value>, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT events FROM outbox WHERE $1 = ANY(tx_ids) ORDER BY id DESC LIMIT 1",
            &[&tx_id],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// Makes a pending or failed row due now (a failed one starts its attempts again);
/// `by` is recorded in its events. Whether a row was changed.
pub async fn retry_now(pool: &Pool, id: i64, by: &str) -> Result<bool, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let event = Value::Array(vec![super::outbox::event(
        "MANUAL_RETRY",
        "ASYNC_RETRY",
        &format!("nuovo invio richiesto dalla console da {by}"),
    )]);
    let row = tx
        .query_opt(
            "UPDATE outbox SET state = 'pending', next_attempt_at = now(), lease_until = NULL, \
             leased_by = NULL, finished_at = NULL, final_status = NULL, final_body = NULL, \
             attempts = CASE WHEN state = 'failed' THEN 0 ELSE attempts END, \
             events = events || $2::jsonb \
             WHERE id = $1 AND state IN ('pending', 'failed') RETURNING tx_ids",
            &[&id, &event],
        )
        .await?;
    let Some(row) = row else {
        return Ok(false);
    };
    let tx_ids: Vec<uuid::Uuid> = row.get(0);
    tx.execute(
        "UPDATE transactions SET delivery = 'queued', delivery_status = NULL, delivered_at = NULL \
         WHERE tx_id = ANY($1)",
        &[&tx_ids],
    )
    .await?;
    tx.commit().await?;
    Ok(true)
}
