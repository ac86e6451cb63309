//! The mTLS client towards the national gateway.

use std::time::Duration;

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode, header};

use super::tokens::{SIGNATURE_HEADER, Tokens};
use crate::keys::KeyStore;

use crate::config::GatewayConfig;
use crate::server::tls::{TlsError, gateway_client_config};

/// The largest gateway answer read (its error documents are a few KB).
pub const MAX_GATEWAY_ANSWER: usize = 16 << 20;

/// What the gateway answered: status, headers and body (at most [`MAX_GATEWAY_ANSWER`]
/// bytes).
pub type Answer = (StatusCode, HeaderMap, Bytes);

/// A pooled HTTPS client presenting the regional authentication certificate.
#[derive(Debug, Clone)]
pub struct GatewayClient {
    http: reqwest::Client,
    base: String,
}

// === impl GatewayClient ===

impl GatewayClient {
    /// Builds the client from the gateway settings and the regional keys.
    pub fn new(cfg: &GatewayConfig, keys: Arc<KeyStore>) -> Result<Self, TlsError> {
        let tls = gateway_client_config(&cfg.ca, keys)?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_millis(cfg.connect_timeout_ms))
            .timeout(Duration::from_millis(cfg.request_timeout_ms))
            .pool_idle_timeout(Duration::from_secs(60))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| TlsError(format!("gateway client: {e}")))?;
        Ok(Self {
            http,
            base: cfg.base_url.trim_end_matches('/').to_string(),
        })
    }

    /// The gateway URL for a path relative to the base (`/documents/validation?x`).
    pub fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.base)
    }

    /// The underlying client.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// One call to the gateway, for forwarding and the outbox alike: `method` on `path`,
    /// the producer's headers named in `forwarded`, and the tokens to send.
    pub fn request(
        &self,
        method: Method,
        path: &str,
        headers: &HeaderMap,
        forwarded: &[&str],
        tokens: &Tokens,
    ) -> reqwest::RequestBuilder {
        let mut req = self.http.request(method, self.url(path));
        for name in forwarded {
            if let Some(v) = headers.get(*name) {
                req = req.header(*name, v);
            }
        }
        if let Some(v) = &tokens.authorization {
            req = req.header(header::AUTHORIZATION, v);
        }
        if let Some(v) = &tokens.signature {
            req = req.header(SIGNATURE_HEADER, v);
        }
        req
    }

    /// Reads the gateway's answer; a body over [`MAX_GATEWAY_ANSWER`] is cut there.
    pub async fn read_answer(mut r: reqwest::Response) -> Result<Answer, reqwest::Error> {
        let status = r.status();
        let headers = r.headers().clone();
        let mut body = Vec::new();
        while let Some(chunk) = r.chunk().await? {
            if body.len() + chunk.len() > MAX_GATEWAY_ANSWER {
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, Bytes::from(body)))
    }

    /// Whether the gateway answers at all (any HTTP status counts).
    pub async fn reachable(&self) -> Result<(), String> {
        self.http
            .get(self.url("/status/search/readiness-probe"))
            .timeout(Duration::from_secs(3))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| describe(&e))
    }
}

/// A short, log-safe description of a transport failure.
pub fn describe(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_body() || e.is_request() {
        "request failed"
    } else {
        "transport error"
    };
    let mut cause = String::new();
    let mut src = e.source();
    while let Some(s) = src {
        cause = s.to_string();
        src = s.source();
    }
    if cause.is_empty() {
        kind.to_string()
    } else {
        format!("{kind}: {cause}")
    }
}
