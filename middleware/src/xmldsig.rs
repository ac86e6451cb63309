//! XML-DSig core validation, the subset SAML assertions and WS-Security use, made strict
//! against the known wrapping attacks (Somorovsky et al., "On Breaking SAML", 2012;
//! CVE-2017-11427):
//!
//! - the `ds:Signature` has exactly the shape the profile uses: `SignedInfo`,
//!   `SignatureValue`, optionally `KeyInfo`, nothing else (no `ds:Object`); the
//!   `SignedInfo` whose value is verified is that direct child, and it is the one whose
//!   references are followed;
//! - each reference is same-document (`#id`); an id resolves by one rule in both trees:
//!   the element carrying it in the profile's attribute (`ID` for SAML, `wsu:Id` for
//!   WS-Security), and no other element may carry the same value in any attribute named
//!   `ID`, `Id` or `id` of any namespace; libxml2 canonicalises the element found by
//!   position, never by its own id lookup;
//! - exactly the profile's transforms (enveloped signature, exclusive C14N 1.0 without
//!   comments), SHA-1/SHA-256 digests, RSA-SHA1/RSA-SHA256 signatures;
//! - [`SignedDocument::verify`] returns the nodes the references cover: callers read
//!   every value from those nodes, never by searching the document again.
//!
//! Canonicalisation is libxml2's, on the bytes as received: a signed element is never
//! re-serialised before it is checked. The received text is parsed by libxml2 at most
//! once as it is, plus once per enveloped signature (with that signature cut out).

use std::cell::OnceCell;

use aws_lc_rs::{digest, signature};
use base64::Engine;
use hsm::Certificate;
use libxml::tree::c14n::{CanonicalizationMode, CanonicalizationOptions};
use roxmltree::{Node, NodeType};

/// XML-DSig namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
/// WS-Security utility namespace (`wsu:Id`, `wsu:Timestamp`).
pub const WSU: &str =
    "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signature does not hold.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
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

/// The attribute a profile's references name their elements by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdAttribute {
    /// The unqualified `ID` (SAML 2.0 `Assertion`).
    Saml,
    /// `wsu:Id` (WS-Security: `Timestamp`, `Body`, `BinarySecurityToken`).
    Wsu,
}

impl IdAttribute {
    fn of<'a>(self, n: Node<'a, '_>) -> Option<&'a str> {
        match self {
            Self::Saml => n
                .attributes()
                .find(|a| a.namespace().is_none() && a.name() == "ID")
                .map(|a| a.value()),
            Self::Wsu => n.attribute((WSU, "Id")),
        }
    }
}

/// What one kind of signature must look like.
#[derive(Debug, Clone, Copy)]
pub struct Profile {
    /// How references name their elements.
    pub id: IdAttribute,
    /// Exactly this many `Reference`s.
    pub references: usize,
    /// Exactly these transforms, in this order, on every reference.
    pub transforms: &'static [&'static str],
}

/// A SAML assertion's enveloped signature: one reference to the assertion.
pub const SAML_ASSERTION: Profile = Profile {
    id: IdAttribute::Saml,
    references: 1,
    transforms: &[ENVELOPED, EXC_C14N],
};

/// The operator's WS-Security signature: two references, the `Timestamp` and the `Body`.
pub const WSS_MESSAGE: Profile = Profile {
    id: IdAttribute::Wsu,
    references: 2,
    transforms: &[EXC_C14N],
};

/// The element children of `n`.
pub fn elements<'a, 'i>(n: Node<'a, 'i>) -> impl Iterator<Item = Node<'a, 'i>> {
    n.children().filter(Node::is_element)
}

/// The element children of `n` named `name` in `ns`.
pub fn children<'a, 'i>(
    n: Node<'a, 'i>,
    ns: &'static str,
    name: &'static str,
) -> impl Iterator<Item = Node<'a, 'i>> {
    elements(n).filter(move |c| c.has_tag_name((ns, name)))
}

/// The only element child of `n` named `name` in `ns`; `what` names it in the error when
/// it is absent or repeated.
pub fn only_child<'a, 'i>(
    n: Node<'a, 'i>,
    ns: &'static str,
    name: &'static str,
) -> Result<Node<'a, 'i>, DsigError> {
    let mut found = children(n, ns, name);
    match (found.next(), found.next()) {
        (Some(c), None) => Ok(c),
        (None, _) => Err(malformed(format!("{name} assente"))),
        (Some(_), Some(_)) => Err(malformed(format!("{name} ripetuto"))),
    }
}

