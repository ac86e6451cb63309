//! XML-DSig verification, the subset SAML assertions and WS-Security use: same-document
//! references by `ID`/`Id`/`wsu:Id`, the enveloped-signature and exclusive C14N 1.0
//! transforms (with `InclusiveNamespaces`), SHA-1/SHA-256 digests, RSA-SHA1/RSA-SHA256
//! signatures. Canonicalization is libxml2's, on the bytes as received: a signed element is
//! never re-serialised before it is checked.

use aws_lc_rs::{digest, signature};
use base64::Engine;
use hsm::Certificate;
use libxml::tree::c14n::{CanonicalizationMode, CanonicalizationOptions};

/// XML-DSig namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signature does not hold.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DsigError {
    /// A referenced element changed.
    #[error("contenuto firmato alterato (digest non corrispondente per #{0})")]
    Digest(String),
    /// `SignatureValue` does not verify with the key.
    #[error("valore di firma non valido")]
    Signature,
    /// Something the profile does not allow or the message does not have.
    #[error("firma non conforme: {0}")]
    Malformed(String),
}

fn malformed(what: impl Into<String>) -> DsigError {
    DsigError::Malformed(what.into())
}

/// The first element below `n` (itself included) named `name` in `ns`.
pub fn find<'a, 'i>(
    n: roxmltree::Node<'a, 'i>,
    ns: &str,
    name: &str,
) -> Option<roxmltree::Node<'a, 'i>> {
    n.descendants()
        .find(|c| c.is_element() && c.has_tag_name((ns, name)))
}

/// The text of `n` without white space (base64 values are often folded).
pub fn compact_text(n: Option<roxmltree::Node<'_, '_>>) -> String {
    n.and_then(|n| n.text())
        .map(|t| t.split_whitespace().collect::<String>())
        .unwrap_or_default()
}

/// Standard base64, white space ignored.
pub fn base64(text: &str) -> Result<Vec<u8>, DsigError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.split_whitespace().collect::<String>())
        .map_err(|_| malformed("base64"))
}

/// The identifier an element is referenced by: `ID`, `Id` or `wsu:Id`.
pub fn element_id<'a>(n: roxmltree::Node<'a, '_>) -> Option<&'a str> {
    n.attributes()
        .find(|a| matches!(a.name(), "ID" | "Id"))
        .map(|a| a.value())
}

fn prefix_list(transform_parent: Option<roxmltree::Node<'_, '_>>) -> Vec<String> {
    transform_parent
        .and_then(|t| find(t, EXC_C14N, "InclusiveNamespaces"))
        .and_then(|n| n.attribute("PrefixList"))
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .unwrap_or_default()
}

/// Verifies the signature element `sig` of `doc` (parsed from `xml`) with `signer`'s key;
/// returns the ids of the elements its references cover, every digest checked.
pub fn verify(
    xml: &str,
    doc: &roxmltree::Document<'_>,
    sig: roxmltree::Node<'_, '_>,
    signer: &Certificate,
) -> Result<Vec<String>, DsigError> {
    let index = doc
        .descendants()
        .filter(|n| n.has_tag_name((DSIG, "Signature")))
        .position(|n| n == sig)
        .ok_or_else(|| malformed("elemento Signature"))?;
    let signed_info = find(sig, DSIG, "SignedInfo").ok_or_else(|| malformed("SignedInfo"))?;
    let c14n_alg = find(signed_info, DSIG, "CanonicalizationMethod")
        .and_then(|n| n.attribute("Algorithm"))
        .unwrap_or_default();
    if c14n_alg != EXC_C14N {
        return Err(malformed(format!(
            "canonicalizzazione non supportata: {c14n_alg}"
        )));
    }
    let mut covered = Vec::new();
    for reference in signed_info
        .children()
        .filter(|n| n.has_tag_name((DSIG, "Reference")))
    {
        let id = reference
            .attribute("URI")
            .and_then(|u| u.strip_prefix('#'))
            .ok_or_else(|| malformed("riferimento non locale"))?;
        // One element per id: a second one would let a wrapped copy be read instead of
        // the signed one.
        if doc
            .descendants()
            .filter(|n| n.is_element() && element_id(*n) == Some(id))
            .count()
            != 1
        {
            return Err(malformed(format!("#{id} assente o ripetuto")));
        }
        let transforms = find(reference, DSIG, "Transforms");
        let algorithms: Vec<&str> = transforms
            .map(|t| {
                t.children()
                    .filter(|n| n.has_tag_name((DSIG, "Transform")))
                    .filter_map(|n| n.attribute("Algorithm"))
                    .collect()
            })
            .unwrap_or_default();
        if let Some(other) = algorithms
            .iter()
            .find(|a| **a != ENVELOPED && **a != EXC_C14N)
        {
            return Err(malformed(format!("trasformazione non supportata: {other}")));
        }
        let algorithm = digest_algorithm(
            find(reference, DSIG, "DigestMethod")
                .and_then(|d| d.attribute("Algorithm"))
                .unwrap_or_default(),
        )?;
        let expected = base64(&compact_text(find(reference, DSIG, "DigestValue")))?;
        let canonical = canonical(
            xml,
            Target::Id(id),
            algorithms.contains(&ENVELOPED).then(|| sig.range()),
            prefix_list(transforms),
        )?;
        if digest::digest(algorithm, canonical.as_bytes()).as_ref() != expected.as_slice() {
            return Err(DsigError::Digest(id.to_string()));
        }
        covered.push(id.to_string());
    }
    if covered.is_empty() {
        return Err(malformed("nessun riferimento firmato"));
    }
    let signed_info_c14n = canonical(
        xml,
        Target::SignedInfo(index),
        None,
        prefix_list(find(signed_info, DSIG, "CanonicalizationMethod")),
    )?;
    let value = base64(&compact_text(find(sig, DSIG, "SignatureValue")))?;
    let method = find(signed_info, DSIG, "SignatureMethod")
        .and_then(|d| d.attribute("Algorithm"))
        .unwrap_or_default();
    let verification: &dyn signature::VerificationAlgorithm = match method {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => {
            &signature::RSA_PKCS1_2048_8192_SHA256
        }
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => {
            &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY
        }
        other => return Err(malformed(format!("firma non supportata: {other}"))),
    };
    signature::UnparsedPublicKey::new(verification, signer.public_key())
        .verify(signed_info_c14n.as_bytes(), &value)
        .map_err(|_| DsigError::Signature)?;
    Ok(covered)
}

