//! SAML 2.0 identity assertions in SOAP headers: the enveloped XML-DSig signature checked
//! (exclusive canonicalization by libxml2, SHA-1/SHA-256 digests, RSA-SHA1/RSA-SHA256),
//! the signer pinned to configured certificates, the validity window, and the attributes.

use std::collections::BTreeMap;

use hsm::Certificate;
use time::OffsetDateTime;

use crate::xmldsig::{self, DSIG, DsigError, compact_text, find};

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";

/// Why an assertion is refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SamlError {
    /// No `saml2:Assertion` in the header.
    #[error("asserzione SAML assente")]
    Missing,
    /// No enveloped signature.
    #[error("asserzione SAML non firmata")]
    Unsigned,
    /// The signed content changed.
    #[error("asserzione SAML alterata (digest non corrispondente)")]
    Digest,
    /// The signature does not verify with the embedded certificate.
    #[error("firma dell'asserzione SAML non valida")]
    Signature,
    /// The signer is not among the trusted certificates.
    #[error("firmatario dell'asserzione SAML non riconosciuto: {0}")]
    Untrusted(String),
    /// Outside `Conditions`.
    #[error("asserzione SAML scaduta o non ancora valida")]
    Expired,
    /// Not the shape the profile expects.
    #[error("asserzione SAML non conforme: {0}")]
    Malformed(String),
}

/// A verified assertion.
#[derive(Debug, Clone)]
pub struct Assertion {
    /// `Issuer`.
    pub issuer: String,
    /// `Subject/NameID`.
    pub subject: String,
    /// Attribute name → values.
    pub attributes: BTreeMap<String, Vec<String>>,
    /// The signer.
    pub signer: Certificate,
}

// === impl Assertion ===

impl Assertion {
    /// The first value of an attribute.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .get(name)
            .and_then(|v| v.first())
            .map(String::as_str)
    }
}

fn malformed(what: &str) -> SamlError {
    SamlError::Malformed(what.to_string())
}

/// Verifies the first assertion of `xml` (a whole envelope, already parsed once with
/// the hardened parser) at `now`, trusting signers among `trusted` or issued by one.
pub fn verify(
    xml: &str,
    now: OffsetDateTime,
    trusted: &[Certificate],
) -> Result<Assertion, SamlError> {
    verify_with_skew(xml, now, trusted, time::Duration::ZERO)
}

/// [`verify`], tolerating `skew` of clock difference on the validity window.
pub fn verify_with_skew(
    xml: &str,
    now: OffsetDateTime,
    trusted: &[Certificate],
    skew: time::Duration,
) -> Result<Assertion, SamlError> {
    let doc = roxmltree::Document::parse(xml).map_err(|e| SamlError::Malformed(e.to_string()))?;
    let assertion = doc
        .descendants()
        .find(|n| n.has_tag_name((SAML, "Assertion")))
        .ok_or(SamlError::Missing)?;
    let id = assertion
        .attribute("ID")
        .ok_or_else(|| malformed("ID assente"))?;
    let sig = assertion
        .children()
        .find(|n| n.has_tag_name((DSIG, "Signature")))
        .ok_or(SamlError::Unsigned)?;
    let cert_der = xmldsig::base64(&compact_text(find(sig, DSIG, "X509Certificate")))
        .map_err(|_| malformed("certificato del firmatario"))?;
    let signer =
        Certificate::from_der(cert_der.into()).map_err(|e| SamlError::Malformed(e.to_string()))?;
    let covered = xmldsig::verify(xml, &doc, sig, &signer).map_err(|e| match e {
        DsigError::Digest(_) => SamlError::Digest,
        DsigError::Signature => SamlError::Signature,
        DsigError::Malformed(m) => SamlError::Malformed(m),
    })?;
    if covered != [id] {
        return Err(malformed("il riferimento della firma non è l'asserzione"));
    }
    // Never trust KeyInfo alone: the signer is pinned, or issued by a trusted certificate.
    let pinned = trusted
        .iter()
        .any(|t| t.der().as_ref() == signer.der().as_ref() || signer.is_signed_by(t));
    if !pinned {
        return Err(SamlError::Untrusted(signer.subject_cn().to_string()));
    }
    // Validity window.
    if let Some(cond) = find(assertion, SAML, "Conditions") {
        let at = |name: &str| {
            cond.attribute(name).and_then(|v| {
                OffsetDateTime::parse(v, &time::format_description::well_known::Rfc3339).ok()
            })
        };
        if at("NotBefore").is_some_and(|t| now + skew < t)
            || at("NotOnOrAfter").is_some_and(|t| now - skew >= t)
        {
            return Err(SamlError::Expired);
        }
    }
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for a in assertion
        .descendants()
        .filter(|n| n.has_tag_name((SAML, "Attribute")))
    {
        let name = a.attribute("Name").unwrap_or_default().to_string();
        let values = a
            .children()
            .filter(|v| v.has_tag_name((SAML, "AttributeValue")))
            .map(|v| v.text().unwrap_or_default().trim().to_string());
        attributes.entry(name).or_default().extend(values);
    }
    Ok(Assertion {
        issuer: trimmed(
            assertion
                .children()
                .find(|n| n.has_tag_name((SAML, "Issuer"))),
        ),
        subject: trimmed(find(assertion, SAML, "NameID")),
        attributes,
        signer,
    })
}

fn trimmed(n: Option<roxmltree::Node<'_, '_>>) -> String {
    n.and_then(|n| n.text())
        .map(|t| t.trim().to_string())
        .unwrap_or_default()
}
