//! Group commit of transaction rows.
//!
//! Every answer waits until its transaction row is written (a crash right after an
//! answer must not lose the trace), but rows need not be written one statement and one
//! commit each: requests hand their row to [`TransactionWriter::write`], and a few
//! writer tasks take whatever rows are waiting — one alone when the service is quiet, so
//! nothing waits for company — and write them with one multi-row `INSERT` and one commit.
//! Under load this divides the database's work per request (statements, round trips,
//! commits: WAL flushes when `synchronous_commit` is on) by the batch size
//! (docs/performance.md). If a batch fails, its rows are written one by one, so that one
//! bad row fails alone. If the database cannot be reached, the rows go to the local
//! [`AuditJournal`] instead (written later), and for [`PAUSE_AFTER_OUTAGE`] the next
//! batches go there directly rather than wait for a connection each.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use deadpool_postgres::Pool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::DbError;
use super::audit_journal::AuditJournal;
use super::transactions::{self, TransactionRecord};

/// Most rows in one statement (31 parameters each; PostgreSQL allows 65,535).
pub const MAX_BATCH: usize = 64;

/// Rows waiting beyond which requests wait to hand theirs over.
const QUEUE: usize = 4096;

/// Concurrent batches.
const WRITERS: usize = 2;

/// After the database was found unreachable, rows go straight to the journal this long.
pub const PAUSE_AFTER_OUTAGE: Duration = Duration::from_secs(2);

/// Where a row was put.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// Committed in the database.
    Database,
    /// On local disk, to be written into the database when it answers again.
    Journal,
}

type Outcome = Result<Stored, (String, bool)>;
type Waiting = (TransactionRecord, oneshot::Sender<Outcome>);

/// The handle requests write their rows through.
#[derive(Debug, Clone)]
pub struct TransactionWriter {
    rows: mpsc::Sender<Waiting>,
}

/// What the writer tasks share.
struct Sink {
    pool: Pool,
    journal: Option<Arc<AuditJournal>>,
    started: Instant,
    /// Milliseconds since `started` until which the database is not tried.
    paused_until: AtomicU64,
}

// === impl TransactionWriter ===

impl TransactionWriter {
    /// Starts the writer tasks on the current runtime; `rows_per_statement` observes
    /// each batch's size. With a `journal`, rows the database cannot take go there.
    pub fn start(
        pool: Pool,
        rows_per_statement: prometheus::Histogram,
        journal: Option<Arc<AuditJournal>>,
    ) -> Self {
        let (rows, queue) = mpsc::channel::<Waiting>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        let sink = Arc::new(Sink {
            pool,
            journal,
            started: Instant::now(),
            paused_until: AtomicU64::new(0),
        });
        for _ in 0..WRITERS {
            let (sink, queue, sizes) = (sink.clone(), queue.clone(), rows_per_statement.clone());
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&queue).await {
                    sizes.observe(batch.len() as f64);
                    sink.write_batch(batch).await;
                }
            });
        }
        Self { rows }
    }

    /// Writes one row; returns once it is committed, or flushed to the journal.
    pub async fn write(&self, row: TransactionRecord) -> Result<Stored, DbError> {
        let (done, written) = oneshot::channel();
        let gone = || DbError::Batch("the transaction writer has stopped".into());
        self.rows.send((row, done)).await.map_err(|_| gone())?;
        written
            .await
            .map_err(|_| gone())?
            .map_err(|(e, unavailable)| {
                if unavailable {
                    DbError::Unavailable(e)
                } else {
                    DbError::Batch(e)
                }
            })
    }
}

/// The rows waiting now: at least one, at most [`MAX_BATCH`].
async fn next_batch(queue: &Mutex<mpsc::Receiver<Waiting>>) -> Option<Vec<Waiting>> {
    let mut queue = queue.lock().await;
    let first = queue.recv().await?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        let Ok(next) = queue.try_recv() else { break };
        batch.push(next);
    }
    Some(batch)
}

// === impl Sink ===

impl Sink {
    fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    async fn write_batch(&self, batch: Vec<Waiting>) {
        let rows: Vec<&TransactionRecord> = batch.iter().map(|(r, _)| r).collect();
        let paused =
            self.journal.is_some() && self.now_ms() < self.paused_until.load(Ordering::Relaxed);
        let result = if paused {
            Err(DbError::Unavailable("paused after an outage".into()))
        } else {
            transactions::insert_many(&self.pool, &rows).await
        };
        match result {
            Ok(()) => {
                for (_, done) in batch {
                    let _ = done.send(Ok(Stored::Database));
                }
            }
            Err(e) if e.is_unavailable() => {
                if !paused {
                    self.paused_until.store(
                        self.now_ms() + PAUSE_AFTER_OUTAGE.as_millis() as u64,
                        Ordering::Relaxed,
                    );
                }
                let outcome = self.journal(&rows, &e).await;
                for (_, done) in batch {
                    let _ = done.send(outcome.clone());
                }
            }
            Err(e) if batch.len() == 1 => {
                let (_, done) = batch.into_iter().next().expect("one row");
                let _ = done.send(Err((e.to_string(), false)));
            }
            // One bad row (or, should it ever happen, one transaction twice in a statement,
            // which PostgreSQL refuses) must not fail the others.
            Err(_) => {
                for (row, done) in batch {
                    let outcome = match transactions::insert_many(&self.pool, &[&row]).await {
                        Ok(()) => Ok(Stored::Database),
                        Err(e) if e.is_unavailable() => self.journal(&[&row], &e).await,
                        Err(e) => Err((e.to_string(), false)),
                    };
                    let _ = done.send(outcome);
                }
            }
        }
    }

    /// Puts rows the database could not take (`why`) in the journal, when there is one.
    async fn journal(&self, rows: &[&TransactionRecord], why: &DbError) -> Outcome {
        let Some(journal) = self.journal.clone() else {
            return Err((why.to_string(), true));
        };
        let owned: Vec<TransactionRecord> = rows.iter().map(|r| (*r).clone()).collect();
        let appended =
            tokio::task::spawn_blocking(move || journal.append(&owned.iter().collect::<Vec<_>>()))
                .await;
        match appended {
            Ok(Ok(())) => Ok(Stored::Journal),
            Ok(Err(e)) => Err((format!("{why}; audit journal: {e}"), true)),
            Err(e) => Err((format!("{why}; audit journal task: {e}"), true)),
        }
    }
}