fn digest_algorithm(uri: &str) -> Result<&'static digest::Algorithm, DsigError> {
    match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(&digest::SHA256),
        "http://www.w3.org/2000/09/xmldsig#sha1" => Ok(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        other => Err(malformed(format!("digest non supportato: {other}"))),
    }
}

enum Target<'a> {
    /// The element with this id.
    Id(&'a str),
    /// `SignedInfo` of the n-th signature.
    SignedInfo(usize),
}

/// Exclusive C14N of the target, in a fresh libxml2 tree of `xml`; `strip`, the byte range
/// of the signature element in `xml`, is cut out first (the enveloped-signature transform).
/// Cutting the text rather than unlinking the node from the libxml2 tree: an unlinked
/// subtree is freed neither by the document nor, safely, by the wrapper — every verified
/// signature leaked a few kilobytes (found by `ops/load/mixed.sh`).
fn canonical(
    xml: &str,
    target: Target<'_>,
    strip: Option<std::ops::Range<usize>>,
    prefixes: Vec<String>,
) -> Result<String, DsigError> {
    let stripped;
    let xml = match strip {
        Some(range) => {
            let (before, after) = (
                xml.get(..range.start).ok_or_else(|| malformed("firma"))?,
                xml.get(range.end..).ok_or_else(|| malformed("firma"))?,
            );
            stripped = format!("{before}{after}");
            stripped.as_str()
        }
        None => xml,
    };
    let parsed = libxml::parser::Parser::default()
        .parse_string(xml)
        .map_err(|e| malformed(format!("{e:?}")))?;
    let root = parsed
        .get_root_element()
        .ok_or_else(|| malformed("documento vuoto"))?;
    let nodes = preorder(root);
    let signatures: Vec<&libxml::tree::Node> = nodes
        .iter()
        .filter(|n| n.get_name() == "Signature" && ns_of(n) == DSIG)
        .collect();
    let mut node = match target {
        Target::Id(id) => nodes
            .iter()
            .find(|n| {
                n.get_attribute("ID").as_deref() == Some(id)
                    || n.get_attribute("Id").as_deref() == Some(id)
            })
            .cloned()
            .ok_or_else(|| malformed(format!("elemento #{id} assente")))?,
        Target::SignedInfo(i) => signatures
            .get(i)
            .and_then(|s| {
                s.get_child_elements()
                    .into_iter()
                    .find(|c| c.get_name() == "SignedInfo")
            })
            .ok_or_else(|| malformed("SignedInfo"))?,
    };
    node.canonicalize(CanonicalizationOptions {
        mode: CanonicalizationMode::ExclusiveCanonical1_0,
        with_comments: false,
        inclusive_ns_prefixes: prefixes,
    })
    .map_err(|()| malformed("canonicalizzazione"))
}

fn ns_of(n: &libxml::tree::Node) -> String {
    n.get_namespace()
        .map(|ns| ns.get_href())
        .unwrap_or_default()
}

/// Elements in document order.
fn preorder(root: libxml::tree::Node) -> Vec<libxml::tree::Node> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(n) = stack.pop() {
        let mut children = n.get_child_elements();
        children.reverse();
        stack.extend(children);
        out.push(n);
    }
    out
}