/// The whole text of a leaf element: every text node joined. A comment, processing
/// instruction or element inside is refused: it would let a reader stop early at a value
/// the signature covers only in full (the CVE-2017-11427 class).
pub fn leaf_text(n: Node<'_, '_>) -> Result<String, DsigError> {
    let mut text = String::new();
    for c in n.children() {
        match c.node_type() {
            NodeType::Text => text.push_str(c.text().unwrap_or_default()),
            _ => {
                return Err(malformed(format!(
                    "{}: contenuto diverso dal testo",
                    n.tag_name().name()
                )));
            }
        }
    }
    Ok(text)
}

/// [`leaf_text`] without white space (base64 values are often folded).
pub fn compact_text(n: Node<'_, '_>) -> Result<String, DsigError> {
    Ok(leaf_text(n)?.split_whitespace().collect())
}

/// Standard base64, white space ignored.
pub fn base64(text: &str) -> Result<Vec<u8>, DsigError> {
    base64::engine::general_purpose::STANDARD
        .decode(text.split_whitespace().collect::<String>())
        .map_err(|_| malformed("base64"))
}

/// Whether `n` lies inside a `ds:Signature` (what is there is not covered by it).
pub fn inside_signature(n: Node<'_, '_>) -> bool {
    n.ancestors().any(|a| a.has_tag_name((DSIG, "Signature")))
}

/// Every value `n` carries in an id-like attribute: `ID`, `Id` or `id` in any namespace
/// (`xml:id` among them).
fn id_values<'a>(n: Node<'a, '_>) -> impl Iterator<Item = &'a str> {
    n.attributes()
        .filter(|a| matches!(a.name(), "ID" | "Id" | "id"))
        .map(|a| a.value())
}

/// The element `id` names under `rule`: it must carry `id` in the rule's attribute, and
/// no other element may carry it in any id-like attribute.
pub fn resolve<'a, 'i>(
    doc: &'a roxmltree::Document<'i>,
    id: &str,
    rule: IdAttribute,
) -> Result<Node<'a, 'i>, DsigError> {
    let mut carriers = doc
        .descendants()
        .filter(|n| n.is_element() && id_values(*n).any(|v| v == id));
    let (Some(found), None) = (carriers.next(), carriers.next()) else {
        return Err(malformed(format!("#{id} assente o ripetuto")));
    };
    if rule.of(found) != Some(id) {
        return Err(malformed(format!(
            "#{id} non è l'identificativo dell'elemento"
        )));
    }
    Ok(found)
}

/// A received document whose signatures are checked: the text, its roxmltree parse, and
/// libxml2's parse of the same text, made when first needed.
pub struct SignedDocument<'a, 'i> {
    xml: &'i str,
    doc: &'a roxmltree::Document<'i>,
    as_received: OnceCell<Result<libxml::tree::Document, DsigError>>,
}

impl std::fmt::Debug for SignedDocument<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignedDocument")
            .field("bytes", &self.xml.len())
            .finish()
    }
}

/// One reference of a `SignedInfo`, read and checked against the profile.
struct Reference<'a, 'i> {
    id: String,
    target: Node<'a, 'i>,
    digest: &'static digest::Algorithm,
    expected: Vec<u8>,
    prefixes: Vec<String>,
}

impl<'a, 'i> SignedDocument<'a, 'i> {
    /// `doc` must be the parse of `xml`.
    pub fn new(xml: &'i str, doc: &'a roxmltree::Document<'i>) -> Self {
        Self {
            xml,
            doc,
            as_received: OnceCell::new(),
        }
    }

    /// The parsed document.
    pub fn doc(&self) -> &'a roxmltree::Document<'i> {
        self.doc
    }

