//! Regional checks. They never block: each finding becomes a local warning.

use std::collections::HashSet;

use hsm::jwt::RawClaims;
use regex::Regex;

use crate::config::{Environment, RegionConfig};
use crate::db::producers::Producer;

/// A finding of a regional check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalWarning {
    /// Bounded name, for metrics.
    pub check: &'static str,
    /// The text appended after `--middlewarewarning--`.
    pub text: String,
}

/// The configured regional checks.
#[derive(Debug, Clone)]
pub struct RegionalChecks {
    document_id: Regex,
    repository_id: Regex,
    test_fiscal_codes: HashSet<String>,
    production: bool,
}

/// What a check may look at.
#[derive(Debug)]
pub struct CheckInput<'a> {
    /// The registered producer.
    pub producer: &'a Producer,
    /// Claims of the producer's token.
    pub claims: Option<&'a RawClaims>,
    /// `requestBody` (or JSON body), parsed.
    pub request: Option<&'a serde_json::Value>,
}

// === impl RegionalChecks ===

impl RegionalChecks {
    /// Builds the checks from the regional profile (patterns validated at start).
    pub fn new(region: &RegionConfig) -> Result<Self, regex::Error> {
        Ok(Self {
            document_id: Regex::new(&region.document_id_pattern)?,
            repository_id: Regex::new(&region.repository_id_pattern)?,
            test_fiscal_codes: region
                .test_fiscal_codes
                .iter()
                .map(|c| c.to_ascii_uppercase())
                .collect(),
            production: region.environment == Environment::Production,
        })
    }

    /// Runs every check; the result is empty when all pass.
    pub fn run(&self, input: &CheckInput<'_>) -> Vec<LocalWarning> {
        let mut out = Vec::new();
        if let Some(claims) = input.claims {
            self.triplet(input.producer, claims, &mut out);
            self.test_patient(claims, &mut out);
        }
        if let Some(req) = input.request {
            self.identifiers(req, &mut out);
        }
        out
    }

    fn triplet(&self, p: &Producer, claims: &RawClaims, out: &mut Vec<LocalWarning>) {
        let sent = (
            claims.string("subject_application_id"),
            claims.string("subject_application_vendor"),
            claims.string("subject_application_version"),
        );
        // Only where the token declares an application (the bearer token never does).
        if sent.0.is_none() && sent.1.is_none() && sent.2.is_none() {
            return;
        }
        let registered = (
            &p.application_id,
            &p.application_vendor,
            &p.application_version,
        );
        let differs = sent.0.as_deref() != Some(registered.0.as_str())
            || sent.1.as_deref() != Some(registered.1.as_str())
            || sent.2.as_deref() != Some(registered.2.as_str());
        if differs {
            out.push(LocalWarning {
                check: "application_triplet",
                text: format!(
                    "[MW-APP] Applicativo dichiarato nel JWT ({}/{}/{}) diverso da quello registrato ({}/{}/{})",
                    sent.0.unwrap_or_default(),
                    sent.1.unwrap_or_default(),
                    sent.2.unwrap_or_default(),
                    registered.0,
                    registered.1,
                    registered.2
                ),
            });
        }
    }

    fn test_patient(&self, claims: &RawClaims, out: &mut Vec<LocalWarning>) {
        if !self.production {
            return;
        }
        let Some(cf) = claims.string("person_id").map(|p| fiscal_code_of(&p)) else {
            return;
        };
        if self.test_fiscal_codes.contains(&cf) {
            out.push(LocalWarning {
                check: "test_fiscal_code",
                text: "[MW-TESTCF] Codice fiscale di test usato in produzione".into(),
            });
        }
    }

    fn identifiers(&self, req: &serde_json::Value, out: &mut Vec<LocalWarning>) {
        for (field, re, check) in [
            ("identificativoDoc", &self.document_id, "document_id_format"),
            (
                "identificativoRep",
                &self.repository_id,
                "repository_id_format",
            ),
        ] {
            if let Some(v) = req.get(field).and_then(|v| v.as_str())
                && !re.is_match(v)
            {
                out.push(LocalWarning {
                    check,
                    text: format!("[MW-OID] {field} non conforme al formato regionale: {v}"),
                });
            }
        }
    }
}

/// The fiscal code inside a CX identifier (`CF^^^&OID&ISO`), upper-cased.
pub fn fiscal_code_of(cx: &str) -> String {
    cx.split('^')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase()
}
