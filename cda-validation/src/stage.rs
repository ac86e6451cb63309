//! The seam between the gateway's checks and its CDA validation stages (XSD, schematron,
//! vocabulary: steps 9–11 of the gateway's validation): the simulator calls it, the
//! validation engine implements it, and neither knows the other.

use gateway_contract::cda::CdaFacts;
use gateway_contract::problem::{GtwError, Kind, err};

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
    /// Valid, but the FHIR engine has no structure map for the template: the validator's
    /// `NoRecordFoundException`, which the dispatcher's `ValidatorClient` answers as
    /// `/msg/validator` at `/cda-validation` (review S22).
    Unmapped(String),
}

// === impl ValidatorVerdict ===

impl ValidatorVerdict {
    /// The semantic warnings, or the dispatcher's error for the verdict.
    pub fn into_result(self) -> Result<Vec<String>, GtwError> {
        match self {
            Self::Pass { warnings } => Ok(warnings),
            Self::Syntax(d) => Err(err(Kind::Syntax, d, "/validation/error")),
            Self::Semantic(d) => Err(err(Kind::Semantic, d, "/validation/error")),
            Self::Vocabulary(d) => Err(err(Kind::Vocabulary, d, "/validation/error")),
            Self::Unmapped(d) => Err(err(Kind::Validator, d, "/cda-validation")),
        }
    }
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