    /// Core validation of `sig` with `signer`'s key under `profile`: the elements its
    /// references cover, in reference order, every digest and the signature value checked.
    pub fn verify(
        &self,
        sig: Node<'a, 'i>,
        signer: &Certificate,
        profile: &Profile,
    ) -> Result<Vec<Node<'a, 'i>>, DsigError> {
        let (signed_info, value) = signature_parts(sig)?;
        let (c14n_prefixes, method, references) = self.signed_info(signed_info, sig, profile)?;
        // Core validation (XML-DSig §3.2): the references, then the signature value.
        for r in &references {
            let canonical = if profile.transforms.contains(&ENVELOPED) {
                let stripped = self.without(sig)?;
                canonicalize(&stripped, index_of(r.target), r.prefixes.clone())?
            } else {
                canonicalize(self.as_received()?, index_of(r.target), r.prefixes.clone())?
            };
            if digest::digest(r.digest, canonical.as_bytes()).as_ref() != r.expected.as_slice() {
                return Err(DsigError::Digest(r.id.clone()));
            }
        }
        let canonical = canonicalize(self.as_received()?, index_of(signed_info), c14n_prefixes)?;
        signature::UnparsedPublicKey::new(method, signer.public_key())
            .verify(canonical.as_bytes(), &value)
            .map_err(|_| DsigError::Signature)?;
        Ok(references.into_iter().map(|r| r.target).collect())
    }

    /// Reads `SignedInfo`: exactly `CanonicalizationMethod`, `SignatureMethod` and the
    /// profile's number of references, each resolved and checked.
    #[allow(clippy::type_complexity)]
    fn signed_info(
        &self,
        signed_info: Node<'a, 'i>,
        sig: Node<'a, 'i>,
        profile: &Profile,
    ) -> Result<
        (
            Vec<String>,
            &'static dyn signature::VerificationAlgorithm,
            Vec<Reference<'a, 'i>>,
        ),
        DsigError,
    > {
        let parts: Vec<Node<'a, 'i>> = elements(signed_info).collect();
        let [c14n, method, refs @ ..] = parts.as_slice() else {
            return Err(malformed("SignedInfo incompleto"));
        };
        if !c14n.has_tag_name((DSIG, "CanonicalizationMethod"))
            || !method.has_tag_name((DSIG, "SignatureMethod"))
            || refs.len() != profile.references
            || refs.iter().any(|r| !r.has_tag_name((DSIG, "Reference")))
        {
            return Err(malformed(format!(
                "SignedInfo: attesi CanonicalizationMethod, SignatureMethod e {} Reference",
                profile.references
            )));
        }
        let c14n_prefixes = exc_c14n(*c14n)?;
        let method = signature_algorithm(method.attribute("Algorithm").unwrap_or_default())?;
        let mut references = Vec::with_capacity(refs.len());
        for r in refs {
            let reference = self.reference(*r, sig, profile)?;
            if references
                .iter()
                .any(|o: &Reference<'_, '_>| o.target == reference.target)
            {
                return Err(malformed("due riferimenti allo stesso elemento"));
            }
            references.push(reference);
        }
        Ok((c14n_prefixes, method, references))
    }

    fn reference(
        &self,
        r: Node<'a, 'i>,
        sig: Node<'a, 'i>,
        profile: &Profile,
    ) -> Result<Reference<'a, 'i>, DsigError> {
        let id = r
            .attribute("URI")
            .and_then(|u| u.strip_prefix('#'))
            .filter(|id| !id.is_empty() && !id.contains(['(', ')', '#']))
            .ok_or_else(|| malformed("riferimento non locale"))?;
        let target = resolve(self.doc, id, profile.id)?;
        let parts: Vec<Node<'a, 'i>> = elements(r).collect();
        let [transforms, method, value] = parts.as_slice() else {
            return Err(malformed(
                "Reference: attesi Transforms, DigestMethod, DigestValue",
            ));
        };
        if !transforms.has_tag_name((DSIG, "Transforms"))
            || !method.has_tag_name((DSIG, "DigestMethod"))
            || !value.has_tag_name((DSIG, "DigestValue"))
        {
            return Err(malformed(
                "Reference: attesi Transforms, DigestMethod, DigestValue",
            ));
        }
        let listed: Vec<Node<'a, 'i>> = elements(*transforms).collect();
        let algorithms: Vec<&str> = listed
            .iter()
            .map(|t| match t.has_tag_name((DSIG, "Transform")) {
                true => t.attribute("Algorithm").unwrap_or_default(),
                false => "",
            })
            .collect();
        if algorithms != profile.transforms {
            return Err(malformed(format!(
                "trasformazioni non ammesse: {}",
                algorithms.join(" ")
            )));
        }
        if profile.transforms.contains(&ENVELOPED) && !sig.ancestors().skip(1).any(|a| a == target)
        {
            return Err(malformed("la firma non è dentro l'elemento firmato"));
        }
        let prefixes = match listed.last() {
            Some(t) if algorithms.last() == Some(&EXC_C14N) => exc_c14n(*t)?,
            _ => Vec::new(),
        };
        Ok(Reference {
            id: id.to_string(),
            target,
            digest: digest_algorithm(method.attribute("Algorithm").unwrap_or_default())?,
            expected: base64(&compact_text(*value)?)?,
            prefixes,
        })
    }

