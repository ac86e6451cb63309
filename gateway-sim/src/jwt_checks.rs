//! The gateway's JWT checks: the GovWay frontier (signature, certificate, expiry,
//! audience) and the dispatcher (claims, per-operation coherence, CDA match).

use hsm::Certificate;
use hsm::jwt::{Jwt, RawClaims};
use http::StatusCode;

use super::SimOp;
use super::fiscal_code;
use gateway_contract::cda::CdaFacts;
use gateway_contract::claims;
use gateway_contract::problem::{GtwError, Kind, err};

const MEF_OID: &str = "2.16.840.1.113883.2.9.4.3.2";
const TEAM_OID: &str = "2.16.840.1.113883.2.9.4.3.7";
/// `ActionEnum`.
const ACTIONS: [&str; 4] = ["CREATE", "READ", "UPDATE", "DELETE"];
/// `PurposeOfUseEnum` displays (compared without case).
const PURPOSES: [&str; 9] = [
    "TREATMENT",
    "EMERGENCY",
    "PUBEMERGENCY",
    "SYSADMIN",
    "PERSONAL",
    "UPDATE",
    "ACCESS UPDATE",
    "CONSENT",
    "ADMINISTRATIVE",
];
const ROLES: [&str; 22] = [
    "AAS", "APR", "PSS", "INF", "FAR", "DSA", "DAM", "OAM", "ASS", "TUT", "ING", "GEN", "NOR",
    "DRS", "RSA", "MRP", "INI", "OGC", "OPI", "MDS", "GTW", "DAP",
];
/// `SubjectOrganizationEnum` (@ de019846): code and display.
pub(crate) const ORGANIZATIONS: [(&str, &str); 26] = [
    ("010", "Regione Piemonte"),
    ("020", "Regione Valle d'Aosta"),
    ("030", "Regione Lombardia"),
    ("041", "P.A. Bolzano"),
    ("042", "P.A. Trento"),
    ("050", "Regione Veneto"),
    ("060", "Regione Friuli Venezia Giulia"),
    ("070", "Regione Liguria"),
    ("080", "Regione Emilia-Romagna"),
    ("090", "Regione Toscana"),
    ("100", "Regione Umbria"),
    ("110", "Regione Marche"),
    ("120", "Regione Lazio"),
    ("130", "Regione Abruzzo"),
    ("140", "Regione Molise"),
    ("150", "Regione Campania"),
    ("160", "Regione Puglia"),
    ("170", "Regione Basilicata"),
    ("180", "Regione Calabria"),
    ("190", "Regione Sicilia"),
    ("200", "Regione Sardegna"),
    ("000", "INI"),
    ("970", "Sistema TS"),
    ("001", "SASN"),
    ("999", "MDS"),
    ("950", "GTW"),
];

/// Which of the two tokens GovWay checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// `Authorization: Bearer …`: `iss` is `auth:` + the CN of its `x5c`.
    Bearer,
    /// `FSE-JWT-Signature`: `iss` is `integrity:` + the CN of its `x5c`.
    Signature,
}

/// A refusal at GovWay's front end, in its own problem format.
#[derive(Debug)]
pub struct FrontierRefusal {
    /// HTTP status.
    pub status: StatusCode,
    /// GovWay's error type (the problem's `title`).
    pub title: &'static str,
    /// Its detail (fixed for token refusals, the validator's text for content).
    pub detail: std::borrow::Cow<'static, str>,
    /// The `WWW-Authenticate` realm of a failed token (live #742: `FSE-JWT-Signature`).
    pub realm: Option<&'static str>,
}

/// The token's signature, certificate or lifetime fails (live #742, #1054, #2081, #2279:
/// 401 `TokenAuthenticationFailed` "Invalid token", nothing more).
fn invalid_token(which: Token) -> FrontierRefusal {
    FrontierRefusal {
        status: StatusCode::UNAUTHORIZED,
        title: "TokenAuthenticationFailed",
        detail: "Invalid token".into(),
        realm: (which == Token::Signature).then_some("FSE-JWT-Signature"),
    }
}

/// The token is valid but not as the ModI profile wants it (`aud`, `iss`, `iat`): live #295,
/// #1391, #2486 give the fixed detail only.
fn not_conform() -> FrontierRefusal {
    FrontierRefusal {
        status: StatusCode::BAD_REQUEST,
        title: "InteroperabilityInvalidRequest",
        detail: "Received request is not conform to the required interoperability profile".into(),
        realm: None,
    }
}

