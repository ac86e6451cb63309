//! Reading a request body while it streams to the gateway.
//!
//! The producer's bytes go to the gateway exactly as received, chunk by chunk.
//! Each chunk is also handed (a reference-counted clone, not a copy) to an
//! inspector task that parses the multipart form: it measures the `file` part, hashes it
//! (SHA-256) when asked — publications, whose hash the gateway checks against the token's
//! `attachment_hash` — and keeps the `requestBody` text. A JSON body (metadata update) is
//! kept as text. Hashing every validation's PDF was the largest single cost of a forwarded
//! request (docs/performance.md), so validations record the file's size only.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use aws_lc_rs::digest;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;

/// The most of a `requestBody` (or JSON body) kept for the regional checks.
const MAX_JSON_KEPT: usize = 1 << 20;

/// What the inspector learned from the body.
#[derive(Debug, Default, Clone)]
pub struct BodyFacts {
    /// SHA-256 (hex) of the `file` part.
    pub file_sha256: Option<String>,
    /// Size of the `file` part.
    pub file_bytes: Option<u64>,
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
        let essence = ct
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if essence == "application/json" || essence.ends_with("+json") {
            Self::Json
        } else {
            Self::Other
        }
    }
}

/// Shared flag set when the body outgrew the limit.
#[derive(Debug, Clone, Default)]
pub struct TooLarge(Arc<AtomicBool>);

// === impl TooLarge ===

impl TooLarge {
    /// Whether the limit was passed.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The error a stream yields when the limit is passed.
#[derive(Debug, thiserror::Error)]
#[error("request body larger than the configured limit")]
pub struct BodyLimitExceeded;

/// Boxed error of the outbound stream.
pub type StreamError = Box<dyn std::error::Error + Send + Sync>;

/// Wraps the producer's body: the returned stream goes to the gateway, the
/// returned task yields the facts once the body has been read to its end.
pub fn tee<S, E>(
    body: S,
    kind: BodyKind,
    limit: u64,
    hash_file: bool,
) -> (Tee<S>, tokio::task::JoinHandle<BodyFacts>, TooLarge)
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::error::Error + Send + Sync + 'static,
{
    // Unbounded: the queue holds references to chunks that are in memory anyway,
    // and the forwarding must never wait for the inspector.
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let too_large = TooLarge::default();
    let tee = Tee {
        inner: Box::pin(body),
        tx: Some(tx),
        seen: 0,
        limit,
        flag: too_large.clone(),
    };
    (tee, tokio::spawn(inspect(rx, kind, hash_file)), too_large)
}

/// The outbound body: the producer's chunks, unchanged, with a copy to the inspector.
pub struct Tee<S> {
    inner: Pin<Box<S>>,
    tx: Option<mpsc::UnboundedSender<Bytes>>,
    seen: u64,
    limit: u64,
    flag: TooLarge,
}

impl<S, E> Stream for Tee<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::error::Error + Send + Sync + 'static,
{
    type Item = Result<Bytes, StreamError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = std::task::ready!(self.inner.as_mut().poll_next(cx));
        Poll::Ready(match next {
            None => {
                // Closing the channel tells the inspector the body is complete.
                self.tx = None;
                None
            }
            Some(Err(e)) => {
                self.tx = None;
                Some(Err(Box::new(e) as StreamError))
            }
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                if self.seen > self.limit {
                    self.flag.0.store(true, Ordering::Relaxed);
                    self.tx = None;
                    Some(Err(Box::new(BodyLimitExceeded) as StreamError))
                } else {
                    if let Some(tx) = &self.tx {
                        let _ = tx.send(chunk.clone());
                    }
                    Some(Ok(chunk))
                }
            }
        })
    }
}

async fn inspect(
    mut rx: mpsc::UnboundedReceiver<Bytes>,
    kind: BodyKind,
    hash_file: bool,
) -> BodyFacts {
    match kind {
        BodyKind::Multipart(boundary) => {
            let stream = futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
                .map(Ok::<Bytes, std::convert::Infallible>);
            inspect_multipart(stream, boundary, hash_file).await
        }
        BodyKind::Json => {
            let mut text = Vec::new();
            while let Some(chunk) = rx.recv().await {
                if text.len() < MAX_JSON_KEPT {
                    text.extend_from_slice(&chunk[..chunk.len().min(MAX_JSON_KEPT - text.len())]);
                }
            }
            BodyFacts {
                request_json: Some(String::from_utf8_lossy(&text).into_owned()),
                ..Default::default()
            }
        }
        BodyKind::Other => {
            while rx.recv().await.is_some() {}
            BodyFacts::default()
        }
    }
}

async fn inspect_multipart<S>(stream: S, boundary: String, hash_file: bool) -> BodyFacts
where
    S: Stream<Item = Result<Bytes, std::convert::Infallible>> + Send + 'static,
{
    let mut facts = BodyFacts::default();
    let mut mp = multer::Multipart::new(stream, boundary);
    loop {
        let mut field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                facts.malformed = Some(format!("multipart: {e}"));
                break;
            }
        };
        let name = field.name().map(str::to_owned);
        let mut ctx = digest::Context::new(&digest::SHA256);
        let mut size = 0u64;
        let mut text = Vec::new();
        loop {
            match field.chunk().await {
                Ok(Some(c)) => {
                    size += c.len() as u64;
                    match name.as_deref() {
                        Some("file") if hash_file => ctx.update(&c),
                        Some("requestBody") if text.len() < MAX_JSON_KEPT => {
                            text.extend_from_slice(&c)
                        }
                        _ => {}
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    facts.malformed = Some(format!("multipart: {e}"));
                    return facts;
                }
            }
        }
        match name.as_deref() {
            Some("file") => {
                facts.file_sha256 = hash_file.then(|| hex::encode(ctx.finish().as_ref()));
                facts.file_bytes = Some(size);
            }
            Some("requestBody") => {
                facts.request_json = Some(String::from_utf8_lossy(&text).into_owned())
            }
            _ => {}
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_gateway_gets_the_bytes_and_the_inspector_the_facts() {
        let body = b"--XyZ\r\nContent-Disposition: form-data; name=\"requestBody\"\r\n\r\n{\"activity\":\"VERIFICA\"}\r\n--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4 abc\r\n--XyZ--\r\n";
        for hash_file in [true, false] {
            let chunks: Vec<Result<Bytes, std::io::Error>> = body
                .chunks(7)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            let (out, task, too_large) = tee(
                futures_util::stream::iter(chunks),
                BodyKind::Multipart("XyZ".into()),
                10_000,
                hash_file,
            );
            let forwarded: Vec<Bytes> = out.map(|c| c.unwrap()).collect().await;
            assert_eq!(forwarded.concat(), body.to_vec());
            let facts = task.await.unwrap();
            assert_eq!(
                facts.request_json.as_deref(),
                Some("{\"activity\":\"VERIFICA\"}")
            );
            assert_eq!(facts.file_bytes, Some(12));
            let expect = hex::encode(digest::digest(&digest::SHA256, b"%PDF-1.4 abc").as_ref());
            assert_eq!(facts.file_sha256, hash_file.then_some(expect));
            assert!(!too_large.is_set());
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
        assert!(too_large.is_set());
    }
}
