//! Transaction rows kept on local disk while the database cannot take them.
//!
//! Every answer waits for its row. When PostgreSQL is down, restarting or out of disk,
//! the row goes to an append-only file in the spool folder instead
//! (`audit-journal/<instance>/`), flushed to disk before the answer leaves, and a task
//! writes the waiting rows into the database once it answers again, then removes the
//! file. Writing is idempotent (rows are keyed by transaction id), so a row written twice
//! — a crash between the insert and the removal — is one row. Each process holds a lock
//! on its own folder; the folder of a process that died (its lock is free) is taken over
//! and written by the next replay of any process sharing the spool folder. A row the
//! database refuses for its content (not for its availability) is set aside in
//! `rejected-*.jsonl` and logged, never retried forever.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use deadpool_postgres::Pool;
use serde::{Deserialize, Serialize};

use super::DbError;
use super::transaction_writer::MAX_BATCH;
use super::transactions::{self, TransactionRecord};

/// File the rows are appended to.
const CURRENT: &str = "current.jsonl";
/// Prefix of files being written to the database.
const REPLAYING: &str = "replaying-";
/// Prefix of files of rows the database refused.
const REJECTED: &str = "rejected-";
/// File whose lock says the folder's process is alive.
const LOCK: &str = "lock";

/// One row as kept on disk (the record with the bodies it keeps).
#[derive(Serialize, Deserialize)]
struct Line {
    #[serde(flatten)]
    record: TransactionRecord,
    request_body: Option<String>,
    response_body: Option<String>,
}

/// This process's journal folder, and how many rows wait.
#[derive(Debug)]
pub struct AuditJournal {
    base: PathBuf,
    dir: PathBuf,
    _lock: std::fs::File,
    append: std::sync::Mutex<()>,
    replay: tokio::sync::Mutex<()>,
    waiting: AtomicI64,
}

// === impl AuditJournal ===

impl AuditJournal {
    /// Creates this process's folder under `base` and locks it; counts the rows that
    /// processes which died left under `base`.
    pub fn open(base: &Path) -> std::io::Result<Self> {
        let dir = base.join(uuid::Uuid::new_v4().to_string());
        std::fs::create_dir_all(&dir)?;
        let lock = std::fs::File::create(dir.join(LOCK))?;
        lock.try_lock().map_err(std::io::Error::other)?;
        let mut waiting = 0;
        for orphan in orphans(base, &dir)? {
            for file in pending_files(&orphan)? {
                waiting += std::io::BufReader::new(std::fs::File::open(file)?)
                    .lines()
                    .count() as i64;
            }
        }
        Ok(Self {
            base: base.to_path_buf(),
            dir,
            _lock: lock,
            append: std::sync::Mutex::new(()),
            replay: tokio::sync::Mutex::new(()),
            waiting: AtomicI64::new(waiting),
        })
    }

    /// Rows waiting for the database.
    pub fn waiting(&self) -> i64 {
        self.waiting.load(Ordering::Relaxed)
    }

