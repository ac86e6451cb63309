//! Certificate paths, one rule for every certificate the product trusts: producers' TLS
//! certificates, the signers of SAML identity assertions and operators' smart cards.
//!
//! Path building and checking is `rustls-webpki`'s: validity period of every certificate
//! of the path, CA basic constraints and path length of every issuer, a CA refused as the
//! end entity, extended key usage, and revocation lists (every certificate of the path
//! below the anchor; status unknown allowed unless lists are required). On top of it the
//! end entity's key usage must allow signing.
//!
//! A configured set of certificates is read as: the CA certificates whose issuer is not in
//! the set are the trust anchors; the other CA certificates are intermediates (their own
//! validity and constraints are checked); a certificate that is not a CA is a *pin*:
//! when any is configured, the end entity must be one of them (and still chain to an
//! anchor).

use rustls_pki_types::{
    CertificateDer, CertificateRevocationListDer, SignatureVerificationAlgorithm, TrustAnchor,
    UnixTime,
};
use webpki::{
    CertRevocationList, EndEntityCert, ExtendedKeyUsageValidator, KeyPurposeIdIter, KeyUsage,
    OwnedCertRevocationList, RevocationCheckDepth, RevocationOptionsBuilder, UnknownStatusPolicy,
};
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::{Certificate, Error};

/// What a certificate is trusted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// TLS client authentication: extended key usage `clientAuth` when present.
    ClientAuth,
    /// Signing messages (SAML assertions, WS-Security): any extended key usage.
    Signature,
}

/// Why a certificate is not trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// Past its validity period (it or a certificate of its path).
    #[error("certificato scaduto")]
    Expired,
    /// Before its validity period.
    #[error("certificato non ancora valido")]
    NotYetValid,
    /// No path to a trust anchor.
    #[error("emesso da un'autorità non riconosciuta")]
    UnknownIssuer,
    /// An issuer of the path is not a CA, or a CA is used as end entity.
    #[error("vincoli di CA violati: {0}")]
    CaConstraints(&'static str),
    /// Key usage or extended key usage does not allow the purpose.
    #[error("uso della chiave non ammesso")]
    KeyUsage,
    /// A revocation list names it.
    #[error("certificato revocato")]
    Revoked,
    /// No revocation list covers it and lists are required.
    #[error("stato di revoca sconosciuto")]
    RevocationUnknown,
    /// Not one of the pinned certificates.
    #[error("non è tra i certificati ammessi")]
    NotPinned,
    /// Anything else (malformed certificate, unsupported algorithm, bad signature).
    #[error("certificato non valido: {0}")]
    Invalid(String),
}

impl TrustError {
    /// A short name for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::UnknownIssuer => "unknown_issuer",
            Self::CaConstraints(_) => "ca_constraints",
            Self::KeyUsage => "key_usage",
            Self::Revoked => "revoked",
            Self::RevocationUnknown => "revocation_unknown",
            Self::NotPinned => "not_pinned",
            Self::Invalid(_) => "invalid",
        }
    }
}

impl From<webpki::Error> for TrustError {
    fn from(e: webpki::Error) -> Self {
        use webpki::Error as W;
        match e {
            W::CertExpired { .. } => Self::Expired,
            W::CertNotValidYet { .. } => Self::NotYetValid,
            W::UnknownIssuer => Self::UnknownIssuer,
            W::CaUsedAsEndEntity => Self::CaConstraints("una CA usata come certificato finale"),
            W::EndEntityUsedAsCa => {
                Self::CaConstraints("un certificato non di CA usato come emittente")
            }
            W::PathLenConstraintViolated => Self::CaConstraints("lunghezza del percorso"),
            W::RequiredEkuNotFoundContext(_) => Self::KeyUsage,
            W::CertRevoked => Self::Revoked,
            W::UnknownRevocationStatus => Self::RevocationUnknown,
            other => Self::Invalid(format!("{other:?}")),
        }
    }
}

/// The certificates trusted for one purpose, and the revocation lists of their CAs.
#[derive(Debug)]
pub struct TrustStore {
    purpose: Purpose,
    anchors: Vec<TrustAnchor<'static>>,
    intermediates: Vec<CertificateDer<'static>>,
    pins: Vec<CertificateDer<'static>>,
    crls: Vec<CertRevocationList<'static>>,
    require_crl: bool,
}

/// Extended key usage for [`Purpose::Signature`]: no signing purpose is standard for SAML
/// or WS-Security, so every value is accepted (key usage is checked instead).
struct AnyEku;

impl ExtendedKeyUsageValidator for AnyEku {
    fn validate(&self, iter: KeyPurposeIdIter<'_, '_>) -> Result<(), webpki::Error> {
        for id in iter {
            id?;
        }
        Ok(())
    }
}

// === impl TrustStore ===

impl TrustStore {
    /// A store that trusts nothing (a service without configured trust refuses everyone).
    pub fn empty(purpose: Purpose) -> Self {
        Self {
            purpose,
            anchors: Vec::new(),
            intermediates: Vec::new(),
            pins: Vec::new(),
            crls: Vec::new(),
            require_crl: false,
        }
    }

