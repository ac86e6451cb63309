//! IGestoreConsensoService: record, revoke, read and list a patient's consents.

use super::fault_code::FaultCode;
use std::fmt::Write;

use roxmltree::Node;
use time::Date;
use time::macros::format_description;

use super::{Call, ServiceFault};
use crate::db::consents::{self, CODES, Consent, Recorded, Recorder};
use crate::db::transactions::TransactionRecord;

pub(super) fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

pub(super) fn text(n: Node<'_, '_>, name: &str) -> Option<String> {
    child(n, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
}

pub(super) fn required(n: Node<'_, '_>, name: &str) -> Result<String, ServiceFault> {
    text(n, name).ok_or_else(|| {
        ServiceFault::new(
            FaultCode::MissingField,
            format!("campo obbligatorio mancante: {name}"),
        )
    })
}

/// A fiscal code: 16 characters, letters and digits (temporary codes: 11 digits).
pub(super) fn fiscal_code(n: Node<'_, '_>, name: &str) -> Result<String, ServiceFault> {
    let cf = required(n, name)?.to_ascii_uppercase();
    let ok = (cf.len() == 16 && cf.bytes().all(|b| b.is_ascii_alphanumeric()))
        || (cf.len() == 11 && cf.bytes().all(|b| b.is_ascii_digit()));
    if ok {
        Ok(cf)
    } else {
        Err(ServiceFault::new(
            FaultCode::BadFiscalCode,
            format!("{name} non è un codice fiscale valido: {cf}"),
        ))
    }
}

fn code(value: &str) -> Result<String, ServiceFault> {
    let c = value.trim().to_ascii_uppercase();
    if CODES.contains(&c.as_str()) {
        Ok(c)
    } else {
        Err(ServiceFault::new(
            FaultCode::BadConsentCode,
            format!("codice consenso non valido: {value} (ammessi C1, C2, C3, C4)"),
        ))
    }
}

fn date(value: Option<String>) -> Result<Date, ServiceFault> {
    match value {
        None => Ok(time::OffsetDateTime::now_utc().date()),
        Some(v) => Date::parse(&v, format_description!("[year]-[month]-[day]")).map_err(|_| {
            ServiceFault::new(
                FaultCode::BadValue,
                format!("data non valida: {v} (AAAA-MM-GG)"),
            )
        }),
    }
}

fn boolean(value: &str) -> Result<bool, ServiceFault> {
    match value.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(ServiceFault::new(
            FaultCode::BadValue,
            format!("valore non valido: {other} (true/false)"),
        )),
    }
}

/// Runs one operation (the body element is `operation`, checked by the caller); the
/// answer is the body element.
pub async fn handle(
    call: &Call<'_>,
    operation: &str,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    let patient = call.patient(payload, rec)?;
    let pool = &call.state.pool;
    let store_failed = |e: crate::db::DbError| call.failure("consent store", e);
    match operation {
        "registraConsensi" | "revocaConsenso" => {
            let op = child(payload, "operatore").ok_or_else(|| {
                ServiceFault::new(
                    FaultCode::MissingField,
                    "campo obbligatorio mancante: operatore",
                )
            })?;
            let operator_cf = fiscal_code(op, "codiceFiscale")?;
            if operator_cf != call.caller.operator_cf {
                return Err(ServiceFault::new(
                    FaultCode::SmartCardMismatch,
                    super::security::SMARTCARD_MISMATCH,
                ));
            }
            let operator_role = text(op, "ruolo");
            let consents = if operation == "registraConsensi" {
                consents_of(payload)?
            } else {
                vec![revocation_of(payload)?]
            };
            let by = Recorder {
                operator_cf: &operator_cf,
                operator_role: operator_role.as_deref(),
                application: &call.producer.cert_cn,
                asl: call.asl,
                tx_id: call.tx.id,
            };
            consents::record(pool, &patient, &consents, &by)
                .await
                .map_err(store_failed)?;
            let state = consents::state(pool, &patient)
                .await
                .map_err(store_failed)?;
            answer(call, &patient, &state).await
        }
        "statoConsensi" => {
            let state = consents::state(pool, &patient)
                .await
                .map_err(store_failed)?;
            answer(call, &patient, &state).await
        }
        "storicoConsensi" => {
            let history = consents::history(pool, &patient)
                .await
                .map_err(store_failed)?;
            answer(call, &patient, &history).await
        }
        other => Err(ServiceFault::new(
            FaultCode::UnknownOperation,
            format!("operazione sconosciuta: {other}"),
        )),
    }
}

/// The `consenso` elements of a `registraConsensi` (at least one).
fn consents_of(payload: Node<'_, '_>) -> Result<Vec<Consent>, ServiceFault> {
    let mut list = Vec::new();
    for c in payload
        .children()
        .filter(|c| c.is_element() && c.tag_name().name() == "consenso")
    {
        list.push(Consent {
            code: code(&required(c, "codice")?)?,
            granted: boolean(&required(c, "valore")?)?,
            valid_from: date(text(c, "dataInizio"))?,
            note: text(c, "note"),
        });
    }
    if list.is_empty() {
        return Err(ServiceFault::new(
            FaultCode::MissingField,
            "campo obbligatorio mancante: consenso",
        ));
    }
    Ok(list)
}

/// The consent a `revocaConsenso` withdraws, from today.
fn revocation_of(payload: Node<'_, '_>) -> Result<Consent, ServiceFault> {
    Ok(Consent {
        code: code(&required(payload, "codice")?)?,
        granted: false,
        valid_from: date(None)?,
        note: text(payload, "note"),
    })
}

async fn answer(
    call: &Call<'_>,
    patient: &str,
    records: &[Recorded],
) -> Result<String, ServiceFault> {
    let allowed = consents::consultation_allowed(&call.state.pool, patient)
        .await
        .map_err(|e| call.failure("consent store", e))?;
    let esc = soap_wsdl::write::escape;
    let mut out = format!(
        "<fse:esitoConsensi xmlns:fse=\"{}\"><esito>OK</esito><codiceFiscalePaziente>{}</codiceFiscalePaziente><consultazioneConsentita>{allowed}</consultazioneConsentita>",
        super::SIST,
        esc(patient)
    );
    for r in records {
        let c = &r.consent;
        let _ = write!(
            out,
            "<consenso><codice>{}</codice><valore>{}</valore><dataInizio>{}</dataInizio>{}<operatore><codiceFiscale>{}</codiceFiscale>{}</operatore><applicazione>{}</applicazione><asl>{}</asl><registratoIl>{}</registratoIl><transazione>{}</transazione></consenso>",
            esc(&c.code),
            c.granted,
            c.valid_from,
            c.note
                .as_deref()
                .map(|n| format!("<note>{}</note>", esc(n)))
                .unwrap_or_default(),
            esc(&r.operator_cf),
            r.operator_role
                .as_deref()
                .map(|n| format!("<ruolo>{}</ruolo>", esc(n)))
                .unwrap_or_default(),
            esc(&r.application),
            esc(&r.asl),
            r.recorded_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            r.tx_id
        );
    }
    out.push_str("</fse:esitoConsensi>");
    Ok(out)
}
