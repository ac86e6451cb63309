//! The gateway's first steps on a document, which the simulator and `fsemw validate`
//! take the same way: the file must be a non-empty PDF, the CDA is found in it and
//! read, and the warnings of a successful answer are merged by one rule.

use crate::cda::{CdaFacts, ExtractionMode, extract_cda};
use crate::problem::{GtwError, Kind, err};

/// The warning of an answer whose request named no extraction mode.
pub const EXTRACT_WARNING: &str =
    "Attenzione, non è stata selezionata la modalità di estrazione del CDA";
/// The warning of a validation whose PDF is already signed.
pub const SIGN_WARNING: &str =
    "[SIGN_WARN - Attenzione il documento risulta firmato in validazione]";

/// Refuses an empty file (`/msg/empty-file`) and one that is not a PDF (`/msg/document-type`).
pub fn check_pdf(file: &[u8]) -> Result<(), GtwError> {
    if file.is_empty() {
        return Err(err(Kind::EmptyFile, "File vuoto.", "/empty-multipart-file"));
    }
    if !file.starts_with(b"%PDF") {
        return Err(err(
            Kind::DocumentType,
            "Il documento non è pdf.",
            "/multipart-file",
        ));
    }
    Ok(())
}

/// The CDA of a PDF and its facts: `/msg/cda-element` when it cannot be found,
/// `/msg/syntax` when it cannot be read.
pub fn read_cda(file: &[u8], mode: Option<ExtractionMode>) -> Result<(String, CdaFacts), GtwError> {
    let xml = extract_cda(file, mode).map_err(|_| {
        err(
            Kind::CdaElement,
            "Error while extracting CDA from PDF document",
            "/cda-extraction",
        )
    })?;
    let facts = read_facts(&xml)?;
    Ok((xml, facts))
}

/// The facts of a CDA's text; `/msg/syntax` when it cannot be read.
pub fn read_facts(xml: &str) -> Result<CdaFacts, GtwError> {
    CdaFacts::parse(xml)
        .map_err(|e| err(Kind::Syntax, format!("ERROR: 1,1 {e}"), "/validation/error"))
}

/// The `warning` of a successful validation: the signature warning, then the semantic
/// ones, comma-separated; wrapped with the extraction warning when no mode was named.
/// `None` when there is nothing to say.
pub fn validation_warning(
    signed: bool,
    semantic: Vec<String>,
    mode: Option<ExtractionMode>,
) -> Option<String> {
    let mut parts = Vec::with_capacity(semantic.len() + 1);
    if signed {
        parts.push(SIGN_WARNING.to_string());
    }
    parts.extend(semantic);
    let mut warning = parts.join(",");
    if mode.is_none() {
        warning = format!("[{warning}[WARNING_EXTRACT]{EXTRACT_WARNING}]");
    }
    (!warning.is_empty()).then_some(warning)
}

/// The `warning` of an accepted publication: a validate-and-publish carries the semantic
/// warnings (none: no field); a publication of a validated CDA always carries the field,
/// the extraction warning when no mode was named and empty otherwise.
pub fn publication_warning(
    validated_here: bool,
    semantic: Vec<String>,
    mode: Option<ExtractionMode>,
) -> Option<String> {
    if validated_here {
        return (!semantic.is_empty()).then(|| semantic.join(","));
    }
    Some(match mode {
        None => EXTRACT_WARNING.to_string(),
        Some(_) => String::new(),
    })
}

/// The workflowInstanceId of a delete or metadata update: the SHA-256 of the document id
/// and a random part, in the gateway's format.
pub fn change_workflow_instance_id(document_id: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, document_id.as_bytes());
    let random = uuid::Uuid::new_v4().simple().to_string();
    format!(
        "{}.{}^^^^urn:ihe:iti:xdw:2013:workflowInstanceId",
        hex::encode(digest.as_ref()),
        &random[..10]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_warning_wraps_when_no_mode_was_named() {
        let w = validation_warning(true, vec!["W1".into()], None).expect("warning");
        assert_eq!(
            w,
            format!("[{SIGN_WARNING},W1[WARNING_EXTRACT]{EXTRACT_WARNING}]")
        );
        let mode = Some(ExtractionMode::Resource);
        assert_eq!(validation_warning(false, Vec::new(), mode), None);
        assert_eq!(
            validation_warning(false, vec!["A".into(), "B".into()], mode).as_deref(),
            Some("A,B")
        );
    }

    #[test]
    fn publication_warning_follows_the_path() {
        assert_eq!(publication_warning(true, Vec::new(), None), None);
        assert_eq!(
            publication_warning(false, Vec::new(), None).as_deref(),
            Some(EXTRACT_WARNING)
        );
        let mode = Some(ExtractionMode::Attachment);
        assert_eq!(
            publication_warning(false, Vec::new(), mode).as_deref(),
            Some("")
        );
    }

    #[test]
    fn files_that_are_not_pdfs_are_refused_by_kind() {
        assert_eq!(check_pdf(b"").unwrap_err().kind, Kind::EmptyFile);
        assert_eq!(check_pdf(b"<xml/>").unwrap_err().kind, Kind::DocumentType);
        assert!(check_pdf(b"%PDF-1.7").is_ok());
    }
}
