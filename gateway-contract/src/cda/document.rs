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
}

// === impl CdaFacts ===

impl CdaFacts {
    /// Parses the CDA text (DOCTYPE declarations are refused, as the gateway does).
    pub fn parse(xml: &str) -> Result<Self, CdaError> {
        let doc = roxmltree::Document::parse_with_options(
            xml,
            roxmltree::ParsingOptions {
                allow_dtd: false,
                ..Default::default()
            },
        )
        .map_err(|e| CdaError::Xml(e.to_string()))?;
        let root = doc.root_element();
        if !root.has_tag_name((HL7, "ClinicalDocument")) {
            return Err(CdaError::Xml(
                "the root element is not hl7:ClinicalDocument".into(),
            ));
        }
        let child = |name: &str| root.children().find(|n| n.has_tag_name((HL7, name)));
        let code = child("code").ok_or_else(|| CdaError::Xml("no ClinicalDocument/code".into()))?;
        let id = child("id").ok_or_else(|| CdaError::Xml("no ClinicalDocument/id".into()))?;
        let attr =
            |n: roxmltree::Node<'_, '_>, a: &str| n.attribute(a).unwrap_or_default().to_string();
        let patient_ids = root
            .children()
            .filter(|n| n.has_tag_name((HL7, "recordTarget")))
            .flat_map(|rt| {
                rt.children()
                    .filter(|n| n.has_tag_name((HL7, "patientRole")))
            })
            .flat_map(|pr| pr.children().filter(|n| n.has_tag_name((HL7, "id"))))
            .map(|n| (attr(n, "root"), attr(n, "extension")))
            .collect();
        Ok(Self {
            code: attr(code, "code"),
            code_system: attr(code, "codeSystem"),
            id_root: attr(id, "root"),
            id_extension: attr(id, "extension"),
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
        assert!(CdaFacts::parse("<!DOCTYPE x><x/>").is_err());
    }

    #[test]
    fn legal_authenticator_does_not_change_the_hash() {
        let a = "<a><legalAuthenticator>x</legalAuthenticator><b/></a>";
        let b = "<a><legalAuthenticator>y signed</legalAuthenticator><b/></a>";
        assert_eq!(validation_hash(a), validation_hash(b));
        assert_ne!(validation_hash(a), validation_hash("<a><b/></a>x"));
    }
}
