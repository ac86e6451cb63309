//! The operator's WS-Security signature (OASIS WSS 1.0, X.509 token profile).
//!
//! The envelope has one `Header` and one `Body`; the header one `wsse:Security` with one
//! `ds:Signature`, one `wsu:Timestamp` (`Created` and `Expires`, strict times) and the
//! operator's smart-card (CNS) certificate as `BinarySecurityToken` (or in `KeyInfo`).
//! The signature ([`WSS_MESSAGE`] profile) covers exactly the `Timestamp` and the `Body`:
//! the SIST profile documented for the CVPService signs the timestamp only, which would
//! let a captured header carry another body, so the body is required too (SIST's real
//! profile for these services is not public). The certificate path is checked
//! ([`hsm::TrustStore`]); its CN (`<fiscal code>/<serial>.<hash>` on a CNS) names the
//! operator.

use hsm::{Certificate, TrustStore};
use roxmltree::Node;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use crate::xmldsig::{
    DSIG, DsigError, IdAttribute, SignedDocument, WSS_MESSAGE, WSU, base64, children, compact_text,
    leaf_text, only_child, resolve,
};
use crate::xsd_datetime::instant;

const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";
const X509V3: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-x509-token-profile-1.0#X509v3";

/// Why the operator's signature is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WsSecError {
    /// No `wsse:Security` signature.
    #[error("firma WS-Security dell'operatore assente")]
    Missing,
    /// The signature does not hold.
    #[error("firma WS-Security dell'operatore non valida: {0}")]
    Signature(#[from] DsigError),
    /// The signature does not cover what it must.
    #[error("la firma WS-Security dell'operatore deve coprire Timestamp e Body")]
    Coverage,
    /// The timestamp is missing, unreadable or outside its window.
    #[error("timestamp WS-Security {0}")]
    Timestamp(&'static str),
    /// The certificate is not a trusted smart card's.
    #[error("certificato dell'operatore non riconosciuto ({cn}): {why}")]
    Untrusted {
        /// The certificate's CN.
        cn: String,
        /// Why it is not trusted.
        why: hsm::TrustError,
    },
    /// The certificate's CN carries no fiscal code.
    #[error("il certificato dell'operatore non riporta un codice fiscale: {0}")]
    NoFiscalCode(String),
}

fn malformed(what: &str) -> WsSecError {
    WsSecError::Signature(DsigError::Malformed(what.into()))
}

/// What the operator's signature is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'t> {
    /// Smart-card CAs, with revocation lists.
    pub cards: &'t TrustStore,
    /// The time of the check.
    pub now: OffsetDateTime,
    /// Tolerated clock difference.
    pub skew: Duration,
    /// Oldest `Created` accepted, and longest `Created`–`Expires` window.
    pub max_age: Duration,
}

/// A verified operator signature.
#[derive(Debug, Clone)]
pub struct OperatorSignature {
    /// The fiscal code in the certificate's CN.
    pub fiscal_code: String,
    /// The smart-card certificate.
    pub certificate: Certificate,
    /// The signature value, which identifies this message (replay detection).
    pub value: Vec<u8>,
    /// Until when the message can be accepted (its `Expires`, plus the skew).
    pub valid_until: OffsetDateTime,
}

/// Verifies the operator's signature of `signed` (a whole SOAP envelope) under `policy`.
pub fn verify(
    signed: &SignedDocument<'_, '_>,
    policy: &Policy<'_>,
) -> Result<OperatorSignature, WsSecError> {
    let (header, body) = header_and_body(signed.doc())?;
    let mut securities = children(header, WSSE, "Security");
    let security = match (securities.next(), securities.next()) {
        (None, _) => return Err(WsSecError::Missing),
        (Some(s), None) => s,
        (Some(_), Some(_)) => return Err(malformed("wsse:Security ripetuto")),
    };
    let sig = match only_child(security, DSIG, "Signature") {
        Ok(s) => s,
        Err(_) if children(security, DSIG, "Signature").next().is_none() => {
            return Err(WsSecError::Missing);
        }
        Err(e) => return Err(e.into()),
    };
    let (certificate, chain) = key(signed, security, sig)?;
    let covered = signed.verify(sig, &certificate, &WSS_MESSAGE)?;
    let timestamp =
        only_child(security, WSU, "Timestamp").map_err(|_| WsSecError::Timestamp("assente"))?;
    if !(covered.contains(&timestamp) && covered.contains(&body)) {
        return Err(WsSecError::Coverage);
    }
    let valid_until = window(timestamp, policy)?;
    policy
        .cards
        .verify(&certificate, &chain, policy.now.unix_timestamp())
        .map_err(|why| WsSecError::Untrusted {
            cn: certificate.subject_cn().to_string(),
            why,
        })?;
    let value = base64(&compact_text(only_child(sig, DSIG, "SignatureValue")?)?)?;
    Ok(OperatorSignature {
        fiscal_code: fiscal_code(&certificate)?,
        certificate,
        value,
        valid_until,
    })
}

