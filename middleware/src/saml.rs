//! SAML 2.0 identity assertions in SOAP headers: the enveloped XML-DSig signature checked
//! (exclusive canonicalization by libxml2, SHA-1/SHA-256 digests, RSA-SHA1/RSA-SHA256),
//! the signer pinned to configured certificates, the validity window, and the attributes.

use std::collections::BTreeMap;

use aws_lc_rs::{digest, signature};
use base64::Engine;
use hsm::Certificate;
use libxml::tree::c14n::{CanonicalizationMode, CanonicalizationOptions};
use time::OffsetDateTime;

const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";

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

fn find<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    n.descendants()
        .find(|c| c.is_element() && c.has_tag_name((ns, name)))
}

fn prefix_list(transform_parent: Option<roxmltree::Node<'_, '_>>) -> Vec<String> {
    transform_parent
        .and_then(|t| find(t, EXC_C14N, "InclusiveNamespaces"))
        .and_then(|n| n.attribute("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Verifies the first assertion of `xml` (a whole envelope, already parsed once with
/// the hardened parser) at `now`, trusting signers among `trusted` or issued by one.
pub fn verify(
    xml: &str,
    now: OffsetDateTime,
    trusted: &[Certificate],
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
    let signed_info = find(sig, DSIG, "SignedInfo").ok_or(SamlError::Unsigned)?;
    let reference = find(signed_info, DSIG, "Reference").ok_or(SamlError::Unsigned)?;
    if reference.attribute("URI") != Some(&format!("#{id}")) {
        return Err(malformed("il riferimento della firma non è l'asserzione"));
    }
    let text = |n: Option<roxmltree::Node<'_, '_>>| {
        n.and_then(|n| n.text())
            .map(|t| t.split_whitespace().collect::<String>())
            .unwrap_or_default()
    };
    let b64 = |s: String| {
        base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_err(|_| malformed("base64"))
    };
    let digest_alg = find(reference, DSIG, "DigestMethod")
        .and_then(|d| d.attribute("Algorithm"))
        .unwrap_or_default();
    let expected_digest = b64(text(find(reference, DSIG, "DigestValue")))?;
    let signature_alg = find(signed_info, DSIG, "SignatureMethod")
        .and_then(|d| d.attribute("Algorithm"))
        .unwrap_or_default();
    let signature_value = b64(text(find(sig, DSIG, "SignatureValue")))?;
    let cert_der = b64(text(find(sig, DSIG, "X509Certificate")))?;
    let signer =
        Certificate::from_der(cert_der.into()).map_err(|e| SamlError::Malformed(e.to_string()))?;
    let reference_prefixes = prefix_list(find(reference, DSIG, "Transforms"));
    let signed_info_prefixes = prefix_list(find(signed_info, DSIG, "CanonicalizationMethod"));

    // The signed bytes, canonicalized by libxml2 (exclusive C14N 1.0, no comments).
    let canonical = |strip_signature: bool,
                     target: &str,
                     prefixes: Vec<String>|
     -> Result<String, SamlError> {
        let parsed = libxml::parser::Parser::default()
            .parse_string(xml)
            .map_err(|e| SamlError::Malformed(format!("{e:?}")))?;
        let root = parsed
            .get_root_element()
            .ok_or_else(|| malformed("documento vuoto"))?;
        let mut assertion = descendants(root)
            .into_iter()
            .find(|n| n.get_name() == "Assertion" && n.get_attribute("ID").as_deref() == Some(id))
            .ok_or(SamlError::Missing)?;
        let mut node = if target == "Assertion" {
            if strip_signature {
                for mut c in assertion.get_child_elements() {
                    if c.get_name() == "Signature" && ns_of(&c) == DSIG {
                        c.unlink_node();
                    }
                }
            }
            assertion.clone()
        } else {
            descendants(assertion.clone())
                .into_iter()
                .find(|n| n.get_name() == target && ns_of(n) == DSIG)
                .ok_or(SamlError::Unsigned)?
        };
        let _ = &mut assertion;
        node.canonicalize(CanonicalizationOptions {
            mode: CanonicalizationMode::ExclusiveCanonical1_0,
            with_comments: false,
            inclusive_ns_prefixes: prefixes,
        })
        .map_err(|()| malformed("canonicalizzazione"))
    };
    let assertion_c14n = canonical(true, "Assertion", reference_prefixes)?;
    let digest_algorithm = match digest_alg {
        "http://www.w3.org/2001/04/xmlenc#sha256" => &digest::SHA256,
        "http://www.w3.org/2000/09/xmldsig#sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        other => {
            return Err(SamlError::Malformed(format!(
                "digest non supportato: {other}"
            )));
        }
    };
    if digest::digest(digest_algorithm, assertion_c14n.as_bytes()).as_ref()
        != expected_digest.as_slice()
    {
        return Err(SamlError::Digest);
    }
    let signed_info_c14n = canonical(false, "SignedInfo", signed_info_prefixes)?;
    let verification: &dyn signature::VerificationAlgorithm = match signature_alg {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => {
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        other => {
            return Err(SamlError::Malformed(format!(
                "firma non supportata: {other}"
            )));
        }
    };
    signature::UnparsedPublicKey::new(verification, signer.public_key())
        .verify(signed_info_c14n.as_bytes(), &signature_value)
        .map_err(|_| SamlError::Signature)?;
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
        if at("NotBefore").is_some_and(|t| now < t) || at("NotOnOrAfter").is_some_and(|t| now >= t)
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
        issuer: text(
            assertion
                .children()
                .find(|n| n.has_tag_name((SAML, "Issuer"))),
        ),
        subject: text(find(assertion, SAML, "NameID")),
        attributes,
        signer,
    })
}

fn ns_of(n: &libxml::tree::Node) -> String {
    n.get_namespace()
        .map(|ns| ns.get_href())
        .unwrap_or_default()
}

fn descendants(root: libxml::tree::Node) -> Vec<libxml::tree::Node> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        stack.extend(n.get_child_elements());
        out.push(n);
    }
    out
}
