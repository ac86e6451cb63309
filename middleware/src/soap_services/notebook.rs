//! ITaccuinoService: the patient's personal notebook — entries (measurements, symptoms,
//! pains, diets, drugs, events, contacts, notes) and personal documents.
//!
//! One generic set of operations over typed entries (`tipo`); Regione Piemonte's analogue
//! has one operation per type (`setSintomo`, `getFarmaci`…): docs/soap.md maps them.

use super::fault_code::FaultCode;
use std::fmt::Write;

use aws_lc_rs::digest;
use base64::Engine;
use roxmltree::Node;
use time::Date;
use time::macros::format_description;

use super::consent::{required, text};
use super::{Call, ServiceFault};
use crate::db::transactions::TransactionRecord;

/// Entry kinds.
pub const KINDS: [&str; 9] = [
    "rilevazione",
    "sintomo",
    "dolore",
    "dieta",
    "farmaco",
    "evento",
    "contatto",
    "nota",
    "documento",
];

/// Largest personal document accepted, bytes.
const MAX_DOCUMENT: usize = 10 << 20;

fn kind(value: &str) -> Result<String, ServiceFault> {
    let k = value.trim().to_ascii_lowercase();
    if KINDS.contains(&k.as_str()) {
        Ok(k)
    } else {
        Err(ServiceFault::new(
            FaultCode::NotebookKind,
            format!(
                "tipo di voce non valido: {value} (ammessi: {})",
                KINDS.join(", ")
            ),
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

fn entry_id(payload: Node<'_, '_>) -> Result<i64, ServiceFault> {
    let raw = required(payload, "idVoce")?;
    raw.parse()
        .map_err(|_| ServiceFault::new(FaultCode::BadValue, format!("idVoce non valido: {raw}")))
}

/// Runs one operation (the body element is `operation`, checked by the caller); the
/// answer is the body element.
pub async fn handle(
    call: &Call<'_>,
    operation: &str,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    let cf = call.patient(payload, rec)?;
    let client = call
        .state
        .pool
        .get()
        .await
        .map_err(|e| call.failure("notebook store", e))?;
    let esc = soap_wsdl::write::escape;
    let answer = |body: String| {
        format!(
            "<fse:esitoTaccuino xmlns:fse=\"{}\"><esito>OK</esito><codiceFiscalePaziente>{}</codiceFiscalePaziente>{body}</fse:esitoTaccuino>",
            super::SIST,
            esc(&cf)
        )
    };
    match operation {
        "setVoce" | "setDocumento" => {
            let (k, title, mime, content) = if operation == "setDocumento" {
                let raw: String = required(payload, "documento")?
                    .chars()
                    .filter(|c| !c.is_whitespace())
                    .collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(raw)
                    .map_err(|_| {
                        ServiceFault::new(FaultCode::BadValue, "documento: base64 non valido")
                    })?;
                if bytes.is_empty() || bytes.len() > MAX_DOCUMENT {
                    return Err(ServiceFault::new(
                        FaultCode::NotebookDocument,
                        format!("documento vuoto o più grande di {MAX_DOCUMENT} byte"),
                    ));
                }
                (
                    "documento".to_string(),
                    Some(required(payload, "titolo")?),
                    Some(required(payload, "mimeType")?),
                    Some(bytes),
                )
            } else {
                let k = kind(&required(payload, "tipo")?)?;
                if k == "documento" {
                    return Err(ServiceFault::new(
                        FaultCode::NotebookKind,
                        "i documenti si aggiungono con setDocumento",
                    ));
                }
                (k, None, None, None)
            };
            let sha1 = content
                .as_ref()
                .map(|c| hex::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, c)));
            let row = client
                .query_one(
                    "INSERT INTO notebook_entries (patient_cf, kind, entry_date, text, value, unit, \
                     title, mime_type, content, sha1_hex, application, asl, tx_id) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id",
                    &[
                        &cf,
                        &k,
                        &date(text(payload, "data"))?,
                        &text(payload, "testo"),
                        &text(payload, "valore"),
                        &text(payload, "unita"),
                        &title,
                        &mime,
                        &content,
                        &sha1,
                        &call.producer.cert_cn,
                        &call.asl,
                        &call.tx.id,
                    ],
                )
                .await
                .map_err(|e| call.failure("notebook store", e))?;
            let id: i64 = row.get(0);
            Ok(answer(format!("<idVoce>{id}</idVoce>")))
        }
        "getVoci" => {
            let filter = text(payload, "tipo").map(|t| kind(&t)).transpose()?;
            let rows = client
                .query(
                    "SELECT id, kind, entry_date, text, value, unit, title, mime_type, sha1_hex \
                     FROM notebook_entries WHERE patient_cf = $1 AND deleted_at IS NULL \
                     AND ($2::text IS NULL OR kind = $2) ORDER BY entry_date DESC, id DESC LIMIT 1000",
                    &[&cf, &filter],
                )
                .await
                .map_err(|e| call.failure("notebook store", e))?;
            let mut out = String::new();
            for r in &rows {
                voce(&mut out, r);
            }
            Ok(answer(out))
        }
        "getVoce" => {
            let id = entry_id(payload)?;
            let row = client
                .query_opt(
                    "SELECT id, kind, entry_date, text, value, unit, title, mime_type, sha1_hex, content \
                     FROM notebook_entries WHERE id = $1 AND patient_cf = $2 AND deleted_at IS NULL",
                    &[&id, &cf],
                )
                .await
                .map_err(|e| call.failure("notebook store", e))?
                .ok_or_else(|| ServiceFault::new(FaultCode::NotebookEntry, format!("voce {id} non presente nel taccuino")))?;
            let mut out = String::new();
            voce(&mut out, &row);
            if let Some(content) = row.get::<_, Option<Vec<u8>>>(9) {
                let _ = write!(
                    out,
                    "<documento>{}</documento>",
                    base64::engine::general_purpose::STANDARD.encode(content)
                );
            }
            Ok(answer(out))
        }
        "cancellaVoce" => {
            let id = entry_id(payload)?;
            let n = client
                .execute(
                    "UPDATE notebook_entries SET deleted_at = clock_timestamp() \
                     WHERE id = $1 AND patient_cf = $2 AND deleted_at IS NULL",
                    &[&id, &cf],
                )
                .await
                .map_err(|e| call.failure("notebook store", e))?;
            if n == 0 {
                return Err(ServiceFault::new(
                    FaultCode::NotebookEntry,
                    format!("voce {id} non presente nel taccuino"),
                ));
            }
            Ok(answer(format!("<idVoce>{id}</idVoce>")))
        }
        other => Err(ServiceFault::new(
            FaultCode::UnknownOperation,
            format!("operazione non disponibile: {other}"),
        )),
    }
}

fn voce(out: &mut String, r: &tokio_postgres::Row) {
    let esc = soap_wsdl::write::escape;
    let opt = |tag: &str, v: Option<String>| {
        v.map(|v| format!("<{tag}>{}</{tag}>", esc(&v)))
            .unwrap_or_default()
    };
    let _ = write!(
        out,
        "<voce><idVoce>{}</idVoce><tipo>{}</tipo><data>{}</data>{}{}{}{}{}{}</voce>",
        r.get::<_, i64>(0),
        esc(&r.get::<_, String>(1)),
        r.get::<_, Date>(2),
        opt("testo", r.get(3)),
        opt("valore", r.get(4)),
        opt("unita", r.get(5)),
        opt("titolo", r.get(6)),
        opt("mimeType", r.get(7)),
        opt("hash", r.get(8)),
    );
}