/// The envelope's only `Header` and only `Body`.
fn header_and_body<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
) -> Result<(Node<'a, 'i>, Node<'a, 'i>), WsSecError> {
    let root = doc.root_element();
    let ns = root.tag_name().namespace().unwrap_or_default();
    let named = |name: &str| {
        root.children()
            .filter(|n| n.is_element() && n.tag_name().namespace() == Some(ns))
            .filter(|n| n.tag_name().name() == name)
            .collect::<Vec<_>>()
    };
    match (named("Header").as_slice(), named("Body").as_slice()) {
        ([h], [b]) => Ok((*h, *b)),
        ([], _) => Err(WsSecError::Missing),
        _ => Err(malformed(
            "l'envelope deve avere un solo Header e un solo Body",
        )),
    }
}

/// The signing certificate: the `BinarySecurityToken` of `security` that `KeyInfo`
/// references, or an `X509Certificate` in `KeyInfo`.
fn key(
    signed: &SignedDocument<'_, '_>,
    security: Node<'_, '_>,
    sig: Node<'_, '_>,
) -> Result<(Certificate, Vec<CertificateDer<'static>>), WsSecError> {
    let key_info = only_child(sig, DSIG, "KeyInfo")?;
    let der = if let Some(reference) = children(key_info, WSSE, "SecurityTokenReference").next() {
        let uri = only_child(reference, WSSE, "Reference")?
            .attribute("URI")
            .and_then(|u| u.strip_prefix('#'))
            .ok_or_else(|| malformed("riferimento al certificato"))?;
        let token = resolve(signed.doc(), uri, IdAttribute::Wsu)?;
        if token.parent() != Some(security)
            || !token.has_tag_name((WSSE, "BinarySecurityToken"))
            || token.attribute("ValueType") != Some(X509V3)
        {
            return Err(malformed(
                "il certificato non è un BinarySecurityToken X.509",
            ));
        }
        compact_text(token)?
    } else {
        let data = only_child(key_info, DSIG, "X509Data")?;
        compact_text(only_child(data, DSIG, "X509Certificate")?)?
    };
    let der = CertificateDer::from(base64(&der).map_err(|_| malformed("certificato"))?);
    let certificate =
        Certificate::from_der(der).map_err(|_| malformed("certificato non leggibile"))?;
    Ok((certificate, Vec::new()))
}

/// `Created` and `Expires` required and strict; `Created` not in the future and not older
/// than the maximum age, `Expires` after `Created`, not past, within the maximum age.
/// Returns until when the message stays acceptable.
fn window(timestamp: Node<'_, '_>, policy: &Policy<'_>) -> Result<OffsetDateTime, WsSecError> {
    let at = |name: &'static str| -> Result<OffsetDateTime, WsSecError> {
        let n = only_child(timestamp, WSU, name).map_err(|_| {
            WsSecError::Timestamp(if name == "Created" {
                "senza Created"
            } else {
                "senza Expires"
            })
        })?;
        leaf_text(n)
            .ok()
            .and_then(|t| instant(&t))
            .ok_or(WsSecError::Timestamp("con un orario non leggibile"))
    };
    let (created, expires) = (at("Created")?, at("Expires")?);
    let (now, skew) = (policy.now, policy.skew);
    if expires <= created || expires - created > policy.max_age {
        return Err(WsSecError::Timestamp("con una durata non ammessa"));
    }
    if created > now + skew || created < now - policy.max_age - skew || expires + skew <= now {
        return Err(WsSecError::Timestamp("fuori dalla finestra di validità"));
    }
    Ok(expires + skew)
}

fn fiscal_code(certificate: &Certificate) -> Result<String, WsSecError> {
    let cn = certificate.subject_cn();
    let cf = cn
        .split('/')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    if cf.len() != 16 || !cf.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(WsSecError::NoFiscalCode(cn.to_string()));
    }
    Ok(cf)
}
