//! Listeners: our own TLS accept loop (so handlers see the client certificate)
//! and the TLS configurations of both hops.
//!
//! - [`accept`]: TCP → TLS → hyper, with a per-connection value put in every request.
//! - [`tls`]: rustls configurations (producer-facing with deferred client-certificate
//!   verification, gateway client with the regional key, simulator server).
//! - [`identity`]: the producer identity read from a client certificate.
//! - [`idle_body`]: request bodies that end when the client stops sending.

pub mod accept;
pub mod identity;
pub mod idle_body;
pub mod tls;

/// Turns true on SIGINT or SIGTERM.
pub fn shutdown_signal() -> tokio::sync::watch::Receiver<bool> {
    let (tx, rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
        let _ = tx.send(true);
    });
    rx
}
