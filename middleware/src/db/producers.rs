//! The producer registry.

use std::sync::Arc;

use deadpool_postgres::Pool;
use serde::Serialize;
use tokio_postgres::Row;

use super::DbError;

/// A registered producer application.
#[derive(Debug, Clone, Serialize)]
pub struct Producer {
    /// Registry id.
    pub id: i64,
    /// CN of its TLS client certificate.
    pub cert_cn: String,
    /// Accredited `subject_application_id`.
    pub application_id: String,
    /// Accredited `subject_application_vendor`.
    pub application_vendor: String,
    /// Accredited `subject_application_version`.
    pub application_version: String,
    /// `producer` or `repository`.
    pub role: String,
    /// ASL or structure.
    pub organization: String,
    /// Certificates (PEM, one or more) whose keys may sign its JWTs, when not the TLS
    /// certificate.
    pub signing_cert_pem: Option<String>,
    /// The same, parsed once when the entry is read (empty if the PEM does not parse,
    /// which `fsemw producer add` prevents; logged).
    #[serde(skip)]
    pub signing_certs: Option<Arc<[hsm::Certificate]>>,
    /// Whether it may call.
    pub enabled: bool,
}

/// What `fsemw producer add` registers.
#[derive(Debug, Clone)]
pub struct NewProducer {
    /// CN of its TLS client certificate.
    pub cert_cn: String,
    /// Accredited triplet.
    pub application_id: String,
    /// Accredited triplet.
    pub application_vendor: String,
    /// Accredited triplet.
    pub application_version: String,
    /// `producer` or `repository`.
    pub role: String,
    /// ASL or structure.
    pub organization: String,
    /// Optional JWT signing certificate (PEM).
    pub signing_cert_pem: Option<String>,
}

const COLUMNS: &str = "id, cert_cn, application_id, application_vendor, application_version, role, \
                       organization, signing_cert_pem, enabled";

fn from_row(r: &Row) -> Producer {
    Producer {
        id: r.get(0),
        cert_cn: r.get(1),
        application_id: r.get(2),
        application_vendor: r.get(3),
        application_version: r.get(4),
        role: r.get(5),
        organization: r.get(6),
        signing_certs: r
            .get::<_, Option<String>>(7)
            .map(|pem| parse_signing_certs(&pem, r)),
        signing_cert_pem: r.get(7),
        enabled: r.get(8),
    }
}

fn parse_signing_certs(pem: &str, r: &Row) -> Arc<[hsm::Certificate]> {
    hsm::Certificate::parse_pem_chain(pem.as_bytes(), "registered signing certificate")
        .unwrap_or_else(|e| {
            let cn: String = r.get(1);
            tracing::error!(producer = %cn, error = %e, "registered signing certificates do not parse");
            Vec::new()
        })
        .into()
}

/// Looks a producer up by certificate CN.
#[tracing::instrument(skip_all)]
pub async fn find_by_cn(pool: &Pool, cn: &str) -> Result<Option<Producer>, DbError> {
    let client = pool.get().await?;
    let stmt = client
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM producers WHERE cert_cn = $1"
        ))
        .await?;
    Ok(client
        .query_opt(&stmt, &[&cn])
        .await?
        .as_ref()
        .map(from_row))
}

/// Registers a producer, or updates the one with the same CN (re-enabling it).
#[tracing::instrument(skip_all)]
pub async fn upsert(pool: &Pool, p: &NewProducer) -> Result<Producer, DbError> {
    let client = pool.get().await?;
    let row = client
        .query_one(
            &format!(
                "INSERT INTO producers (cert_cn, application_id, application_vendor, application_version, \
                 role, organization, signing_cert_pem) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (cert_cn) DO UPDATE SET application_id = EXCLUDED.application_id, \
                 application_vendor = EXCLUDED.application_vendor, \
                 application_version = EXCLUDED.application_version, role = EXCLUDED.role, \
                 organization = EXCLUDED.organization, signing_cert_pem = EXCLUDED.signing_cert_pem, \
                 enabled = TRUE, disabled_at = NULL RETURNING {COLUMNS}"
            ),
            &[
                &p.cert_cn,
                &p.application_id,
                &p.application_vendor,
                &p.application_version,
                &p.role,
                &p.organization,
                &p.signing_cert_pem,
            ],
        )
        .await?;
    Ok(from_row(&row))
}

/// All producers, by CN.
#[tracing::instrument(skip_all)]
pub async fn list(pool: &Pool) -> Result<Vec<Producer>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!("SELECT {COLUMNS} FROM producers ORDER BY cert_cn"),
            &[],
        )
        .await?;
    Ok(rows.iter().map(from_row).collect())
}

/// Disables a producer; returns whether one was found.
#[tracing::instrument(skip_all)]
pub async fn disable(pool: &Pool, cn: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE producers SET enabled = FALSE, disabled_at = now() WHERE cert_cn = $1",
            &[&cn],
        )
        .await?;
    Ok(n > 0)
}
