//! Patient consents (IGestoreConsensoService): recorded with their history, effective at
//! once for consultation.
//!
//! Codes (reference `xds-and-soap.md` §9): C1 feeding of the FSE, C2 consultation, C3
//! past documents, C4 objection. A patient's documents may be consulted when C2 is
//! granted and C4 is not.

use deadpool_postgres::Pool;
use time::Date;

use crate::db::DbError;

/// The consent codes.
pub const CODES: [&str; 4] = ["C1", "C2", "C3", "C4"];

/// One consent as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// `C1`…`C4`.
    pub code: String,
    /// Granted (true) or denied/revoked (false).
    pub granted: bool,
    /// From when it holds.
    pub valid_from: Date,
    /// Free text.
    pub note: Option<String>,
}

/// Who recorded it.
#[derive(Debug, Clone)]
pub struct Recorder<'a> {
    /// Operator fiscal code.
    pub operator_cf: &'a str,
    /// Operator role.
    pub operator_role: Option<&'a str>,
    /// Calling application (producer CN).
    pub application: &'a str,
    /// ASL of the endpoint.
    pub asl: &'a str,
    /// Transaction.
    pub tx_id: uuid::Uuid,
}

/// A consent with its provenance (history and state).
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The consent.
    pub consent: Consent,
    /// Operator fiscal code.
    pub operator_cf: String,
    /// Operator role.
    pub operator_role: Option<String>,
    /// Calling application.
    pub application: String,
    /// ASL.
    pub asl: String,
    /// When.
    pub recorded_at: time::OffsetDateTime,
    /// Transaction.
    pub tx_id: uuid::Uuid,
}

/// Records consents (one row each, in one transaction).
pub async fn record(
    pool: &Pool,
    patient_cf: &str,
    consents: &[Consent],
    by: &Recorder<'_>,
) -> Result<(), DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    for c in consents {
        tx.execute(
            "INSERT INTO consents (patient_cf, code, granted, valid_from, note, operator_cf, \
             operator_role, application, asl, tx_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            &[
                &patient_cf,
                &c.code,
                &c.granted,
                &c.valid_from,
                &c.note,
                &by.operator_cf,
                &by.operator_role,
                &by.application,
                &by.asl,
                &by.tx_id,
            ],
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn recorded(r: &tokio_postgres::Row) -> Recorded {
    Recorded {
        consent: Consent {
            code: r.get(0),
            granted: r.get(1),
            valid_from: r.get(2),
            note: r.get(3),
        },
        operator_cf: r.get(4),
        operator_role: r.get(5),
        application: r.get(6),
        asl: r.get(7),
        recorded_at: r.get(8),
        tx_id: r.get(9),
    }
}

const FIELDS: &str = "code, granted, valid_from, note, operator_cf, operator_role, application, asl, recorded_at, tx_id";

/// The consents in force: the latest record of each code.
pub async fn state(pool: &Pool, patient_cf: &str) -> Result<Vec<Recorded>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT DISTINCT ON (code) {FIELDS} FROM consents WHERE patient_cf = $1 ORDER BY code, id DESC"
            ),
            &[&patient_cf],
        )
        .await?;
    Ok(rows.iter().map(recorded).collect())
}

/// Every record, oldest first.
pub async fn history(pool: &Pool, patient_cf: &str) -> Result<Vec<Recorded>, DbError> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!("SELECT {FIELDS} FROM consents WHERE patient_cf = $1 ORDER BY id"),
            &[&patient_cf],
        )
        .await?;
    Ok(rows.iter().map(recorded).collect())
}

/// Whether the patient's documents may be consulted today: C2 granted and in force,
/// C4 not granted.
pub async fn consultation_allowed(pool: &Pool, patient_cf: &str) -> Result<bool, DbError> {
    let today = time::OffsetDateTime::now_utc().date();
    let in_force = state(pool, patient_cf).await?;
    let granted = |code: &str| {
        in_force
            .iter()
            .any(|r| r.consent.code == code && r.consent.granted && r.consent.valid_from <= today)
    };
    Ok(granted("C2") && !granted("C4"))
}
