//! The gateway's endpoint catalogue (contract §2): what the middleware serves under its
//! base paths and forwards, and what the simulator serves.

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
    /// `PUT /documents/{id}/metadata`
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
}

// === impl Operation ===

impl Operation {
    /// Every operation, with its method and axum route (relative to the base path).
    pub const ROUTES: [(Operation, Method, &'static str); 11] = [
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
    ];

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
        )
    }

    /// Whether the operation publishes (create/replace and their validate-and- forms).
    pub fn publishes(self) -> bool {
        matches!(
            self,
            Self::Create | Self::Replace | Self::ValidateAndCreate | Self::ValidateAndReplace
        )
    }
}
