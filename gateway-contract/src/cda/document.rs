//! What the gateway reads from a CDA before validating it.

use aws_lc_rs::digest;

use super::CdaError;

const HL7: &str = "urn:hl7-org:v3";

/// Facts of a CDA the gateway compares with the JWT and uses for its ids.
#[derive(Debug, Clone)]
pub struct CdaFacts {
    /// `ClinicalDocument/code/@code`.
    pub code: String,
    /// `ClinicalDocument/code/@codeSystem`.
    pub code_system: String,
    /// First `ClinicalDocument/id/@root`.
    pub id_root: String,
    /// First `ClinicalDocument/id/@extension`.
    pub id_extension: String,
    /// `recordTarget/patientRole/id` as (root, extension).
    pub patient_ids: Vec<(String, String)>,
    /// `typeId/@extension` (schema version).
    pub type_id_extension: Option<String>,
    /// First `templateId/@root` of the document.
    pub template_root: Option<String>,
    /// Whether the document has an `id` element (the gateway's workflowInstanceId needs one).
    pub has_id: bool,
    /// Whether it has a `code` element (the document type the token is checked against).
    pub has_code: bool,
}

// === impl CdaFacts ===

impl CdaFacts {
    /// Reads the CDA's facts as the dispatcher's Jsoup does: a text that is not
    /// well-formed, or declares a document type, is read by its tags (no entity is
    /// ever expanded), and the validator refuses it later.
    pub fn parse(xml: &str) -> Result<Self, CdaError> {
        let doc = roxmltree::Document::parse_with_options(
            xml,
            roxmltree::ParsingOptions {
                allow_dtd: false,
                ..Default::default()
            },
        );
        let doc = match doc {
            Ok(d) => d,
            // The gateway reads the CDA with Jsoup, which takes any text: a document that is
            // not well-formed still has its facts read, and the validator refuses it later
            // (review S19). So is one with a DOCTYPE, which Jsoup keeps as a node and the
            // validator's parser refuses (`disallow-doctype-decl`).
            Err(_) => return Ok(lenient(xml)),
        };
        let root = doc.root_element();
        if !root.has_tag_name((HL7, "ClinicalDocument")) {
            return Err(CdaError::Xml(
                "the root element is not hl7:ClinicalDocument".into(),
            ));
        }
        let child = |name: &str| root.children().find(|n| n.has_tag_name((HL7, name)));
        // As Jsoup's `select("code")` and `select("id")`: the first such element anywhere —
        // unprefixed, so in the document's HL7 namespace (Jsoup keeps a prefix in the name:
        // `lab:code` is not `code`).
        let named = |n: &roxmltree::Node<'_, '_>, name: &str| n.has_tag_name((HL7, name));
        let first = |name: &str| root.descendants().find(|n| named(n, name));
        let (code, id) = (first("code"), first("id"));
        let attr =
            |n: roxmltree::Node<'_, '_>, a: &str| n.attribute(a).unwrap_or_default().to_string();
        let attr_of =
            |n: Option<roxmltree::Node<'_, '_>>, a: &str| n.map(|n| attr(n, a)).unwrap_or_default();
        // `patientRole > id`, wherever the patientRole is.
        let patient_ids = root
            .descendants()
            .filter(|n| named(n, "patientRole"))
            .flat_map(|pr| pr.children().filter(|n| named(n, "id")))
            .map(|n| (attr(n, "root"), attr(n, "extension")))
            .collect();
        Ok(Self {
            code: attr_of(code, "code"),
            code_system: attr_of(code, "codeSystem"),
            id_root: attr_of(id, "root"),
            id_extension: attr_of(id, "extension"),
            has_id: id.is_some(),
            has_code: code.is_some(),
            patient_ids,
            type_id_extension: child("typeId")
                .and_then(|n| n.attribute("extension"))
                .map(str::to_owned),
            template_root: child("templateId")
                .and_then(|n| n.attribute("root"))
                .map(str::to_owned),
        })
    }

    /// The `resource_hl7_type` a JWT must carry for this document.
    pub fn resource_hl7_type(&self) -> String {
        format!("('{}^^{}')", self.code, self.code_system)
    }

    /// The gateway's workflowInstanceId for this document with a fresh random part.
    pub fn new_workflow_instance_id(&self) -> String {
        let ext =
            hex::encode(digest::digest(&digest::SHA256, self.id_extension.as_bytes()).as_ref());
        let random = uuid::Uuid::new_v4().simple().to_string();
        format!(
            "{}.{ext}.{}^^^^urn:ihe:iti:xdw:2013:workflowInstanceId",
            self.id_root,
            &random[..10]
        )
    }
}

/// The facts of a text that is not well-formed XML, read tag by tag as a lenient HTML-style
/// parser reads them: the first `id` and `code` tags, the `id` tags inside `patientRole`.
fn lenient(xml: &str) -> CdaFacts {
    let tags = tags(xml);
    let first = |name: &str| tags.iter().find(|t| t.name == name);
    let value = |t: Option<&Tag<'_>>, a: &str| t.and_then(|t| t.attr(a)).unwrap_or_default();
    let (id, code) = (first("id"), first("code"));
    let mut patient_ids = Vec::new();
    let mut in_patient = 0usize;
    for t in &tags {
        match (t.name, t.closing) {
            ("patientRole", false) => in_patient += 1,
            ("patientRole", true) => in_patient = in_patient.saturating_sub(1),
            ("id", false) if in_patient > 0 => {
                patient_ids.push((value(Some(t), "root"), value(Some(t), "extension")))
            }
            _ => {}
        }
    }
    CdaFacts {
        code: value(code, "code"),
        code_system: value(code, "codeSystem"),
        id_root: value(id, "root"),
        id_extension: value(id, "extension"),
        patient_ids,
        type_id_extension: first("typeId").and_then(|t| t.attr("extension")),
        template_root: first("templateId").and_then(|t| t.attr("root")),
        has_id: id.is_some(),
        has_code: code.is_some(),
    }
}

