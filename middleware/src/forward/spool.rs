//! A publication's whole body, kept so that it can be queued if the gateway cannot be
//! reached: on disk for REST requests (written as it arrives, read back as it is
//! forwarded — memory stays at one buffer per request whatever the PDF's size), in memory
//! for the SOAP services (which decode the document from the envelope anyway).

use std::path::{Path, PathBuf};

use axum::body::{Body, BodyDataStream};
use bytes::Bytes;
use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::problem::MwError;

/// A held publication body.
#[derive(Debug)]
pub enum Held {
    /// Already in memory.
    Memory(Bytes),
    /// In a spool file, removed when this is dropped.
    Disk(Spooled),
}

/// A body written to a spool file.
#[derive(Debug)]
pub struct Spooled {
    path: PathBuf,
    len: u64,
}

impl Drop for Spooled {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Writes `body` to a new file in `dir`, at most `limit` bytes (else 413).
pub async fn receive(body: Body, dir: &Path, limit: u64) -> Result<Held, MwError> {
    let path = dir.join(format!("{}.body", uuid::Uuid::new_v4().simple()));
    let io = |e: std::io::Error| MwError::Internal(format!("spool {}: {e}", dir.display()));
    let mut file = tokio::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .await
        .map_err(io)?;
    // From here the file goes away with `spooled`, whatever happens.
    let mut spooled = Spooled { path, len: 0 };
    let mut stream = body.into_data_stream();
    let mut written = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| MwError::IncompleteBody(e.to_string()))?;
        written += chunk.len() as u64;
        if written > limit {
            // Read a moderate excess to its end, unwritten, so that the producer gets the
            // 413 answer instead of a reset connection.
            if written > limit.saturating_mul(2) {
                break;
            }
            continue;
        }
        file.write_all(&chunk).await.map_err(io)?;
    }
    if written > limit {
        return Err(MwError::PayloadTooLarge { limit });
    }
    file.flush().await.map_err(io)?;
    spooled.len = written;
    Ok(Held::Disk(spooled))
}

impl Held {
    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Memory(b) => b.len() as u64,
            Self::Disk(s) => s.len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body as a stream, to forward.
    pub async fn stream(&self) -> Result<BodyDataStream, MwError> {
        match self {
            Self::Memory(b) => Ok(Body::from(b.clone()).into_data_stream()),
            Self::Disk(s) => {
                let file = tokio::fs::File::open(&s.path)
                    .await
                    .map_err(|e| MwError::Internal(format!("spool: {e}")))?;
                // 64 KiB at a time.
                let chunks = futures_util::stream::unfold(file, |mut file| async move {
                    let mut buf = bytes::BytesMut::with_capacity(64 * 1024);
                    match file.read_buf(&mut buf).await {
                        Ok(0) => None,
                        Ok(_) => Some((Ok::<Bytes, std::io::Error>(buf.freeze()), file)),
                        Err(e) => Some((Err(e), file)),
                    }
                });
                Ok(Body::from_stream(chunks).into_data_stream())
            }
        }
    }

    /// The whole body in memory (queuing it, keeping its CDA).
    pub async fn bytes(&self) -> Result<Bytes, MwError> {
        match self {
            Self::Memory(b) => Ok(b.clone()),
            Self::Disk(s) => tokio::fs::read(&s.path)
                .await
                .map(Bytes::from)
                .map_err(|e| MwError::Internal(format!("spool: {e}"))),
        }
    }

    /// Bytes `range` of the body, read from where it is kept (blocking: for a thread of
    /// its own).
    pub fn read_range(&self, range: std::ops::Range<u64>) -> std::io::Result<Bytes> {
        let bad =
            || std::io::Error::new(std::io::ErrorKind::InvalidInput, "range outside the body");
        let len = usize::try_from(range.end.checked_sub(range.start).ok_or_else(bad)?)
            .map_err(|_| bad())?;
        match self {
            Self::Memory(b) => {
                let start = usize::try_from(range.start).map_err(|_| bad())?;
                let end = start
                    .checked_add(len)
                    .filter(|e| *e <= b.len())
                    .ok_or_else(bad)?;
                Ok(b.slice(start..end))
            }
            Self::Disk(s) => {
                use std::io::{Read, Seek, SeekFrom};
                let mut file = std::fs::File::open(&s.path)?;
                file.seek(SeekFrom::Start(range.start))?;
                let mut buf = vec![0; len];
                file.read_exact(&mut buf)?;
                Ok(Bytes::from(buf))
            }
        }
    }
}