    fn as_received(&self) -> Result<&libxml::tree::Document, DsigError> {
        self.as_received
            .get_or_init(|| parse(self.xml))
            .as_ref()
            .map_err(Clone::clone)
    }

    /// libxml2's parse of the text without `sig` (the enveloped-signature transform).
    /// Cutting the text rather than unlinking the node from a libxml2 tree: an unlinked
    /// subtree is freed neither by the document nor, safely, by the wrapper — every
    /// verified signature leaked a few kilobytes (found by `ops/load/mixed.sh`). Elements
    /// before the signature keep their position, and the signed element encloses it.
    fn without(&self, sig: Node<'_, '_>) -> Result<libxml::tree::Document, DsigError> {
        let range = sig.range();
        let (before, after) = (
            self.xml
                .get(..range.start)
                .ok_or_else(|| malformed("firma"))?,
            self.xml
                .get(range.end..)
                .ok_or_else(|| malformed("firma"))?,
        );
        parse(&format!("{before}{after}"))
    }
}

/// `SignedInfo` and the decoded `SignatureValue` of a signature of exactly the shape
/// `SignedInfo`, `SignatureValue`, `KeyInfo`?.
fn signature_parts<'a, 'i>(sig: Node<'a, 'i>) -> Result<(Node<'a, 'i>, Vec<u8>), DsigError> {
    if !sig.has_tag_name((DSIG, "Signature")) {
        return Err(malformed("elemento Signature"));
    }
    let parts: Vec<Node<'a, 'i>> = elements(sig).collect();
    let (signed_info, value) = match parts.as_slice() {
        [s, v] => (*s, *v),
        [s, v, k] if k.has_tag_name((DSIG, "KeyInfo")) => (*s, *v),
        _ => {
            return Err(malformed(
                "Signature: ammessi solo SignedInfo, SignatureValue e KeyInfo",
            ));
        }
    };
    if !signed_info.has_tag_name((DSIG, "SignedInfo"))
        || !value.has_tag_name((DSIG, "SignatureValue"))
    {
        return Err(malformed(
            "Signature: ammessi solo SignedInfo, SignatureValue e KeyInfo",
        ));
    }
    Ok((signed_info, base64(&compact_text(value)?)?))
}

/// The exclusive C14N 1.0 (without comments) method `n` names, and its
/// `InclusiveNamespaces` prefix list.
fn exc_c14n(n: Node<'_, '_>) -> Result<Vec<String>, DsigError> {
    let algorithm = n.attribute("Algorithm").unwrap_or_default();
    if algorithm != EXC_C14N {
        return Err(malformed(format!(
            "canonicalizzazione non supportata: {algorithm}"
        )));
    }
    let mut out = Vec::new();
    for c in elements(n) {
        if !c.has_tag_name((EXC_C14N, "InclusiveNamespaces")) {
            return Err(malformed("parametri di canonicalizzazione"));
        }
        out.extend(
            c.attribute("PrefixList")
                .unwrap_or_default()
                .split_whitespace()
                .map(str::to_string),
        );
    }
    Ok(out)
}

fn signature_algorithm(
    uri: &str,
) -> Result<&'static dyn signature::VerificationAlgorithm, DsigError> {
    match uri {
        "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => {
            Ok(&signature::RSA_PKCS1_2048_8192_SHA256)
        }
        "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => {
            Ok(&signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY)
        }
        other => Err(malformed(format!("firma non supportata: {other}"))),
    }
}

