//! Who is calling a SOAP service: the SAML identity assertion in the header (signed by a
//! trusted certificate, within its window, from an accepted organisation, with a purpose
//! the operation allows) and the operator's smart-card signature (WS-Security), whose
//! fiscal code must be the assertion's operator — else `E000231`, as observed.

use hsm::Certificate;
use time::OffsetDateTime;

use super::{Service, ServiceFault};
use crate::config::SoapConfig;
pub use crate::forward::checks::fiscal_code_of;

const ROLE: &str = "urn:oasis:names:tc:xacml:2.0:subject:role";
const SUBJECT_ID: &str = "urn:oasis:names:tc:xacml:1.0:subject:subject-id";
const ORGANISATION_ID: &str = "urn:oasis:names:tc:xspa:1.0:subject:organization-id";
const ORGANISATION: &str = "urn:oasis:names:tc:xspa:1.0:subject:organization";
const LOCALITY: &str = "urn:oasis:names:tc:xspa:1.0:environment:locality";
const PURPOSE: &str = "urn:oasis:names:tc:xspa:1.0:subject:purposeofuse";
const RESOURCE_ID: &str = "urn:oasis:names:tc:xacml:1.0:resource:resource-id";
const PATIENT_CONSENT: &str = "urn:oasis:names:tc:xspa:1.0:resource:patient:consent";

/// The observed wording of `E000231`.
pub const SMARTCARD_MISMATCH: &str =
    "Il codice fiscale della smart card non corrisponde a quello dell'operatore.";

/// What the services trust, loaded once at start.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Signers of identity assertions (or their CAs).
    pub saml_signers: Vec<Certificate>,
    /// CAs of operators' smart cards.
    pub smartcard_cas: Vec<Certificate>,
    /// Accepted `organization-id` values.
    pub organisations: Vec<String>,
    /// Tolerated clock difference, seconds.
    pub skew_secs: i64,
}

impl Trust {
    /// Loads the certificates named by the configuration.
    pub fn load(config: &SoapConfig, region_code: &str) -> Result<Self, String> {
        let load = |files: &[String]| -> Result<Vec<Certificate>, String> {
            let mut out = Vec::new();
            for f in files {
                out.extend(Certificate::load_pem_chain(f).map_err(|e| format!("{f}: {e}"))?);
            }
            Ok(out)
        };
        let organisations = if config.organisations.is_empty() {
            vec![region_code.to_string()]
        } else {
            config.organisations.clone()
        };
        Ok(Self {
            saml_signers: load(&config.saml_signers)?,
            smartcard_cas: load(&config.smartcard_cas)?,
            organisations,
            skew_secs: config.clock_skew_secs,
        })
    }
}

/// The verified caller of one operation.
#[derive(Debug, Clone)]
pub struct Caller {
    /// `Issuer` of the assertion.
    pub issuer: String,
    /// The operator's fiscal code (assertion subject = smart card).
    pub operator_cf: String,
    /// The operator in IHE form (`CF^^^&2.16.840.1.113883.2.9.4.3.2&ISO`).
    pub operator_id: String,
    /// `subject:role`.
    pub role: Option<String>,
    /// `purposeofuse`.
    pub purpose: String,
    /// `organization-id`.
    pub organisation_id: String,
    /// `organization`.
    pub organisation: Option<String>,
    /// `environment:locality`.
    pub locality: Option<String>,
    /// The patient's fiscal code (`resource-id`), when the assertion names one.
    pub patient_cf: Option<String>,
    /// `patient:consent`.
    pub patient_consent: Option<bool>,
}

impl Caller {
    /// Refuses a patient other than the assertion's (`E000233`).
    pub fn same_patient(&self, cf: &str) -> Result<(), ServiceFault> {
        match &self.patient_cf {
            Some(p) if p.eq_ignore_ascii_case(cf) => Ok(()),
            Some(_) => Err(ServiceFault::new(
                "E000233",
                "il paziente della richiesta non è quello dell'asserzione di identità",
            )),
            None => Err(ServiceFault::new(
                "E000233",
                "l'asserzione di identità non indica il paziente (resource-id)",
            )),
        }
    }
}

