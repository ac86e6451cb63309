//! SAML 2.0 identity assertions in SOAP headers.
//!
//! The message carries exactly one `saml2:Assertion`, in the SOAP header (directly, as
//! SIST sends it, or inside `wsse:Security`, as INI does); its enveloped signature is its
//! only `ds:Signature`, checked by [`crate::xmldsig`] with the [`SAML_ASSERTION`]
//! profile, and the signed node it returns is the assertion everything is read from —
//! each value at its schema place (`Issuer`, `Subject/NameID`, `Conditions`,
//! `AttributeStatement/Attribute/AttributeValue`), as whole text, never from inside the
//! signature. The signer's certificate path is checked ([`hsm::TrustStore`]);
//! `Conditions` with both bounds is required, its times strict, its window no longer than
//! the configured maximum.

use std::collections::BTreeMap;

use hsm::{Certificate, TrustStore};
use roxmltree::Node;
use rustls_pki_types::CertificateDer;
use time::{Duration, OffsetDateTime};

use crate::xmldsig::{
    DSIG, DsigError, SAML_ASSERTION, SignedDocument, base64, children, compact_text, leaf_text,
    only_child,
};
use crate::xsd_datetime::instant;

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const WSSE: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd";

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
    /// The signer is not trusted.
    #[error("firmatario dell'asserzione SAML non riconosciuto ({cn}): {why}")]
    Untrusted {
        /// The signer's CN.
        cn: String,
        /// Why its certificate is not trusted.
        why: hsm::TrustError,
    },
    /// Outside `Conditions`.
    #[error("asserzione SAML scaduta o non ancora valida")]
    Expired,
    /// Valid for longer than allowed.
    #[error("asserzione SAML valida per più di {0} secondi")]
    TooLong(i64),
    /// Not the shape the profile expects.
    #[error("asserzione SAML non conforme: {0}")]
    Malformed(String),
}

impl From<DsigError> for SamlError {
    fn from(e: DsigError) -> Self {
        match e {
            DsigError::Digest(_) => Self::Digest,
            DsigError::Signature => Self::Signature,
            DsigError::Malformed(m) => Self::Malformed(m),
        }
    }
}

fn malformed(what: &str) -> SamlError {
    SamlError::Malformed(what.to_string())
}

/// What an assertion is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'t> {
    /// Signers (or their CAs), with revocation lists.
    pub signers: &'t TrustStore,
    /// The time of the check.
    pub now: OffsetDateTime,
    /// Tolerated clock difference on the window.
    pub skew: Duration,
    /// Longest window (`NotOnOrAfter` − `NotBefore`) accepted.
    pub max_lifetime: Duration,
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
    /// The value of a single-valued attribute: `None` when absent, refused when given
    /// more than once (a second value would be a second answer to "who").
    pub fn single(&self, name: &str) -> Result<Option<&str>, SamlError> {
        match self.attributes.get(name).map(Vec::as_slice) {
            None | Some([]) => Ok(None),
            Some([one]) => Ok(Some(one.as_str())),
            Some(_) => Err(SamlError::Malformed(format!("attributo {name} ripetuto"))),
        }
    }
}

/// Verifies the assertion of `signed` (a whole SOAP envelope) under `policy`.
pub fn verify(
    signed: &SignedDocument<'_, '_>,
    policy: &Policy<'_>,
) -> Result<Assertion, SamlError> {
    let assertion = the_assertion(signed.doc())?;
    if assertion
        .attributes()
        .find(|a| a.namespace().is_none() && a.name() == "ID")
        .is_none()
    {
        return Err(malformed("ID assente"));
    }
    let signatures = assertion
        .descendants()
        .filter(|n| n.has_tag_name((DSIG, "Signature")))
        .count();
    let sig = match (signatures, children(assertion, DSIG, "Signature").next()) {
        (0, _) => return Err(SamlError::Unsigned),
        (1, Some(sig)) => sig,
        _ => return Err(malformed("firma annidata o ripetuta")),
    };
    let (signer, chain) = key_info(sig)?;
    let covered = signed.verify(sig, &signer, &SAML_ASSERTION)?;
    if covered != [assertion] {
        return Err(malformed("il riferimento della firma non è l'asserzione"));
    }
    policy
        .signers
        .verify(&signer, &chain, policy.now.unix_timestamp())
        .map_err(|why| SamlError::Untrusted {
            cn: signer.subject_cn().to_string(),
            why,
        })?;
    window(assertion, policy)?;
    let subject = only_child(assertion, SAML, "Subject")?;
    Ok(Assertion {
        issuer: trimmed(only_child(assertion, SAML, "Issuer")?)?,
        subject: trimmed(only_child(subject, SAML, "NameID")?)?,
        attributes: attributes(assertion)?,
        signer,
    })
}

