//! Local indexing of a publication the gateway has not seen yet: the XDS metadata
//! INI would receive, built as the gateway builds it (reference
//! `upstream/mapping-metadati.md`) from the request body, the CDA and the JWT, and
//! registered in the regional registry with the provisional flag. INI's own metadata
//! replaces it when it arrives (ITI-42 with the same uniqueId).

use aws_lc_rs::digest;
use hsm::jwt::RawClaims;
use serde_json::Value;
use time::OffsetDateTime;
use xds::ns::{self, doc, set};
use xds::rim::{
    Association, Classification, ExternalIdentifier, ExtrinsicObject, ObjectCore, RegistryObject,
    RegistryPackage, Slot,
};

const HL7: &str = "urn:hl7-org:v3";
const MEF: &str = "2.16.840.1.113883.2.9.4.3.2";

/// Everything a provisional entry is built from.
#[derive(Debug)]
pub struct Source<'a> {
    /// The publication `requestBody`.
    pub request: &'a Value,
    /// The PDF.
    pub pdf: &'a [u8],
    /// The CDA extracted from it.
    pub cda: &'a str,
    /// The producer's token claims.
    pub claims: Option<&'a RawClaims>,
    /// Region code (`160`).
    pub region_code: &'a str,
    /// entryUUID of the document this one replaces, if known locally.
    pub replaces: Option<String>,
    /// Use a generated SubmissionSet uniqueId (the producer's is already registered).
    pub fresh_submission_id: bool,
}

fn slot(name: &str, values: Vec<String>) -> Slot {
    Slot {
        name: name.into(),
        values,
    }
}

fn one(name: &str, value: impl Into<String>) -> Slot {
    slot(name, vec![value.into()])
}

fn coded(
    scheme: &str,
    object: &str,
    code: &str,
    system: &str,
    name: Option<&str>,
) -> Classification {
    Classification {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        scheme: Some(scheme.into()),
        classified_object: object.into(),
        node_representation: Some(code.into()),
        slots: vec![one("codingScheme", system)],
        name: Some(name.unwrap_or(code).into()),
        ..Default::default()
    }
}

fn external(scheme: &str, object: &str, value: &str, name: &str) -> ExternalIdentifier {
    ExternalIdentifier {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        scheme: scheme.into(),
        registry_object: object.into(),
        value: value.into(),
        name: Some(name.into()),
    }
}

/// CDA values the metadata needs.
#[derive(Debug, Default)]
struct CdaValues {
    code: Option<(String, Option<String>)>,
    template: Option<String>,
    effective: Option<String>,
    confidentiality: Option<(String, Option<String>)>,
    title: Option<String>,
    patient: Option<String>,
    author: Option<String>,
}

fn read_cda(text: &str) -> CdaValues {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: false,
        ..Default::default()
    };
    let Ok(doc) = roxmltree::Document::parse_with_options(text, opts) else {
        return CdaValues::default();
    };
    let root = doc.root_element();
    fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
        n.children().find(|c| c.has_tag_name((HL7, name)))
    }
    let code_of = |n: Option<roxmltree::Node<'_, '_>>| {
        n.and_then(|c| {
            Some((
                c.attribute("code")?.to_string(),
                c.attribute("displayName").map(str::to_string),
            ))
        })
    };
    let person = |n: Option<roxmltree::Node<'_, '_>>| {
        n.and_then(|holder| {
            let ids: Vec<_> = holder
                .children()
                .filter(|c| c.has_tag_name((HL7, "id")))
                .collect();
            let id = ids
                .iter()
                .find(|i| i.attribute("root") == Some(MEF))
                .or(ids.first())?;
            Some((
                id.attribute("extension")?.to_string(),
                id.attribute("root")?.to_string(),
            ))
        })
    };
    let patient = person(child(root, "recordTarget").and_then(|r| child(r, "patientRole")))
        .map(|(cf, root)| format!("{cf}^^^&{root}&ISO"));
    let author = person(child(root, "author").and_then(|a| child(a, "assignedAuthor")))
        .map(|(cf, root)| format!("{cf}^^^^^^^^&{root}&ISO"));
    CdaValues {
        code: code_of(child(root, "code")),
        template: child(root, "templateId")
            .and_then(|t| t.attribute("root"))
            .map(str::to_string),
        effective: child(root, "effectiveTime")
            .and_then(|t| t.attribute("value"))
            .map(|v| {
                v.chars()
                    .take_while(char::is_ascii_digit)
                    .take(14)
                    .collect()
            }),
        confidentiality: code_of(child(root, "confidentialityCode")),
        title: child(root, "title")
            .and_then(|t| t.text())
            .map(|t| t.trim().to_string()),
        patient,
        author,
    }
}

