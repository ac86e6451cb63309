//! Keeping the CDA of each forwarded publication for the help desk's support bundle
//! (`audit.document_retention_days`), off the request's path.
//!
//! One thread does it, one publication at a time: it reads only the `file` part of the
//! spooled body (where the inspector found it), takes the CDA out of the PDF and stores
//! it. Whatever the number of large publications arriving together, the memory this
//! costs is that of one PDF — and it stays in one thread's allocator arena instead of
//! being scattered over the runtime's workers, where freed blocks of several megabytes
//! would be kept (docs/performance.md). Waiting jobs hold spool files, not memory; when
//! more than [`BACKLOG`] wait, a CDA is not kept (the transaction row is, always).

use std::ops::Range;
use std::sync::mpsc;

use deadpool_postgres::Pool;

use super::spool::Held;
use gateway_contract::cda::ExtractionMode;

/// Most publications waiting for their CDA to be kept.
const BACKLOG: usize = 1024;

/// A publication whose CDA is to be kept.
#[derive(Debug)]
pub struct Job {
    /// Its transaction.
    pub tx_id: uuid::Uuid,
    /// Its whole body (the spool file goes away with the job).
    pub body: Held,
    /// Where the PDF lies in the body.
    pub file: Range<u64>,
    /// The request's `mode`, if it named one.
    pub mode: Option<ExtractionMode>,
}

/// The handle the request path gives jobs to.
#[derive(Debug, Clone)]
pub struct DocumentKeeper {
    jobs: mpsc::SyncSender<Job>,
}

// === impl DocumentKeeper ===

impl DocumentKeeper {
    /// Starts the keeper's thread; it stores through `pool` on `runtime`.
    pub fn start(pool: Pool, runtime: tokio::runtime::Handle) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::sync_channel::<Job>(BACKLOG);
        std::thread::Builder::new()
            .name("cda-keeper".into())
            .spawn(move || {
                for job in queue {
                    keep(&pool, &runtime, job);
                }
            })?;
        Ok(Self { jobs })
    }

    /// Hands a publication over; never waits.
    pub fn submit(&self, job: Job) {
        if let Err(e) = self.jobs.try_send(job) {
            let tx = match &e {
                mpsc::TrySendError::Full(j) | mpsc::TrySendError::Disconnected(j) => j.tx_id,
            };
            tracing::warn!(%tx, "CDA not kept for the support bundle: the keeper is {}",
                if matches!(e, mpsc::TrySendError::Full(_)) { "behind" } else { "stopped" });
        }
    }
}

fn keep(pool: &Pool, runtime: &tokio::runtime::Handle, job: Job) {
    let Job {
        tx_id,
        body,
        file,
        mode,
    } = job;
    let cda = body
        .read_range(file)
        .map_err(|e| e.to_string())
        .and_then(|pdf| gateway_contract::cda::extract_cda(&pdf, mode).map_err(|e| e.to_string()));
    drop(body);
    let outcome = match cda {
        Ok(cda) => runtime
            .block_on(crate::db::console::keep_document(pool, tx_id, &cda))
            .map_err(|e| e.to_string()),
        // A PDF without a CDA the gateway accepted is unusual but not the help desk's
        // concern here: the transaction row tells the story.
        Err(e) => {
            tracing::debug!(tx = %tx_id, error = %e, "no CDA to keep");
            Ok(())
        }
    };
    if let Err(e) = outcome {
        tracing::warn!(tx = %tx_id, error = %e, "CDA not kept for the support bundle");
    }
}
