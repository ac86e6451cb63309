//! `rs:RegistryResponse` with its error list.

use std::fmt::Write;

use crate::ns::{RS, response, severity};
use crate::registry_error::RegistryError;
use crate::rim::xml_escape;

/// The response status for a transaction that did (`any_success`) or did not produce
/// something, with these errors: Success, PartialSuccess or Failure.
pub fn status_of(any_success: bool, errors: &[RegistryError]) -> &'static str {
    let has_error = errors.iter().any(|e| !e.warning);
    match (has_error, any_success) {
        (false, _) => response::SUCCESS,
        (true, true) => response::PARTIAL_SUCCESS,
        (true, false) => response::FAILURE,
    }
}

/// A whole `rs:RegistryResponse` element: Success when `errors` has no error.
pub fn registry_response(errors: &[RegistryError]) -> String {
    let mut out = String::new();
    let status = status_of(false, errors);
    let _ = write!(
        out,
        "<rs:RegistryResponse xmlns:rs=\"{RS}\" status=\"{status}\""
    );
    write_error_list_closing(&mut out, errors, "rs:RegistryResponse");
    out
}

/// Appends `<rs:RegistryResponse status=…>` (prefix `rs` declared by the caller).
pub fn write_registry_response(out: &mut String, status: &str, errors: &[RegistryError]) {
    let _ = write!(out, "<rs:RegistryResponse status=\"{status}\"");
    write_error_list_closing(out, errors, "rs:RegistryResponse");
}

/// Appends `<rs:RegistryErrorList>` when there are errors.
pub fn write_error_list(out: &mut String, errors: &[RegistryError], location: &str) {
    if errors.is_empty() {
        return;
    }
    let highest = if errors.iter().any(|e| !e.warning) {
        severity::ERROR
    } else {
        severity::WARNING
    };
    let _ = write!(out, "<rs:RegistryErrorList highestSeverity=\"{highest}\">");
    for e in errors {
        let _ = write!(
            out,
            "<rs:RegistryError errorCode=\"{}\" codeContext=\"{}\" location=\"{}\" severity=\"{}\"/>",
            e.code.as_str(),
            xml_escape(&e.context),
            xml_escape(location),
            e.severity()
        );
    }
    out.push_str("</rs:RegistryErrorList>");
}

fn write_error_list_closing(out: &mut String, errors: &[RegistryError], tag: &str) {
    if errors.is_empty() {
        out.push_str("/>");
        return;
    }
    out.push('>');
    write_error_list(out, errors, LOCATION);
    let _ = write!(out, "</{tag}>");
}

/// The `location` written in errors.
pub const LOCATION: &str = "regional-registry";
