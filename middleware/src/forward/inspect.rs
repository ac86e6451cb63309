//! Reading a request body while it streams to the gateway.
//!
//! The producer's bytes go to the gateway exactly as received, chunk by chunk. Each
//! chunk is read where it lies, on its way, by an [`Inspector`]: for a multipart form
//! ([`gateway_contract::form_scanner`]) it measures the `file` part, records where it starts, hashes
//! it (SHA-256) when asked — publications, whose hash the gateway checks against the
//! token's `attachment_hash` — and keeps the `requestBody` text; a JSON body (metadata
//! update) is kept as text. Nothing is copied and nothing waits: an earlier design handed
//! every chunk to a separate parsing task, which under load fell behind and buffered
//! whole files (docs/performance.md). Hashing every validation's PDF was the largest
//! single cost of a forwarded request, so validations record the file's size only.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use aws_lc_rs::digest;
use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::oneshot;

use gateway_contract::form_scanner::{FormScanner, FormSink, PartHead};

/// The most of a `requestBody` (or JSON body) kept for the regional checks.
const MAX_JSON_KEPT: usize = 1 << 20;

/// What the inspector learned from the body.
#[derive(Debug, Default, Clone)]
pub struct BodyFacts {
    /// SHA-256 (hex) of the `file` part.
    pub file_sha256: Option<String>,
    /// Size of the `file` part.
    pub file_bytes: Option<u64>,
    /// Offset of the `file` part's first byte in the body.
    pub file_offset: Option<u64>,
    /// The `requestBody` part, or the whole JSON body.
    pub request_json: Option<String>,
    /// Why the body could not be read as the contract describes (the gateway judges it).
    pub malformed: Option<String>,
}

/// How the body is framed.
#[derive(Debug, Clone)]
pub enum BodyKind {
    /// `multipart/form-data` with this boundary.
    Multipart(String),
    /// JSON (metadata update).
    Json,
    /// Anything else: forwarded, not inspected.
    Other,
}

// === impl BodyKind ===

impl BodyKind {
    /// Classifies a request by its `Content-Type`.
    pub fn from_content_type(ct: Option<&str>) -> Self {
        let Some(ct) = ct else { return Self::Other };
        if let Ok(boundary) = multer::parse_boundary(ct) {
            return Self::Multipart(boundary);
        }
        if gateway_contract::headers::is_json(ct) {
            Self::Json
        } else {
            Self::Other
        }
    }
}

/// What went wrong with the producer's side of the body, seen by the stream.
#[derive(Debug, Clone, Default)]
pub struct BodyFlags(Arc<[AtomicBool; 3]>);

// === impl BodyFlags ===

impl BodyFlags {
    const TOO_LARGE: usize = 0;
    const INCOMPLETE: usize = 1;
    const WAITING: usize = 2;

    /// Whether the body outgrew the limit.
    pub fn too_large(&self) -> bool {
        self.0[Self::TOO_LARGE].load(Ordering::Relaxed)
    }

    /// Whether the producer stopped sending (or broke the connection) before the end.
    pub fn incomplete(&self) -> bool {
        self.0[Self::INCOMPLETE].load(Ordering::Relaxed)
    }

    /// Whether, the last time the forwarding asked for more of the body, the producer had
    /// not sent it yet: a timeout then is the producer's, not the gateway's.
    pub fn waiting_for_producer(&self) -> bool {
        self.0[Self::WAITING].load(Ordering::Relaxed)
    }

    fn set(&self, which: usize) {
        self.0[which].store(true, Ordering::Relaxed);
    }

    fn clear(&self, which: usize) {
        self.0[which].store(false, Ordering::Relaxed);
    }
}

/// The error a stream yields when the limit is passed.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than the configured limit")]
pub struct BodyLimitExceeded;

/// Boxed error of the outbound stream.
pub type StreamError = Box<dyn std::error::Error + Send + Sync>;

/// The facts, once the body has been read to its end (or given up).
pub type FactsReceiver = oneshot::Receiver<BodyFacts>;

/// Wraps the producer's body: the returned stream goes to the gateway, the receiver
/// yields the facts once the stream has ended or been dropped.
pub fn tee<S, E>(
    body: S,
    kind: BodyKind,
    limit: u64,
    hash_file: bool,
) -> (Tee<S>, FactsReceiver, BodyFlags)
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    let (tx, rx) = oneshot::channel();
    let flags = BodyFlags::default();
    let tee = Tee {
        inner: Box::pin(body),
        inspector: Some((Inspector::new(kind, hash_file), tx)),
        seen: 0,
        limit,
        flags: flags.clone(),
    };
    (tee, rx, flags)
}

/// The outbound body: the producer's chunks, unchanged, read on their way.
pub struct Tee<S> {
    inner: Pin<Box<S>>,
    inspector: Option<(Inspector, oneshot::Sender<BodyFacts>)>,
    seen: u64,
    limit: u64,
    flags: BodyFlags,
}

impl<S> Tee<S> {
    /// Hands the facts over (once).
    fn conclude(&mut self) {
        if let Some((inspector, tx)) = self.inspector.take() {
            let _ = tx.send(inspector.finish());
        }
    }
}

impl<S> Drop for Tee<S> {
    fn drop(&mut self) {
        self.conclude();
    }
}