/// One tag of a text read leniently.
struct Tag<'a> {
    name: &'a str,
    closing: bool,
    attributes: &'a str,
}

impl Tag<'_> {
    /// The value of `name="…"` (or single quotes).
    fn attr(&self, name: &str) -> Option<String> {
        let mut rest = self.attributes;
        while let Some(at) = rest.find(name) {
            let after = rest[at + name.len()..].trim_start();
            let boundary = at == 0 || rest[..at].ends_with(char::is_whitespace);
            if boundary && let Some(v) = after.strip_prefix('=') {
                let v = v.trim_start();
                let quote = v.chars().next().filter(|q| *q == '"' || *q == '\'')?;
                let v = &v[1..];
                return Some(v[..v.find(quote)?].to_string());
            }
            rest = &rest[at + name.len()..];
        }
        None
    }
}

/// The tags of a text, in order, names as written.
fn tags(xml: &str) -> Vec<Tag<'_>> {
    xml.split('<')
        .skip(1)
        .filter_map(|chunk| {
            let body = &chunk[..chunk.find('>').unwrap_or(chunk.len())];
            let (closing, body) = match body.strip_prefix('/') {
                Some(b) => (true, b),
                None => (false, body),
            };
            let end = body
                .find(|c: char| c.is_whitespace() || c == '/')
                .unwrap_or(body.len());
            // Kept with its prefix, as Jsoup keeps it (`lab:code` is not `code`).
            let name = &body[..end];
            let valid = !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_alphanumeric() || c == '_' || c == ':');
            valid.then_some(Tag {
                name,
                closing,
                attributes: &body[end..],
            })
        })
        .collect()
}

/// Hash identifying "the same CDA" between validation and publication: base64
/// SHA-256 of the text with the `legalAuthenticator` element removed (signing
/// fills it in after validation).
pub fn validation_hash(xml: &str) -> String {
    use base64::Engine;
    let mut text = xml.to_string();
    if let (Some(start), Some(end)) = (
        text.find("<legalAuthenticator"),
        text.find("</legalAuthenticator>"),
    ) && end > start
    {
        text.replace_range(start..end + "</legalAuthenticator>".len(), "");
    }
    base64::engine::general_purpose::STANDARD
        .encode(digest::digest(&digest::SHA256, text.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_of_a_minimal_cda() {
        let xml = r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/><templateId root="2.16.840.1.113883.2.9.10.1.1"/><id root="2.16.840.1.113883.2.9.2.160.4.4" extension="X1"/><code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/><recordTarget><patientRole><id root="2.16.840.1.113883.2.9.4.3.2" extension="RSSMRA22A01A399Z"/></patientRole></recordTarget></ClinicalDocument>"#;
        let f = CdaFacts::parse(xml).unwrap();
        assert_eq!(f.resource_hl7_type(), "('11502-2^^2.16.840.1.113883.6.1')");
        assert_eq!(f.patient_ids[0].1, "RSSMRA22A01A399Z");
        assert_eq!(
            f.template_root.as_deref(),
            Some("2.16.840.1.113883.2.9.10.1.1")
        );
        let wii = f.new_workflow_instance_id();
        assert!(wii.starts_with("2.16.840.1.113883.2.9.2.160.4.4."));
        assert!(wii.ends_with("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId"));
        let external = r#"<!DOCTYPE c [<!ENTITY e SYSTEM "file:///etc/passwd">]><ClinicalDocument><id root="&e;"/></ClinicalDocument>"#;
        let f = CdaFacts::parse(external).unwrap();
        assert_eq!(
            f.id_root, "&e;",
            "read by its tags, the entity never expanded"
        );
    }

    #[test]
    fn a_document_that_is_not_well_formed_still_has_its_facts() {
        let broken = r#"<ClinicalDocument xmlns="urn:hl7-org:v3"><id root="1.2" extension="X"/><code code="11502-2" codeSystem="2.16.840.1.113883.6.1"/><recordTarget><patientRole><id root="2.16.840.1.113883.2.9.4.3.2" extension="RSSMRA22A01A399Z"/></patientRole></recordTarget><unclosed>"#;
        let f = CdaFacts::parse(broken).unwrap();
        assert!(f.has_id && f.has_code);
        assert_eq!((f.id_root.as_str(), f.id_extension.as_str()), ("1.2", "X"));
        assert_eq!(f.resource_hl7_type(), "('11502-2^^2.16.840.1.113883.6.1')");
        assert_eq!(
            f.patient_ids,
            [(
                "2.16.840.1.113883.2.9.4.3.2".into(),
                "RSSMRA22A01A399Z".into()
            )]
        );
        let none = CdaFacts::parse("<ClinicalDocument><title>x</title><broken").unwrap();
        assert!(!none.has_id && !none.has_code && none.patient_ids.is_empty());
    }

    #[test]
    fn legal_authenticator_does_not_change_the_hash() {
        let a = "<a><legalAuthenticator>x</legalAuthenticator><b/></a>";
        let b = "<a><legalAuthenticator>y signed</legalAuthenticator><b/></a>";
        assert_eq!(validation_hash(a), validation_hash(b));
        assert_ne!(validation_hash(a), validation_hash("<a><b/></a>x"));
    }
}
