//! The bounded pool for work that holds a thread: PKCS#11 signatures (a round trip to the
//! HSM), SAML and WS-Security verification (libxml2 canonicalisation, RSA), PDF parsing.
//!
//! Run on the async workers, one slow signature or a large PDF stalls every connection
//! those workers serve. Here jobs run on `size` long-lived threads of their own
//! (`server.cpu_workers`, default: the number of cores), in the order they come; a request
//! waiting for its turn holds no thread. Threads that live as long as the pool keep their
//! per-thread state (libxml2's, the regex cache, the allocator's arenas) warm, which tokio's
//! blocking threads, started and ended with the load, do not. The wait is measured
//! (`fsemw_cpu_pool_wait_seconds{work}`), the jobs running counted (`fsemw_cpu_pool_busy`).
//! The threads end when the last handle to the pool is dropped.
//!
//! TLS handshakes towards the gateway still sign inside rustls on the async workers: they
//! happen once per pooled connection, not per request.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use prometheus::{HistogramVec, IntGauge};
use tokio::sync::oneshot;

use crate::problem::MwError;

/// What a job does (the metric's label).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Re-issuing a producer's tokens with the regional key.
    Signature,
    /// Verifying a SOAP call's assertion and operator signature.
    SoapIdentity,
    /// Extracting the CDA from a PDF.
    Pdf,
}

type Job = Box<dyn FnOnce() + Send>;

/// The pool (cheap to clone: every clone feeds the same threads).
#[derive(Debug, Clone)]
pub struct CpuPool {
    jobs: Sender<Job>,
    wait: HistogramVec,
    busy: IntGauge,
}

// === impl Work ===

impl Work {
    fn label(self) -> &'static str {
        match self {
            Self::Signature => "signature",
            Self::SoapIdentity => "soap_identity",
            Self::Pdf => "pdf",
        }
    }
}

// === impl CpuPool ===

impl CpuPool {
    /// Starts `size` threads (at least one).
    pub fn new(size: usize, wait: HistogramVec, busy: IntGauge) -> Self {
        let (jobs, queue) = channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..size.max(1) {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("fsemw-cpu-{i}"))
                .spawn(move || work(&queue))
                .expect("a CPU pool thread");
        }
        Self { jobs, wait, busy }
    }

    /// The default size: one thread per core.
    pub fn default_size() -> usize {
        std::thread::available_parallelism().map_or(2, usize::from)
    }

    /// Runs `job` on the pool and waits for it without holding a thread; a job that
    /// panics is an internal error of this request only (the thread goes on).
    pub async fn run<T, F>(&self, work: Work, job: F) -> Result<T, MwError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (done, answer) = oneshot::channel();
        let (wait, busy, asked) = (self.wait.clone(), self.busy.clone(), Instant::now());
        let boxed: Job = Box::new(move || {
            wait.with_label_values(&[work.label()])
                .observe(asked.elapsed().as_secs_f64());
            busy.inc();
            let out = catch_unwind(AssertUnwindSafe(job));
            busy.dec();
            if let Ok(out) = out {
                let _ = done.send(out);
            }
        });
        self.jobs
            .send(boxed)
            .map_err(|_| MwError::Internal("the CPU pool has stopped".into()))?;
        answer
            .await
            .map_err(|_| MwError::Internal(format!("{} job failed (panicked)", work.label())))
    }
}

/// One thread: jobs in arrival order until the pool is dropped.
fn work(queue: &Mutex<Receiver<Job>>) {
    loop {
        let next = queue.lock().map(|q| q.recv());
        match next {
            Ok(Ok(job)) => job(),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn pool(size: usize) -> CpuPool {
        let wait = HistogramVec::new(prometheus::HistogramOpts::new("w", "w"), &["work"]).unwrap();
        CpuPool::new(size, wait, IntGauge::new("b", "b").unwrap())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_than_its_size_run_at_once_and_a_panic_stays_in_its_job() {
        // The threads are the pool's own, whatever the runtime.
        let pool = pool(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|i| {
            let (pool, running, most) = (pool.clone(), running.clone(), most.clone());
            tokio::spawn(async move {
                pool.run(Work::Pdf, move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i * 2
                })
                .await
            })
        });
        let results: Vec<usize> = futures_util::future::join_all(jobs)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
        assert_eq!(most.load(Ordering::SeqCst), 2);
        let e = pool
            .run(Work::Signature, || -> usize { panic!("boom") })
            .await
            .unwrap_err();
        assert!(e.to_string().contains("signature job failed"), "{e}");
        let name = pool
            .run(Work::Pdf, || {
                std::thread::current().name().map(str::to_string)
            })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("fsemw-cpu-"));
        assert_eq!(pool.run(Work::Signature, || 7).await.unwrap(), 7);
        assert_eq!(pool.busy.get(), 0);
    }
}