/// GovWay's checks of one token: signature by `x5c`, `x5c` issued by a trusted CA and valid
/// now, `exp` not passed (401); then `iss` bound to the `x5c` CN, `iat` not in the future
/// and `aud` as expected when configured (400).
pub fn frontier(
    jwt: &Jwt,
    which: Token,
    roots: &[Certificate],
    audience: Option<&str>,
    now: i64,
) -> Result<(), FrontierRefusal> {
    let cert = jwt.x5c_leaf().map_err(|_| invalid_token(which))?;
    if !cert.chains_to(roots, now) || jwt.verify_with(&cert).is_err() {
        return Err(invalid_token(which));
    }
    if jwt.claims.integer("exp").is_none_or(|exp| exp < now) {
        return Err(invalid_token(which));
    }
    let prefix = match which {
        Token::Bearer => "auth:",
        Token::Signature => "integrity:",
    };
    let iss_ok = jwt
        .claims
        .string("iss")
        .is_some_and(|iss| iss.strip_prefix(prefix) == Some(cert.subject_cn()));
    let iat_ok = jwt.claims.integer("iat").is_none_or(|iat| iat <= now);
    let aud_ok = audience.is_none_or(|aud| jwt.claims.string("aud").as_deref() == Some(aud));
    if iss_ok && iat_ok && aud_ok {
        Ok(())
    } else {
        Err(not_conform())
    }
}

fn missing(claim: &str) -> GtwError {
    err(
        Kind::JwtValidation,
        format!("Il campo {claim} non è valorizzato"),
        "/jwt-mandatory-field-missing",
    )
}

fn malformed(detail: impl Into<String>) -> GtwError {
    err(
        Kind::JwtValidation,
        detail,
        "/jwt-mandatory-field-malformed",
    )
}

/// The dispatcher's claim checks for `op` (contract §4.3–4.4), in its order (`JwtSRV` @
/// de019846): mandatory claims, the `sub` fiscal code, the enumerated values, the
/// operation's coherence, and `resource_hl7_type` last (not for a delete).
pub fn dispatcher(claims: &RawClaims, op: SimOp) -> Result<(), GtwError> {
    for c in &claims::MANDATORY {
        if claims.string(c).is_none_or(|v| v.is_empty()) {
            return Err(missing(c));
        }
    }
    if claims.raw("patient_consent") == Some("null") {
        return Err(missing("patient_consent"));
    }
    check_sub(claims.string("sub").as_deref())?;
    field_values(claims)?;
    coherence(claims, op)?;
    if op != SimOp::Delete
        && claims
            .string(claims::RESOURCE_HL7_TYPE)
            .is_none_or(|v| v.is_empty())
    {
        return Err(missing(claims::RESOURCE_HL7_TYPE));
    }
    Ok(())
}

/// `action_id`, `purpose_of_use` (any case), `subject_role`, `subject_organization_id` and
/// `subject_organization` (any case) must be known values, the organisation's id and name
/// the same entry.
fn field_values(claims: &RawClaims) -> Result<(), GtwError> {
    let value = |c: &str| claims.string(c).unwrap_or_default();
    if !ACTIONS.contains(&value("action_id").as_str()) {
        return Err(malformed("Il campo action_id non è corretto"));
    }
    let purpose = value("purpose_of_use");
    if !PURPOSES.iter().any(|p| p.eq_ignore_ascii_case(&purpose)) {
        return Err(malformed("Il campo purpose_of_use non è corretto"));
    }
    if !ROLES.contains(&value("subject_role").as_str()) {
        return Err(malformed("Il campo subject_role non è corretto"));
    }
    let org_id = value("subject_organization_id");
    let Some(by_id) = ORGANIZATIONS.iter().position(|(id, _)| *id == org_id) else {
        return Err(malformed("Il campo subject_organization_id non è corretto"));
    };
    let org = value("subject_organization");
    let Some(by_name) = ORGANIZATIONS
        .iter()
        .position(|(_, name)| name.eq_ignore_ascii_case(&org))
    else {
        return Err(malformed("Il campo subject_organization non è corretto"));
    };
    if by_id != by_name {
        return Err(malformed(
            "I campi subject_organization_id e subject_organization non sono coerenti",
        ));
    }
    Ok(())
}

