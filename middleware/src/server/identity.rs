//! Who is calling: the producer identity read from the TLS client certificate.

use std::net::SocketAddr;

use hsm::Certificate;
use hsm::TrustStore;
use regex::Regex;

use super::tls::{CertRefusal, verify_client_chain};

/// What the TLS layer learned about the caller, attached to every request.
#[derive(Clone, Debug)]
pub struct ClientIdentity {
    /// Remote address.
    pub peer: SocketAddr,
    /// The verified leaf certificate, or why there is none.
    pub certificate: Result<Certificate, CertRefusal>,
}

// === impl ClientIdentity ===

impl ClientIdentity {
    /// The identity the accept loop attached to a request (none outside TLS).
    pub fn of<B>(req: &http::Request<B>) -> Self {
        req.extensions()
            .get::<ClientIdentity>()
            .cloned()
            .unwrap_or_else(|| ClientIdentity {
                peer: ([0, 0, 0, 0], 0).into(),
                certificate: Err(CertRefusal::certificate("no TLS session")),
            })
    }

    /// Reads and verifies the client chain of a finished handshake.
    pub fn from_connection(
        conn: &rustls::ServerConnection,
        store: &TrustStore,
        peer: SocketAddr,
    ) -> Self {
        let certificate = match conn.peer_certificates() {
            Some(chain) => verify_client_chain(store, chain),
            None => Err(CertRefusal::certificate("no client certificate presented")),
        };
        Self { peer, certificate }
    }
}

/// The region's certificate-CN conventions.
#[derive(Clone, Debug)]
pub struct CnPatterns(Vec<Regex>);

// === impl CnPatterns ===

impl CnPatterns {
    /// Compiles the configured patterns (validated at start).
    pub fn new(patterns: &[String]) -> Result<Self, regex::Error> {
        Ok(Self(
            patterns
                .iter()
                .map(|p| Regex::new(p))
                .collect::<Result<_, _>>()?,
        ))
    }

    /// Whether `cn` follows one of the conventions.
    pub fn accepts(&self, cn: &str) -> bool {
        self.0.iter().any(|r| r.is_match(cn))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn puglia_and_toscana_conventions() {
        let p = CnPatterns::new(&[
            r"^[0-9]{11}\.[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.it$".into(),
            r"^A[0-9]+#[0-9]{3}#([0-9]{11}|[A-Z0-9]{16})[A-Z0-9]+$".into(),
        ])
        .unwrap();
        assert!(p.accepts("01234567890.ospedale.it"));
        assert!(p.accepts("A1#090#01386030488PIPOHOUSE"));
        assert!(!p.accepts("S1#090#01386030488PIPOHOUSE"));
        assert!(!p.accepts("localhost"));
    }
}
