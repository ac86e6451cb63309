//! The patients' notebook (`ITaccuinoService`): entries and personal documents, deleted
//! softly (an entry stays, with the time it was withdrawn).

use deadpool_postgres::Pool;
use time::Date;

use super::DbError;

/// An entry to add.
#[derive(Debug)]
pub struct NewEntry<'a> {
    /// The patient's fiscal code.
    pub patient_cf: &'a str,
    /// One of `soap_services::notebook::KINDS`.
    pub kind: &'a str,
    /// The day it refers to.
    pub date: Date,
    /// Free text, value and unit (measurements).
    pub text: Option<String>,
    /// Value of a measurement.
    pub value: Option<String>,
    /// Unit of the value.
    pub unit: Option<String>,
    /// Title, MIME type, bytes and SHA-1 of a personal document.
    pub document: Option<Document>,
    /// CN of the calling application.
    pub application: &'a str,
    /// ASL of the endpoint.
    pub asl: &'a str,
    /// The transaction that added it.
    pub tx_id: uuid::Uuid,
}

/// A personal document in an entry.
#[derive(Debug)]
pub struct Document {
    /// Title.
    pub title: String,
    /// MIME type.
    pub mime_type: String,
    /// Bytes.
    pub content: Vec<u8>,
    /// SHA-1 of the bytes (hex), as XDS gives documents.
    pub sha1_hex: String,
}

/// An entry as read.
#[derive(Debug)]
pub struct Entry {
    /// Id.
    pub id: i64,
    /// Kind.
    pub kind: String,
    /// Day.
    pub date: Date,
    /// Free text.
    pub text: Option<String>,
    /// Value.
    pub value: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Document title.
    pub title: Option<String>,
    /// Document MIME type.
    pub mime_type: Option<String>,
    /// Document SHA-1 (hex).
    pub sha1_hex: Option<String>,
    /// Document bytes (read by [`get`] only).
    pub content: Option<Vec<u8>>,
}

const FIELDS: &str = "id, kind, entry_date, text, value, unit, title, mime_type, sha1_hex";

fn entry(r: &tokio_postgres::Row, with_content: bool) -> Entry {
    Entry {
        id: r.get(0),
        kind: r.get(1),
        date: r.get(2),
        text: r.get(3),
        value: r.get(4),
        unit: r.get(5),
        title: r.get(6),
        mime_type: r.get(7),
        sha1_hex: r.get(8),
        content: if with_content { r.get(9) } else { None },
    }
}

/// Adds an entry; its id.
pub async fn add(pool: &Pool, e: &NewEntry<'_>) -> Result<i64, DbError> {
    let client = pool.get().await?;
    let d = e.document.as_ref();
    let row = client
        .query_one(
            "INSERT INTO notebook_entries (patient_cf, kind, entry_date, text, value, unit, \
             title, mime_type, content, sha1_hex, application, asl, tx_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
            &[
                &e.patient_cf,
                &e.kind,
                &e.date,
                &e.text,
                &e.value,
                &e.unit,
                &d.map(|d| &d.title),
                &d.map(|d| &d.mime_type),
                &d.map(|d| &d.content),
                &d.map(|d| &d.sha1_hex),
                &e.application,
                &e.asl,
                &e.tx_id,
            ],
        )
        .await?;
    Ok(row.get(0))
}

/// A patient's entries in force, newest first (at most 1000), of one kind or all.
pub async fn list(
    pool: &Pool,
    patient_cf: &str,
    kind: Option<&str>,
) -> Result<Vec<Entry>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {FIELDS} FROM notebook_entries WHERE patient_cf = $1 AND deleted_at IS NULL \
                 AND ($2::text IS NULL OR kind = $2) ORDER BY entry_date DESC, id DESC LIMIT 1000"
            ),
            &[&patient_cf, &kind],
        )
        .await?;
    Ok(rows.iter().map(|r| entry(r, false)).collect())
}

/// One of the patient's entries in force, with its document's bytes.
pub async fn get(pool: &Pool, id: i64, patient_cf: &str) -> Result<Option<Entry>, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {FIELDS}, content FROM notebook_entries \
                 WHERE id = $1 AND patient_cf = $2 AND deleted_at IS NULL"
            ),
            &[&id, &patient_cf],
        )
        .await?;
    Ok(row.map(|r| entry(&r, true)))
}

/// Withdraws one of the patient's entries; whether there was one in force.
pub async fn withdraw(pool: &Pool, id: i64, patient_cf: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE notebook_entries SET deleted_at = clock_timestamp() \
             WHERE id = $1 AND patient_cf = $2 AND deleted_at IS NULL",
            &[&id, &patient_cf],
        )
        .await?;
    Ok(n > 0)
}
