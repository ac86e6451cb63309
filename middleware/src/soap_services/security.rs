//! Who is calling a SOAP service: the SAML identity assertion in the header (signed by a
//! trusted certificate, within its window, from an accepted organisation, with a purpose
//! the operation allows) and the operator's smart-card signature over the timestamp and
//! the body (WS-Security), whose fiscal code must be the assertion's operator — else
//! `E000231`, as observed. A message is accepted once: its operator signature is
//! remembered until the message expires, and a replay is refused.

use super::fault_code::FaultCode;
use std::collections::HashMap;
use std::sync::Mutex;

use hsm::Purpose;
use time::{Duration, OffsetDateTime};

use super::{Service, ServiceFault};
use crate::config::SoapConfig;
pub use crate::forward::checks::fiscal_code_of;
use crate::trust::{Trust as TrustSet, TrustLoadError};
use crate::xmldsig::SignedDocument;

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

/// What the services trust, loaded at start (revocation lists reloaded with the
/// producers').
#[derive(Debug)]
pub struct Trust {
    /// Signers of identity assertions (pinned, with their CAs).
    pub saml_signers: TrustSet,
    /// CAs of operators' smart cards.
    pub smartcards: TrustSet,
    /// Accepted `organization-id` values.
    pub organisations: Vec<String>,
    /// Tolerated clock difference.
    pub skew: Duration,
    /// Longest assertion window.
    pub max_assertion_lifetime: Duration,
    /// Oldest message accepted.
    pub max_message_age: Duration,
    /// Operator signatures already accepted, until their message expires.
    seen: Replays,
}

impl Trust {
    /// Loads the certificates and revocation lists named by the configuration.
    pub fn load(config: &SoapConfig, region_code: &str) -> Result<Self, TrustLoadError> {
        let organisations = if config.organisations.is_empty() {
            vec![region_code.to_string()]
        } else {
            config.organisations.clone()
        };
        let set = |files: &[String]| -> Result<TrustSet, TrustLoadError> {
            if files.is_empty() {
                return TrustSet::empty(Purpose::Signature);
            }
            TrustSet::load(Purpose::Signature, files, &config.crls, false)
        };
        Ok(Self {
            saml_signers: set(&config.saml_signers)?,
            smartcards: set(&config.smartcard_cas)?,
            organisations,
            skew: Duration::seconds(config.clock_skew_secs),
            max_assertion_lifetime: Duration::seconds(config.max_assertion_lifetime_secs),
            max_message_age: Duration::seconds(config.max_message_age_secs),
            seen: Replays::default(),
        })
    }

    /// Both sets read again when a revocation list changed on disk.
    pub fn reload_if_changed(&self) -> Result<bool, TrustLoadError> {
        Ok(self.saml_signers.reload_if_changed()? | self.smartcards.reload_if_changed()?)
    }

    /// Whether revocation lists are configured.
    pub fn has_crls(&self) -> bool {
        self.smartcards.has_crls() || self.saml_signers.has_crls()
    }

    /// Both sets read again (certificates and lists); what fails leaves its set in force.
    pub fn reload(&self) -> Result<(), TrustLoadError> {
        self.saml_signers.reload()?;
        self.smartcards.reload()?;
        Ok(())
    }
}

/// Operator signatures of accepted messages (SHA-256 of the value) with the time until
/// which each message could be accepted. Entries past it are dropped as new ones come,
/// so the map holds at most the messages of one `max_message_age`.
#[derive(Debug, Default)]
struct Replays(Mutex<Replayed>);

#[derive(Debug, Default)]
struct Replayed {
    until: HashMap<[u8; 32], OffsetDateTime>,
    next_sweep: Option<OffsetDateTime>,
}