/// The document entry's id in the request.
const ENTRY: &str = "Document01";
/// The submission set's id in the request.
const SET: &str = "SubmissionSet01";

/// A string field of the `requestBody`.
fn body<'a>(src: &'a Source<'_>, k: &str) -> Option<&'a str> {
    src.request.get(k).and_then(Value::as_str).map(str::trim)
}

/// A list field of the `requestBody` (a lone string counts as a list of one).
fn list(src: &Source<'_>, k: &str) -> Vec<String> {
    match src.request.get(k) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// A claim of the producer's token.
fn claim(src: &Source<'_>, k: &str) -> Option<String> {
    src.claims.and_then(|c| c.string(k))
}

/// Now as an HL7 DTM (`YYYYMMDDhhmmss`, UTC).
fn stamp_now() -> String {
    let now = OffsetDateTime::now_utc();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// The SubmitObjectsRequest objects of a provisional registration.
pub fn objects(src: &Source<'_>) -> Vec<RegistryObject> {
    let cda = read_cda(src.cda);
    let stamp = stamp_now();
    let patient = cda.patient.clone().unwrap_or_default();
    let author = author(src, &cda);
    let set_author = Classification {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        scheme: Some(set::AUTHOR.into()),
        classified_object: SET.into(),
        ..author.clone()
    };
    let mut core = ObjectCore {
        id: ENTRY.into(),
        name: cda.title.clone(),
        slots: entry_slots(src, &cda, &stamp, &patient),
        ..Default::default()
    };
    core.classifications.push(author);
    core.classifications.extend(entry_codes(src, &cda));
    core.external_ids.push(external(
        doc::PATIENT_ID,
        ENTRY,
        &patient,
        "XDSDocumentEntry.patientId",
    ));
    if let Some(u) = body(src, "identificativoDoc") {
        core.external_ids.push(external(
            doc::UNIQUE_ID,
            ENTRY,
            u,
            "XDSDocumentEntry.uniqueId",
        ));
    }
    let entry = ExtrinsicObject {
        core,
        mime_type: "application/pdf+text/x-cda-r2+xml".into(),
        object_type: ns::DOCUMENT_ENTRY.into(),
        is_opaque: None,
    };
    let mut out = vec![
        RegistryObject::Extrinsic(entry),
        RegistryObject::Package(submission_set(src, stamp, &patient, set_author)),
    ];
    out.extend(associations(src));
    out
}

/// The document entry's slots: times, language, patient, hash and size of the PDF, the
/// Italian Affinity Domain's slots from the `requestBody`, the application from the token.
fn entry_slots(src: &Source<'_>, cda: &CdaValues, stamp: &str, patient: &str) -> Vec<Slot> {
    let sha1 = hex::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, src.pdf));
    let mut slots = vec![
        one(
            "creationTime",
            cda.effective.clone().unwrap_or_else(|| stamp.to_string()),
        ),
        one("languageCode", "it-IT"),
        one("sourcePatientId", patient),
        one("hash", sha1),
        one("size", src.pdf.len().to_string()),
        one("urn:ita:2022:documentSigned", "true^Documento firmato"),
    ];
    for (field, name) in [
        ("identificativoRep", "repositoryUniqueId"),
        ("dataInizioPrestazione", "serviceStartTime"),
        ("dataFinePrestazione", "serviceStopTime"),
        ("conservazioneANorma", "urn:ita:2017:repository-type"),
    ] {
        if let Some(v) = body(src, field) {
            slots.push(one(name, v));
        }
    }
    for (field, name) in [
        (
            "administrativeRequest",
            "urn:ita:2022:administrativeRequest",
        ),
        ("descriptions", "urn:ita:2022:description"),
    ] {
        let values = list(src, field);
        if !values.is_empty() {
            slots.push(slot(name, values));
        }
    }
    if let (Some(a), Some(v), Some(r)) = (
        claim(src, "subject_application_id"),
        claim(src, "subject_application_vendor"),
        claim(src, "subject_application_version"),
    ) {
        slots.push(one(
            "urn:ihe:iti:xds:2024:SubjectApplication",
            format!("{a}^{v}^{r}"),
        ));
    }
    slots
}

/// The document's author: role and institution from the token, the person from the CDA.
fn author(src: &Source<'_>, cda: &CdaValues) -> Classification {
    let mut author = Classification {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        scheme: Some(doc::AUTHOR.into()),
        classified_object: ENTRY.into(),
        node_representation: Some(String::new()),
        ..Default::default()
    };
    if let Some(r) = claim(src, "subject_role") {
        author.slots.push(one("authorRole", r));
    }
    if let Some(l) = claim(src, "locality") {
        author.slots.push(one("authorInstitution", l));
    }
    if let Some(a) = &cda.author {
        author.slots.push(one("authorPerson", a.clone()));
    }
    author
}

