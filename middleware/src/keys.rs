//! The regional key pair at run time: loaded from the configured backend, checked,
//! and swappable without downtime (`SIGHUP` or `POST /admin/keys/reload`).
//!
//! Each request takes the keys current when it starts and keeps them to its end,
//! so a rotation never cuts an in-flight request.

use std::path::Path;
use std::sync::{Arc, RwLock};

use hsm::pkcs11::{KeyRef, Token, admin::read_certificate, parse_key_id};
use hsm::{Certificate, PemSigner, Pkcs11Signer, RegionalKeys, Signer};
use secrecy::SecretString;

use crate::config::{KeyBackend, KeysConfig, Pkcs11Config};

/// Loads the pair again (at start and on every reload).
type Loader = Box<dyn Fn() -> Result<RegionalKeys, KeyError> + Send + Sync>;

/// Why the keys could not be loaded.
#[derive(Debug, thiserror::Error)]
#[error("keys: {0}")]
pub struct KeyError(pub String);

impl From<hsm::Error> for KeyError {
    fn from(e: hsm::Error) -> Self {
        Self(e.to_string())
    }
}

/// The current regional keys and how to load them again.
pub struct KeyStore {
    current: RwLock<Arc<Loaded>>,
    load: Loader,
    warning_secs: i64,
}

/// A loaded pair with its TLS form.
pub struct Loaded {
    /// The pair.
    pub keys: RegionalKeys,
    /// The authentication key as rustls presents it.
    pub tls: Arc<rustls::sign::CertifiedKey>,
}

/// Expiry of one certificate, for `/readyz` and metrics.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Expiry {
    /// `authentication` or `signature`.
    pub certificate: &'static str,
    /// Subject CN.
    pub subject: String,
    /// Seconds until expiry (negative when expired).
    pub seconds_left: i64,
    /// `ok`, `warning` or `expired`.
    pub status: &'static str,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyStore")
    }
}

// === impl KeyStore ===

impl KeyStore {
    /// Loads the keys as configured; fails on any mismatch or unsafe key.
    pub fn open(config: &KeysConfig) -> Result<Self, KeyError> {
        let loader = loader(config)?;
        let keys = loader()?;
        Ok(Self {
            current: RwLock::new(Arc::new(Loaded::new(keys)?)),
            load: loader,
            warning_secs: config.expiry_warning_days * 86_400,
        })
    }

    /// The keys in force.
    pub fn current(&self) -> Arc<Loaded> {
        self.current.read().expect("key lock").clone()
    }

    /// The signature key in force.
    pub fn signature(&self) -> Arc<dyn Signer> {
        self.current().keys.signature.clone()
    }

    /// Re-reads certificates and re-opens keys; the old pair stays in force on failure.
    pub fn reload(&self) -> Result<(), KeyError> {
        let loaded = Loaded::new((self.load)()?)?;
        *self.current.write().expect("key lock") = Arc::new(loaded);
        tracing::info!("regional keys reloaded");
        Ok(())
    }

    /// Expiry of both certificates.
    pub fn expiries(&self) -> Vec<Expiry> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let keys = self.current().keys.clone();
        [
            ("authentication", &keys.authentication),
            ("signature", &keys.signature),
        ]
        .into_iter()
        .map(|(name, s)| {
            let left = s.certificate().not_after() - now;
            let status = if left <= 0 {
                "expired"
            } else if left < self.warning_secs {
                "warning"
            } else {
                "ok"
            };
            Expiry {
                certificate: name,
                subject: s.certificate().subject_cn().to_string(),
                seconds_left: left,
                status,
            }
        })
        .collect()
    }
}

// === impl Loaded ===

impl Loaded {
    fn new(keys: RegionalKeys) -> Result<Self, KeyError> {
        let tls = keys.tls_certified_key()?;
        tls.keys_match()
            .map_err(|e| KeyError(format!("authentication key and certificate: {e}")))?;
        Ok(Self { keys, tls })
    }
}

