//! The `outbox` table: enqueue, claim with a lease, and the three ends of a delivery.

use deadpool_postgres::Pool;
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::db::DbError;
use crate::db::transactions::TransactionRecord;

/// A publication waiting for the gateway.
#[derive(Debug, Clone)]
pub struct Queued {
    /// Row id (delivery order).
    pub id: i64,
    /// The transaction that queued it.
    pub tx_id: uuid::Uuid,
    /// Operation name (`create`, `validate_and_create`…).
    pub operation: String,
    /// HTTP method.
    pub method: String,
    /// Gateway path relative to its base URL.
    pub path: String,
    /// The id the route's `{id}` stood for, decoded.
    pub path_id: Option<String>,
    /// Content type and the producer's tokens.
    pub headers: Value,
    /// Request body.
    pub body: Vec<u8>,
    /// Attempts so far (this one included once claimed).
    pub attempts: i32,
    /// Whether the provisional indexing already ran.
    pub indexed: bool,
}

/// What to enqueue.
#[derive(Debug)]
pub struct NewQueued<'a> {
    /// The queuing transaction.
    pub tx_id: uuid::Uuid,
    /// The producer.
    pub producer_id: Option<i64>,
    /// Operation name.
    pub operation: &'a str,
    /// HTTP method.
    pub method: &'a str,
    /// Gateway path relative to its base URL.
    pub path: &'a str,
    /// The id the route's `{id}` stands for, decoded.
    pub path_id: Option<&'a str>,
    /// Content type and the producer's tokens.
    pub headers: Value,
    /// Body.
    pub body: &'a [u8],
    /// Requests with the same key are delivered in order.
    pub ordering_key: &'a str,
    /// `identificativoDoc` or the path id.
    pub document_id: Option<&'a str>,
    /// The workflowInstanceId given to the producer.
    pub workflow_instance_id: Option<&'a str>,
    /// SHA-256 (hex) of what identifies the request.
    pub request_sha256: &'a str,
}

/// An event in the middleware's own trail of a publication (status-service shape).
pub fn event(kind: &str, status: &str, message: &str) -> Value {
    let now = OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    json!({"eventType": kind, "eventDate": now, "eventStatus": status, "message": message, "issuer": "fsemw"})
}

/// A queued request: its row, and whether it was already queued (a producer sending
/// the same request again after losing the answer).
#[derive(Debug)]
pub struct Enqueued {
    /// Outbox row.
    pub id: i64,
    /// True when the request joined a row queued earlier.
    pub duplicate: bool,
    /// The workflowInstanceId of the row.
    pub workflow_instance_id: Option<String>,
    /// Whether the provisional indexing already ran.
    pub indexed: bool,
}

/// Queues a publication and records its transaction, in one database transaction: once
/// the producer can read a 202, both rows exist.
pub async fn enqueue(
    pool: &Pool,
    q: &NewQueued<'_>,
    rec: &TransactionRecord,
) -> Result<Enqueued, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let events = json!([event(
        "QUEUED",
        "ASYNC_RETRY",
        "gateway nazionale non raggiungibile: pubblicazione accodata"
    )]);
    let inserted = tx
        .query_opt(
            "INSERT INTO outbox (tx_id, tx_ids, producer_id, operation, requested_operation, \
             request_sha256, method, path, headers, body, ordering_key, document_id, \
             workflow_instance_id, events, path_id) \
             VALUES ($1, ARRAY[$1::uuid], $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
             ON CONFLICT DO NOTHING RETURNING id",
            &[
                &q.tx_id,
                &q.producer_id,
                &q.operation,
                &q.request_sha256,
                &q.method,
                &q.path,
                &q.headers,
                &q.body,
                &q.ordering_key,
                &q.document_id,
                &q.workflow_instance_id,
                &events,
                &q.path_id,
            ],
        )
        .await?;
    let out = match inserted {
        Some(r) => Enqueued {
            id: r.get(0),
            duplicate: false,
            workflow_instance_id: q.workflow_instance_id.map(str::to_string),
            indexed: false,
        },
        None => {
            let again = json!([event(
                "QUEUED",
                "ASYNC_RETRY",
                &format!(
                    "stessa richiesta ricevuta di nuovo (transazione {})",
                    q.tx_id
                )
            )]);
            let r = tx
                .query_one(
                    "UPDATE outbox SET tx_ids = tx_ids || $5::uuid, events = events || $6::jsonb \
                     WHERE producer_id = $1 AND requested_operation = $2 AND ordering_key = $3 \
                     AND request_sha256 = $4 AND state IN ('pending', 'sending') \
                     RETURNING id, workflow_instance_id, indexed",
                    &[
                        &q.producer_id,
                        &q.operation,
                        &q.ordering_key,
                        &q.request_sha256,
                        &q.tx_id,
                        &again,
                    ],
                )
                .await?;
            Enqueued {
                id: r.get(0),
                duplicate: true,
                workflow_instance_id: r.get(1),
                indexed: r.get(2),
            }
        }
    };
    crate::db::transactions::insert_in(&tx, rec).await?;
    tx.commit().await?;
    Ok(out)
}