/// The document entry's coded classifications, from the `requestBody` and the CDA.
fn entry_codes(src: &Source<'_>, cda: &CdaValues) -> Vec<Classification> {
    let code = |scheme: &str, c: &str, system: &str, name: Option<&str>| {
        coded(scheme, ENTRY, c, system, name)
    };
    let mut codes = Vec::new();
    if let Some(c) = body(src, "tipoDocumentoLivAlto") {
        codes.push(code(
            doc::CLASS_CODE,
            c,
            "2.16.840.1.113883.2.9.3.3.6.1.5",
            None,
        ));
    }
    if let Some((c, n)) = &cda.confidentiality {
        codes.push(code(
            doc::CONFIDENTIALITY_CODE,
            c,
            "2.16.840.1.113883.5.25",
            n.as_deref(),
        ));
    }
    for e in list(src, "attiCliniciRegoleAccesso") {
        codes.push(code(
            doc::EVENT_CODE,
            &e,
            "2.16.840.1.113883.2.9.3.3.6.1.3",
            None,
        ));
    }
    if let Some(t) = &cda.template {
        codes.push(code(
            doc::FORMAT_CODE,
            t,
            "2.16.840.1.113883.2.9.3.3.6.1.6",
            None,
        ));
    }
    if let Some(v) = body(src, "tipologiaStruttura") {
        codes.push(code(
            doc::FACILITY_TYPE_CODE,
            v,
            "2.16.840.1.113883.2.9.3.3.6.1.1",
            None,
        ));
    }
    if let Some(v) = body(src, "assettoOrganizzativo") {
        codes.push(code(
            doc::PRACTICE_SETTING_CODE,
            v,
            "2.16.840.1.113883.2.9.3.3.6.1.2",
            None,
        ));
    }
    if let Some((c, n)) = &cda.code {
        codes.push(code(
            doc::TYPE_CODE,
            c,
            "2.16.840.1.113883.6.1",
            n.as_deref(),
        ));
    }
    codes
}

/// The submission set: time, author, content type, and its patient, source and unique ids
/// (a new unique id when the producer's cannot be used again).
fn submission_set(
    src: &Source<'_>,
    stamp: String,
    patient: &str,
    author: Classification,
) -> RegistryPackage {
    let region = src.region_code.trim_start_matches('0');
    let set_uid = body(src, "identificativoSottomissione")
        .filter(|_| !src.fresh_submission_id)
        .map(str::to_string)
        .unwrap_or_else(|| {
            format!(
                "2.16.840.1.113883.2.9.2.{region}.4.3.{}",
                uuid::Uuid::new_v4().as_u128()
            )
        });
    let mut core = ObjectCore {
        id: SET.into(),
        slots: vec![one("submissionTime", stamp)],
        ..Default::default()
    };
    core.classifications.push(author);
    if let Some(c) = body(src, "tipoAttivitaClinica") {
        core.classifications.push(coded(
            set::CONTENT_TYPE_CODE,
            SET,
            c,
            "2.16.840.1.113883.2.9.3.3.6.1.4",
            None,
        ));
    }
    core.classifications.push(Classification {
        id: format!("urn:uuid:{}", uuid::Uuid::new_v4()),
        node: Some(ns::SUBMISSION_SET_NODE.into()),
        classified_object: SET.into(),
        ..Default::default()
    });
    core.external_ids.push(external(
        set::PATIENT_ID,
        SET,
        patient,
        "XDSSubmissionSet.patientId",
    ));
    core.external_ids.push(external(
        set::SOURCE_ID,
        SET,
        &format!("2.16.840.1.113883.2.9.2.{region}"),
        "XDSSubmissionSet.sourceId",
    ));
    core.external_ids.push(external(
        set::UNIQUE_ID,
        SET,
        &set_uid,
        "XDSSubmissionSet.uniqueId",
    ));
    RegistryPackage { core }
}

/// HasMember from the set to the entry, and RPLC to the replaced document.
fn associations(src: &Source<'_>) -> Vec<RegistryObject> {
    let mut out = vec![RegistryObject::Association(Association {
        id: "HasMember01".into(),
        association_type: ns::assoc::HAS_MEMBER.into(),
        source: SET.into(),
        target: ENTRY.into(),
        status: None,
        slots: vec![one("SubmissionSetStatus", "Original")],
    })];
    if let Some(old) = &src.replaces {
        out.push(RegistryObject::Association(Association {
            id: "Replaces01".into(),
            association_type: ns::assoc::RPLC.into(),
            source: ENTRY.into(),
            target: old.clone(),
            status: None,
            slots: Vec::new(),
        }));
    }
    out
}
