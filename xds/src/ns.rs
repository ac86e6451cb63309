//! Namespaces and the fixed identifiers of XDS.b and ebRIM 3.0.

/// ebRIM 3.0 objects.
pub const RIM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0";
/// Life-cycle requests (submit, remove).
pub const LCM: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0";
/// Queries.
pub const QUERY: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0";
/// Registry responses.
pub const RS: &str = "urn:oasis:names:tc:ebxml-regrep:xsd:rs:3.0";
/// XDS.b repository messages.
pub const XDSB: &str = "urn:ihe:iti:xds-b:2007";
/// XOP includes (MTOM).
pub const XOP: &str = "http://www.w3.org/2004/08/xop/include";

/// DocumentEntry object type (stable document).
pub const DOCUMENT_ENTRY: &str = "urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1";
/// DocumentEntry object type (on-demand document).
pub const ON_DEMAND_ENTRY: &str = "urn:uuid:34268e47-fdf5-41a6-ba33-82133c465248";
/// Classification node marking a RegistryPackage as a SubmissionSet.
pub const SUBMISSION_SET_NODE: &str = "urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd";
/// Classification node marking a RegistryPackage as a Folder.
pub const FOLDER_NODE: &str = "urn:uuid:d9d542f3-6cc4-48b6-8870-ea235fbc94c2";

/// DocumentEntry classification schemes.
pub mod doc {
    /// author
    pub const AUTHOR: &str = "urn:uuid:93606bcf-9494-43ec-9b4e-a7748d1a838d";
    /// classCode
    pub const CLASS_CODE: &str = "urn:uuid:41a5887f-8865-4c09-adf7-e362475b143a";
    /// confidentialityCode
    pub const CONFIDENTIALITY_CODE: &str = "urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f";
    /// eventCodeList
    pub const EVENT_CODE: &str = "urn:uuid:2c6b8cb7-8b2a-4051-b291-b1ae6a575ef4";
    /// formatCode
    pub const FORMAT_CODE: &str = "urn:uuid:a09d5840-386c-46f2-b5ad-9c3699a4309d";
    /// healthcareFacilityTypeCode
    pub const FACILITY_TYPE_CODE: &str = "urn:uuid:f33fb8ac-18af-42cc-ae0e-ed0b0bdb91e1";
    /// practiceSettingCode
    pub const PRACTICE_SETTING_CODE: &str = "urn:uuid:cccf5598-8b07-4b77-a05e-ae952c785ead";
    /// typeCode
    pub const TYPE_CODE: &str = "urn:uuid:f0306f51-975f-434e-a61c-c59651d33983";
    /// patientId (external identifier)
    pub const PATIENT_ID: &str = "urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427";
    /// uniqueId (external identifier)
    pub const UNIQUE_ID: &str = "urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab";
}

/// SubmissionSet classification and identification schemes.
pub mod set {
    /// author
    pub const AUTHOR: &str = "urn:uuid:a7058bb9-b4e4-4307-ba5b-e3f0ab85e12d";
    /// contentTypeCode
    pub const CONTENT_TYPE_CODE: &str = "urn:uuid:aa543740-bdda-424e-8c96-df4873be8500";
    /// patientId
    pub const PATIENT_ID: &str = "urn:uuid:6b5aea1a-874d-4603-a4bc-96a0a7b38446";
    /// sourceId
    pub const SOURCE_ID: &str = "urn:uuid:554ac39e-e3fe-47fe-b233-965d2a147832";
    /// uniqueId
    pub const UNIQUE_ID: &str = "urn:uuid:96fdda7c-d067-4183-912e-bf5ee74998a8";
}

/// Folder identification schemes.
pub mod folder {
    /// patientId
    pub const PATIENT_ID: &str = "urn:uuid:f64ffdf0-4b97-4e06-b79f-a52b38ec2f8a";
    /// uniqueId
    pub const UNIQUE_ID: &str = "urn:uuid:75df8f67-9973-4fbe-a900-df66cefecc5a";
}

/// Availability status values.
pub mod status {
    /// Approved
    pub const APPROVED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved";
    /// Deprecated
    pub const DEPRECATED: &str = "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated";
}

/// Association types.
pub mod assoc {
    /// SubmissionSet/Folder membership.
    pub const HAS_MEMBER: &str = "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember";
    /// Replacement.
    pub const RPLC: &str = "urn:ihe:iti:2007:AssociationType:RPLC";
    /// Addendum.
    pub const APND: &str = "urn:ihe:iti:2007:AssociationType:APND";
    /// Transformation.
    pub const XFRM: &str = "urn:ihe:iti:2007:AssociationType:XFRM";
    /// Transformation with replacement.
    pub const XFRM_RPLC: &str = "urn:ihe:iti:2007:AssociationType:XFRM_RPLC";
    /// Digital signature.
    pub const SIGNS: &str = "urn:ihe:iti:2007:AssociationType:signs";
    /// ITI-57 status change.
    pub const UPDATE_AVAILABILITY_STATUS: &str =
        "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus";
    /// ITI-57 association submission.
    pub const SUBMIT_ASSOCIATION: &str = "urn:ihe:iti:2010:AssociationType:SubmitAssociation";
}

/// Response status values.
pub mod response {
    /// Success
    pub const SUCCESS: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Success";
    /// Failure
    pub const FAILURE: &str = "urn:oasis:names:tc:ebxml-regrep:ResponseStatusType:Failure";
    /// PartialSuccess (IHE)
    pub const PARTIAL_SUCCESS: &str = "urn:ihe:iti:2007:ResponseStatusType:PartialSuccess";
}

/// Error severities.
pub mod severity {
    /// Error
    pub const ERROR: &str = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Error";
    /// Warning
    pub const WARNING: &str = "urn:oasis:names:tc:ebxml-regrep:ErrorSeverityType:Warning";
}

/// ebRIM object types written on output.
pub mod object_type {
    /// Classification
    pub const CLASSIFICATION: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Classification";
    /// ExternalIdentifier
    pub const EXTERNAL_IDENTIFIER: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:ExternalIdentifier";
    /// RegistryPackage
    pub const REGISTRY_PACKAGE: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:RegistryPackage";
    /// Association
    pub const ASSOCIATION: &str =
        "urn:oasis:names:tc:ebxml-regrep:ObjectType:RegistryObject:Association";
}