/// Records that the provisional indexing ran, with its event; only the first to finish
/// records one (the worker may index a row while the request that queued it does too).
pub async fn mark_indexed(pool: &Pool, id: i64, ev: Option<Value>) -> Result<(), DbError> {
    let client = pool.get().await?;
    let events = json!(ev.into_iter().collect::<Vec<_>>());
    client
        .execute(
            "UPDATE outbox SET indexed = TRUE, events = events || $2::jsonb \
             WHERE id = $1 AND NOT indexed",
            &[&id, &events],
        )
        .await?;
    Ok(())
}

/// Appends an event.
pub async fn add_event(pool: &Pool, id: i64, ev: Value) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE outbox SET events = events || $2::jsonb WHERE id = $1",
            &[&id, &json!([ev])],
        )
        .await?;
    Ok(())
}

/// Claims up to `limit` due deliveries for `worker`: the oldest pending row of each
/// document whose earlier rows are all finished; a lapsed lease makes a row due again.
pub async fn claim(
    pool: &Pool,
    worker: &str,
    limit: i64,
    lease_secs: f64,
) -> Result<Vec<Queued>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "WITH due AS ( \
               SELECT o.id FROM outbox o \
               WHERE ((o.state = 'pending' AND o.next_attempt_at <= now()) \
                  OR (o.state = 'sending' AND o.lease_until < now())) \
               AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.ordering_key = o.ordering_key \
                               AND e.id < o.id AND e.state IN ('pending', 'sending')) \
               ORDER BY o.id LIMIT $2 FOR UPDATE SKIP LOCKED) \
             UPDATE outbox SET state = 'sending', leased_by = $1, attempts = attempts + 1, \
               lease_until = now() + make_interval(secs => $3) \
             FROM due WHERE outbox.id = due.id \
             RETURNING outbox.id, outbox.tx_id, outbox.operation, outbox.method, outbox.path, \
               outbox.headers, outbox.body, outbox.attempts, outbox.indexed, outbox.path_id",
            &[&worker, &limit, &lease_secs],
        )
        .await?;
    let mut out: Vec<Queued> = rows
        .iter()
        .map(|r| Queued {
            id: r.get(0),
            tx_id: r.get(1),
            operation: r.get(2),
            method: r.get(3),
            path: r.get(4),
            headers: r.get(5),
            body: r.get(6),
            attempts: r.get(7),
            indexed: r.get(8),
            path_id: r.get(9),
        })
        .collect();
    out.sort_by_key(|q| q.id);
    Ok(out)
}

/// Back to pending, due after `delay_ms`.
pub async fn reschedule(
    pool: &Pool,
    id: i64,
    worker: &str,
    delay_ms: u64,
    error: &str,
    ev: Option<Value>,
) -> Result<(), DbError> {
    let client = pool.get().await?;
    let events = json!(ev.into_iter().collect::<Vec<_>>());
    client
        .execute(
            "UPDATE outbox SET state = 'pending', lease_until = NULL, leased_by = NULL, \
             next_attempt_at = now() + make_interval(secs => $3), last_error = $4, \
             events = events || $5::jsonb WHERE id = $1 AND leased_by = $2",
            &[&id, &worker, &(delay_ms as f64 / 1000.0), &error, &events],
        )
        .await?;
    Ok(())
}

/// Rewrites the request of a delivery (create → validate-and-create…).
pub async fn convert(pool: &Pool, id: i64, to: &Converted<'_>, ev: Value) -> Result<(), DbError> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE outbox SET operation = $2, path = $3, headers = $4, body = $5, \
             events = events || $6::jsonb WHERE id = $1",
            &[
                &id,
                &to.operation,
                &to.path,
                &to.headers,
                &to.body,
                &json!([ev]),
            ],
        )
        .await?;
    Ok(())
}

/// A queued publication sent again as another operation (validate-and-*).
#[derive(Debug)]
pub struct Converted<'a> {
    /// The new operation's name.
    pub operation: &'a str,
    /// Its path.
    pub path: &'a str,
    /// The stored request headers (a new Content-Type when the body changed).
    pub headers: &'a Value,
    /// The body it takes.
    pub body: &'a [u8],
}

