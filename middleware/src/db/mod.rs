//! PostgreSQL: the pool, the migrations, and one module per aggregate.
//!
//! - [`producers`]: the producer registry; [`consents`]: patients' consents and their history.
//! - [`outbox`]: the queue of publications held for the gateway; [`outbox_view`]: as the
//!   console lists it, and the manual retry.
//! - [`notebook`]: the patients' notebook entries (`ITaccuinoService`).
//! - [`transactions`]: the audit trail; [`transaction_writer`] writes its rows in batches,
//!   [`audit_journal`] keeps them on local disk while the database cannot take them.

pub mod audit_journal;
pub mod consents;
pub mod console;
pub mod notebook;
pub mod outbox;
pub mod outbox_view;
pub mod outcome;
pub mod producer_cache;
pub mod producers;
pub mod tls;
pub mod transaction_writer;
pub mod transactions;
pub mod workflow_events;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use secrecy::ExposeSecret;

use crate::config::{DatabaseConfig, DbSslMode};

/// The pool as a handler's substate (`State(Db(pool)): State<Db>`): what a handler that
/// only reads and writes the database takes instead of the whole application state.
#[derive(Debug, Clone)]
pub struct Db(pub Pool);

mod embedded {
    refinery::embed_migrations!("../migrations");
}

/// A database problem.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The connection settings are invalid (the message names the key).
    #[error("{0}")]
    Config(String),
    /// No connection could be taken from the pool.
    #[error("database unavailable: {}", describe_pool(.0))]
    Pool(#[from] deadpool_postgres::PoolError),
    /// A statement failed.
    #[error("database statement failed: {}", describe_pg(.0))]
    Query(#[from] tokio_postgres::Error),
    /// A batch of transaction rows was not written.
    #[error("transaction row not written: {0}")]
    Batch(String),
    /// The database could not be reached (a failure reported by another task).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migration(#[from] refinery::Error),
}

// === impl DbError ===

impl DbError {
    /// Whether the database could not be reached or could not take the write (down,
    /// restarting, out of connections, out of disk), rather than refusing a statement: what
    /// waits and is tried again, unlike a bad row.
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Pool(_) | Self::Unavailable(_) => true,
            // One classification for the whole product: the registry store's.
            Self::Query(e) => xds::store::unreachable(e),
            Self::Config(_) | Self::Batch(_) | Self::Migration(_) => false,
        }
    }
}

/// A refused connection says why (the server's message, the TLS verdict).
fn describe_pool(e: &deadpool_postgres::PoolError) -> String {
    match e {
        deadpool_postgres::PoolError::Backend(pg) if pg.as_db_error().is_some() => describe_pg(pg),
        deadpool_postgres::PoolError::Backend(pg) => {
            let mut text = describe_pg(pg);
            let mut source = std::error::Error::source(pg);
            while let Some(s) = source {
                text.push_str(&format!(": {s}"));
                source = s.source();
            }
            text
        }
        other => other.to_string(),
    }
}

/// The server's message when there is one ("db error" alone says nothing).
fn describe_pg(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => e.to_string(),
    }
}

/// Builds the pool (connections are opened lazily).
pub fn pool(config: &DatabaseConfig) -> Result<Pool, DbError> {
    let mut pg: tokio_postgres::Config = config
        .url
        .parse()
        .map_err(|e: tokio_postgres::Error| DbError::Config(format!("database.url: {e}")))?;
    if let Some(pw) = &config.password {
        pg.password(pw.expose_secret());
    }
    if pg.get_application_name().is_none() {
        pg.application_name("fsemw");
    }
    let recycling = || ManagerConfig {
        recycling_method: RecyclingMethod::Fast,
    };
    let manager = match config.sslmode {
        DbSslMode::Disable => Manager::from_config(pg, tokio_postgres::NoTls, recycling()),
        DbSslMode::VerifyFull => {
            let ca = config.sslrootcert.as_deref().unwrap_or_default();
            let tls = tls::VerifyFull::new(ca)
                .map_err(|e| DbError::Config(format!("database.sslrootcert: {e}")))?;
            pg.ssl_mode(tokio_postgres::config::SslMode::Require);
            Manager::from_config(pg, tls, recycling())
        }
    };
    Pool::builder(manager)
        .max_size(config.pool_size)
        .wait_timeout(Some(std::time::Duration::from_secs(5)))
        .create_timeout(Some(std::time::Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()
        .map_err(|e| DbError::Config(e.to_string()))
}

/// Applies pending migrations; returns how many ran.
pub async fn migrate(pool: &Pool) -> Result<usize, DbError> {
    /// Key of the advisory lock that serialises replicas starting together.
    const MIGRATION_LOCK: i64 = 0x6673_656d_775f_6d67; // "fsemw_mg"
    let mut conn = pool.get().await?;
    let client: &mut tokio_postgres::Client = &mut conn;
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let report = embedded::migrations::runner().run_async(client).await;
    // Released whatever happened (the session would release it when it closes anyway).
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    Ok(report?.applied_migrations().len())
}

/// Whether the database answers.
pub async fn ping(pool: &Pool) -> Result<(), DbError> {
    pool.get().await?.simple_query("SELECT 1").await?;
    Ok(())
}
