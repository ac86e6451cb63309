//! Reading a request as the dispatcher does: the multipart form (read by the contract's
//! form reader, the middleware's own) and the
//! `requestBody` DTOs with their strict parsing and mandatory-field order.

use bytes::Bytes;
use serde_json::{Map, Value};

use gateway_contract::cda::ExtractionMode;
use gateway_contract::form::{Form, FormError, read_form};
use gateway_contract::problem::{GtwError, Kind, err};
use gateway_contract::request_body::{
    ADMINISTRATIVE_REQUEST as ADMIN_REQ, PUBLICATION_FIELDS, TIPO_ATTIVITA_CLINICA as ATTIVITA,
    TIPO_DOCUMENTO_LIV_ALTO as LIV_ALTO, TIPOLOGIA_STRUTTURA as STRUTTURE, VALIDATION_FIELDS,
};

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
    let enum_ok = |k: &str, values: &[&str]| match fields.get(k) {
        None | Some(Value::Null) => true,
        Some(Value::String(s)) => values.contains(&s.as_str()),
        _ => false,
    };
    let enums_valid = enum_ok("healthDataFormat", &["CDA"])
        && enum_ok("mode", &["ATTACHMENT", "RESOURCE"])
        && enum_ok("activity", &["VERIFICA", "VALIDATION"])
        && enum_ok("tipologiaStruttura", &STRUTTURE)
        && enum_ok("tipoAttivitaClinica", &ATTIVITA)
        && enum_ok("tipoDocumentoLivAlto", &LIV_ALTO)
        && match fields.get("administrativeRequest") {
            None | Some(Value::Null) => true,
            Some(Value::Array(a)) => a
                .iter()
                .all(|v| v.as_str().is_some_and(|s| ADMIN_REQ.contains(&s))),
            _ => false,
        };
    if !enums_valid {
        return Err(conversion());
    }
    let mode = fields
        .get("mode")
        .and_then(|m| serde_json::from_value(m.clone()).ok());
    Ok(Body { fields, mode })
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
    let assetto = body.str("assettoOrganizzativo").unwrap_or_default();
    if !(assetto.len() == 9
        && assetto.starts_with("AD_PSC")
        && assetto[6..].bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(err(
            Kind::MandatoryElement,
            "Errore durante la conversione da json a oggetto assettoOrganizzativo",
            "/request-missing-field",
        ));
    }
    if let Some(Value::Array(descs)) = body.fields.get("descriptions") {
        let shape = |d: &Value| {
            d.as_str()
                .is_some_and(|s| s.split('^').count() == 3 && !s.starts_with('^'))
        };
        if !descs.iter().all(shape) {
            return Err(missing(
                "Valorizzare correttamente il campo descriptions rispettando la forma: [CODICE]^[Descrizione]^[OID]",
            ));
        }
    }
    let date_ok = |k: &str| {
        body.str(k)
            .is_none_or(|d| d.len() == 14 && d.bytes().all(|b| b.is_ascii_digit()))
    };
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
        if !date_ok(k) {
            return Err(err(
                Kind::InvalidFormat,
                detail,
                "/request-invalid-date-format",
            ));
        }
    }
    if let Some(id) = body.str("identificativoDoc") {
        check_document_id(id, "/invalid-id")?;
    }
    check_repository_id(body.str("identificativoRep").unwrap_or_default())
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

fn check_repository_id(rep: &str) -> Result<(), GtwError> {
    let re = regex::Regex::new(r"^2\.16\.840\.1\.113883\.2\.9\.2\.(\d+)\.4\.5\..*$")
        .expect("valid regex");
    let known = re.captures(rep).and_then(|c| c.get(1)).is_some_and(|g| {
        let code = format!("{:0>3}", g.as_str());
        code.len() == 3 && (code == "000" || (10..=200).contains(&code.parse::<u32>().unwrap_or(0)))
    });
    if known {
        Ok(())
    } else {
        Err(err(
            Kind::GenericError,
            "Errore generico: identificativo repository non valido",
            "",
        ))
    }
}