fn loader(config: &KeysConfig) -> Result<Loader, KeyError> {
    let auth_cert = config.auth_cert.clone();
    let sig_cert = config.signature_cert.clone();
    match config.backend {
        KeyBackend::Pem => {
            let need = |v: &Option<String>, k: &str| {
                v.clone()
                    .ok_or_else(|| KeyError(format!("keys.{k} is required")))
            };
            let (ac, ak) = (
                need(&auth_cert, "auth_cert")?,
                need(&config.auth_key, "auth_key")?,
            );
            let (sc, sk) = (
                need(&sig_cert, "signature_cert")?,
                need(&config.signature_key, "signature_key")?,
            );
            Ok(Box::new(move || {
                tracing::warn!(
                    "keys.backend = \"pem\": private keys are read from files (development only)"
                );
                Ok(RegionalKeys {
                    authentication: Arc::new(PemSigner::load(&ac, &ak)?),
                    signature: Arc::new(PemSigner::load(&sc, &sk)?),
                })
            }))
        }
        KeyBackend::Pkcs11 => {
            let p = config
                .pkcs11
                .as_ref()
                .ok_or_else(|| KeyError("keys.pkcs11 is required".into()))?;
            let p = Pkcs11Settings::from(p)?;
            Ok(Box::new(move || {
                let token = Arc::new(Token::open(
                    Path::new(&p.module),
                    &p.label,
                    read_pin(&p.pin_file, &p.pin_env)?,
                    p.sessions,
                )?);
                let auth = signer(&token, &p.auth, auth_cert.as_deref())?;
                let sig = signer(&token, &p.signature, sig_cert.as_deref())?;
                Ok(RegionalKeys {
                    authentication: Arc::new(auth),
                    signature: Arc::new(sig),
                })
            }))
        }
    }
}

struct Pkcs11Settings {
    module: String,
    label: String,
    pin_file: Option<String>,
    pin_env: String,
    auth: KeyRef,
    signature: KeyRef,
    sessions: usize,
}

impl Pkcs11Settings {
    fn from(p: &Pkcs11Config) -> Result<Self, KeyError> {
        Ok(Self {
            module: p.module.clone(),
            label: p.token_label.clone(),
            pin_file: p.pin_file.clone(),
            pin_env: p.pin_env.clone(),
            auth: KeyRef {
                id: parse_key_id(&p.auth_key_id)?,
                label: p.auth_key_label.clone(),
            },
            signature: KeyRef {
                id: parse_key_id(&p.signature_key_id)?,
                label: p.signature_key_label.clone(),
            },
            sessions: p.sessions,
        })
    }
}

fn read_pin(pin_file: &Option<String>, pin_env: &str) -> Result<SecretString, KeyError> {
    let pin = match pin_file {
        Some(f) => std::fs::read_to_string(f)
            .map_err(|e| KeyError(format!("keys.pkcs11.pin_file {f:?}: {e}")))?,
        None => std::env::var(pin_env).map_err(|_| KeyError(format!("${pin_env} is not set")))?,
    };
    Ok(SecretString::from(pin.trim().to_string()))
}

/// Opens the configured token (for inventories; signing goes through [`KeyStore`]).
pub fn open_token(p: &Pkcs11Config) -> Result<Token, KeyError> {
    Ok(Token::open(
        Path::new(&p.module),
        &p.token_label,
        read_pin(&p.pin_file, &p.pin_env)?,
        1,
    )?)
}

fn signer(
    token: &Arc<Token>,
    key: &KeyRef,
    cert_file: Option<&str>,
) -> Result<Pkcs11Signer, KeyError> {
    let chain = match cert_file {
        Some(f) => Certificate::load_pem_chain(f)?,
        None => vec![read_certificate(token, &key.id)?.ok_or_else(|| {
            KeyError(format!("no certificate file configured and no certificate object with id {:02x?} in the token", key.id))
        })?],
    };
    Pkcs11Signer::new(token.clone(), key.clone(), chain).map_err(KeyError::from)
}
