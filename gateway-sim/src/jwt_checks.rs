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
const ROLES: [&str; 22] = [
    "AAS", "APR", "PSS", "INF", "FAR", "DSA", "DAM", "OAM", "ASS", "TUT", "ING", "GEN", "NOR",
    "DRS", "RSA", "MRP", "INI", "OGC", "OPI", "MDS", "GTW", "DAP",
];
const ORGANIZATIONS: [(&str, &str); 26] = [
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

/// The dispatcher's claim checks for `op` (contract §4.3–4.4).
pub fn dispatcher(claims: &RawClaims, op: SimOp) -> Result<(), GtwError> {
    let mut required = claims::MANDATORY.to_vec();
    if op != SimOp::Delete {
        required.push(claims::RESOURCE_HL7_TYPE);
    }
    for c in &required {
        if claims.string(c).is_none_or(|v| v.is_empty()) {
            return Err(missing(c));
        }
    }
    if claims.raw("patient_consent") == Some("null") {
        return Err(missing("patient_consent"));
    }
    if let Some(sub) = claims.string("sub") {
        check_sub(&sub)?;
    }
    let role = claims.string("subject_role").unwrap_or_default();
    if !ROLES.contains(&role.as_str()) {
        return Err(malformed("Il campo subject_role non è corretto"));
    }
    let org_id = claims.string("subject_organization_id").unwrap_or_default();
    let org = claims.string("subject_organization").unwrap_or_default();
    match ORGANIZATIONS.iter().find(|(id, _)| *id == org_id) {
        None => return Err(malformed("Il campo subject_organization_id non è corretto")),
        Some((_, name)) if !name.eq_ignore_ascii_case(&org) => {
            return Err(malformed(
                "I campi subject_organization_id e subject_organization non sono coerenti",
            ));
        }
        Some(_) => {}
    }
    coherence(claims, op)
}

fn check_sub(sub: &str) -> Result<(), GtwError> {
    let (cf, rest) = sub.split_once("^^^").unwrap_or((sub, ""));
    let mef = rest.is_empty() || rest.contains(MEF_OID);
    if mef && !fiscal_code::is_valid(cf) {
        return Err(malformed("Il codice fiscale nel campo sub non è corretto"));
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
    if matched.0 != TEAM_OID && !fiscal_code::is_valid(cf) {
        return Err(person_error());
    }
    Ok(())
}
