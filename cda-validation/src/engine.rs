//! The validator's stages in the gateway's order: XSD, then schematron, then
//! vocabulary (skipped for the Sistema TS issuer). Rules and code lists are loaded
//! once from a folder a region can replace with newer versions:
//!
//! ```text
//! <rules>/schemas/registry.json          templateId root (and system) → schematron file
//! <rules>/schemas/schema/<typeId ext>/   XSD sets
//! <rules>/schemas/schematron/*.sch       rule files
//! <rules>/schemas/engine.json            optional: the FHIR engine's structure maps
//! <rules>/terminology/dictionary.json    managed code systems (+ <oid>.csv lists)
//! ```
//!
//! A schematron is found by template root **and system** (`SchematronRepo.findByRootAndSystem`,
//! it-fse-gtw-validator @ a57ca551): the Sistema TS issuer's validation looks for the
//! root's `TS` rules and, without them, is refused with `<root>|TS` in the text. A valid
//! document whose template the engine does not map is refused (`getStructureObjectID`);
//! without `engine.json` (the engines are not in the published data) every template is
//! taken as mapped.

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
    /// By (template root, system): `None` for every issuer but the Sistema TS's `TS`.
    schematrons: HashMap<(String, Option<String>), Arc<Schematron>>,
    terminology: Terminology,
    engine: Option<Engine>,
}

/// The latest FHIR engine (`EngineETY`): its id and, per structure map, the template
/// roots it serves (`{"id": …, "roots": [{"root": [...], "oid": …}]}`).
#[derive(Debug)]
struct Engine {
    id: String,
    roots: Vec<Vec<String>>,
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
            let system = entry["system"].as_str().map(str::to_string);
            schematrons.insert((root.to_string(), system), rules);
        }
        Ok(Self {
            xsd: SchemaSets::load(&schemas.join("schema"))?,
            schematrons,
            terminology: Terminology::load(&dir.join("terminology"))?,
            engine: load_engine(&schemas.join("engine.json"))?,
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
        let system = ts_issuer.then(|| "TS".to_string());
        let Some(rules) = self.schematrons.get(&(root.clone(), system.clone())) else {
            // `SchematronValidatorSingleton.identifier`: the root, `|TS` for the system.
            let id = match system {
                Some(s) => format!("{root}|{s}"),
                None => root,
            };
            return ValidatorVerdict::Semantic(format!(
                "Schematron with template id root {id} not found on database."
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
        if let Some(engine) = &self.engine
            && !engine.roots.iter().any(|m| m.contains(&root))
        {
            return ValidatorVerdict::Unmapped(format!(
                "Nessuna mappa con id {root} è stata trovata nell'engine {}",
                engine.id
            ));
        }
        ValidatorVerdict::Pass { warnings: reports }
    }

    /// Codes of the failed asserts of a CDA (for tests and differential checks).
    pub fn failed_assertions(&self, xml: &str, facts: &CdaFacts) -> Option<Vec<String>> {
        let key = (facts.template_root.clone()?, None);
        let rules = self.schematrons.get(&key)?;
        let doc = roxmltree::Document::parse(xml).ok()?;
        Some(rules.run(&doc).failed.into_iter().map(|f| f.code).collect())
    }
}

/// The engine file, when there is one.
fn load_engine(path: &Path) -> Result<Option<Engine>, Error> {
    if !path.exists() {
        return Ok(None);
    }
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    let doc: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| Error::malformed(path, e))?;
    let id = doc["id"]
        .as_str()
        .ok_or_else(|| Error::malformed(path, "no \"id\""))?
        .to_string();
    let roots = doc["roots"]
        .as_array()
        .ok_or_else(|| Error::malformed(path, "no \"roots\""))?
        .iter()
        .map(|m| {
            m["root"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r.as_str().map(str::to_string))
                .collect()
        })
        .collect();
    Ok(Some(Engine { id, roots }))
}

impl CdaValidator for Rules {
    fn validate(&self, xml: &str, facts: &CdaFacts, ts_issuer: bool) -> ValidatorVerdict {
        self.judge(xml, facts, ts_issuer)
    }
}
