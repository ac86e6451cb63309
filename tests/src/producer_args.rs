//! What every load generator (`tests/src/bin/*load*`) needs to act as a producer: the
//! trust roots for the middleware, the client certificate, the JWT signing pair and the
//! tokens' audience — the same flags on each.

use std::time::Duration;

use dev_tools::dev_jwt::{JwtOperation, claims_for, mint};
use middleware::server::tls::{load_certs, load_key, load_roots};

/// Producer credentials from the command line.
#[derive(clap::Args, Debug)]
pub struct ProducerArgs {
    /// CA bundle for the middleware's server certificate.
    #[arg(long)]
    pub ca: String,
    /// TLS client certificate / key (PEM).
    #[arg(long)]
    pub cert: String,
    #[arg(long)]
    pub key: String,
    /// JWT signing certificate / key (PEM).
    #[arg(long)]
    pub jwt_cert: String,
    #[arg(long)]
    pub jwt_key: String,
    /// `aud` of the tokens (the gateway's base URL).
    #[arg(long)]
    pub aud: String,
}

impl ProducerArgs {
    /// An HTTPS client presenting the certificate; `timeout` bounds each request.
    pub fn client(
        &self,
        idle_per_host: usize,
        timeout: Option<Duration>,
    ) -> anyhow::Result<reqwest::Client> {
        let tls = rustls::ClientConfig::builder()
            .with_root_certificates(load_roots(&self.ca)?)
            .with_client_auth_cert(load_certs(&self.cert)?, load_key(&self.key)?)?;
        let mut builder = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .pool_max_idle_per_host(idle_per_host);
        if let Some(t) = timeout {
            builder = builder.timeout(t);
        }
        Ok(builder.build()?)
    }

    /// The token pair `(Authorization, FSE-JWT-Signature)` for `op` on `pdf`.
    pub fn tokens(&self, op: JwtOperation, pdf: &[u8]) -> anyhow::Result<(String, String)> {
        let overrides = serde_json::json!({ "aud": self.aud })
            .as_object()
            .cloned()
            .unwrap_or_default();
        let claims = claims_for(op, Some(pdf), &overrides)?;
        let signer = hsm::PemSigner::load(&self.jwt_cert, &self.jwt_key)?;
        let pair = mint(&claims, &signer)?;
        let field = |k: &str| pair[k].as_str().unwrap_or_default().to_string();
        Ok((field("authorization"), field("fse_jwt_signature")))
    }
}
