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

/// A frontier refusal: status, GovWay title, detail.
pub type FrontierRefusal = (StatusCode, &'static str, String);

/// GovWay's checks of one token: signature by `x5c`, `x5c` issued by a trusted
/// CA and valid now, `exp` not passed, `aud` as expected (when configured).
pub fn frontier(
    jwt: &Jwt,
    roots: &[Certificate],
    audience: Option<&str>,
    now: i64,
) -> Result<(), FrontierRefusal> {
    let invalid = |d: String| (StatusCode::BAD_REQUEST, "InteroperabilityInvalidRequest", d);
    let cert = jwt.x5c_leaf().map_err(|e| invalid(format!("x5c: {e}")))?;
    if !cert.chains_to(roots, now) {
        return Err(invalid(format!(
            "certificato x5c non attendibile o scaduto: {}",
            cert.subject_cn()
        )));
    }
    jwt.verify_with(&cert).map_err(|e| invalid(e.to_string()))?;
    match jwt.claims.integer("exp") {
        Some(exp) if exp >= now => {}
        Some(_) => return Err(invalid("token scaduto (exp)".into())),
        None => return Err(invalid("claim exp assente".into())),
    }
    if let Some(aud) = audience
        && jwt.claims.string("aud").as_deref() != Some(aud)
    {
        return Err(invalid(format!("audience non valida, attesa {aud}")));
    }
    Ok(())
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
    if claims.string("resource_hl7_type").as_deref() != Some(facts.resource_hl7_type().as_str()) {
        return Err(err(
            Kind::JwtValidation,
            "JWT payload: Tipologia documento diversa dalla tipologia di CDA (code - codesystem)",
            "/jwt-document-type",
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