    /// Sorts `certs` into anchors, intermediates and pins (module docs) and parses the
    /// revocation lists. `origin` names the configuration in errors.
    pub fn new(
        purpose: Purpose,
        certs: &[Certificate],
        crls: &[CertificateRevocationListDer<'_>],
        require_crl: bool,
        origin: &str,
    ) -> Result<Self, Error> {
        let decode = |detail: String| Error::Decode {
            what: origin.to_string(),
            detail,
        };
        let mut store = Self {
            purpose,
            anchors: Vec::new(),
            intermediates: Vec::new(),
            pins: Vec::new(),
            crls: Vec::new(),
            require_crl,
        };
        for cert in certs {
            if !is_ca(cert) {
                store.pins.push(cert.der().clone());
            } else if certs
                .iter()
                .any(|other| other.der() != cert.der() && is_ca(other) && cert.is_signed_by(other))
            {
                store.intermediates.push(cert.der().clone());
            } else {
                let anchor = webpki::anchor_from_trusted_cert(cert.der())
                    .map_err(|e| decode(format!("{}: {e:?}", cert.subject_cn())))?;
                store.anchors.push(anchor.to_owned());
            }
        }
        if store.anchors.is_empty() {
            return Err(decode(
                "no CA certificate: a pinned certificate needs its issuing CA beside it".into(),
            ));
        }
        for crl in crls {
            let owned = OwnedCertRevocationList::from_der(crl.as_ref())
                .map_err(|e| decode(format!("revocation list: {e:?}")))?;
            store.crls.push(CertRevocationList::Owned(owned));
        }
        Ok(store)
    }

    /// The anchors' subjects (the DER contents of each `Name`, without its outer
    /// SEQUENCE), for TLS certificate requests.
    pub fn anchor_subjects(&self) -> impl Iterator<Item = &[u8]> {
        self.anchors.iter().map(|a| a.subject.as_ref())
    }

    /// Whether revocation lists are configured.
    pub fn has_crls(&self) -> bool {
        !self.crls.is_empty()
    }

    /// Checks `leaf` with the chain its sender presented (untrusted, only to build the
    /// path) at `now` (Unix seconds).
    pub fn verify(
        &self,
        leaf: &Certificate,
        presented: &[CertificateDer<'_>],
        now: i64,
    ) -> Result<(), TrustError> {
        if !self.pins.is_empty() && !self.pins.iter().any(|p| p == leaf.der()) {
            return Err(TrustError::NotPinned);
        }
        let ee = EndEntityCert::try_from(leaf.der())
            .map_err(|e| TrustError::Invalid(format!("{e:?}")))?;
        let mut intermediates: Vec<CertificateDer<'_>> = presented.to_vec();
        intermediates.extend(self.intermediates.iter().cloned());
        let crls: Vec<&CertRevocationList<'static>> = self.crls.iter().collect();
        let revocation = RevocationOptionsBuilder::new(&crls).ok().map(|b| {
            b.with_depth(RevocationCheckDepth::Chain)
                .with_status_policy(if self.require_crl {
                    UnknownStatusPolicy::Deny
                } else {
                    UnknownStatusPolicy::Allow
                })
                .build()
        });
        if self.require_crl && revocation.is_none() {
            return Err(TrustError::RevocationUnknown);
        }
        let time = UnixTime::since_unix_epoch(std::time::Duration::from_secs(
            u64::try_from(now).unwrap_or_default(),
        ));
        let algs: &[&dyn SignatureVerificationAlgorithm] = webpki::ALL_VERIFICATION_ALGS;
        match self.purpose {
            Purpose::ClientAuth => ee.verify_for_usage(
                algs,
                &self.anchors,
                &intermediates,
                time,
                KeyUsage::client_auth(),
                revocation,
                None,
            ),
            Purpose::Signature => ee.verify_for_usage(
                algs,
                &self.anchors,
                &intermediates,
                time,
                AnyEku,
                revocation,
                None,
            ),
        }?;
        if !signs(leaf, self.purpose) {
            return Err(TrustError::KeyUsage);
        }
        Ok(())
    }
}

/// Whether a certificate says it is a CA (basic constraints `cA`).
fn is_ca(cert: &Certificate) -> bool {
    X509Certificate::from_der(cert.der().as_ref())
        .ok()
        .and_then(|(_, x)| x.basic_constraints().ok().flatten().map(|b| b.value.ca))
        .unwrap_or(false)
}

/// Whether the key usage extension, when present, allows the purpose's signatures:
/// `digitalSignature`, or for messages also `nonRepudiation`.
fn signs(cert: &Certificate, purpose: Purpose) -> bool {
    let Ok((_, x)) = X509Certificate::from_der(cert.der().as_ref()) else {
        return false;
    };
    match x.key_usage() {
        Ok(None) => true,
        Ok(Some(ku)) => {
            ku.value.digital_signature()
                || (purpose == Purpose::Signature && ku.value.non_repudiation())
        }
        Err(_) => false,
    }
}
