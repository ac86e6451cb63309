//! The certificates the middleware trusts, each set with the revocation lists of its CAs,
//! reloadable: producers' CAs (`server.client_ca`, `server.client_crls`), the signers of
//! SAML identity assertions (`soap.saml_signers`) and the CAs of operators' smart cards
//! (`soap.smartcard_cas`), both with `soap.crls`. Every set is checked by the same
//! [`hsm::TrustStore`] (rustls-webpki paths).
//!
//! CRLs are files the operators keep fresh (a CA publishes a new one every few hours or
//! days). The middleware re-reads them when they change on disk (checked every
//! `server.crl_refresh_secs`), on `SIGHUP` and on `POST /admin/crls/reload`; a file that
//! cannot be read or parsed leaves the lists in force unchanged. A CRL past its next update
//! still applies — refusing every producer of the region because a CA was late would stop
//! all publications — and `fsemw_client_crl_next_update_seconds` turns negative for the
//! alert.

use std::path::Path;
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use hsm::{Certificate, Purpose, TrustStore};
use rustls::pki_types::CertificateRevocationListDer;
use rustls_pki_types::pem::PemObject;

/// A trust set that cannot be loaded, naming the file.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct TrustLoadError(pub String);

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

/// One set of trusted certificates and how to read it again.
pub struct Trust {
    purpose: Purpose,
    ca_files: Vec<String>,
    crl_files: Vec<String>,
    require_crl: bool,
    current: RwLock<Loaded>,
}

struct Loaded {
    store: Arc<TrustStore>,
    crls: Vec<CrlInfo>,
    stamps: Vec<Option<SystemTime>>,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("purpose", &self.purpose)
            .field("ca_files", &self.ca_files)
            .field("crl_files", &self.crl_files)
            .finish()
    }
}

// === impl Trust ===

impl Trust {
    /// Loads the certificates and every CRL; fails on any unreadable file.
    pub fn load(
        purpose: Purpose,
        ca_files: &[String],
        crl_files: &[String],
        require_crl: bool,
    ) -> Result<Self, TrustLoadError> {
        Ok(Self {
            current: RwLock::new(read_all(purpose, ca_files, crl_files, require_crl)?),
            purpose,
            ca_files: ca_files.to_vec(),
            crl_files: crl_files.to_vec(),
            require_crl,
        })
    }

    /// A set that trusts nothing and has nothing to reload.
    pub fn empty(purpose: Purpose) -> Result<Self, TrustLoadError> {
        Ok(Self {
            current: RwLock::new(Loaded {
                store: Arc::new(TrustStore::empty(purpose)),
                crls: Vec::new(),
                stamps: Vec::new(),
            }),
            purpose,
            ca_files: Vec::new(),
            crl_files: Vec::new(),
            require_crl: false,
        })
    }

    /// The certificates and lists in force.
    pub fn store(&self) -> Arc<TrustStore> {
        self.current.read().expect("trust lock").store.clone()
    }

    /// The revocation lists in force.
    pub fn crls(&self) -> Vec<CrlInfo> {
        self.current.read().expect("trust lock").crls.clone()
    }

    /// Reads the certificates and the CRLs again; the previous ones stay on failure.
    pub fn reload(&self) -> Result<Vec<CrlInfo>, TrustLoadError> {
        if self.ca_files.is_empty() {
            return Ok(Vec::new());
        }
        let loaded = read_all(
            self.purpose,
            &self.ca_files,
            &self.crl_files,
            self.require_crl,
        )?;
        let crls = loaded.crls.clone();
        *self.current.write().expect("trust lock") = loaded;
        Ok(crls)
    }

    /// Reloads when a CRL file changed on disk since the last load.
    pub fn reload_if_changed(&self) -> Result<bool, TrustLoadError> {
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

/// Reads the certificates and every CRL, and builds the store.
fn read_all(
    purpose: Purpose,
    ca_files: &[String],
    crl_files: &[String],
    require_crl: bool,
) -> Result<Loaded, TrustLoadError> {
    let stamps = stamps(crl_files);
    let mut certs = Vec::new();
    for file in ca_files {
        certs.extend(
            Certificate::load_pem_chain(file)
                .map_err(|e| TrustLoadError(format!("{file}: {e}")))?,
        );
    }
    let mut ders = Vec::new();
    let mut crls = Vec::new();
    for file in crl_files {
        for der in read_crls(file)? {
            crls.push(describe(file, &der)?);
            ders.push(der);
        }
    }
    let store = TrustStore::new(purpose, &certs, &ders, require_crl, &ca_files.join(", "))
        .map_err(|e| TrustLoadError(e.to_string()))?;
    if !crl_files.is_empty() {
        tracing::info!(lists = crls.len(), ?purpose, "revocation lists loaded");
    }
    Ok(Loaded {
        store: Arc::new(store),
        crls,
        stamps,
    })
}

/// Every CRL in a file, PEM (one or more `X509 CRL` blocks) or DER.
fn read_crls(file: &str) -> Result<Vec<CertificateRevocationListDer<'static>>, TrustLoadError> {
    let err = |e: &dyn std::fmt::Display| TrustLoadError(format!("{file}: {e}"));
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

fn describe(file: &str, der: &CertificateRevocationListDer<'_>) -> Result<CrlInfo, TrustLoadError> {
    let (_, crl) = x509_parser::parse_x509_crl(der.as_ref())
        .map_err(|e| TrustLoadError(format!("{file}: not a CRL: {e}")))?;
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

/// Runs `check` (a reload of changed CRL files) every `every`, for as long as the
/// process runs; nothing when `every` is zero.
pub fn spawn_refresh<F>(check: F, every: std::time::Duration)
where
    F: Fn() -> Result<bool, TrustLoadError> + Send + Sync + 'static,
{
    if every.is_zero() {
        return;
    }
    let check = Arc::new(check);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let c = check.clone();
            match tokio::task::spawn_blocking(move || c()).await {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "revocation lists not reloaded; the previous ones stay in force")
                }
                Err(e) => tracing::error!(error = %e, "revocation list reload task failed"),
            }
        }
    });
}
