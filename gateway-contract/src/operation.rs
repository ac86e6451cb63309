//! The gateway's endpoint catalogue (contract §2, OpenAPI 2.6.3): the operations, the paths
//! the Ministry publishes ([`Operation::PUBLISHED`], what the middleware serves unless
//! configured otherwise) and those the dispatcher's code maps ([`Operation::ROUTES`], what
//! the simulator serves).

use http::Method;

/// One endpoint of the national gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /documents/validation`
    Validation,
    /// `POST /documents/fhir-validation`
    FhirValidation,
    /// `POST /documents`
    Create,
    /// `PUT /documents/{id}`
    Replace,
    /// `DELETE /documents/{id}`
    Delete,
    /// `PUT /documents/{id}/metadata`: gone from OpenAPI 2.6.3, still mapped by the
    /// dispatcher (`IPublicationCTL.updateMetadata` @ de019846).
    Metadata,
    /// `PUT /documents/{id}/metadata-iti-57`
    MetadataIti57,
    /// `POST /documents/validate-and-create`
    ValidateAndCreate,
    /// `PUT /documents/validate-and-replace/{id}`
    ValidateAndReplace,
    /// `GET /status/{workflowInstanceId}`
    StatusByWorkflow,
    /// `GET /status/search/{traceId}`
    StatusByTrace,
    /// `POST /fhir-documents` (OpenAPI 2.6.3)
    FhirCreate,
    /// `PUT /fhir-documents/{id}` (OpenAPI 2.6.3)
    FhirReplace,
    /// A path of the gateway the middleware forwards without reading its body or answer
    /// (configured: a national endpoint newer than this release).
    PassThrough,
}

// === impl Operation ===

impl Operation {
    /// Every endpoint the dispatcher maps, with its method and axum route (relative to the
    /// base path).
    pub const ROUTES: [(Operation, Method, &'static str); 13] = [
        (Self::Validation, Method::POST, "/documents/validation"),
        (
            Self::FhirValidation,
            Method::POST,
            "/documents/fhir-validation",
        ),
        (Self::Create, Method::POST, "/documents"),
        (Self::Replace, Method::PUT, "/documents/{id}"),
        (Self::Delete, Method::DELETE, "/documents/{id}"),
        (Self::Metadata, Method::PUT, "/documents/{id}/metadata"),
        (
            Self::MetadataIti57,
            Method::PUT,
            "/documents/{id}/metadata-iti-57",
        ),
        (
            Self::ValidateAndCreate,
            Method::POST,
            "/documents/validate-and-create",
        ),
        (
            Self::ValidateAndReplace,
            Method::PUT,
            "/documents/validate-and-replace/{id}",
        ),
        (Self::StatusByWorkflow, Method::GET, "/status/{id}"),
        (Self::StatusByTrace, Method::GET, "/status/search/{id}"),
        (Self::FhirCreate, Method::POST, "/fhir-documents"),
        (Self::FhirReplace, Method::PUT, "/fhir-documents/{id}"),
    ];

    /// The operations of the Ministry's OpenAPI 2.6.3 (`swagger_gtw.yaml`): every route but
    /// the `/metadata` update it dropped.
    pub fn published() -> impl Iterator<Item = (Operation, Method, &'static str)> {
        Self::ROUTES
            .into_iter()
            .filter(|(op, _, _)| *op != Self::Metadata)
    }

    /// The route the dispatcher maps the operation at (`None` for [`Operation::PassThrough`]).
    pub fn template(self) -> Option<&'static str> {
        Self::ROUTES.iter().find(|r| r.0 == self).map(|r| r.2)
    }

    /// The operation of a stable name ([`Operation::name`]).
    pub fn from_name(name: &str) -> Option<Operation> {
        Self::ROUTES
            .iter()
            .map(|r| r.0)
            .chain([Self::PassThrough])
            .find(|op| op.name() == name)
    }

