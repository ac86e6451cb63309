//! X.509 certificates as the product needs them: subject CN, validity, RSA public key.

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::Error;

/// A parsed certificate, keeping its DER encoding.
#[derive(Clone, Debug)]
pub struct Certificate {
    der: CertificateDer<'static>,
    subject_cn: String,
    issuer_cn: String,
    not_before: i64,
    not_after: i64,
    public_key: Vec<u8>,
    spki: Vec<u8>,
    subject_der: Vec<u8>,
}

// === impl Certificate ===

impl Certificate {
    /// Parses one DER certificate.
    pub fn from_der(der: CertificateDer<'static>) -> Result<Self, Error> {
        let (_, x509) = X509Certificate::from_der(der.as_ref()).map_err(|e| Error::Decode {
            what: "X.509 certificate".into(),
            detail: e.to_string(),
        })?;
        let cn = |name: &x509_parser::x509::X509Name<'_>| {
            name.iter_common_name()
                .next()
                .and_then(|c| c.as_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let subject_cn = cn(x509.subject());
        let issuer_cn = cn(x509.issuer());
        let not_before = x509.validity().not_before.timestamp();
        let not_after = x509.validity().not_after.timestamp();
        let public_key = x509.public_key().subject_public_key.data.to_vec();
        let spki = x509.public_key().raw.to_vec();
        let subject_der = x509.subject().as_raw().to_vec();
        Ok(Self {
            der,
            subject_cn,
            issuer_cn,
            not_before,
            not_after,
            public_key,
            spki,
            subject_der,
        })
    }

    /// Reads every certificate of a PEM file, leaf first.
    pub fn load_pem_chain(path: &str) -> Result<Vec<Self>, Error> {
        let pem = std::fs::read(path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        Self::parse_pem_chain(&pem, path)
    }

    /// Parses every certificate of PEM text, leaf first; `origin` names it in errors.
    pub fn parse_pem_chain(pem: &[u8], origin: &str) -> Result<Vec<Self>, Error> {
        let ders: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
        let ders = ders.map_err(|e| Error::Decode {
            what: origin.into(),
            detail: e.to_string(),
        })?;
        if ders.is_empty() {
            return Err(Error::Decode {
                what: origin.into(),
                detail: "no certificate found".into(),
            });
        }
        ders.into_iter().map(Self::from_der).collect()
    }

    /// The DER encoding.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.der
    }

    /// The subject common name (empty when absent).
    pub fn subject_cn(&self) -> &str {
        &self.subject_cn
    }

    /// The issuer common name (empty when absent).
    pub fn issuer_cn(&self) -> &str {
        &self.issuer_cn
    }

    /// Unix time after which the certificate is no longer valid.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether `now` (unix seconds) lies inside the validity period.
    pub fn is_valid_at(&self, now: i64) -> bool {
        self.not_before <= now && now <= self.not_after
    }

    /// The subject public key (for RSA, the PKCS#1 `RSAPublicKey` DER).
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The subject distinguished name, DER.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// The whole SubjectPublicKeyInfo DER, to compare keys.
    pub fn spki(&self) -> &[u8] {
        &self.spki
    }

    /// Standard base64 of the DER, as JWT `x5c` carries it.
    pub fn to_x5c(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(self.der.as_ref())
    }

    /// Parses a certificate from a JWT `x5c` entry (standard base64 DER).
    pub fn from_x5c(entry: &str) -> Result<Self, Error> {
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(entry.trim())
            .map_err(|e| Error::Decode {
                what: "x5c certificate".into(),
                detail: e.to_string(),
            })?;
        Self::from_der(CertificateDer::from(der))
    }

    /// Whether this certificate carries a valid signature by `issuer`'s key.
    pub fn is_signed_by(&self, issuer: &Certificate) -> bool {
        let Ok((_, me)) = X509Certificate::from_der(self.der.as_ref()) else {
            return false;
        };
        let Ok((_, ca)) = X509Certificate::from_der(issuer.der.as_ref()) else {
            return false;
        };
        me.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// Finds a trust anchor in `roots` that signed this certificate and is valid at `now`.
    pub fn chains_to(&self, roots: &[Certificate], now: i64) -> bool {
        self.is_valid_at(now)
            && roots
                .iter()
                .any(|r| r.is_valid_at(now) && self.is_signed_by(r))
    }
}
