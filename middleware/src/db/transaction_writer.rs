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
//! bad row fails alone.

use std::sync::Arc;

use deadpool_postgres::Pool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::DbError;
use super::transactions::{self, TransactionRecord};

/// Most rows in one statement (31 parameters each; PostgreSQL allows 65,535).
pub const MAX_BATCH: usize = 64;

/// Rows waiting beyond which requests wait to hand theirs over.
const QUEUE: usize = 4096;

/// Concurrent batches.
const WRITERS: usize = 2;

type Waiting = (TransactionRecord, oneshot::Sender<Result<(), String>>);

/// The handle requests write their rows through.
#[derive(Debug, Clone)]
pub struct TransactionWriter {
    rows: mpsc::Sender<Waiting>,
}

// === impl TransactionWriter ===

impl TransactionWriter {
    /// Starts the writer tasks on the current runtime; `rows_per_statement` observes
    /// each batch's size.
    pub fn start(pool: Pool, rows_per_statement: prometheus::Histogram) -> Self {
        let (rows, queue) = mpsc::channel::<Waiting>(QUEUE);
        let queue = Arc::new(Mutex::new(queue));
        for _ in 0..WRITERS {
            let (pool, queue, sizes) = (pool.clone(), queue.clone(), rows_per_statement.clone());
            tokio::spawn(async move {
                while let Some(batch) = next_batch(&queue).await {
                    sizes.observe(batch.len() as f64);
                    write_batch(&pool, batch).await;
                }
            });
        }
        Self { rows }
    }

    /// Writes one row; returns once it is committed.
    pub async fn write(&self, row: TransactionRecord) -> Result<(), DbError> {
        let (done, written) = oneshot::channel();
        let gone = || DbError::Batch("the transaction writer has stopped".into());
        self.rows.send((row, done)).await.map_err(|_| gone())?;
        written.await.map_err(|_| gone())?.map_err(DbError::Batch)
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

async fn write_batch(pool: &Pool, batch: Vec<Waiting>) {
    let rows: Vec<&TransactionRecord> = batch.iter().map(|(r, _)| r).collect();
    match transactions::insert_many(pool, &rows).await {
        Ok(()) => {
            for (_, done) in batch {
                let _ = done.send(Ok(()));
            }
        }
        Err(e) if batch.len() == 1 => {
            let (_, done) = batch.into_iter().next().expect("one row");
            let _ = done.send(Err(e.to_string()));
        }
        // One bad row (or, should it ever happen, one transaction twice in a statement,
        // which PostgreSQL refuses) must not fail the others.
        Err(_) => {
            for (row, done) in batch {
                let outcome = transactions::insert_many(pool, &[&row])
                    .await
                    .map_err(|e| e.to_string());
                let _ = done.send(outcome);
            }
        }
    }
}