/// The message's only assertion, placed in the SOAP header or its `wsse:Security`.
fn the_assertion<'a, 'i>(doc: &'a roxmltree::Document<'i>) -> Result<Node<'a, 'i>, SamlError> {
    let mut all = doc
        .descendants()
        .filter(|n| n.has_tag_name((SAML, "Assertion")));
    let assertion = match (all.next(), all.next()) {
        (None, _) => return Err(SamlError::Missing),
        (Some(a), None) => a,
        (Some(_), Some(_)) => return Err(malformed("più di un'asserzione nel messaggio")),
    };
    let in_header = |n: Option<Node<'_, '_>>| {
        n.is_some_and(|h| {
            h.tag_name().name() == "Header" && h.parent_element() == Some(doc.root_element())
        })
    };
    let parent = assertion.parent_element();
    let placed = in_header(parent)
        || (parent.is_some_and(|p| p.has_tag_name((WSSE, "Security")))
            && in_header(parent.and_then(|p| p.parent_element())));
    if !placed {
        return Err(malformed("asserzione fuori dall'intestazione SOAP"));
    }
    Ok(assertion)
}

/// The signer's certificate and the chain after it, from `KeyInfo/X509Data`.
fn key_info(sig: Node<'_, '_>) -> Result<(Certificate, Vec<CertificateDer<'static>>), SamlError> {
    let data = only_child(only_child(sig, DSIG, "KeyInfo")?, DSIG, "X509Data")?;
    let mut ders = Vec::new();
    for c in children(data, DSIG, "X509Certificate") {
        ders.push(CertificateDer::from(base64(&compact_text(c)?)?));
    }
    let Some((leaf, chain)) = ders.split_first() else {
        return Err(malformed("certificato del firmatario assente"));
    };
    let signer =
        Certificate::from_der(leaf.clone()).map_err(|e| SamlError::Malformed(e.to_string()))?;
    Ok((signer, chain.to_vec()))
}

/// `Conditions` required, both bounds strict, `now` inside (± skew), the window bounded.
fn window(assertion: Node<'_, '_>, policy: &Policy<'_>) -> Result<(), SamlError> {
    let conditions = only_child(assertion, SAML, "Conditions")?;
    let at = |name: &str| {
        let value = conditions
            .attribute(name)
            .ok_or_else(|| SamlError::Malformed(format!("Conditions senza {name}")))?;
        instant(value)
            .ok_or_else(|| SamlError::Malformed(format!("{name} non leggibile: {value:?}")))
    };
    let (from, until) = (at("NotBefore")?, at("NotOnOrAfter")?);
    let issued = assertion
        .attribute("IssueInstant")
        .and_then(instant)
        .ok_or_else(|| malformed("IssueInstant assente o non leggibile"))?;
    if until - from > policy.max_lifetime {
        return Err(SamlError::TooLong(policy.max_lifetime.whole_seconds()));
    }
    if policy.now + policy.skew < from
        || policy.now - policy.skew >= until
        || issued > policy.now + policy.skew
    {
        return Err(SamlError::Expired);
    }
    Ok(())
}

/// Every `AttributeStatement/Attribute/AttributeValue`, by attribute name.
fn attributes(assertion: Node<'_, '_>) -> Result<BTreeMap<String, Vec<String>>, SamlError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in children(assertion, SAML, "AttributeStatement") {
        for a in children(statement, SAML, "Attribute") {
            let name = a
                .attribute("Name")
                .ok_or_else(|| malformed("Attribute senza Name"))?;
            let values = out.entry(name.to_string()).or_default();
            for v in children(a, SAML, "AttributeValue") {
                values.push(trimmed(v)?);
            }
        }
    }
    Ok(out)
}

fn trimmed(n: Node<'_, '_>) -> Result<String, SamlError> {
    Ok(leaf_text(n)?.trim().to_string())
}
