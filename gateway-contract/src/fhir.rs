//! FHIR bundles as the gateway reads them on `/documents/fhir-validation` and
//! `/fhir-documents` (dispatcher `main` @ de019846: `AbstractCTL.extractFHIR`,
//! `validateJWTFhirDiretto`, `FhirUtility.getWorkflowInstanceId`; `docs/gateway-fidelity.md`).

use aws_lc_rs::digest;
use serde_json::Value;

/// The LOINC code system the token's `resource_hl7_type` names.
const LOINC: &str = "2.16.840.1.113883.6.1";

/// What the gateway reads from a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFacts {
    /// `type.coding[0].code` of the first `Composition` entry.
    pub composition_type: Option<String>,
    /// `identifier[*].value` of every `Patient` entry.
    pub patient_ids: Vec<String>,
    /// `Bundle.identifier` (`system`, `value`).
    pub identifier: (Option<String>, Option<String>),
}

/// A bundle that is not a JSON object of `resourceType` `Bundle`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct NotABundle(pub String);

impl BundleFacts {
    /// Reads the facts of a bundle's JSON text.
    pub fn parse(text: &str) -> Result<Self, NotABundle> {
        let bundle: Value =
            serde_json::from_str(text).map_err(|e| NotABundle(format!("JSON: {e}")))?;
        if bundle.get("resourceType").and_then(Value::as_str) != Some("Bundle") {
            return Err(NotABundle("resourceType is not Bundle".into()));
        }
        let resources = || {
            bundle
                .get("entry")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("resource"))
        };
        let of_type = |t: &'static str| {
            resources().filter(move |r| r.get("resourceType").and_then(Value::as_str) == Some(t))
        };
        let composition_type = of_type("Composition")
            .next()
            .and_then(|c| c.pointer("/type/coding/0/code"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let patient_ids = of_type("Patient")
            .flat_map(|p| {
                p.get("identifier")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter_map(|i| i.get("value").and_then(Value::as_str))
                    .map(str::to_string)
            })
            .collect();
        let field = |k: &str| {
            bundle
                .pointer(&format!("/identifier/{k}"))
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ok(Self {
            composition_type,
            patient_ids,
            identifier: (field("system"), field("value")),
        })
    }

    /// Whether the token's `resource_hl7_type` names the composition's type: the whole
    /// claim is `('<code>^^<LOINC>')`, or its part between the first two characters and
    /// `^^` is the code.
    pub fn type_matches(&self, resource_hl7_type: &str) -> bool {
        let Some(code) = &self.composition_type else {
            return false;
        };
        resource_hl7_type == format!("('{code}^^{LOINC}')")
            || resource_hl7_type
                .find("^^")
                .and_then(|end| resource_hl7_type.get(2..end))
                == Some(code.as_str())
    }

    /// Whether a `Patient.identifier` is the token's patient: both cut at the first `^`
    /// and `&`, trimmed, compared ignoring case.
    pub fn has_patient(&self, person_id: &str) -> bool {
        let cf = fiscal_part(person_id);
        self.patient_ids
            .iter()
            .any(|id| fiscal_part(id).eq_ignore_ascii_case(cf))
    }

    /// A new workflowInstanceId: `[system.]<SHA-256 hex of the identifier's value>.<10
    /// random hex>^^^^urn:ihe:iti:xdw:2013:workflowInstanceId`; `None` without a value.
    pub fn new_workflow_instance_id(&self) -> Option<String> {
        let value = self.identifier.1.as_deref()?;
        let hash = hex::encode(digest::digest(&digest::SHA256, value.as_bytes()).as_ref());
        let random = uuid::Uuid::new_v4().simple().to_string();
        let system = self
            .identifier
            .0
            .as_deref()
            .map(|s| format!("{s}."))
            .unwrap_or_default();
        Some(format!(
            "{system}{hash}.{}^^^^urn:ihe:iti:xdw:2013:workflowInstanceId",
            &random[..10]
        ))
    }
}

/// The fiscal code of a `person_id` or an identifier: before the first `^`, then before
/// the first `&`, trimmed.
pub fn fiscal_part(id: &str) -> &str {
    let id = id.split('^').next().unwrap_or_default();
    id.split('&').next().unwrap_or_default().trim()
}

/// Base64 of the SHA-256 of the bundle text: the key of its validation record.
pub fn validation_hash(bundle: &str) -> String {
    use base64::Engine;
    let hash = digest::digest(&digest::SHA256, bundle.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(hash.as_ref())
}

/// The first balanced `{…}` of a text that names a `resourceType` and a `Bundle`: how
/// the gateway finds a bundle written in a PDF's text (`FhirUtility.extractJsonFromPdf`).
pub fn first_bundle_in_text(text: &str) -> Option<&str> {
    let start = text.find('{')?;
    let mut depth = 0usize;
    for (i, c) in text[start..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    let block = &text[start..=start + i];
                    return (block.contains("\"resourceType\"") && block.contains("Bundle"))
                        .then_some(block);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUNDLE: &str = r#"{"resourceType":"Bundle","type":"document",
        "identifier":{"system":"urn:ietf:rfc:3986","value":"urn:uuid:1"},
        "entry":[{"resource":{"resourceType":"Composition","type":{"coding":[{"code":"11502-2"}]}}},
                 {"resource":{"resourceType":"Patient","identifier":[{"value":"prvpvl00a01h501k"}]}}]}"#;

    #[test]
    fn the_facts_the_gateway_checks_against_the_token() {
        let f = BundleFacts::parse(BUNDLE).unwrap();
        assert!(f.type_matches("('11502-2^^2.16.840.1.113883.6.1')"));
        assert!(!f.type_matches("('11488-4^^2.16.840.1.113883.6.1')"));
        assert!(!f.type_matches("11502-2"));
        assert!(f.has_patient("PRVPVL00A01H501K^^^&2.16.840.1.113883.2.9.4.3.2&ISO"));
        assert!(!f.has_patient("RSSMRA80A01H501U"));
        let wii = f.new_workflow_instance_id().unwrap();
        assert!(wii.starts_with("urn:ietf:rfc:3986."), "{wii}");
        assert!(wii.ends_with("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId"));
    }

    #[test]
    fn only_bundles_are_read() {
        assert!(BundleFacts::parse(r#"{"resourceType":"Patient"}"#).is_err());
        assert!(BundleFacts::parse("not json").is_err());
    }

    #[test]
    fn a_bundle_is_found_in_text_by_its_braces() {
        let text = format!("Referto\n{BUNDLE}\nfine {{x}}");
        assert_eq!(first_bundle_in_text(&text), Some(BUNDLE));
        assert_eq!(first_bundle_in_text("{\"a\": {}}"), None);
        assert_eq!(first_bundle_in_text("{ unbalanced"), None);
    }
}