fn digest_algorithm(uri: &str) -> Result<&'static digest::Algorithm, DsigError> {
    match uri {
        "http://www.w3.org/2001/04/xmlenc#sha256" => Ok(&digest::SHA256),
        "http://www.w3.org/2000/09/xmldsig#sha1" => Ok(&digest::SHA1_FOR_LEGACY_USE_ONLY),
        other => Err(malformed(format!("digest non supportato: {other}"))),
    }
}

/// The element's position among the document's elements, in document order.
fn index_of(n: Node<'_, '_>) -> usize {
    n.document()
        .descendants()
        .filter(Node::is_element)
        .position(|e| e == n)
        .expect("a node of its own document")
}

fn parse(xml: &str) -> Result<libxml::tree::Document, DsigError> {
    libxml::parser::Parser::default()
        .parse_string(xml)
        .map_err(|e| malformed(format!("{e:?}")))
}

/// Exclusive C14N 1.0 (without comments) of the `index`-th element of `doc`.
fn canonicalize(
    doc: &libxml::tree::Document,
    index: usize,
    prefixes: Vec<String>,
) -> Result<String, DsigError> {
    let root = doc
        .get_root_element()
        .ok_or_else(|| malformed("documento vuoto"))?;
    let mut node = nth_element(root, index).ok_or_else(|| malformed("elemento firmato"))?;
    node.canonicalize(CanonicalizationOptions {
        mode: CanonicalizationMode::ExclusiveCanonical1_0,
        with_comments: false,
        inclusive_ns_prefixes: prefixes,
    })
    .map_err(|()| malformed("canonicalizzazione"))
}

/// The `index`-th element below `root` (itself 0) in document order.
fn nth_element(root: libxml::tree::Node, index: usize) -> Option<libxml::tree::Node> {
    let mut stack = vec![root];
    let mut seen = 0;
    while let Some(n) = stack.pop() {
        if seen == index {
            return Some(n);
        }
        seen += 1;
        let mut children = n.get_child_elements();
        children.reverse();
        stack.extend(children);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_resolve_by_one_namespace_strict_rule() {
        let xml = r#"<r xmlns:x="urn:x" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"><a x:ID="decoy" ID="_a1"/><b ID="_a1"/><c wsu:Id="t" ID="t"/><d x:Id="w"/></r>"#;
        let doc = roxmltree::Document::parse(xml).unwrap();
        // `_a1` is carried by two elements: refused, whichever attribute names it.
        assert!(resolve(&doc, "_a1", IdAttribute::Saml).is_err());
        // One element with the value in both ID and wsu:Id (as SIST's assertion): one carrier.
        assert_eq!(
            resolve(&doc, "t", IdAttribute::Wsu)
                .unwrap()
                .tag_name()
                .name(),
            "c"
        );
        assert!(resolve(&doc, "t", IdAttribute::Saml).is_ok());
        // A value only in a foreign-namespace attribute is not the profile's id.
        assert!(resolve(&doc, "w", IdAttribute::Wsu).is_err());
        assert!(resolve(&doc, "decoy", IdAttribute::Saml).is_err());
    }

    #[test]
    fn leaf_text_is_whole_and_refuses_comments() {
        let doc = roxmltree::Document::parse(
            "<r><a>AB&amp;C<![CDATA[D]]></a><b>X<!---->Y</b><c>X<?p?>Y</c><d>X<e/></d></r>",
        )
        .unwrap();
        let el = |name: &str| doc.descendants().find(|n| n.has_tag_name(name)).unwrap();
        assert_eq!(leaf_text(el("a")).unwrap(), "AB&CD");
        for name in ["b", "c", "d"] {
            assert!(leaf_text(el(name)).is_err(), "{name}");
        }
    }

    #[test]
    fn elements_are_found_by_position_in_both_trees() {
        let xml = "<r><a><b/></a><c/><!-- x --><d/></r>";
        let doc = roxmltree::Document::parse(xml).unwrap();
        let parsed = parse(xml).unwrap();
        for name in ["r", "a", "b", "c", "d"] {
            let n = doc.descendants().find(|n| n.has_tag_name(name)).unwrap();
            let root = parsed.get_root_element().unwrap();
            assert_eq!(nth_element(root, index_of(n)).unwrap().get_name(), name);
        }
    }
}