impl Replays {
    /// Records a message; false when it was already accepted.
    fn first_time(&self, value: &[u8], until: OffsetDateTime, now: OffsetDateTime) -> bool {
        let key: [u8; 32] = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value)
            .as_ref()
            .try_into()
            .expect("a SHA-256 digest");
        let mut seen = self.0.lock().expect("replay lock");
        if seen.next_sweep.is_none_or(|t| t <= now) {
            seen.until.retain(|_, u| *u > now);
            seen.next_sweep = Some(now + Duration::seconds(10));
        }
        match seen.until.get(&key) {
            Some(u) if *u > now => false,
            _ => {
                seen.until.insert(key, until);
                true
            }
        }
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
                FaultCode::Patient,
                "il paziente della richiesta non è quello dell'asserzione di identità",
            )),
            None => Err(ServiceFault::new(
                FaultCode::Patient,
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

/// A refusal of the caller's identity.
fn refused(code: FaultCode, e: impl std::fmt::Display) -> ServiceFault {
    ServiceFault::new(code, e.to_string())
}

/// Checks the assertion and the operator's signature of `signed` (the whole envelope)
/// for `operation`, and that the message was not accepted before.
pub fn identify(
    trust: &Trust,
    signed: &SignedDocument<'_, '_>,
    service: Service,
    operation: &str,
    now: OffsetDateTime,
) -> Result<Caller, ServiceFault> {
    let signers = trust.saml_signers.store();
    let assertion = crate::saml::verify(
        signed,
        &crate::saml::Policy {
            signers: &signers,
            now,
            skew: trust.skew,
            max_lifetime: trust.max_assertion_lifetime,
        },
    )
    .map_err(|e| refused(FaultCode::Assertion, e))?;
    let attr = |name: &str| {
        assertion
            .single(name)
            .map(|v| v.map(str::to_string))
            .map_err(|e| refused(FaultCode::Assertion, e))
    };
    let organisation_id = attr(ORGANISATION_ID)?.unwrap_or_default();
    if !trust.organisations.contains(&organisation_id) {
        return Err(ServiceFault::new(
            FaultCode::Organisation,
            format!("organizzazione non ammessa: {organisation_id:?}"),
        ));
    }
    let purpose = attr(PURPOSE)?.unwrap_or_default();
    let allowed = purposes(service, operation);
    if !allowed.iter().any(|p| p.eq_ignore_ascii_case(&purpose)) {
        return Err(ServiceFault::new(
            FaultCode::Purpose,
            format!(
                "finalità {purpose:?} non ammessa per {operation} (ammesse: {})",
                allowed.join(", ")
            ),
        ));
    }
    let operator_id = attr(SUBJECT_ID)?.unwrap_or_else(|| assertion.subject.clone());
    let operator_cf = fiscal_code_of(&operator_id);
    let cards = trust.smartcards.store();
    let signature = crate::wssec::verify(
        signed,
        &crate::wssec::Policy {
            cards: &cards,
            now,
            skew: trust.skew,
            max_age: trust.max_message_age,
        },
    )
    .map_err(|e| refused(FaultCode::OperatorSignature, e))?;
    if signature.fiscal_code != operator_cf {
        return Err(ServiceFault::new(
            FaultCode::SmartCardMismatch,
            SMARTCARD_MISMATCH,
        ));
    }
    let caller = Caller {
        issuer: assertion.issuer.clone(),
        operator_id: if operator_id.contains('^') {
            operator_id
        } else {
            person_id(&operator_cf)
        },
        operator_cf,
        role: attr(ROLE)?,
        purpose,
        organisation_id,
        organisation: attr(ORGANISATION)?,
        locality: attr(LOCALITY)?,
        patient_cf: attr(RESOURCE_ID)?.map(|p| fiscal_code_of(&p)),
        patient_consent: attr(PATIENT_CONSENT)?.map(|v| v.eq_ignore_ascii_case("true")),
    };
    if !trust
        .seen
        .first_time(&signature.value, signature.valid_until, now)
    {
        return Err(ServiceFault::new(
            FaultCode::OperatorSignature,
            "messaggio già ricevuto: ogni richiesta va firmata di nuovo (replay)",
        ));
    }
    Ok(caller)
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
    fn a_message_is_accepted_once_until_it_expires() {
        let seen = Replays::default();
        let now = OffsetDateTime::now_utc();
        let until = now + Duration::seconds(60);
        assert!(seen.first_time(b"sig-1", until, now));
        assert!(!seen.first_time(b"sig-1", until, now + Duration::seconds(30)));
        assert!(seen.first_time(b"sig-2", until, now));
        // Past its expiry the message is refused by its timestamp, and forgotten here.
        assert!(seen.first_time(b"sig-1", until, now + Duration::seconds(61)));
    }

    #[test]
    fn purposes_follow_the_gateway_for_publications() {
        assert_eq!(purposes(Service::Document, "addDocument"), ["TREATMENT"]);
        assert_eq!(purposes(Service::Document, "deleteDocument"), ["UPDATE"]);
        assert!(purposes(Service::Document, "findDocuments").contains(&"EMERGENCY"));
        assert!(!purposes(Service::Notebook, "setVoce").contains(&"SYSADMIN"));
    }
}