/// How a delivery ended.
#[derive(Debug)]
pub struct Ending<'a> {
    /// `delivered` or `failed`.
    pub state: &'a str,
    /// Gateway HTTP status, if it answered.
    pub status: Option<i32>,
    /// Gateway answer.
    pub body: &'a str,
    /// `traceID`, `spanID`, `workflowInstanceId` of the answer.
    pub trace: (Option<String>, Option<String>, Option<String>),
    /// The closing event.
    pub event: Value,
}

/// Closes a delivery and records it on the queuing transaction, in one transaction.
pub async fn finish(
    pool: &Pool,
    q: &Queued,
    worker: &str,
    end: &Ending<'_>,
) -> Result<bool, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let updated = tx
        .execute(
            "UPDATE outbox SET state = $3, final_status = $4, final_body = $5, finished_at = now(), \
             lease_until = NULL, events = events || $6::jsonb, last_error = NULL, \
             workflow_instance_id = COALESCE($7, workflow_instance_id) \
             WHERE id = $1 AND leased_by = $2 AND state = 'sending'",
            &[
                &q.id,
                &worker,
                &end.state,
                &end.status,
                &end.body,
                &json!([end.event]),
                &end.trace.2,
            ],
        )
        .await?;
    if updated == 1 {
        tx.execute(
            "UPDATE transactions SET delivery = $2, delivery_status = $3, delivered_at = now(), \
             gtw_trace_id = COALESCE($4, gtw_trace_id), gtw_span_id = COALESCE($5, gtw_span_id), \
             workflow_instance_id = COALESCE($6, workflow_instance_id) \
             WHERE tx_id IN (SELECT unnest(tx_ids) FROM outbox WHERE id = $1)",
            &[
                &q.id,
                &end.state,
                &end.status,
                &end.trace.0,
                &end.trace.1,
                &end.trace.2,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(updated == 1)
}

/// Counts by state (for metrics and readiness).
pub async fn counts(pool: &Pool) -> Result<Vec<(String, i64)>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query("SELECT state, count(*) FROM outbox GROUP BY state", &[])
        .await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Age in seconds of the oldest publication still to deliver (0 when none).
pub async fn oldest_open_age(pool: &Pool) -> Result<f64, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            "SELECT COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8 \
             FROM outbox WHERE state IN ('pending', 'sending')",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// How a producer names a publication the middleware queued.
#[derive(Debug, Clone, Copy)]
pub enum TrailKey<'a> {
    /// The `workflowInstanceId`: the validation's it came with, or the gateway's once
    /// delivered.
    Workflow(&'a str),
    /// The regional transaction that queued it (the `traceID` of the queued answer), or
    /// one that sent the same request again.
    Transaction(uuid::Uuid),
}

/// The middleware's own trail of a queued publication.
#[derive(Debug)]
pub struct Trail {
    /// The transaction that queued it.
    pub tx_id: uuid::Uuid,
    /// The validation's, replaced by the gateway's once delivered.
    pub workflow_instance_id: Option<String>,
    /// `identificativoDoc` or the path id.
    pub document_id: Option<String>,
    /// Events in order, each as the middleware wrote it.
    pub events: Vec<Value>,
}

/// The trail of the latest publication `key` names; only the producer that queued it
/// sees it.
pub async fn trail(
    pool: &Pool,
    key: TrailKey<'_>,
    producer_id: i64,
) -> Result<Option<Trail>, DbError> {
    let client = pool.get().await?;
    let columns = "SELECT tx_id, workflow_instance_id, document_id, events FROM outbox";
    let row = match key {
        TrailKey::Workflow(wii) => {
            client
                .query_opt(
                    &format!(
                        "{columns} WHERE producer_id = $2 AND workflow_instance_id = $1 \
                         ORDER BY id DESC LIMIT 1"
                    ),
                    &[&wii, &producer_id],
                )
                .await?
        }
        TrailKey::Transaction(tx) => {
            client
                .query_opt(
                    &format!(
                        "{columns} WHERE producer_id = $2 AND tx_ids @> ARRAY[$1::uuid] \
                         ORDER BY id DESC LIMIT 1"
                    ),
                    &[&tx, &producer_id],
                )
                .await?
        }
    };
    Ok(row.map(|r| {
        let events: Value = r.get(3);
        Trail {
            tx_id: r.get(0),
            workflow_instance_id: r.get(1),
            document_id: r.get(2),
            events: events.as_array().cloned().unwrap_or_default(),
        }
    }))
}
