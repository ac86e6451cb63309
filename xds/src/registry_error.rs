//! IHE error codes and the `RegistryError` entries of a response.

use crate::ns::severity;

/// The `errorCode` values this registry and its repositories return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Metadata names a document the request does not carry.
    MissingDocument,
    /// A document the metadata does not describe.
    MissingDocumentMetadata,
    /// Internal registry failure.
    RegistryError,
    /// Internal repository failure.
    RepositoryError,
    /// A uniqueId appears twice in one submission.
    RegistryDuplicateUniqueIdInMessage,
    /// Same, found by the repository.
    RepositoryDuplicateUniqueIdInMessage,
    /// SubmissionSet/Folder uniqueId already registered.
    DuplicateUniqueIdInRegistry,
    /// DocumentEntry uniqueId registered with another hash.
    NonIdenticalHash,
    /// DocumentEntry uniqueId registered with another size.
    NonIdenticalSize,
    /// Invalid metadata.
    RegistryMetadataError,
    /// Invalid metadata found by the repository.
    RepositoryMetadataError,
    /// Query result too large.
    TooManyResults,
    /// Patient ids differ within a submission.
    PatientIdDoesNotMatch,
    /// Unknown stored query id.
    UnknownStoredQuery,
    /// A required query parameter is missing.
    StoredQueryMissingParam,
    /// A single-valued query parameter has several values.
    StoredQueryParamNumber,
    /// Association to a deprecated document.
    RegistryDeprecatedDocumentError,
    /// ITI-43 for another repository.
    UnknownRepositoryId,
    /// ITI-43 for an unknown document.
    DocumentUniqueIdError,
    /// ITI-57: the update cannot be applied.
    MetadataUpdateError,
    /// ITI-57: `PreviousVersion` is not the current version.
    MetadataVersionError,
    /// ITI-57: the patient id changes.
    PatientIdReconciliationError,
    /// ITI-57: unsupported operation.
    MetadataUpdateOperationError,
    /// ITI-62 (and association targets): unknown object.
    UnresolvedReference,
    /// ITI-62: an association outside the request still points at the object.
    ReferencesExist,
}

// === impl ErrorCode ===

impl ErrorCode {
    /// The code as written in `errorCode`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingDocument => "XDSMissingDocument",
            Self::MissingDocumentMetadata => "XDSMissingDocumentMetadata",
            Self::RegistryError => "XDSRegistryError",
            Self::RepositoryError => "XDSRepositoryError",
            Self::RegistryDuplicateUniqueIdInMessage => "XDSRegistryDuplicateUniqueIdInMessage",
            Self::RepositoryDuplicateUniqueIdInMessage => "XDSRepositoryDuplicateUniqueIdInMessage",
            Self::DuplicateUniqueIdInRegistry => "XDSDuplicateUniqueIdInRegistry",
            Self::NonIdenticalHash => "XDSNonIdenticalHash",
            Self::NonIdenticalSize => "XDSNonIdenticalSize",
            Self::RegistryMetadataError => "XDSRegistryMetadataError",
            Self::RepositoryMetadataError => "XDSRepositoryMetadataError",
            Self::TooManyResults => "XDSTooManyResults",
            Self::PatientIdDoesNotMatch => "XDSPatientIdDoesNotMatch",
            Self::UnknownStoredQuery => "XDSUnknownStoredQuery",
            Self::StoredQueryMissingParam => "XDSStoredQueryMissingParam",
            Self::StoredQueryParamNumber => "XDSStoredQueryParamNumber",
            Self::RegistryDeprecatedDocumentError => "XDSRegistryDeprecatedDocumentError",
            Self::UnknownRepositoryId => "XDSUnknownRepositoryId",
            Self::DocumentUniqueIdError => "XDSDocumentUniqueIdError",
            Self::MetadataUpdateError => "XDSMetadataUpdateError",
            Self::MetadataVersionError => "XDSMetadataVersionError",
            Self::PatientIdReconciliationError => "XDSPatientIDReconciliationError",
            Self::MetadataUpdateOperationError => "XDSMetadataUpdateOperationError",
            Self::UnresolvedReference => "UnresolvedReferenceException",
            Self::ReferencesExist => "ReferencesExistException",
        }
    }
}

/// One `rs:RegistryError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryError {
    /// The code.
    pub code: ErrorCode,
    /// What is wrong, naming the object (`codeContext`).
    pub context: String,
    /// Warning instead of error.
    pub warning: bool,
}

// === impl RegistryError ===

impl RegistryError {
    /// An error-severity entry.
    pub fn new(code: ErrorCode, context: impl Into<String>) -> Self {
        Self {
            code,
            context: context.into(),
            warning: false,
        }
    }

    /// The severity URN.
    pub fn severity(&self) -> &'static str {
        if self.warning {
            severity::WARNING
        } else {
            severity::ERROR
        }
    }
}
