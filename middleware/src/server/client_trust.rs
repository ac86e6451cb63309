//! Which producer certificates the middleware trusts: the CA bundle and the revocation
//! lists (CRLs) of those CAs.
//!
//! CRLs are files the operators keep fresh (a CA publishes a new one every few hours or
//! days). The middleware re-reads them when they change on disk (checked every
//! `server.crl_refresh_secs`), on `SIGHUP` and on `POST /admin/crls/reload`; a file that
//! cannot be read or parsed leaves the lists in force unchanged. Only the producer's own
//! certificate is looked up (the CRL of its issuing CA). A CRL past its next update still
//! applies — refusing every producer of the region because a CA was late would stop all
//! publications — and `fsemw_client_crl_next_update_seconds` turns negative for the alert.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use rustls::pki_types::CertificateRevocationListDer;
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls_pki_types::pem::PemObject;

use super::tls::{TlsError, load_roots};

/// One loaded revocation list, as shown in metrics and `/admin/crls/reload`.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CrlInfo {
    /// File it was read from.
    pub file: String,
    /// Issuer CN.
    pub issuer: String,
    /// Certificates it revokes.
    pub revoked: usize,
    /// Its `nextUpdate` (Unix seconds), when present.
    pub next_update: Option<i64>,
}

/// The producer chain verifier in force and how to build it again.
pub struct ClientTrust {
    client_ca: String,
    crl_files: Vec<String>,
    require_crl: bool,
    current: RwLock<Loaded>,
}

struct Loaded {
    verifier: Arc<dyn ClientCertVerifier>,
    crls: Vec<CrlInfo>,
    stamps: Vec<Option<SystemTime>>,
}

impl std::fmt::Debug for ClientTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTrust")
            .field("client_ca", &self.client_ca)
            .field("crl_files", &self.crl_files)
            .finish()
    }
}

// === impl ClientTrust ===

impl ClientTrust {
    /// Loads the CA bundle and every CRL; fails on any unreadable file.
    pub fn load(
        client_ca: &str,
        crl_files: &[String],
        require_crl: bool,
    ) -> Result<Self, TlsError> {
        Ok(Self {
            current: RwLock::new(read_all(client_ca, crl_files, require_crl)?),
            client_ca: client_ca.to_string(),
            crl_files: crl_files.to_vec(),
            require_crl,
        })
    }

    /// The verifier in force.
    pub fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        self.current.read().expect("trust lock").verifier.clone()
    }

    /// The revocation lists in force.
    pub fn crls(&self) -> Vec<CrlInfo> {
        self.current.read().expect("trust lock").crls.clone()
    }

    /// Reads the CA bundle and the CRLs again; the previous ones stay on failure.
    pub fn reload(&self) -> Result<Vec<CrlInfo>, TlsError> {
        let loaded = read_all(&self.client_ca, &self.crl_files, self.require_crl)?;
        let crls = loaded.crls.clone();
        *self.current.write().expect("trust lock") = loaded;
        Ok(crls)
    }

    /// Reloads when a CRL file changed on disk since the last load.
    pub fn reload_if_changed(&self) -> Result<bool, TlsError> {
        let changed = stamps(&self.crl_files) != self.current.read().expect("trust lock").stamps;
        if changed {
            self.reload()?;
        }
        Ok(changed)
    }

    /// Whether any CRL is configured (the refresh task runs only then).
    pub fn has_crls(&self) -> bool {
        !self.crl_files.is_empty()
    }
}

/// Modification times of the CRL files (a change means a new list to read).
fn stamps(files: &[String]) -> Vec<Option<SystemTime>> {
    files
        .iter()
        .map(|f| std::fs::metadata(f).and_then(|m| m.modified()).ok())
        .collect()
}

/// Reads the CA bundle and every CRL, and builds the verifier.
fn read_all(client_ca: &str, crl_files: &[String], require_crl: bool) -> Result<Loaded, TlsError> {
    let stamps = stamps(crl_files);
    let mut ders = Vec::new();
    let mut crls = Vec::new();
    for file in crl_files {
        for der in read_crls(file)? {
            crls.push(describe(file, &der)?);
            ders.push(der);
        }
    }
    let verifier = build(client_ca, &ders, require_crl)?;
    if !crl_files.is_empty() {
        tracing::info!(lists = crls.len(), "client revocation lists loaded");
    }
    Ok(Loaded {
        verifier,
        crls,
        stamps,
    })
}