/// Purposes of use each operation accepts (case-insensitive).
fn purposes(service: Service, operation: &str) -> &'static [&'static str] {
    match (service, operation) {
        // As the gateway requires of the tokens minted from the assertion.
        (Service::Document, "addDocument") => &["TREATMENT"],
        (Service::Document, "replaceDocument") => &["TREATMENT", "UPDATE"],
        (Service::Document, "updateMetadata") => &["UPDATE", "ACCESS UPDATE"],
        (Service::Document, "deleteDocument") => &["UPDATE"],
        (Service::Document, _) => &["TREATMENT", "EMERGENCY", "PUBEMERGENCY", "PERSONAL"],
        (Service::Consent, _) => &["CONSENT", "ADMINISTRATIVE", "TREATMENT", "PERSONAL"],
        (Service::Notebook, _) => &["PERSONAL", "TREATMENT"],
    }
}

/// A fiscal code as an IHE person id (`CF^^^&2.16.840.1.113883.2.9.4.3.2&ISO`).
pub fn person_id(cf: &str) -> String {
    format!("{cf}^^^&2.16.840.1.113883.2.9.4.3.2&ISO")
}

/// Checks the assertion and the operator's signature of `envelope` for `operation`.
pub fn identify(
    trust: &Trust,
    envelope: &str,
    service: Service,
    operation: &str,
    now: OffsetDateTime,
) -> Result<Caller, ServiceFault> {
    let skew = time::Duration::seconds(trust.skew_secs);
    let assertion = crate::saml::verify_with_skew(envelope, now, &trust.saml_signers, skew)
        .map_err(|e| ServiceFault::new("E000230", e.to_string()))?;
    let attr = |name: &str| assertion.attribute(name).map(str::to_string);
    let organisation_id = attr(ORGANISATION_ID).unwrap_or_default();
    if !trust.organisations.contains(&organisation_id) {
        return Err(ServiceFault::new(
            "E000235",
            format!("organizzazione non ammessa: {organisation_id:?}"),
        ));
    }
    let purpose = attr(PURPOSE).unwrap_or_default();
    let allowed = purposes(service, operation);
    if !allowed.iter().any(|p| p.eq_ignore_ascii_case(&purpose)) {
        return Err(ServiceFault::new(
            "E000234",
            format!(
                "finalità {purpose:?} non ammessa per {operation} (ammesse: {})",
                allowed.join(", ")
            ),
        ));
    }
    let operator_id = attr(SUBJECT_ID).unwrap_or_else(|| assertion.subject.clone());
    let operator_cf = fiscal_code_of(&operator_id);
    let signature = crate::wssec::verify(envelope, now, &trust.smartcard_cas, trust.skew_secs)
        .map_err(|e| ServiceFault::new("E000232", e.to_string()))?;
    if signature.fiscal_code != operator_cf {
        return Err(ServiceFault::new("E000231", SMARTCARD_MISMATCH));
    }
    Ok(Caller {
        issuer: assertion.issuer.clone(),
        operator_id: if operator_id.contains('^') {
            operator_id
        } else {
            person_id(&operator_cf)
        },
        operator_cf,
        role: attr(ROLE),
        purpose,
        organisation_id,
        organisation: attr(ORGANISATION),
        locality: attr(LOCALITY),
        patient_cf: attr(RESOURCE_ID).map(|p| fiscal_code_of(&p)),
        patient_consent: attr(PATIENT_CONSENT).map(|v| v.eq_ignore_ascii_case("true")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fiscal_codes_of_person_ids() {
        assert_eq!(
            fiscal_code_of("rssmra22a01a399z^^^&2.16.840.1.113883.2.9.4.3.2&ISO"),
            "RSSMRA22A01A399Z"
        );
        assert_eq!(fiscal_code_of("PROVAX00X00X000Y"), "PROVAX00X00X000Y");
    }

    #[test]
    fn purposes_follow_the_gateway_for_publications() {
        assert_eq!(purposes(Service::Document, "addDocument"), ["TREATMENT"]);
        assert_eq!(purposes(Service::Document, "deleteDocument"), ["UPDATE"]);
        assert!(purposes(Service::Document, "findDocuments").contains(&"EMERGENCY"));
        assert!(!purposes(Service::Notebook, "setVoce").contains(&"SYSADMIN"));
    }
}
