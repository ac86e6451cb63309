//! Terminology checks (reference §6), against code lists loaded from a folder.
//!
//! The folder holds `dictionary.json` (the code systems the gateway manages) and one
//! `<oid>.csv` per system (`version,code,description,release_date`). A managed system
//! whose list is absent is skipped, as the gateway skips systems not in its catalogue.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use roxmltree::Document;

use crate::Error;

const HL7: &str = "urn:hl7-org:v3";

/// Observation codes whose sibling `value` takes another code system.
const VALUE_SET_REWRITE: [(&str, &str); 6] = [
    ("89261-2", "2.16.840.1.113883.2.9.10.1.4.3.4.5"),
    ("33999-4", "2.16.840.1.113883.2.9.77.22.11.7"),
    ("75246-9", "2.16.840.1.113883.2.9.77.22.11.15"),
    ("72166-2", "1.3.6.1.4.1.12009.10.1.1356"),
    ("74204-9", "1.3.6.1.4.1.12009.10.1.1694"),
    ("45404-1", "1.3.6.1.4.1.12009.10.1.3342"),
];

/// The loaded code lists.
/// A CDA the vocabulary stage refuses, in the gateway's words (`/msg/vocabulary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal(pub String);

#[derive(Debug, Default)]
pub struct Terminology {
    systems: HashMap<String, CodeSystem>,
}

#[derive(Debug, Default)]
struct CodeSystem {
    whitelist: bool,
    /// Version → (release date, codes); `None` when the list is absent.
    versions: Option<HashMap<String, (String, HashSet<String>)>>,
}

/// A coded value found in the document.
#[derive(Debug, Clone)]
struct Coded {
    code: String,
    system: String,
    version: Option<String>,
}

// === impl Terminology ===

impl Terminology {
    /// Loads `dictionary.json` and the lists beside it.
    pub fn load(dir: &Path) -> Result<Self, Error> {
        let path = dir.join("dictionary.json");
        let text = std::fs::read_to_string(&path).map_err(|e| Error::read(&path, e))?;
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| Error::malformed(&path, e))?;
        let entries = json["dictionaries"]
            .as_array()
            .ok_or_else(|| Error::malformed(&path, "no dictionaries"))?;
        let mut systems = HashMap::new();
        for e in entries {
            if e["deleted"].as_bool() == Some(true) {
                continue;
            }
            let Some(oid) = e["system"].as_str() else {
                continue;
            };
            let csv = dir.join(format!("{oid}.csv"));
            let versions = if csv.is_file() {
                Some(load_csv(&csv)?)
            } else {
                None
            };
            systems.insert(
                oid.to_string(),
                CodeSystem {
                    whitelist: e["whitelist"].as_bool() == Some(true),
                    versions,
                },
            );
        }
        Ok(Self { systems })
    }

    /// Number of managed code systems.
    pub fn len(&self) -> usize {
        self.systems.len()
    }

    /// Whether no code system is managed.
    pub fn is_empty(&self) -> bool {
        self.systems.is_empty()
    }

    /// Checks every coded element; `Err` carries the gateway's message.
    pub fn check(&self, doc: &Document<'_>) -> Result<(), Refusal> {
        let coded = collect(doc);
        let relevant: Vec<&Coded> = coded
            .iter()
            .filter(|c| !self.systems.get(&c.system).is_some_and(|s| s.whitelist))
            .collect();
        let blocked: Vec<&str> = dedup(
            relevant
                .iter()
                .filter(|c| blocklisted(&c.system))
                .map(|c| c.system.as_str()),
        );
        if !blocked.is_empty() {
            return Err(Refusal(format!(
                "È stato trovato almeno un dizionario presente in Blocklist: [{}]",
                blocked.join(", ")
            )));
        }
        let mut unmanaged = Vec::new();
        // Keyed by the version the CDA declares: a null one is printed as nothing.
        let mut unknown: BTreeMap<(String, Option<String>), Vec<String>> = BTreeMap::new();
        for c in relevant {
            let Some(versions) = self
                .systems
                .get(&c.system)
                .and_then(|s| s.versions.as_ref())
            else {
                continue;
            };
            let version = match &c.version {
                Some(v) => v.clone(),
                None => latest(versions),
            };
            let Some((_, codes)) = versions.get(&version) else {
                unmanaged.push(format!("{} v{version}", c.system));
                continue;
            };
            if !codes.contains(&c.code) {
                let slot = unknown
                    .entry((c.system.clone(), c.version.clone()))
                    .or_default();
                if !slot.contains(&c.code) {
                    slot.push(c.code.clone());
                }
            }
        }
        let unmanaged = dedup(unmanaged.iter().map(String::as_str));
        if !unmanaged.is_empty() {
            return Err(Refusal(format!(
                "È stata trovata almeno una versione non gestita di un dizionario: [{}]",
                unmanaged.join(", ")
            )));
        }
        if !unknown.is_empty() {
            let parts: Vec<String> = unknown
                .iter()
                .map(|((s, v), codes)| {
                    // Live (review §2a): `[CodeSystem: 2.16.840.1.113883.6.103, Codes: X401]`.
                    let v = v.as_deref().map(|v| format!(" v{v}")).unwrap_or_default();
                    format!("[CodeSystem: {s}{v}, Codes: {}]", codes.join(", "))
                })
                .collect();
            return Err(Refusal(format!(
                "Almeno uno dei seguenti vocaboli non è censito: {}",
                parts.join(", ")
            )));
        }
        Ok(())
    }
}