impl<S, E> Stream for Tee<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<Bytes, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Poll::Ready(next) = self.inner.as_mut().poll_next(cx) else {
            self.flags.set(BodyFlags::WAITING);
            return Poll::Pending;
        };
        self.flags.clear(BodyFlags::WAITING);
        Poll::Ready(match next {
            None => {
                self.conclude();
                None
            }
            Some(Err(e)) => {
                self.flags.set(BodyFlags::INCOMPLETE);
                self.conclude();
                Some(Err(Box::new(e) as StreamError))
            }
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.limit {
                    self.flags.set(BodyFlags::TOO_LARGE);
                    self.conclude();
                    Some(Err(Box::new(BodyLimitExceeded) as StreamError))
                } else {
                    if let Some((inspector, _)) = &mut self.inspector {
                        inspector.read(&chunk);
                    }
                    Some(Ok(chunk))
                }
            }
        })
    }
}

/// Reads a body chunk by chunk into [`BodyFacts`].
struct Inspector {
    reader: Reader,
    form: FormFacts,
}

enum Reader {
    Form(FormScanner),
    Json(Vec<u8>),
    Other,
}

// === impl Inspector ===

impl Inspector {
    fn new(kind: BodyKind, hash_file: bool) -> Self {
        let reader = match kind {
            BodyKind::Multipart(boundary) => Reader::Form(FormScanner::new(&boundary)),
            BodyKind::Json => Reader::Json(Vec::new()),
            BodyKind::Other => Reader::Other,
        };
        Self {
            reader,
            form: FormFacts {
                hash_file,
                ..Default::default()
            },
        }
    }

    fn read(&mut self, chunk: &[u8]) {
        match &mut self.reader {
            Reader::Form(scanner) => scanner.feed(chunk, &mut self.form),
            Reader::Json(text) => {
                let room = MAX_JSON_KEPT.saturating_sub(text.len());
                text.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Reader::Other => {}
        }
    }

    fn finish(self) -> BodyFacts {
        match self.reader {
            Reader::Form(scanner) => {
                let mut facts = self.form.facts;
                facts.malformed = scanner.finish().err().map(|e| format!("multipart: {e}"));
                facts
            }
            Reader::Json(text) => BodyFacts {
                request_json: Some(String::from_utf8_lossy(&text).into_owned()),
                ..Default::default()
            },
            Reader::Other => BodyFacts::default(),
        }
    }
}

/// The facts of a form, gathered part by part.
#[derive(Default)]
struct FormFacts {
    hash_file: bool,
    part: Part,
    size: u64,
    hash: Option<digest::Context>,
    text: Vec<u8>,
    facts: BodyFacts,
}

#[derive(Default, Clone, Copy, PartialEq, Eq)]
enum Part {
    File,
    RequestBody,
    #[default]
    Other,
}

impl FormSink for FormFacts {
    fn part_start(&mut self, head: &PartHead<'_>, offset: u64) {
        self.size = 0;
        self.part = match head.name {
            Some("file") => {
                self.facts.file_offset = Some(offset);
                self.hash = self
                    .hash_file
                    .then(|| digest::Context::new(&digest::SHA256));
                Part::File
            }
            Some("requestBody") => {
                self.text.clear();
                Part::RequestBody
            }
            _ => Part::Other,
        };
    }

    fn data(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        match self.part {
            Part::File => {
                if let Some(h) = &mut self.hash {
                    h.update(bytes);
                }
            }
            Part::RequestBody => {
                let room = MAX_JSON_KEPT.saturating_sub(self.text.len());
                self.text.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Part::Other => {}
        }
    }

    fn part_end(&mut self) {
        match self.part {
            Part::File => {
                self.facts.file_bytes = Some(self.size);
                self.facts.file_sha256 = self.hash.take().map(|h| hex::encode(h.finish()));
            }
            Part::RequestBody => {
                self.facts.request_json = Some(String::from_utf8_lossy(&self.text).into_owned());
            }
            Part::Other => {}
        }
        self.part = Part::Other;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::StreamExt;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gateway_gets_the_bytes_and_the_inspector_the_facts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{\"activity\":\"VERIFICA\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 abc\r\n--XyZ--\r\n";
        for hash_file in [true, false] {
            let chunks: Vec<Result<Bytes, std::io::Error>> = body
                .chunks(7)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let (out, facts, too_large) = tee(
                futures_util::stream::iter(chunks),
                BodyKind::Multipart("XyZ".into()),
                10_000,
                hash_file,
            );
            let forwarded: Vec<Bytes> = out.map(|c| c.unwrap()).collect().await;
            assert_eq!(forwarded.concat(), body.to_vec());
            let facts = facts.await.unwrap();
            assert_eq!(facts.malformed, None);
            assert_eq!(
                facts.file_offset,
                body.windows(4).position(|w| w == b"%PDF").map(|p| p as u64)
            );
            assert_eq!(
                facts.request_json.as_deref(),
                Some("{\"activity\":\"VERIFICA\"}")
            );
            assert_eq!(facts.file_bytes, Some(12));
            let expect = hex::encode(digest::digest(&digest::SHA256, b"%PDF-1.4 abc").as_ref());
            assert_eq!(facts.file_sha256, hash_file.then_some(expect));
            assert!(!too_large.too_large() && !too_large.incomplete());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_limit_stops_the_stream() {
        let chunks: Vec<Result<Bytes, std::io::Error>> =
            (0..3).map(|_| Ok(Bytes::from(vec![0u8; 600]))).collect();
        let (out, _task, too_large) = tee(
            futures_util::stream::iter(chunks),
            BodyKind::Other,
            1000,
            false,
        );
        let results: Vec<_> = out.collect().await;
        assert!(results[0].is_ok());
        assert!(results[1].is_err());
        assert!(too_large.too_large());
    }
}
