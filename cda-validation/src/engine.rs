//! The validator's stages in the gateway's order: XSD, then schematron, then
//! vocabulary (skipped for the Sistema TS issuer). Rules and code lists are loaded
//! once from a folder a region can replace with newer versions:
//!
//! ```text
//! <rules>/schemas/registry.json          templateId root → schematron file
//! <rules>/schemas/schema/<typeId ext>/   XSD sets
//! <rules>/schemas/schematron/*.sch       rule files
//! <rules>/terminology/dictionary.json    managed code systems (+ <oid>.csv lists)
//! ```

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use crate::Error;
use crate::schematron::Schematron;
use crate::stage::{CdaValidator, ValidatorVerdict};
use crate::vocabulary::Terminology;
use crate::xsd::SchemaSets;
use gateway_contract::cda::CdaFacts;

/// Everything the validator needs, compiled.
#[derive(Debug)]
pub struct Rules {
    xsd: SchemaSets,
    schematrons: HashMap<String, Arc<Schematron>>,
    terminology: Terminology,
}

// === impl Rules ===

impl Rules {
    /// Loads and compiles the whole folder; fails on the first unreadable file.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let schemas = dir.join("schemas");
        let registry_path = schemas.join("registry.json");
        let text =
            std::fs::read_to_string(&registry_path).map_err(|e| Error::read(&registry_path, e))?;
        let registry: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::malformed(&registry_path, e))?;
        let mut compiled: HashMap<String, Arc<Schematron>> = HashMap::new();
        let mut schematrons = HashMap::new();
        for entry in registry["schematron"].as_array().into_iter().flatten() {
            let (Some(root), Some(file)) =
                (entry["template_id_root"].as_str(), entry["file"].as_str())
            else {
                continue;
            };
            let rules = match compiled.get(file) {
                Some(r) => r.clone(),
                None => {
                    let path = schemas.join("schematron").join(file);
                    let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
                    let r = Arc::new(Schematron::compile(&text, file)?);
                    compiled.insert(file.to_string(), r.clone());
                    r
                }
            };
            schematrons.insert(root.to_string(), rules);
        }
        Ok(Self {
            xsd: SchemaSets::load(&schemas.join("schema"))?,
            schematrons,
            terminology: Terminology::load(&dir.join("terminology"))?,
        })
    }

    /// Judges a CDA (already extracted and decoded).
    pub fn judge(&self, xml: &str, facts: &CdaFacts, ts_issuer: bool) -> ValidatorVerdict {
        let extension = facts.type_id_extension.clone().unwrap_or_default();
        match self.xsd.validate(&extension, xml) {
            Err(missing) => return ValidatorVerdict::Syntax(missing.to_string()),
            Ok(errors) if !errors.is_empty() => return ValidatorVerdict::Syntax(errors.join(",")),
            Ok(_) => {}
        }
        let root = facts.template_root.clone().unwrap_or_default();
        let Some(rules) = self.schematrons.get(&root) else {
            return ValidatorVerdict::Semantic(format!(
                "Schematron with template id root {root} not found on database."
            ));
        };
        let doc = match roxmltree::Document::parse(xml) {
            Ok(d) => d,
            Err(_) => return ValidatorVerdict::Syntax(crate::xsd::UNPARSABLE.to_string()),
        };
        let outcome = rules.run(&doc);
        let reports: Vec<String> = outcome
            .reports
            .iter()
            .map(|f| format!("[{}]", f.text))
            .collect();
        if !outcome.failed.is_empty() {
            // Every text is a Java list's `toString()`, bracketed, errors and warnings alike
            // (review S12: the validator's `failedAssert.getText().getContent().toString()`).
            let detail: Vec<String> = outcome
                .failed
                .iter()
                .map(|f| format!("[{}]", f.text))
                .chain(reports)
                .collect();
            return ValidatorVerdict::Semantic(detail.join(","));
        }
        if !ts_issuer && let Err(e) = self.terminology.check(&doc) {
            return ValidatorVerdict::Vocabulary(e.0);
        }
        ValidatorVerdict::Pass { warnings: reports }
    }

    /// Codes of the failed asserts of a CDA (for tests and differential checks).
    pub fn failed_assertions(&self, xml: &str, facts: &CdaFacts) -> Option<Vec<String>> {
        let rules = self.schematrons.get(facts.template_root.as_deref()?)?;
        let doc = roxmltree::Document::parse(xml).ok()?;
        Some(rules.run(&doc).failed.into_iter().map(|f| f.code).collect())
    }
}

impl CdaValidator for Rules {
    fn validate(&self, xml: &str, facts: &CdaFacts, ts_issuer: bool) -> ValidatorVerdict {
        self.judge(xml, facts, ts_issuer)
    }
}
