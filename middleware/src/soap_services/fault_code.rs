//! The fault codes of the legacy SOAP services, in one place: each variant's code (the
//! `faultcode`, `env:E……`) and what it means. The regional list is not public: `E000231`
//! and its wording are the observed ones, the others this product's (`docs/soap.md`).

/// Why a SOAP call is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultCode {
    /// `E000100`: unknown operation, or a body that is not the action's.
    UnknownOperation,
    /// `E000101`: a mandatory field is missing.
    MissingField,
    /// `E000102`: a consent code outside C1–C4.
    BadConsentCode,
    /// `E000103`: not a fiscal code.
    BadFiscalCode,
    /// `E000104`: a bad date, boolean or id.
    BadValue,
    /// `E000105`: notebook entry of an unknown `tipo`.
    NotebookKind,
    /// `E000106`: notebook document empty or too large.
    NotebookDocument,
    /// `E000107`: no such notebook entry.
    NotebookEntry,
    /// `E000230`: the SAML identity assertion is missing or not acceptable.
    Assertion,
    /// `E000231`: the smart card's fiscal code is not the operator's.
    SmartCardMismatch,
    /// `E000232`: the operator's WS-Security signature is missing or not acceptable.
    OperatorSignature,
    /// `E000233`: the patient is not the assertion's `resource-id`.
    Patient,
    /// `E000234`: `purposeofuse` not allowed for the operation.
    Purpose,
    /// `E000235`: `organization-id` not accepted.
    Organisation,
    /// `E000240`: no consent to consultation.
    NoConsent,
    /// `E000241`: the document is obscured.
    Obscured,
    /// `E000242`: no such document.
    UnknownDocument,
    /// `E000243`: the document is held outside the region.
    OutsideRegion,
    /// `E000244`: no regional repository for the ASL.
    NoRepository,
    /// `E000245`: another document is already stored under this uniqueId.
    UniqueIdTaken,
    /// `E000250`: the national gateway refused the operation.
    GatewayRefused,
    /// `E000251`: the gateway's outcome is unknown; send the same request again.
    GatewayOutcomeUnknown,
    /// `E000252`: not base64, not a PDF, or no readable CDA inside.
    BadDocument,
    /// `E000253`: a document id that cannot be sent in a gateway path.
    UnsendableId,
    /// `E000500`: internal error.
    Internal,
    /// `E000503`: a dependency is unreachable for now; try again.
    Unavailable,
}

impl FaultCode {
    /// The code as sent (`E000101`).
    pub fn code(self) -> &'static str {
        match self {
            Self::UnknownOperation => "E000100",
            Self::MissingField => "E000101",
            Self::BadConsentCode => "E000102",
            Self::BadFiscalCode => "E000103",
            Self::BadValue => "E000104",
            Self::NotebookKind => "E000105",
            Self::NotebookDocument => "E000106",
            Self::NotebookEntry => "E000107",
            Self::Assertion => "E000230",
            Self::SmartCardMismatch => "E000231",
            Self::OperatorSignature => "E000232",
            Self::Patient => "E000233",
            Self::Purpose => "E000234",
            Self::Organisation => "E000235",
            Self::NoConsent => "E000240",
            Self::Obscured => "E000241",
            Self::UnknownDocument => "E000242",
            Self::OutsideRegion => "E000243",
            Self::NoRepository => "E000244",
            Self::UniqueIdTaken => "E000245",
            Self::GatewayRefused => "E000250",
            Self::GatewayOutcomeUnknown => "E000251",
            Self::BadDocument => "E000252",
            Self::UnsendableId => "E000253",
            Self::Internal => "E000500",
            Self::Unavailable => "E000503",
        }
    }

    /// A refusal of the caller's identity (assertion, smart card, patient, purpose,
    /// organisation): counted as `fsemw_producer_refusals_total{reason="soap_identity"}`.
    pub fn is_identity(self) -> bool {
        matches!(
            self,
            Self::Assertion
                | Self::SmartCardMismatch
                | Self::OperatorSignature
                | Self::Patient
                | Self::Purpose
                | Self::Organisation
        )
    }
}

impl std::fmt::Display for FaultCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