    /// Appends `rows` and flushes them to disk (blocking: call from a blocking context).
    pub fn append(&self, rows: &[&TransactionRecord]) -> std::io::Result<()> {
        let mut text = Vec::new();
        for r in rows {
            let line = Line {
                record: (*r).clone(),
                request_body: r.request_body.clone(),
                response_body: r.response_body.clone(),
            };
            serde_json::to_writer(&mut text, &line).map_err(std::io::Error::other)?;
            text.push(b'\n');
        }
        let _one_writer = self.append.lock().unwrap_or_else(|e| e.into_inner());
        let path = self.dir.join(CURRENT);
        let created = !path.exists();
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)?;
        file.write_all(&text)?;
        file.sync_data()?;
        if created {
            // The new file's name must survive a power cut too, not only its content.
            std::fs::File::open(&self.dir)?.sync_all()?;
        }
        self.waiting.fetch_add(rows.len() as i64, Ordering::Relaxed);
        Ok(())
    }

    /// Writes every waiting row into the database; returns how many were written.
    /// Stops at the first availability failure (the rows stay for the next attempt).
    pub async fn replay(&self, pool: &Pool) -> Result<usize, DbError> {
        let _one_replay = self.replay.lock().await;
        // Nothing to try while the database cannot even give a connection (the current file
        // is not set aside every round of an outage).
        drop(pool.get().await.map_err(DbError::from)?);
        // New rows go to a fresh file from here on; this one is no longer appended to.
        {
            let _one_writer = self.append.lock().unwrap_or_else(|e| e.into_inner());
            let current = self.dir.join(CURRENT);
            if current.exists() {
                let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
                std::fs::rename(&current, self.dir.join(format!("{REPLAYING}{stamp}.jsonl")))
                    .map_err(|e| DbError::Batch(format!("audit journal: {e}")))?;
            }
        }
        let mut written = 0;
        for file in pending_files(&self.dir).map_err(|e| DbError::Batch(e.to_string()))? {
            if file.file_name().and_then(|n| n.to_str()) == Some(CURRENT) {
                continue;
            }
            written += self.replay_file(pool, &file).await?;
            std::fs::remove_file(&file).map_err(|e| DbError::Batch(e.to_string()))?;
        }
        // Folders of processes that died: taken over while their lock is held here.
        for orphan in orphans(&self.base, &self.dir).map_err(|e| DbError::Batch(e.to_string()))? {
            let Ok(lock) = std::fs::File::open(orphan.join(LOCK)) else {
                continue;
            };
            if lock.try_lock().is_err() {
                continue;
            }
            for file in pending_files(&orphan).map_err(|e| DbError::Batch(e.to_string()))? {
                written += self.replay_file(pool, &file).await?;
                std::fs::remove_file(&file).map_err(|e| DbError::Batch(e.to_string()))?;
            }
            let rejected = std::fs::read_dir(&orphan)
                .map(|d| {
                    d.flatten()
                        .any(|e| e.file_name().to_string_lossy().starts_with(REJECTED))
                })
                .unwrap_or(true);
            if !rejected {
                let _ = std::fs::remove_dir_all(&orphan);
            }
        }
        Ok(written)
    }

    async fn replay_file(&self, pool: &Pool, file: &Path) -> Result<usize, DbError> {
        let text = std::fs::read_to_string(file).map_err(|e| DbError::Batch(e.to_string()))?;
        let mut rows = Vec::new();
        let mut unreadable = Vec::new();
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            match serde_json::from_str::<Line>(line) {
                Ok(l) => {
                    let mut record = l.record;
                    record.request_body = l.request_body;
                    record.response_body = l.response_body;
                    rows.push(record);
                }
                // A line cut by a crash in the middle of an append.
                Err(_) => unreadable.push(line.to_string()),
            }
        }
        let mut rejected = unreadable;
        for chunk in rows.chunks(MAX_BATCH) {
            let refs: Vec<&TransactionRecord> = chunk.iter().collect();
            match transactions::insert_many(pool, &refs).await {
                Ok(()) => {}
                Err(e) if e.is_unavailable() => return Err(e),
                Err(_) => {
                    for row in chunk {
                        match transactions::insert_many(pool, &[row]).await {
                            Ok(()) => {}
                            Err(e) if e.is_unavailable() => return Err(e),
                            Err(e) => {
                                tracing::error!(tx = %row.tx_id, error = %e, "journaled audit row refused by the database; set aside");
                                rejected.push(
                                    serde_json::to_string(&Line {
                                        record: row.clone(),
                                        request_body: row.request_body.clone(),
                                        response_body: row.response_body.clone(),
                                    })
                                    .unwrap_or_default(),
                                );
                            }
                        }
                    }
                }
            }
        }
        if !rejected.is_empty() {
            let name = file
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .trim_start_matches(REPLAYING)
                .to_string();
            let folder = file.parent().unwrap_or(&self.dir);
            std::fs::write(
                folder.join(format!("{REJECTED}{name}")),
                rejected.join("\n") + "\n",
            )
            .map_err(|e| DbError::Batch(e.to_string()))?;
        }
        // Only a whole file stops waiting: one cut short is written again in full (the
        // insert is idempotent).
        self.waiting.fetch_sub(lines as i64, Ordering::Relaxed);
        Ok(rows.len())
    }
}

/// Journal folders under `base` other than `own` (alive or not).
fn orphans(base: &Path, own: &Path) -> std::io::Result<Vec<PathBuf>> {
    Ok(std::fs::read_dir(base)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir() && p != own && p.join(LOCK).exists())
        .collect())
}

/// Files whose rows wait: `current.jsonl` and any `replaying-*` a stop interrupted.
fn pending_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n == CURRENT || n.starts_with(REPLAYING))
        })
        .collect();
    files.sort();
    Ok(files)
}

/// Writes waiting rows into the database every `every` (and looks for the rows of
/// processes that died every 30 × `every`), for as long as the process runs.
pub fn spawn_replay(journal: Arc<AuditJournal>, pool: Pool, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        for round in 0u64.. {
            tick.tick().await;
            // Once a minute or so, also when nothing waits here: a process sharing the
            // spool folder may have died with rows.
            let idle = journal.waiting() <= 0 && !journal.dir.join(CURRENT).exists();
            if idle && round % 30 != 0 {
                continue;
            }
            match journal.replay(&pool).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(rows = n, "journaled audit rows written to the database"),
                Err(e) if e.is_unavailable() => {}
                Err(e) => tracing::error!(error = %e, "audit journal not replayed"),
            }
        }
    });
}
