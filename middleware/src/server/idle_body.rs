//! A request body that gives up on a client who stops sending (slow-body attacks).
//!
//! The clock runs only while the reader is waiting for the client: it starts when a read
//! finds nothing and stops at the next frame, so a handler that is busy elsewhere (checking
//! the producer, say) is never charged for its own time. A read that waits longer than the
//! limit ends the body with [`BodyStalled`].

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

/// Boxed body error.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The client sent nothing for longer than the limit.
#[derive(Debug, thiserror::Error)]
#[error("the client sent nothing for {0:?}")]
pub struct BodyStalled(pub Duration);

/// `inner`, ended with [`BodyStalled`] when the client pauses longer than `limit`.
#[derive(Debug)]
pub struct IdleTimeoutBody<B> {
    inner: B,
    limit: Duration,
    waiting: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B> IdleTimeoutBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            waiting: None,
        }
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.waiting = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let limit = this.limit;
                let timer = this
                    .waiting
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                match timer.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyStalled(limit))))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `e` (or what it wraps) says the client stalled.
pub fn is_stall(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        if err.is::<BodyStalled>() {
            return true;
        }
        cur = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, StreamBody};

    #[tokio::test]
    async fn a_pause_longer_than_the_limit_ends_the_body() {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(4);
        let stream = tokio_stream_from(rx);
        let mut body = IdleTimeoutBody::new(StreamBody::new(stream), Duration::from_millis(500));
        tx.send(Ok(Frame::data(Bytes::from_static(b"abc"))))
            .await
            .unwrap();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from_static(b"abc"));
        // A pause shorter than the limit: still waiting; the next frame resets the clock.
        let sender = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            tx.send(Ok(Frame::data(Bytes::from_static(b"d"))))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(tx);
        });
        assert!(body.frame().await.unwrap().is_ok());
        let err = body.frame().await.unwrap().unwrap_err();
        assert!(is_stall(err.as_ref()), "{err}");
        sender.abort();
    }

    fn tokio_stream_from<T: Send + 'static>(
        mut rx: tokio::sync::mpsc::Receiver<T>,
    ) -> impl futures_util::Stream<Item = T> + Unpin {
        Box::pin(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
    }
}
