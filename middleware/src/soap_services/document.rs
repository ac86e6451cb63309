//! IDocumentService, FSE consultation: a patient's documents (regional registry) and one
//! document's content (the ASL repositories), only with the consultation consent and
//! within each document's access rules. Publication operations: [`super::publication`].

use super::fault_code::FaultCode;
use std::fmt::Write;

use base64::Engine;
use roxmltree::Node;

use super::consent::{required, text};
use super::{Call, ServiceFault};
use crate::db::transactions::TransactionRecord;

async fn consent_required(call: &Call<'_>, patient_cf: &str) -> Result<(), ServiceFault> {
    let allowed = crate::db::consents::consultation_allowed(&call.state.pool, patient_cf)
        .await
        .map_err(|e| call.failure("consent store", e))?;
    if allowed {
        Ok(())
    } else {
        Err(ServiceFault::new(
            FaultCode::NoConsent,
            "consultazione non consentita: consenso C2 assente o revocato, oppure opposizione C4",
        ))
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
    match operation {
        "findDocuments" => find_documents(call, payload, rec).await,
        "getDocument" => get_document(call, payload, rec).await,
        other => super::publication::handle(call, other, payload, rec).await,
    }
}

/// `findDocuments`: the patient's documents in the regional registry (consent C2 needed;
/// obscured ones left out).
async fn find_documents(
    call: &Call<'_>,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    let esc = soap_wsdl::write::escape;
    let registry = &call.state.xds.registry;
    let cf = call.patient(payload, rec)?;
    consent_required(call, &cf).await?;
    let patient = super::security::person_id(&cf);
    let entries = registry
        .patient_documents(&patient)
        .await
        .map_err(|e| call.failure("registry", e))?;
    let mut out = format!(
        "<fse:esitoDocumenti xmlns:fse=\"{}\"><esito>OK</esito><codiceFiscalePaziente>{}</codiceFiscalePaziente>",
        super::SIST,
        esc(&cf)
    );
    for e in entries.iter().filter(|e| !e.hidden()) {
        let opt = |tag: &str, v: &Option<String>| {
            v.as_deref()
                .map(|v| format!("<{tag}>{}</{tag}>", esc(v)))
                .unwrap_or_default()
        };
        let _ = write!(
            out,
            "<documento><uniqueId>{}</uniqueId>{}{}{}{}<mimeType>{}</mimeType></documento>",
            esc(&e.unique_id),
            opt("repositoryUniqueId", &e.repository_unique_id),
            opt("classCode", &e.class_code),
            opt("typeCode", &e.type_code),
            opt("creationTime", &e.creation_time),
            esc(&e.mime_type)
        );
    }
    out.push_str("</fse:esitoDocumenti>");
    Ok(out)
}

/// `getDocument`: one document from the ASL's repository, if the caller's patient's and
/// consultable.
async fn get_document(
    call: &Call<'_>,
    payload: Node<'_, '_>,
    rec: &mut TransactionRecord,
) -> Result<String, ServiceFault> {
    let esc = soap_wsdl::write::escape;
    let registry = &call.state.xds.registry;
    let unique = required(payload, "uniqueId")?;
    rec.document_id = Some(unique.clone());
    let not_found = || {
        ServiceFault::new(
            FaultCode::UnknownDocument,
            format!("documento {unique} non presente nel registro regionale"),
        )
    };
    let entry = registry
        .approved_document(&unique)
        .await
        .map_err(|e| call.failure("registry", e))?
        .ok_or_else(not_found)?;
    let cf = super::security::fiscal_code_of(&entry.patient_id);
    rec.patient_cf_hmac = Some(call.state.cf_hasher.hash(&cf));
    call.caller.same_patient(&cf)?;
    consent_required(call, &cf).await?;
    if entry.hidden() {
        return Err(ServiceFault::new(
            FaultCode::Obscured,
            "documento non consultabile: oscurato o ad accesso riservato",
        ));
    }
    let repository = text(payload, "repositoryUniqueId")
        .or(entry.repository_unique_id.clone())
        .ok_or_else(not_found)?;
    let doc = call
        .state
        .xds
        .repository
        .get(&repository, &unique)
        .await
        .map_err(|e| call.failure("repository", e))?
        .ok_or_else(|| {
            ServiceFault::new(
                FaultCode::OutsideRegion,
                format!(
                    "documento {unique} non presente nei repository della regione ({repository})"
                ),
            )
        })?;
    Ok(format!(
        "<fse:esitoDocumento xmlns:fse=\"{}\"><esito>OK</esito><uniqueId>{}</uniqueId><repositoryUniqueId>{}</repositoryUniqueId><mimeType>{}</mimeType><hash>{}</hash><documento>{}</documento></fse:esitoDocumento>",
        super::SIST,
        esc(&unique),
        esc(&repository),
        esc(&doc.mime_type),
        esc(&doc.sha1_hex),
        base64::engine::general_purpose::STANDARD.encode(&doc.content)
    ))
}
