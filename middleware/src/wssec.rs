//! The operator's WS-Security signature (OASIS WSS 1.0, X.509 token profile): a
//! `wsse:Security` header with a `wsu:Timestamp`, the operator's smart-card (CNS)
//! certificate as `BinarySecurityToken` (or in `KeyInfo`), and a signature covering the
//! timestamp. The certificate must be issued by a configured smart-card CA; its CN
//! (`<fiscal code>/<serial>.<hash>` on a CNS) names the operator.

use hsm::Certificate;
use time::OffsetDateTime;

use crate::xmldsig::{self, DSIG, DsigError, compact_text, element_id, find};

const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";

/// Why the operator's signature is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsSecError {
    /// No `wsse:Security` signature.
    #[error("firma WS-Security dell'operatore assente")]
    Missing,
    /// The signature does not hold.
    #[error("firma WS-Security dell'operatore non valida: {0}")]
    Signature(#[from] DsigError),
    /// The timestamp is missing, unsigned or outside its window.
    #[error("timestamp WS-Security {0}")]
    Timestamp(&'static str),
    /// The certificate is not a trusted smart card's, or not valid now.
    #[error("certificato dell'operatore non riconosciuto o scaduto: {0}")]
    Untrusted(String),
    /// The certificate's CN carries no fiscal code.
    #[error("il certificato dell'operatore non riporta un codice fiscale: {0}")]
    NoFiscalCode(String),
}

/// A verified operator signature.
#[derive(Debug, Clone)]
pub struct OperatorSignature {
    /// The fiscal code in the certificate's CN.
    pub fiscal_code: String,
    /// The smart-card certificate.
    pub certificate: Certificate,
}

/// Verifies the WS-Security signature of `xml` (a whole envelope) at `now`: certificate
/// issued by one of `cas`, timestamp signed and within its window (± `skew_secs`).
pub fn verify(
    xml: &str,
    now: OffsetDateTime,
    cas: &[Certificate],
    skew_secs: i64,
) -> Result<OperatorSignature, WsSecError> {
    let doc = roxmltree::Document::parse(xml)
        .map_err(|e| WsSecError::Signature(DsigError::Malformed(e.to_string())))?;
    let security = doc
        .descendants()
        .find(|n| n.has_tag_name((WSSE, "Security")))
        .ok_or(WsSecError::Missing)?;
    let sig = security
        .children()
        .find(|n| n.has_tag_name((DSIG, "Signature")))
        .ok_or(WsSecError::Missing)?;
    let malformed = |what: &str| WsSecError::Signature(DsigError::Malformed(what.into()));
    // The key: a referenced BinarySecurityToken, else an X509Certificate in KeyInfo.
    let token = find(sig, WSSE, "Reference")
        .and_then(|r| r.attribute("URI"))
        .and_then(|u| u.strip_prefix('#'))
        .and_then(|id| {
            security.children().find(|n| {
                n.has_tag_name((WSSE, "BinarySecurityToken")) && element_id(*n) == Some(id)
            })
        })
        .or_else(|| find(sig, DSIG, "X509Certificate"));
    let der = xmldsig::base64(&compact_text(token)).map_err(|_| malformed("certificato"))?;
    let certificate =
        Certificate::from_der(der.into()).map_err(|_| malformed("certificato non leggibile"))?;
    let covered = xmldsig::verify(xml, &doc, sig, &certificate)?;

    let timestamp = security
        .children()
        .find(|n| n.has_tag_name((WSU, "Timestamp")))
        .ok_or(WsSecError::Timestamp("assente"))?;
    if !element_id(timestamp).is_some_and(|id| covered.iter().any(|c| c == id)) {
        return Err(WsSecError::Timestamp("non firmato"));
    }
    let at = |name: &str| {
        timestamp
            .children()
            .find(|n| n.has_tag_name((WSU, name)))
            .and_then(|n| n.text())
            .and_then(|t| {
                OffsetDateTime::parse(t.trim(), &time::format_description::well_known::Rfc3339).ok()
            })
    };
    let skew = time::Duration::seconds(skew_secs);
    let created = at("Created").ok_or(WsSecError::Timestamp("senza Created"))?;
    if created > now + skew || at("Expires").is_some_and(|e| e + skew <= now) {
        return Err(WsSecError::Timestamp("fuori dalla finestra di validità"));
    }
    if !certificate.chains_to(cas, now.unix_timestamp()) {
        return Err(WsSecError::Untrusted(certificate.subject_cn().to_string()));
    }
    let cn = certificate.subject_cn().to_string();
    let cf = cn
        .split('/')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    if cf.len() != 16 || !cf.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(WsSecError::NoFiscalCode(cn));
    }
    Ok(OperatorSignature {
        fiscal_code: cf,
        certificate,
    })
}
