//! The claims of the gateway's two tokens (contract §4): their names, those the bearer
//! token carries, those the dispatcher requires, and those a region re-issues when it
//! signs in its own name (case 2).

/// Subject: the operator's fiscal code and region (`RSSMRA…^^^&2.16.840.1.113883.2.9.4.3.2&ISO`).
pub const SUB: &str = "sub";
/// Issuer: `auth:` or `integrity:` and the signer's CN.
pub const ISS: &str = "iss";
/// Audience: the gateway's base URL.
pub const AUD: &str = "aud";
/// Issued at (seconds).
pub const IAT: &str = "iat";
/// Expiry (seconds).
pub const EXP: &str = "exp";
/// Token id.
pub const JTI: &str = "jti";
/// The operator's role.
pub const SUBJECT_ROLE: &str = "subject_role";
/// Why the data is processed (`TREATMENT`, `UPDATE`…).
pub const PURPOSE_OF_USE: &str = "purpose_of_use";
/// Where the operator acts.
pub const LOCALITY: &str = "locality";
/// The operator's organisation (name).
pub const SUBJECT_ORGANIZATION: &str = "subject_organization";
/// The operator's organisation (region code).
pub const SUBJECT_ORGANIZATION_ID: &str = "subject_organization_id";
/// The patient.
pub const PERSON_ID: &str = "person_id";
/// The patient's consent.
pub const PATIENT_CONSENT: &str = "patient_consent";
/// `CREATE`, `UPDATE`, `DELETE`.
pub const ACTION_ID: &str = "action_id";
/// The document type (LOINC).
pub const RESOURCE_HL7_TYPE: &str = "resource_hl7_type";
/// SHA-256 of the PDF (publications).
pub const ATTACHMENT_HASH: &str = "attachment_hash";
/// The producer's accredited application.
pub const SUBJECT_APPLICATION_ID: &str = "subject_application_id";
/// Its vendor.
pub const SUBJECT_APPLICATION_VENDOR: &str = "subject_application_vendor";
/// Its version.
pub const SUBJECT_APPLICATION_VERSION: &str = "subject_application_version";

/// The claims of the bearer (`Authorization`) token; the signature token carries all.
pub const BEARER: [&str; 6] = [SUB, ISS, AUD, JTI, IAT, EXP];

/// The claims a region re-issues when it signs a producer's tokens in its name (case 2);
/// every other claim is kept as the producer wrote it.
pub const REISSUED: [&str; 5] = [ISS, AUD, IAT, EXP, JTI];

/// The signature token's claims the dispatcher requires, non-empty, for every operation;
/// [`RESOURCE_HL7_TYPE`] too except for a delete.
pub const MANDATORY: [&str; 11] = [
    PATIENT_CONSENT,
    ACTION_ID,
    LOCALITY,
    PERSON_ID,
    PURPOSE_OF_USE,
    SUBJECT_ORGANIZATION,
    SUBJECT_ORGANIZATION_ID,
    SUBJECT_ROLE,
    SUBJECT_APPLICATION_ID,
    SUBJECT_APPLICATION_VENDOR,
    SUBJECT_APPLICATION_VERSION,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_reissues_only_reserved_claims_and_requires_none_of_them() {
        for c in REISSUED {
            assert!(BEARER.contains(&c), "{c}");
            assert!(!MANDATORY.contains(&c), "{c}");
        }
        let mut all = MANDATORY.to_vec();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), MANDATORY.len());
        assert!(
            !MANDATORY.contains(&RESOURCE_HL7_TYPE),
            "required except for deletes"
        );
    }
}
