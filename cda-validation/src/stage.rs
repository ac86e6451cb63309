//! The seam between the gateway's checks and its CDA validation stages (XSD, schematron,
//! vocabulary: steps 9–11 of the gateway's validation): the simulator calls it, the
//! validation engine implements it, and neither knows the other.

use gateway_contract::cda::CdaFacts;

/// What the schema/schematron/vocabulary stage says of a CDA.
#[derive(Debug, Clone)]
pub enum ValidatorVerdict {
    /// Passed, with semantic warnings.
    Pass {
        /// Report texts.
        warnings: Vec<String>,
    },
    /// XSD errors.
    Syntax(String),
    /// Schematron failed asserts.
    Semantic(String),
    /// Terminology errors.
    Vocabulary(String),
}

/// The seam for the gateway's steps 9–11 (XSD, schematron, vocabulary).
pub trait CdaValidator: Send + Sync {
    /// Judges a CDA; vocabulary is skipped for the Sistema TS issuer.
    fn validate(&self, xml: &str, facts: &CdaFacts, ts_issuer: bool) -> ValidatorVerdict;
}

/// Steps 9–11 not performed: every CDA passes. Replaced by the validation engine.
#[derive(Debug, Default)]
pub struct NoSchemaValidation;

impl CdaValidator for NoSchemaValidation {
    fn validate(&self, _xml: &str, _facts: &CdaFacts, _ts_issuer: bool) -> ValidatorVerdict {
        ValidatorVerdict::Pass {
            warnings: Vec::new(),
        }
    }
}