    /// Whether the operation publishes or changes a document (queued when the gateway
    /// cannot be reached).
    pub fn is_publication(self) -> bool {
        matches!(
            self,
            Self::Create
                | Self::Replace
                | Self::Delete
                | Self::Metadata
                | Self::MetadataIti57
                | Self::ValidateAndCreate
                | Self::ValidateAndReplace
                | Self::FhirCreate
                | Self::FhirReplace
        )
    }

    /// Stable name for metrics and the audit trail.
    pub fn name(self) -> &'static str {
        match self {
            Self::Validation => "validation",
            Self::FhirValidation => "fhir_validation",
            Self::Create => "create",
            Self::Replace => "replace",
            Self::Delete => "delete",
            Self::Metadata => "metadata",
            Self::MetadataIti57 => "metadata_iti57",
            Self::ValidateAndCreate => "validate_and_create",
            Self::ValidateAndReplace => "validate_and_replace",
            Self::StatusByWorkflow => "status",
            Self::StatusByTrace => "status_search",
            Self::FhirCreate => "fhir_create",
            Self::FhirReplace => "fhir_replace",
            Self::PassThrough => "pass_through",
        }
    }

    /// Whether the path's `{id}` is a document id (`identificativoDocUpdate`).
    pub fn path_is_document_id(self) -> bool {
        matches!(
            self,
            Self::Replace
                | Self::Delete
                | Self::Metadata
                | Self::MetadataIti57
                | Self::ValidateAndReplace
                | Self::FhirReplace
        )
    }

    /// Whether a successful answer carries a `warning` a producer reads as a note: the
    /// validation and publication answers (`ValidationResDTO`, `PublicationResDTO`). Not the
    /// status answers (`TransactionInspectResDTO` has no such field), nor delete and metadata
    /// (`ResponseWifDTO`: there a `warning` means that INI will be retried, with HTTP 202).
    pub fn answer_takes_notes(self) -> bool {
        matches!(
            self,
            Self::Validation
                | Self::FhirValidation
                | Self::Create
                | Self::Replace
                | Self::ValidateAndCreate
                | Self::ValidateAndReplace
                | Self::FhirCreate
                | Self::FhirReplace
        )
    }
}

/// The raw segment of `path` (relative to the base, query ignored) that stands where
/// `template` has `{id}`, when every literal segment matches.
pub fn id_segment<'a>(template: &str, path: &'a str) -> Option<&'a str> {
    let path = path.split('?').next().unwrap_or_default();
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    let mut id = None;
    loop {
        match (t.next(), p.next()) {
            (None, None) => return id,
            (Some("{id}"), Some(seg)) if !seg.is_empty() => id = Some(seg),
            (Some(lit), Some(seg)) if lit == seg => {}
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_read_where_the_template_has_it() {
        let t = "/documents/{id}/metadata";
        assert_eq!(id_segment(t, "/documents/a%5Eb/metadata"), Some("a%5Eb"));
        assert_eq!(id_segment(t, "/documents/a/metadata-iti-57"), None);
        assert_eq!(id_segment(t, "/documents//metadata"), None);
        assert_eq!(id_segment("/status/{id}", "/status/x?y=1"), Some("x"));
        assert_eq!(id_segment("/documents", "/documents"), None);
    }

    #[test]
    fn every_operation_is_found_by_its_name() {
        for (op, _, _) in Operation::ROUTES {
            assert_eq!(Operation::from_name(op.name()), Some(op));
        }
        assert_eq!(
            Operation::from_name("pass_through"),
            Some(Operation::PassThrough)
        );
        assert_eq!(Operation::from_name("nothing"), None);
    }

    #[test]
    fn the_published_contract_has_no_metadata_update() {
        let paths: Vec<&str> = Operation::published().map(|r| r.2).collect();
        assert!(paths.contains(&"/fhir-documents/{id}"));
        assert!(!paths.contains(&"/documents/{id}/metadata"));
        assert_eq!(paths.len(), 12);
    }
}
