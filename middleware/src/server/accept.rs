//! The TLS accept loop shared by the middleware and the gateway simulator.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

/// Largest HTTP/1.1 read buffer of a connection.
const READ_BUFFER: usize = 64 * 1024;
/// HTTP/2 flow-control windows: what a client may send before the server reads it.
const STREAM_WINDOW: u32 = 512 * 1024;
const CONNECTION_WINDOW: u32 = 1024 * 1024;

/// How long a client may take at each step before its connection is dropped.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionTimeouts {
    /// The TLS handshake.
    pub handshake: Duration,
    /// An HTTP/1.1 request's headers, from its first byte (slow-header attacks).
    pub header_read: Duration,
    /// A pause in a request body while the server waits for it (slow-body attacks).
    pub body_idle: Duration,
}

/// What to do with a new connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectionFate {
    /// Serve it.
    Serve,
    /// Close it before the TLS handshake.
    Refuse,
    /// Complete the handshake, then close it without answering.
    DropAfterHandshake,
}

/// What a listener does around its connections besides serving them. The producer
/// listener names the client and counts failed handshakes; another server (a test double
/// injecting network faults) may also decide each connection's fate and cut the open
/// ones. The accept loop knows this trait, not who implements it.
pub trait ConnectionHooks: Send + Sync + 'static {
    /// What every request of a connection carries in its extensions (the client identity).
    type Info: Clone + Send + Sync + 'static;

    /// Turns a completed handshake into the connection's value.
    fn describe(&self, conn: &rustls::ServerConnection, peer: SocketAddr) -> Self::Info;

    /// A handshake failed or timed out.
    fn handshake_failed(&self) {}

    /// Whether to serve a new connection.
    fn fate(&self) -> ConnectionFate {
        ConnectionFate::Serve
    }

    /// A channel whose every change closes the connections already open (none: never).
    fn cuts(&self) -> Option<tokio::sync::watch::Receiver<u64>> {
        None
    }
}

/// Serves `router` over TLS on `listener` until `shutdown` resolves, with `hooks` around
/// each connection.
pub async fn serve_tls<H: ConnectionHooks>(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    timeouts: ConnectionTimeouts,
    router: Router,
    hooks: H,
    shutdown: impl Future<Output = ()> + Send,
) {
    let hooks = Arc::new(hooks);
    let cut = hooks.cuts();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let fate = hooks.fate();
        if fate == ConnectionFate::Refuse {
            drop(tcp);
            continue;
        }
        let _ = tcp.set_nodelay(true);
        let mut cut = cut.clone();
        if let Some(rx) = cut.as_mut() {
            // Only outages that start after this connection count.
            rx.borrow_and_update();
        }
        let connection = Connection {
            tcp,
            peer,
            fate,
            acceptor: acceptor.clone(),
            router: router.clone(),
            hooks: hooks.clone(),
            timeouts,
            watcher: graceful.watcher(),
            cut,
        };
        tokio::spawn(connection.serve());
    }
    // In-flight requests get a bounded time to finish.
    let _ = tokio::time::timeout(Duration::from_secs(30), graceful.shutdown()).await;
}

/// One accepted connection, served on its own task: TLS handshake (bounded), the hooks'
/// verdict, HTTP/1.1 or HTTP/2 with bounded buffers, until it ends, the listener shuts
/// down or an outage cuts it.
struct Connection<H: ConnectionHooks> {
    tcp: tokio::net::TcpStream,
    peer: std::net::SocketAddr,
    fate: ConnectionFate,
    acceptor: TlsAcceptor,
    router: Router,
    hooks: Arc<H>,
    timeouts: ConnectionTimeouts,
    watcher: hyper_util::server::graceful::Watcher,
    cut: Option<tokio::sync::watch::Receiver<u64>>,
}

impl<H: ConnectionHooks> Connection<H> {
    async fn serve(self) {
        let Self {
            tcp,
            peer,
            fate,
            acceptor,
            router,
            hooks,
            timeouts,
            watcher,
            mut cut,
        } = self;
        let tls = match tokio::time::timeout(timeouts.handshake, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%peer, error = %e, "TLS handshake failed");
                hooks.handshake_failed();
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                hooks.handshake_failed();
                return;
            }
        };
        if fate == ConnectionFate::DropAfterHandshake {
            drop(tls);
            return;
        }
        let info = hooks.describe(tls.get_ref().1, peer);
        let service =
            hyper::service::service_fn(move |mut req: http::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(info.clone());
                let body_idle = timeouts.body_idle;
                router.clone().oneshot(req.map(|b| {
                    axum::body::Body::new(super::idle_body::IdleTimeoutBody::new(b, body_idle))
                }))
            });
        let builder = connection_builder(&timeouts);
        let conn = builder.serve_connection_with_upgrades(TokioIo::new(tls), service);
        let cut = async {
            match cut.as_mut() {
                Some(rx) => {
                    let _ = rx.changed().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            ended = watcher.watch(conn.into_owned()) => {
                if let Err(e) = ended {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
            }
            // Dropping the connection closes it.
            () = cut => tracing::debug!(%peer, "connection cut"),
        }
    }
}

/// HTTP/1.1 and HTTP/2 with bounded buffering per connection: a large upload streams
/// through in windows of this size instead of piling up (docs/performance.md, memory).
fn connection_builder(timeouts: &ConnectionTimeouts) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .max_buf_size(READ_BUFFER)
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.header_read);
    builder
        .http2()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW);
    builder
}

/// Serves `router` over plain HTTP (the admin listener) until `shutdown` resolves.
pub async fn serve_plain(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address reaches the handlers (the console throttles sign-ins by it).
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}
