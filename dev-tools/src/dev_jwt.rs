//! `fsemw dev-jwt`: a producer's JWT pair, like the Ministry's jwt-generator.
//!
//! Claims default from the CDA inside the PDF (`person_id`, `resource_hl7_type`),
//! `attachment_hash` is the SHA-256 of the file, and `--claims` overrides any claim.

use aws_lc_rs::digest;
use hsm::jwt::{RawClaims, sign_rs256};
use hsm::{PemSigner, Signer};
use serde_json::{Map, Value, json};

use gateway_contract::cda::{CdaFacts, extract_cda};

/// The operations a token can be minted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum JwtOperation {
    /// Validation (CREATE, TREATMENT).
    Validation,
    /// Publication (CREATE, TREATMENT).
    Create,
    /// Replace (UPDATE, TREATMENT).
    Replace,
    /// Delete (DELETE, UPDATE).
    Delete,
    /// Metadata update (UPDATE, UPDATE).
    Metadata,
}

/// Default claims for `op`, read from `pdf` when given, then `overrides` applied.
pub fn claims_for(
    op: JwtOperation,
    pdf: Option<&[u8]>,
    overrides: &Map<String, Value>,
) -> anyhow::Result<Map<String, Value>> {
    let (action, purpose) = match op {
        JwtOperation::Validation | JwtOperation::Create => ("CREATE", "TREATMENT"),
        JwtOperation::Replace => ("UPDATE", "TREATMENT"),
        JwtOperation::Delete => ("DELETE", "UPDATE"),
        JwtOperation::Metadata => ("UPDATE", "UPDATE"),
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let mut c = json!({
        "sub": "RSSMRA22A01A399Z^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
        "subject_role": "AAS",
        "purpose_of_use": purpose,
        "locality": "LABORATORIO DEMO^^^^^&2.16.840.1.113883.2.9.4.1.3&ISO^^^^160114123456",
        "subject_organization": "Regione Puglia",
        "subject_organization_id": "160",
        "aud": "https://modipa-val.fse.salute.gov.it/govway/rest/in/FSE/gateway/v1",
        "patient_consent": true,
        "action_id": action,
        "resource_hl7_type": "('11502-2^^2.16.840.1.113883.6.1')",
        "exp": now + 86_400,
        "iat": now,
        "jti": uuid::Uuid::new_v4().to_string(),
        "person_id": "RSSMRA22A01A399Z^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
        "subject_application_id": "LABDEMO",
        "subject_application_vendor": "FSEMW DEMO",
        "subject_application_version": "1.0",
    });
    if let Some(pdf) = pdf {
        c["attachment_hash"] = hex::encode(digest::digest(&digest::SHA256, pdf).as_ref()).into();
        if let Ok(facts) = extract_cda(pdf, None)
            .map_err(anyhow::Error::from)
            .and_then(|x| Ok(CdaFacts::parse(&x)?))
        {
            c["resource_hl7_type"] = facts.resource_hl7_type().into();
            if let Some((root, ext)) = facts.patient_ids.first() {
                c["person_id"] = format!("{ext}^^^&{root}&ISO").into();
            }
        }
    }
    let Value::Object(mut map) = c else {
        unreachable!("a JSON object literal")
    };
    for (k, v) in overrides {
        map.insert(k.clone(), v.clone());
    }
    Ok(map)
}

/// Signs the pair: the bearer token carries the reserved claims, the signature token all of them.
pub fn mint(claims: &Map<String, Value>, signer: &dyn Signer) -> anyhow::Result<Value> {
    // As the official generator: `iss` names the signing certificate, which GovWay checks.
    let mut claims = claims.clone();
    if !claims.contains_key("iss") {
        let cn = signer.certificate().subject_cn().to_string();
        claims.insert("iss".into(), format!("integrity:{cn}").into());
    }
    let claims = &claims;
    let bearer_keys = gateway_contract::claims::BEARER;
    let mut bearer: Map<String, Value> = claims
        .iter()
        .filter(|(k, _)| bearer_keys.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if let Some(Value::String(iss)) = bearer.get("iss").cloned() {
        let cn = iss
            .split_once(':')
            .map(|(_, cn)| cn)
            .unwrap_or(&iss)
            .to_string();
        bearer.insert("iss".into(), format!("auth:{cn}").into());
    }
    let bearer = sign_rs256(&RawClaims::from_value(&Value::Object(bearer))?, signer)?;
    let signature = sign_rs256(
        &RawClaims::from_value(&Value::Object(claims.clone()))?,
        signer,
    )?;
    Ok(json!({ "authorization": format!("Bearer {bearer}"), "fse_jwt_signature": signature }))
}

/// Loads a dev signer from PEM files.
pub fn signer(cert: &str, key: &str) -> anyhow::Result<PemSigner> {
    Ok(PemSigner::load(cert, key)?)
}
