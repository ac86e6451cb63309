//! The gateway's answer to a validation request for one document, without the
//! JWT stages: what `fsemw validate` prints and what a region's help desk reads.

use bytes::Bytes;
use http::StatusCode;

use super::engine::Rules;
use super::stage::ValidatorVerdict;
use crate::gateway_sim::errors::{Answer, ErrPath, GtwError, Kind, err};
use crate::gateway_sim::handlers::{EXTRACT_WARNING, SIGN_WARNING, cda_of, pdf_checks};
use gateway_contract::cda::{CdaFacts, ExtractionMode};

/// Status and body the gateway would return.
#[derive(Debug, Clone)]
pub struct Verdict {
    /// HTTP status.
    pub status: StatusCode,
    /// JSON body.
    pub body: serde_json::Value,
}

/// Judges a PDF (with the CDA injected) or a bare CDA, as `POST /documents/validation`.
pub fn judge(
    rules: &Rules,
    input: &[u8],
    mode: Option<ExtractionMode>,
    activity_validation: bool,
) -> Verdict {
    let mut ans = Answer::new(ErrPath::A);
    match run(rules, input, mode, &mut ans) {
        Ok(warning) => {
            let status = if activity_validation {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let body = ans.success_body(
                ans.wii.as_deref(),
                (!warning.is_empty()).then_some(warning.as_str()),
            );
            Verdict { status, body }
        }
        Err(e) => {
            let (status, body) = ans.error_body(&e);
            Verdict { status, body }
        }
    }
}

fn run(
    rules: &Rules,
    input: &[u8],
    mode: Option<ExtractionMode>,
    ans: &mut Answer,
) -> Result<String, GtwError> {
    let file = Bytes::copy_from_slice(input);
    let is_pdf = file.starts_with(b"%PDF");
    let (xml, facts) = if is_pdf {
        cda_of(&file, mode)?
    } else if looks_like_xml(input) {
        let xml = gateway_contract::cda::pdf::decode_xml_text(input)
            .map_err(|e| err(Kind::CdaElement, e.to_string(), "/cda-extraction"))?;
        let facts = CdaFacts::parse(&xml)
            .map_err(|e| err(Kind::Syntax, format!("ERROR: 1,1 {e}"), "/validation/error"))?;
        (xml, facts)
    } else {
        pdf_checks(&file)?;
        unreachable!("pdf_checks refuses what is not a PDF");
    };
    ans.wii = Some(facts.new_workflow_instance_id());
    let warnings = match rules.judge(&xml, &facts, false) {
        ValidatorVerdict::Pass { warnings } => warnings,
        ValidatorVerdict::Syntax(d) => return Err(err(Kind::Syntax, d, "/validation/error")),
        ValidatorVerdict::Semantic(d) => return Err(err(Kind::Semantic, d, "/validation/error")),
        ValidatorVerdict::Vocabulary(d) => {
            return Err(err(Kind::Vocabulary, d, "/validation/error"));
        }
    };
    let mut parts = Vec::new();
    if is_pdf && gateway_contract::cda::pdf::is_signed(&file) {
        parts.push(SIGN_WARNING.to_string());
    }
    parts.extend(warnings);
    let mut warning = parts.join(",");
    if is_pdf && mode.is_none() {
        warning = format!("[{warning}[WARNING_EXTRACT]{EXTRACT_WARNING}]");
    }
    Ok(warning)
}

fn looks_like_xml(input: &[u8]) -> bool {
    let trimmed = input
        .iter()
        .skip_while(|b| b.is_ascii_whitespace())
        .take(4)
        .copied()
        .collect::<Vec<_>>();
    matches!(
        trimmed.as_slice(),
        [b'<', ..] | [0xEF, 0xBB, 0xBF, ..] | [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..]
    )
}
