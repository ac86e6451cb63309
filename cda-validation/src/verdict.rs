//! The gateway's answer to a validation request for one document, without the
//! JWT stages: what `fsemw validate` prints and what a region's help desk reads.

use http::StatusCode;

use crate::engine::Rules;
use gateway_contract::cda::ExtractionMode;
use gateway_contract::problem::{Answer, ErrPath, GtwError, Kind, Shape, err};
use gateway_contract::steps::{check_pdf, read_cda, read_facts, validation_warning};

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
            let body = ans.success_body(Shape::Validation, ans.wii.as_deref(), warning.as_deref());
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
) -> Result<Option<String>, GtwError> {
    let is_pdf = input.starts_with(b"%PDF");
    let (xml, facts) = if is_pdf {
        read_cda(input, mode)?
    } else if looks_like_xml(input) {
        let xml = gateway_contract::cda::pdf::decode_xml_text(input)
            .map_err(|e| err(Kind::CdaElement, e.to_string(), "/cda-extraction"))?;
        let facts = read_facts(&xml)?;
        (xml, facts)
    } else {
        check_pdf(input)?;
        unreachable!("check_pdf refuses what is not a PDF");
    };
    ans.wii = Some(facts.new_workflow_instance_id());
    let warnings = rules.judge(&xml, &facts, false).into_result()?;
    if !is_pdf {
        // A bare CDA has no signature and no extraction: only the semantic warnings.
        return Ok((!warnings.is_empty()).then(|| warnings.join(",")));
    }
    // The CDA was extracted, so the PDF loads: a signature is there or not.
    let signed = gateway_contract::cda::signature::is_signed(input).unwrap_or(false);
    Ok(validation_warning(signed, warnings, mode))
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