fn dedup<'a>(items: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen = HashSet::new();
    items.filter(|i| seen.insert(*i)).collect()
}

fn blocklisted(oid: &str) -> bool {
    oid.split('.').any(|seg| seg == "999" || seg == "9999")
}

fn latest(versions: &HashMap<String, (String, HashSet<String>)>) -> String {
    versions
        .iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.0.cmp(a.0)))
        .map(|(v, _)| v.clone())
        .unwrap_or_default()
}

/// Every `@codeSystem` of the document, with the value-set rewrite applied.
fn collect(doc: &Document<'_>) -> Vec<Coded> {
    let mut rewritten: HashMap<roxmltree::NodeId, &str> = HashMap::new();
    for obs in doc
        .descendants()
        .filter(|n| n.has_tag_name((HL7, "observation")))
    {
        let code = obs
            .children()
            .find(|c| c.has_tag_name((HL7, "code")))
            .and_then(|c| c.attribute("code"));
        if let Some(target) =
            code.and_then(|code| VALUE_SET_REWRITE.iter().find(|(c, _)| *c == code))
        {
            for value in obs.children().filter(|c| c.has_tag_name((HL7, "value"))) {
                rewritten.insert(value.id(), target.1);
            }
        }
    }
    doc.descendants()
        .filter(|n| n.is_element())
        .filter_map(|n| {
            let system = rewritten
                .get(&n.id())
                .copied()
                .or_else(|| n.attribute("codeSystem"))?;
            Some(Coded {
                code: n.attribute("code").unwrap_or_default().to_string(),
                system: system.to_string(),
                version: n.attribute("codeSystemVersion").map(str::to_owned),
            })
        })
        .collect()
}

/// Reads `version,code,description,release_date` rows (quoted fields allowed).
fn load_csv(path: &Path) -> Result<HashMap<String, (String, HashSet<String>)>, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::read(path, e))?;
    let mut out: HashMap<String, (String, HashSet<String>)> = HashMap::new();
    for line in text.lines().skip(1) {
        let fields = split_csv(line);
        if fields.len() < 2 {
            continue;
        }
        let release = fields.get(3).cloned().unwrap_or_default();
        let entry = out.entry(fields[0].clone()).or_default();
        if release > entry.0 {
            entry.0 = release;
        }
        entry.1.insert(fields[1].clone());
    }
    Ok(out)
}

fn split_csv(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => fields.push(std::mem::take(&mut cur)),
            (c, _) => cur.push(c),
        }
    }
    fields.push(cur);
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_and_blocklist() {
        assert_eq!(
            split_csv(r#"01,109002,"ECG, processed",x"#),
            ["01", "109002", "ECG, processed", "x"]
        );
        assert_eq!(
            split_csv(r#""",F,Female,2016"#),
            ["", "F", "Female", "2016"]
        );
        assert!(blocklisted("2.16.840.1.113883.2.9.999.1"));
        assert!(!blocklisted("2.16.840.1.113883.2.9.9991"));
    }
}