/// The `sub` must be a valid fiscal code when it is one (alone, or with the MEF OID as the
/// assigning authority); an absent `sub` is refused with the same text.
fn check_sub(sub: Option<&str>) -> Result<(), GtwError> {
    let refused = || malformed("Il codice fiscale nel campo sub non è corretto");
    let sub = sub.ok_or_else(refused)?;
    if !fiscal_code::valid_where_required(sub, MEF_OID) {
        return Err(refused());
    }
    Ok(())
}

fn coherence(claims: &RawClaims, op: SimOp) -> Result<(), GtwError> {
    use SimOp::*;
    let action = claims.string("action_id").unwrap_or_default();
    let purpose = claims
        .string("purpose_of_use")
        .unwrap_or_default()
        .to_ascii_uppercase();
    let (actions, purposes, locality): (&[&str], &[&str], bool) = match op {
        Validation => (&["CREATE", "UPDATE"], &["TREATMENT"], false),
        Create | ValidateAndCreate => (&["CREATE"], &["TREATMENT"], true),
        Replace | ValidateAndReplace => (&["UPDATE"], &["TREATMENT", "UPDATE"], true),
        Metadata => (&["UPDATE"], &["UPDATE", "ACCESS UPDATE"], true),
        Delete => (&["DELETE"], &["UPDATE"], true),
    };
    if !actions.contains(&action.as_str()) {
        return Err(malformed(
            "Il campo action_id non è coerente con le operazioni richieste",
        ));
    }
    if !purposes.contains(&purpose.as_str()) {
        return Err(malformed(
            "Il campo purpose_of_use non coerente con operazione richiesta",
        ));
    }
    if locality {
        let re = regex::Regex::new(r"^[^\^]*\^{5}&[^&]*&ISO\^{4}[^\^&]*$").expect("valid regex");
        if !re.is_match(&claims.string("locality").unwrap_or_default()) {
            return Err(malformed(
                "Il campo Locality non è valorizzato correttamente",
            ));
        }
    }
    Ok(())
}

/// Steps 7 and 8: the token must describe this CDA and this patient.
pub fn against_cda(claims: &RawClaims, facts: &CdaFacts) -> Result<(), GtwError> {
    // `AbstractCTL.validateResourceHl7Type` / `validatePersonId` @ de019846.
    if !facts.has_code {
        return Err(err(
            Kind::JwtValidation,
            "JWT payload: non è stato possibile verificare la tipologia del CDA",
            "/jwt-document-type",
        ));
    }
    if claims.string("resource_hl7_type").as_deref() != Some(facts.resource_hl7_type().as_str()) {
        return Err(err(
            Kind::JwtValidation,
            "JWT payload: Tipologia documento diversa dalla tipologia di CDA (code - codesystem)",
            "/jwt-document-type",
        ));
    }
    if facts.patient_ids.is_empty() {
        return Err(err(
            Kind::JwtValidation,
            "JWT payload: non è stato possibile verificare il codice fiscale del paziente presente nel CDA",
            "/jwt-person-id",
        ));
    }
    let person = claims.string("person_id").unwrap_or_default();
    let cf = person.split('^').next().unwrap_or_default();
    let person_error = || {
        err(
            Kind::JwtValidation,
            "JWT payload: Person id presente nel JWT differente dal codice fiscale del paziente previsto sul CDA",
            "/jwt-person-id",
        )
    };
    let matched = facts
        .patient_ids
        .iter()
        .find(|(_, ext)| ext == cf)
        .ok_or_else(person_error)?;
    // The patient's code is checked like the operator's, unless the CDA names it with the
    // TEAM OID (`AbstractCTL.validatePersonId`).
    if matched.0 != TEAM_OID {
        return patient_fiscal_code(&person);
    }
    Ok(())
}

/// The token's patient checked as a fiscal code where the dispatcher checks one.
pub fn patient_fiscal_code(person: &str) -> Result<(), GtwError> {
    if fiscal_code::valid_where_required(person, MEF_OID) {
        Ok(())
    } else {
        Err(malformed(
            "Il codice fiscale nel campo person_id non è corretto",
        ))
    }
}
