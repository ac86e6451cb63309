//! ITI-43 `RetrieveDocumentSetRequest` and its response.

use std::fmt::Write;

use roxmltree::Node;

use super::{child, children, expect};
use crate::Error;
use crate::ns::{RS, XDSB};
use crate::registry_error::RegistryError;
use crate::rim::xml_escape;

/// One requested document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentRequest {
    /// `HomeCommunityId`, if given.
    pub home: Option<String>,
    /// `RepositoryUniqueId`.
    pub repository: String,
    /// `DocumentUniqueId`.
    pub document: String,
}

/// Parses a RetrieveDocumentSetRequest.
pub fn parse_retrieve(body: Node<'_, '_>) -> Result<Vec<DocumentRequest>, Error> {
    let req = expect(body, XDSB, "RetrieveDocumentSetRequest")?;
    let text = |n: Node<'_, '_>, tag: &str| {
        child(n, XDSB, tag)
            .and_then(|c| c.text())
            .map(|t| t.trim().to_string())
    };
    let mut out = Vec::new();
    for d in children(req, XDSB, "DocumentRequest") {
        out.push(DocumentRequest {
            home: text(d, "HomeCommunityId"),
            repository: text(d, "RepositoryUniqueId")
                .ok_or(Error::MissingElement("xdsb:RepositoryUniqueId"))?,
            document: text(d, "DocumentUniqueId")
                .ok_or(Error::MissingElement("xdsb:DocumentUniqueId"))?,
        });
    }
    if out.is_empty() {
        return Err(Error::MissingElement("xdsb:DocumentRequest"));
    }
    Ok(out)
}

/// One returned document; its bytes travel as the MTOM part `content_id`.
#[derive(Debug, Clone)]
pub struct DocumentResponse {
    /// The request it answers.
    pub request: DocumentRequest,
    /// MIME type.
    pub mime_type: String,
    /// Content-ID of the MTOM part (without angle brackets).
    pub content_id: String,
}

/// Writes the RetrieveDocumentSetResponse body.
pub fn write_retrieve_response(found: &[DocumentResponse], errors: &[RegistryError]) -> String {
    let status = super::response::status_of(!found.is_empty(), errors);
    let mut out = format!(
        "<xdsb:RetrieveDocumentSetResponse xmlns:xdsb=\"{XDSB}\" xmlns:rs=\"{RS}\" xmlns:xop=\"{}\">",
        crate::ns::XOP
    );
    super::response::write_registry_response(&mut out, status, errors);
    for d in found {
        out.push_str("<xdsb:DocumentResponse>");
        if let Some(h) = &d.request.home {
            let _ = write!(
                out,
                "<xdsb:HomeCommunityId>{}</xdsb:HomeCommunityId>",
                xml_escape(h)
            );
        }
        let _ = write!(
            out,
            "<xdsb:RepositoryUniqueId>{}</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>{}</xdsb:DocumentUniqueId><xdsb:mimeType>{}</xdsb:mimeType><xdsb:Document><xop:Include href=\"cid:{}\"/></xdsb:Document></xdsb:DocumentResponse>",
            xml_escape(&d.request.repository),
            xml_escape(&d.request.document),
            xml_escape(&d.mime_type),
            xml_escape(&d.content_id)
        );
    }
    out.push_str("</xdsb:RetrieveDocumentSetResponse>");
    out
}
