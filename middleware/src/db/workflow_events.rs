//! The workflow status events the gateway pushed (`workflow_events`): stored once each,
//! read in event-time order.

use deadpool_postgres::Pool;
use time::OffsetDateTime;

use crate::db::DbError;

/// One status event of a workflow, as the gateway sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowEvent {
    /// `eventType` (`VALIDATION`, `PUBLICATION`, `SEND_TO_INI`…).
    pub event_type: String,
    /// `eventStatus` (`SUCCESS`, `BLOCKING_ERROR`…).
    pub event_status: String,
    /// `eventDate`.
    pub event_date: OffsetDateTime,
    /// `issuer`.
    pub issuer: Option<String>,
    /// `message`.
    pub message: Option<String>,
}

/// Where a set of events came from.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// `push`.
    pub source: &'static str,
    /// The pushing certificate's subject CN.
    pub from: Option<&'a str>,
}

/// Stores the events of `wii` not stored yet (same type, status and date: the same
/// event); the number newly stored.
pub async fn store(
    pool: &Pool,
    wii: &str,
    events: &[WorkflowEvent],
    arrival: Arrival<'_>,
) -> Result<u64, DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut stored = 0;
    for e in events {
        stored += tx
            .execute(
                "INSERT INTO workflow_events (workflow_instance_id, event_type, event_status, \
                 event_date, issuer, message, source, received_from) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING",
                &[
                    &wii,
                    &e.event_type,
                    &e.event_status,
                    &e.event_date,
                    &e.issuer,
                    &e.message,
                    &arrival.source,
                    &arrival.from,
                ],
            )
            .await?;
    }
    tx.commit().await?;
    Ok(stored)
}

/// The events of `wii`, by event time (then by arrival).
pub async fn of_workflow(pool: &Pool, wii: &str) -> Result<Vec<WorkflowEvent>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT event_type, event_status, event_date, issuer, message FROM workflow_events \
             WHERE workflow_instance_id = $1 ORDER BY event_date, id",
            &[&wii],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| WorkflowEvent {
            event_type: r.get(0),
            event_status: r.get(1),
            event_date: r.get(2),
            issuer: r.get(3),
            message: r.get(4),
        })
        .collect())
}
