//! Reading a request as the dispatcher does: the multipart form (read by the contract's
//! form reader, the middleware's own) and the
//! `requestBody` DTOs with their strict parsing and mandatory-field order.

use bytes::Bytes;
use serde_json::{Map, Value};

use gateway_contract::cda::ExtractionMode;
use gateway_contract::form::{Form, FormError, read_form};
use gateway_contract::problem::{GtwError, Kind, err};
use gateway_contract::request_body::{
    ADMINISTRATIVE_REQUEST as ADMIN_REQ, ASSETTO_ORGANIZZATIVO as ASSETTI, ATTI_CLINICI,
    DESCRIPTION_OIDS, PUBLICATION_FIELDS, TIPO_ATTIVITA_CLINICA as ATTIVITA,
    TIPO_DOCUMENTO_LIV_ALTO as LIV_ALTO, TIPOLOGIA_STRUTTURA as STRUTTURE, VALIDATION_FIELDS,
};

use crate::jwt_checks::ORGANIZATIONS;

/// Reads the multipart body with the contract's form reader; a broken form is a generic
/// error, as in Spring, and so is a form without its `file` part.
pub fn parse_form(content_type: Option<&str>, body: &Bytes) -> Result<Form, GtwError> {
    let generic = |d: String| err(Kind::GenericError, d, "");
    let form = read_form(content_type.unwrap_or_default(), body).map_err(|e| match e {
        FormError::NotMultipart => generic("Current request is not a multipart request".into()),
        FormError::Malformed(m) => generic(format!("Multipart non valido: {m}")),
    })?;
    if form.file.is_none() {
        return Err(generic(
            "Required request part 'file' is not present".into(),
        ));
    }
    Ok(form)
}

/// Which DTO the body is parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dto {
    /// `ValidationCDAReqDTO`
    Validation,
    /// `PublicationCreationReqDTO` (create, validate-and-create)
    Creation,
    /// `PublicationUpdateReqDTO` (replace, validate-and-replace)
    Update,
    /// `ValidationFHIRReqDTO` (`activity`, `mode`)
    FhirValidation,
}

/// A parsed body: the JSON object, with the mode read out.
#[derive(Debug)]
pub struct Body {
    /// The fields.
    pub fields: Map<String, Value>,
    /// `mode`, when given.
    pub mode: Option<ExtractionMode>,
}

// === impl Body ===

impl Body {
    /// A string field.
    pub fn str(&self, k: &str) -> Option<&str> {
        self.fields.get(k).and_then(Value::as_str)
    }
}

fn class_name(dto: Dto) -> &'static str {
    match dto {
        Dto::Validation => {
            "it.finanze.sanita.fse2.ms.gtw.dispatcher.dto.request.ValidationCDAReqDTO"
        }
        Dto::Creation => {
            "it.finanze.sanita.fse2.ms.gtw.dispatcher.dto.request.PublicationCreationReqDTO"
        }
        Dto::Update => {
            "it.finanze.sanita.fse2.ms.gtw.dispatcher.dto.request.PublicationUpdateReqDTO"
        }
        Dto::FhirValidation => {
            "it.finanze.sanita.fse2.ms.gtw.dispatcher.dto.request.ValidationFHIRReqDTO"
        }
    }
}

/// Parses `requestBody` as `dto`: strict JSON, no unknown properties, enum constants.
pub fn parse_body(text: Option<&str>, dto: Dto) -> Result<Body, GtwError> {
    let mandatory = |d: String| err(Kind::MandatoryElement, d, "/request-missing-field");
    let conversion = || {
        mandatory(format!(
            "Errore durante la conversione da json a oggetto {}",
            class_name(dto)
        ))
    };
    let fields: Map<String, Value> =
        serde_json::from_str(text.ok_or_else(conversion)?).map_err(|_| conversion())?;
    let allowed: Vec<&str> = match dto {
        Dto::Validation => VALIDATION_FIELDS.to_vec(),
        Dto::Creation => PUBLICATION_FIELDS
            .iter()
            .copied()
            .chain(["priorita"])
            .collect(),
        Dto::Update => PUBLICATION_FIELDS.to_vec(),
        Dto::FhirValidation => vec!["activity", "mode"],
    };
    if fields.keys().any(|k| !allowed.contains(&k.as_str())) {
        return Err(mandatory(format!(
            "Parametro non riconosciuto all'interno della request nella conversione di {}",
            class_name(dto)
        )));
    }
    if !binds(&fields) {
        return Err(conversion());
    }
    let mode = fields
        .get("mode")
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    Ok(Body { fields, mode })
}

