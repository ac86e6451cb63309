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
use crate::db::notebook::{self, Document, Entry, NewEntry};
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
    let pool = &call.state.pool;
    let stored = |e| call.failure("notebook store", e);
    let body = match operation {
        "setVoce" | "setDocumento" => {
            let (kind, document) = if operation == "setDocumento" {
                ("documento".to_string(), Some(document_of(payload)?))
            } else {
                (entry_kind(payload)?, None)
            };
            let entry = NewEntry {
                patient_cf: &cf,
                kind: &kind,
                date: date(text(payload, "data"))?,
                text: text(payload, "testo"),
                value: text(payload, "valore"),
                unit: text(payload, "unita"),
                document,
                application: &call.producer.cert_cn,
                asl: call.asl,
                tx_id: call.tx.id,
            };
            let id = notebook::add(pool, &entry).await.map_err(stored)?;
            format!("<idVoce>{id}</idVoce>")
        }
        "getVoci" => {
            let filter = text(payload, "tipo").map(|t| kind(&t)).transpose()?;
            let entries = notebook::list(pool, &cf, filter.as_deref())
                .await
                .map_err(stored)?;
            let mut out = String::new();
            for e in &entries {
                voce(&mut out, e);
            }
            out
        }
        "getVoce" => {
            let id = entry_id(payload)?;
            let entry = notebook::get(pool, id, &cf)
                .await
                .map_err(stored)?
                .ok_or_else(|| absent(id))?;
            let mut out = String::new();
            voce(&mut out, &entry);
            if let Some(content) = &entry.content {
                let _ = write!(
                    out,
                    "<documento>{}</documento>",
                    base64::engine::general_purpose::STANDARD.encode(content)
                );
            }
            out
        }
        "cancellaVoce" => {
            let id = entry_id(payload)?;
            if !notebook::withdraw(pool, id, &cf).await.map_err(stored)? {
                return Err(absent(id));
            }
            format!("<idVoce>{id}</idVoce>")
        }
        other => {
            return Err(ServiceFault::new(
                FaultCode::UnknownOperation,
                format!("operazione non disponibile: {other}"),
            ));
        }
    };
    Ok(format!(
        "<fse:esitoTaccuino xmlns:fse=\"{}\"><esito>OK</esito><codiceFiscalePaziente>{}</codiceFiscalePaziente>{body}</fse:esitoTaccuino>",
        super::SIST,
        soap_wsdl::write::escape(&cf)
    ))
}

/// The `tipo` of a `setVoce`: any kind but `documento` (added with `setDocumento`).
fn entry_kind(payload: Node<'_, '_>) -> Result<String, ServiceFault> {
    let k = kind(&required(payload, "tipo")?)?;
    if k == "documento" {
        return Err(ServiceFault::new(
            FaultCode::NotebookKind,
            "i documenti si aggiungono con setDocumento",
        ));
    }
    Ok(k)
}

/// The personal document of a `setDocumento`: base64, not empty, within the limit.
fn document_of(payload: Node<'_, '_>) -> Result<Document, ServiceFault> {
    let raw: String = required(payload, "documento")?
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let content = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .map_err(|_| ServiceFault::new(FaultCode::BadValue, "documento: base64 non valido"))?;
    if content.is_empty() || content.len() > MAX_DOCUMENT {
        return Err(ServiceFault::new(
            FaultCode::NotebookDocument,
            format!("documento vuoto o più grande di {MAX_DOCUMENT} byte"),
        ));
    }
    Ok(Document {
        title: required(payload, "titolo")?,
        mime_type: required(payload, "mimeType")?,
        sha1_hex: hex::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &content)),
        content,
    })
}

fn absent(id: i64) -> ServiceFault {
    ServiceFault::new(
        FaultCode::NotebookEntry,
        format!("voce {id} non presente nel taccuino"),
    )
}

fn voce(out: &mut String, e: &Entry) {
    let esc = soap_wsdl::write::escape;
    let opt = |tag: &str, v: &Option<String>| {
        v.as_ref()
            .map(|v| format!("<{tag}>{}</{tag}>", esc(v)))
            .unwrap_or_default()
    };
    let _ = write!(
        out,
        "<voce><idVoce>{}</idVoce><tipo>{}</tipo><data>{}</data>{}{}{}{}{}{}</voce>",
        e.id,
        esc(&e.kind),
        e.date,
        opt("testo", &e.text),
        opt("valore", &e.value),
        opt("unita", &e.unit),
        opt("titolo", &e.title),
        opt("mimeType", &e.mime_type),
        opt("hash", &e.sha1_hex),
    );
}