fn build(
    client_ca: &str,
    crls: &[CertificateRevocationListDer<'static>],
    require_crl: bool,
) -> Result<Arc<dyn ClientCertVerifier>, TlsError> {
    let mut builder = WebPkiClientVerifier::builder(Arc::new(load_roots(client_ca)?));
    if !crls.is_empty() {
        builder = builder
            .with_crls(crls.iter().cloned())
            .only_check_end_entity_revocation();
        if !require_crl {
            builder = builder.allow_unknown_revocation_status();
        }
    }
    builder
        .build()
        .map_err(|e| TlsError(format!("{client_ca}: {e}")))
}

/// Every CRL in a file, PEM (one or more `X509 CRL` blocks) or DER.
fn read_crls(file: &str) -> Result<Vec<CertificateRevocationListDer<'static>>, TlsError> {
    let err = |e: &dyn std::fmt::Display| TlsError(format!("{file}: {e}"));
    let bytes = std::fs::read(Path::new(file)).map_err(|e| err(&e))?;
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN") {
        let crls: Result<Vec<_>, _> =
            CertificateRevocationListDer::pem_slice_iter(&bytes).collect();
        let crls = crls.map_err(|e| err(&e))?;
        if crls.is_empty() {
            return Err(err(&"no X509 CRL block found"));
        }
        Ok(crls)
    } else {
        Ok(vec![CertificateRevocationListDer::from(bytes)])
    }
}

fn describe(file: &str, der: &CertificateRevocationListDer<'_>) -> Result<CrlInfo, TlsError> {
    let (_, crl) = x509_parser::parse_x509_crl(der.as_ref())
        .map_err(|e| TlsError(format!("{file}: not a CRL: {e}")))?;
    let issuer = crl
        .issuer()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_string();
    Ok(CrlInfo {
        file: file.to_string(),
        issuer,
        revoked: crl.iter_revoked_certificates().count(),
        next_update: crl.next_update().map(|t| t.timestamp()),
    })
}

/// Re-reads changed CRL files every `every`, for as long as the process runs.
pub fn spawn_refresh(trust: Arc<ClientTrust>, every: std::time::Duration) {
    if !trust.has_crls() || every.is_zero() {
        return;
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let t = trust.clone();
            match tokio::task::spawn_blocking(move || t.reload_if_changed()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "revocation lists not reloaded; the previous ones stay in force")
                }
                Err(e) => tracing::error!(error = %e, "revocation list reload task failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devtools::dev_pki::{PkiNames, generate};

    #[test]
    fn lists_are_read_described_and_reloaded_when_the_file_changes() {
        crate::install_crypto_provider();
        let dir = std::env::temp_dir().join(format!("fsemw-trust-{}", std::process::id()));
        let pki = generate(&dir, &PkiNames::default()).unwrap();
        let crl = dir.join("regional-ca.crl.pem").display().to_string();
        let trust =
            ClientTrust::load(&pki.cert("regional-ca"), std::slice::from_ref(&crl), false).unwrap();
        let crls = trust.crls();
        assert_eq!(crls.len(), 1);
        assert_eq!(
            (crls[0].issuer.as_str(), crls[0].revoked),
            ("Dev Regional CA 160", 1)
        );
        assert!(
            !trust.reload_if_changed().unwrap(),
            "unchanged file, no reload"
        );

        // The same list in DER form is read too.
        let der = rustls_pki_types::CertificateRevocationListDer::pem_file_iter(&crl)
            .unwrap()
            .next()
            .unwrap()
            .unwrap();
        std::fs::write(&crl, der.as_ref()).unwrap();
        assert!(trust.reload_if_changed().unwrap());
        assert_eq!(trust.crls()[0].revoked, 1);

        // A file that is not a CRL fails the load and leaves the list in force.
        std::fs::write(&crl, b"not a list").unwrap();
        assert!(trust.reload().is_err());
        assert_eq!(trust.crls()[0].revoked, 1);
        assert!(ClientTrust::load(&pki.cert("regional-ca"), &[crl], false).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