/// Whether the fields bind to the DTOs' enumerations and lists as Jackson binds them.
fn binds(fields: &Map<String, Value>) -> bool {
    let enum_ok = |k: &str, values: &[&str]| match fields.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => values.contains(&s.as_str()),
        _ => false,
    };
    enum_ok("healthDataFormat", &["CDA"])
        && enum_ok("mode", &["ATTACHMENT", "RESOURCE"])
        && enum_ok("activity", &["VERIFICA", "VALIDATION"])
        && enum_ok("tipologiaStruttura", &STRUTTURE)
        && enum_ok("tipoAttivitaClinica", &ATTIVITA)
        && enum_ok("tipoDocumentoLivAlto", &LIV_ALTO)
        && enum_ok("assettoOrganizzativo", &ASSETTI)
        && strings(fields.get("administrativeRequest"), Some(&ADMIN_REQ))
        && strings(fields.get("attiCliniciRegoleAccesso"), None)
        && strings(fields.get("descriptions"), None)
}

/// The metadata update's body as Spring binds `@RequestBody PublicationMetadataReqDTO`
/// (unknown properties ignored, Spring Boot's default): `None` when it cannot be read,
/// which Spring answers before the controller runs.
pub fn parse_metadata(body: &[u8]) -> Option<Body> {
    let fields: Map<String, Value> = serde_json::from_slice(body).ok()?;
    binds(&fields).then_some(Body { fields, mode: None })
}

/// `checkUpdateMandatoryElements` (@ de019846): the high-level type, the atti clinici, the
/// dates, then the descriptions.
pub fn check_update(body: &Body) -> Result<(), GtwError> {
    let missing = |d: &str| err(Kind::MandatoryElement, d, "/request-missing-field");
    if body.str("tipoDocumentoLivAlto").is_none() {
        return Err(missing(
            "Il campo tipo documento liv alto deve essere valorizzato.",
        ));
    }
    if let Some(d) = atti_clinici_error(body) {
        return Err(missing(&d));
    }
    check_dates(body)?;
    match descriptions_error(body) {
        Some(d) => Err(missing(&d)),
        None => Ok(()),
    }
}

/// Whether a list field binds as Jackson binds a `List<String>` (or a list of enum
/// constants `allowed`): absent, null, or an array of such strings.
fn strings(v: Option<&Value>, allowed: Option<&[&str]>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.iter().all(|v| {
            v.as_str()
                .is_some_and(|s| allowed.is_none_or(|values| values.contains(&s)))
        }),
        _ => false,
    }
}

/// Validation body: `activity` is mandatory.
pub fn check_validation(body: &Body) -> Result<(), GtwError> {
    if body.str("activity").is_none() {
        return Err(err(
            Kind::MandatoryElement,
            "Il campo activity deve essere valorizzato.",
            "/request-missing-field",
        ));
    }
    Ok(())
}

/// Publication body checks, in the dispatcher's order (contract §3.2).
pub fn check_publication(body: &Body, replace: bool) -> Result<(), GtwError> {
    let missing = |d: &str| err(Kind::MandatoryElement, d, "/request-missing-field");
    let absent = |k: &str| body.str(k).is_none_or(str::is_empty);
    let order = [
        (
            "identificativoDoc",
            "Il campo identificativo documento deve essere valorizzato.",
        ),
        (
            "identificativoRep",
            "Il campo identificativo rep deve essere valorizzato.",
        ),
        (
            "tipoDocumentoLivAlto",
            "Il campo tipo documento liv alto deve essere valorizzato.",
        ),
        (
            "assettoOrganizzativo",
            "Il campo assetto organizzativo deve essere valorizzato.",
        ),
        (
            "tipoAttivitaClinica",
            "Il campo tipo attivita clinica deve essere valorizzato.",
        ),
        (
            "identificativoSottomissione",
            "Il campo identificativo sottomissione deve essere valorizzato.",
        ),
        (
            "tipologiaStruttura",
            "Il campo tipologia struttura deve essere valorizzato.",
        ),
    ];
    for (k, detail) in order {
        if k == "identificativoDoc" && replace {
            continue;
        }
        if absent(k) {
            return Err(missing(detail));
        }
    }
    let detail = descriptions_error(body).or_else(|| atti_clinici_error(body));
    if let Some(d) = detail {
        return Err(missing(&d));
    }
    check_dates(body)
}

/// `checkFormatDate`: both dates as a lenient `yyyyMMddHHmmss`.
fn check_dates(body: &Body) -> Result<(), GtwError> {
    for (k, detail) in [
        (
            "dataInizioPrestazione",
            "Il campo data inizio deve essere valorizzato correttamente",
        ),
        (
            "dataFinePrestazione",
            "Il campo data fine deve essere valorizzato correttamente",
        ),
    ] {
        if !body.str(k).is_none_or(lenient_date) {
            return Err(err(
                Kind::InvalidFormat,
                detail,
                "/request-invalid-date-format",
            ));
        }
    }
    Ok(())
}

