//! PostgreSQL over TLS with rustls, as libpq's `sslmode=verify-full`: the server's
//! certificate must chain to the configured CA (`database.sslrootcert`) and name the
//! host connected to. tokio-postgres knows `disable | prefer | require` only, so the
//! verification is this connector's: `require` on the wire, `verify-full` in effect.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::server::tls::{TlsError, load_roots};

/// Makes one verifying TLS connector per connection.
#[derive(Clone)]
pub struct VerifyFull(Arc<rustls::ClientConfig>);

/// The connector for one host.
pub struct Connect {
    config: Arc<rustls::ClientConfig>,
    host: Result<ServerName<'static>, String>,
}

/// An encrypted connection to the server.
pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

// === impl VerifyFull ===

impl VerifyFull {
    /// Trusts the CAs of a PEM bundle (no client certificate is sent).
    pub fn new(sslrootcert: &str) -> Result<Self, TlsError> {
        let config = rustls::ClientConfig::builder()
            .with_root_certificates(load_roots(sslrootcert)?)
            .with_no_client_auth();
        Ok(Self(Arc::new(config)))
    }
}

impl<S> MakeTlsConnect<S> for VerifyFull
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, io::Error> {
        let host = ServerName::try_from(domain.to_string())
            .map_err(|e| format!("database host {domain:?}: {e}"));
        Ok(Connect {
            config: self.0.clone(),
            host,
        })
    }
}

// === impl Connect ===

impl<S> TlsConnect<S> for Connect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Stream<S>, io::Error>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let host = self.host.map_err(io::Error::other)?;
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(host, stream)
                .await?;
            Ok(Stream(tls))
        })
    }
}

// === impl Stream ===

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM without channel binding: the server is authenticated by its certificate.
        ChannelBinding::none()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