/// `validateDescriptions`: a shape refusal stops at once, an OID refusal is remembered
/// and later entries are still read.
fn descriptions_error(body: &Body) -> Option<String> {
    let list = body.fields.get("descriptions")?.as_array()?;
    let mut out = None;
    for d in list.iter().filter_map(Value::as_str) {
        let pieces = java_split(d, '^');
        if pieces.len() != 3 {
            return Some("Valorizzare correttamente il campo descriptions rispettando la forma: [CODICE]^[Descrizione]^[OID]".into());
        }
        if !description_oid_known(pieces[2]) {
            out = Some("Valorizzare correttamente il campo descriptions rispettando i valori di riferimento per gli OID".into());
        }
    }
    out
}

/// `checkDescription`: the enum's OID must equal the entry's. `COD_REGIONE` was meant as a
/// wildcard, but it is replaced inside `Pattern.quote`'s literal section, so the regional
/// catalogue's OID matches only the text `2.16.840.1.113883.2.9.2.(.*).6.1.11` itself.
fn description_oid_known(oid: &str) -> bool {
    DESCRIPTION_OIDS
        .iter()
        .any(|known| known.replace("COD_REGIONE", "(.*)") == oid)
}

/// The atti clinici: every code is read and the last unknown one is reported.
fn atti_clinici_error(body: &Body) -> Option<String> {
    let list = body.fields.get("attiCliniciRegoleAccesso")?.as_array()?;
    list.iter()
        .rev()
        .filter_map(Value::as_str)
        .find(|a| !ATTI_CLINICI.iter().any(|c| c.eq_ignore_ascii_case(a)))
        .map(|a| format!("Il campo atti clinici {a} non è consentito"))
}

/// Java's `String.split` on one character: trailing empty pieces are dropped.
fn java_split(s: &str, sep: char) -> Vec<&str> {
    let mut pieces: Vec<&str> = s.split(sep).collect();
    while pieces.last().is_some_and(|p| p.is_empty()) {
        pieces.pop();
    }
    pieces
}

/// A lenient `SimpleDateFormat("yyyyMMddHHmmss").parse`: leading white space skipped, the
/// abutting fields take their widths (a sign counting in the year's), the last one any
/// number of digits after an optional sign, out-of-range values roll over, and what follows
/// is ignored (checked with JDK 17 in the review of 2026-12-04).
fn lenient_date(d: &str) -> bool {
    let b = d.trim_start().as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    let Some((year, rest)) = b.split_at_checked(4) else {
        return false;
    };
    let year_ok = match year {
        [b'-' | b'+', tail @ ..] => digits(tail),
        _ => digits(year),
    };
    let Some((middle, seconds)) = rest.split_at_checked(8) else {
        return false;
    };
    let seconds = seconds
        .strip_prefix(b"-")
        .or(seconds.strip_prefix(b"+"))
        .unwrap_or(seconds);
    year_ok && digits(middle) && seconds.first().is_some_and(u8::is_ascii_digit)
}

/// The document-id rule: 1–256 characters, a `^` and something after the last one.
pub fn check_document_id(id: &str, instance: &str) -> Result<(), GtwError> {
    // No length limit: `@Size(max = 256)` is not enforced (no `@Validated`, review S25).
    let ok = !id.is_empty()
        && id
            .rsplit_once('^')
            .is_some_and(|(_, after)| !after.is_empty());
    if ok {
        return Ok(());
    }
    let detail = if instance == "/invalid-req-id" {
        "L'identificativo documento fornito in richiesta non è valido"
    } else {
        "L'identificativo documento non è valido"
    };
    Err(err(Kind::IdDoc, detail, instance))
}

/// `ValidationUtility.repositoryUniqueIdValidation`, run inside the FHIR mapping (after the
/// record, the five days and the hash) whose failures `callFhirMappingEngine` re-wraps as a
/// generic error with the date-format instance (review S9, `PublicationCTL` @ de019846).
pub fn check_repository_id(rep: &str) -> Result<(), GtwError> {
    let re = regex::Regex::new(r"^2\.16\.840\.1\.113883\.2\.9\.2\.(\d+)\.4\.5\..*$")
        .expect("valid regex");
    let known = re.captures(rep).and_then(|c| c.get(1)).is_some_and(|g| {
        let code = format!("{:0>3}", g.as_str());
        ORGANIZATIONS
            .iter()
            .any(|(c, _)| c.eq_ignore_ascii_case(&code))
    });
    if known {
        Ok(())
    } else {
        Err(err(
            Kind::GenericError,
            "Error: Invalid format for repositoryUniqueId",
            "/request-invalid-date-format",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::lenient_date;

    #[test]
    fn dates_as_java_reads_them_leniently() {
        for ok in [
            "20240101000000",
            "2024010100000",
            "202401010000-5",
            "-0240101000000",
            " 20240101000000",
            "20241320110012 e poi",
        ] {
            assert!(lenient_date(ok), "{ok}");
        }
        for bad in ["2024102011", "202401010000", "2024a101000000", ""] {
            assert!(!lenient_date(bad), "{bad}");
        }
    }
}
