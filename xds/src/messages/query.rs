//! ITI-18 Registry Stored Query: the request, its typed parameters and the response.

use roxmltree::Node;
use std::collections::HashMap;

use super::{child, children, expect};
use crate::Error;
use crate::ns::{QUERY, RIM, RS};
use crate::registry_error::{ErrorCode, RegistryError};

/// Stored query ids.
pub mod ids {
    /// FindDocuments
    pub const FIND_DOCUMENTS: &str = "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d";
    /// FindSubmissionSets
    pub const FIND_SUBMISSION_SETS: &str = "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9";
    /// GetDocuments
    pub const GET_DOCUMENTS: &str = "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4";
    /// GetAssociations
    pub const GET_ASSOCIATIONS: &str = "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155";
    /// GetDocumentsAndAssociations
    pub const GET_DOCUMENTS_AND_ASSOCIATIONS: &str =
        "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a";
    /// GetSubmissionSets
    pub const GET_SUBMISSION_SETS: &str = "urn:uuid:51224314-5390-4169-9b91-b1980040715a";
    /// GetSubmissionSetAndContents
    pub const GET_SUBMISSION_SET_AND_CONTENTS: &str =
        "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83";
    /// GetRelatedDocuments
    pub const GET_RELATED_DOCUMENTS: &str = "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6";
}

/// What the caller wants back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReturnType {
    /// Full objects.
    LeafClass,
    /// References only.
    ObjectRef,
}

/// An AdhocQueryRequest as received.
#[derive(Debug, Clone)]
pub struct AdhocQuery {
    /// Requested return type.
    pub return_type: ReturnType,
    /// Stored query id.
    pub id: String,
    /// Parameters: name → values (lists flattened, quotes removed).
    pub params: HashMap<String, Vec<String>>,
}

/// Parses an AdhocQueryRequest.
pub fn parse_query(body: Node<'_, '_>) -> Result<AdhocQuery, Error> {
    let req = expect(body, QUERY, "AdhocQueryRequest")?;
    let return_type = match child(req, QUERY, "ResponseOption")
        .and_then(|o| o.attribute("returnType"))
        .unwrap_or("ObjectRef")
    {
        "LeafClass" => ReturnType::LeafClass,
        _ => ReturnType::ObjectRef,
    };
    let q = child(req, RIM, "AdhocQuery").ok_or(Error::MissingElement("rim:AdhocQuery"))?;
    let id = q
        .attribute("id")
        .ok_or_else(|| Error::MissingAttribute {
            element: "AdhocQuery".into(),
            attribute: "id".into(),
        })?
        .to_string();
    let mut params: HashMap<String, Vec<String>> = HashMap::new();
    for slot in children(q, RIM, "Slot") {
        let name = slot.attribute("name").unwrap_or_default().to_string();
        let values = params.entry(name).or_default();
        if let Some(list) = child(slot, RIM, "ValueList") {
            for v in children(list, RIM, "Value") {
                values.extend(split_value(v.text().unwrap_or_default()));
            }
        }
    }
    Ok(AdhocQuery {
        return_type,
        id,
        params,
    })
}

/// `('a','b')` → [a, b]; `'a'` → [a]; `a` → [a].
pub fn split_value(raw: &str) -> Vec<String> {
    let raw = raw.trim();
    let inner = raw
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .unwrap_or(raw);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in inner.chars() {
        match c {
            '\'' => quoted = !quoted,
            ',' if !quoted => {
                out.push(std::mem::take(&mut cur).trim().to_string());
            }
            c => cur.push(c),
        }
    }
    let last = cur.trim().to_string();
    if !last.is_empty() || !out.is_empty() {
        out.push(last);
    }
    out.retain(|v| !v.is_empty());
    out
}

/// FindDocuments parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindDocuments {
    /// `$XDSDocumentEntryPatientId`.
    pub patient_id: String,
    /// `$XDSDocumentEntryStatus`.
    pub statuses: Vec<String>,
    /// `$XDSDocumentEntryClassCode`.
    pub class_codes: Vec<String>,
    /// `$XDSDocumentEntryTypeCode`.
    pub type_codes: Vec<String>,
    /// `$XDSDocumentEntryPracticeSettingCode`.
    pub practice_setting_codes: Vec<String>,
    /// `$XDSDocumentEntryHealthcareFacilityTypeCode`.
    pub facility_type_codes: Vec<String>,
    /// `$XDSDocumentEntryFormatCode`.
    pub format_codes: Vec<String>,
    /// `$XDSDocumentEntryEventCodeList`.
    pub event_codes: Vec<String>,
    /// `$XDSDocumentEntryConfidentialityCode`.
    pub confidentiality_codes: Vec<String>,
    /// `$XDSDocumentEntryAuthorPerson` (`%` and `_` wildcards).
    pub author_persons: Vec<String>,
    /// `$XDSDocumentEntryCreationTimeFrom` / `To`.
    pub creation: (Option<String>, Option<String>),
    /// `$XDSDocumentEntryServiceStartTimeFrom` / `To`.
    pub service_start: (Option<String>, Option<String>),
    /// `$XDSDocumentEntryServiceStopTimeFrom` / `To`.
    pub service_stop: (Option<String>, Option<String>),
}

/// FindSubmissionSets parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindSubmissionSets {
    /// `$XDSSubmissionSetPatientId`.
    pub patient_id: String,
    /// `$XDSSubmissionSetStatus`.
    pub statuses: Vec<String>,
    /// `$XDSSubmissionSetSourceId`.
    pub source_ids: Vec<String>,
    /// `$XDSSubmissionSetContentType`.
    pub content_types: Vec<String>,
    /// `$XDSSubmissionSetSubmissionTimeFrom` / `To`.
    pub submission: (Option<String>, Option<String>),
}

/// An object named by entryUUID or by uniqueId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ObjectKey {
    /// entryUUIDs.
    Uuids(Vec<String>),
    /// uniqueIds.
    UniqueIds(Vec<String>),
}

/// A stored query with checked parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoredQuery {
    /// FindDocuments.
    FindDocuments(Box<FindDocuments>),
    /// FindSubmissionSets.
    FindSubmissionSets(FindSubmissionSets),
    /// GetDocuments.
    GetDocuments(ObjectKey),
    /// GetDocumentsAndAssociations.
    GetDocumentsAndAssociations(ObjectKey),
    /// GetAssociations.
    GetAssociations(Vec<String>),
    /// GetSubmissionSets (by member entryUUIDs).
    GetSubmissionSets(Vec<String>),
    /// GetSubmissionSetAndContents.
    GetSubmissionSetAndContents(ObjectKey),
    /// GetRelatedDocuments: document and association types.
    GetRelatedDocuments(ObjectKey, Vec<String>),
}

// === impl AdhocQuery ===

impl AdhocQuery {
    /// Checks the parameters of the stored query.
    pub fn stored(&self) -> Result<StoredQuery, RegistryError> {
        let p = Params(&self.params);
        Ok(match self.id.as_str() {
            ids::FIND_DOCUMENTS => StoredQuery::FindDocuments(Box::new(FindDocuments {
                patient_id: p.one_required("$XDSDocumentEntryPatientId")?,
                statuses: p.required("$XDSDocumentEntryStatus")?,
                class_codes: p.many("$XDSDocumentEntryClassCode"),
                type_codes: p.many("$XDSDocumentEntryTypeCode"),
                practice_setting_codes: p.many("$XDSDocumentEntryPracticeSettingCode"),
                facility_type_codes: p.many("$XDSDocumentEntryHealthcareFacilityTypeCode"),
                format_codes: p.many("$XDSDocumentEntryFormatCode"),
                event_codes: p.many("$XDSDocumentEntryEventCodeList"),
                confidentiality_codes: p.many("$XDSDocumentEntryConfidentialityCode"),
                author_persons: p.many("$XDSDocumentEntryAuthorPerson"),
                creation: p.range("$XDSDocumentEntryCreationTime")?,
                service_start: p.range("$XDSDocumentEntryServiceStartTime")?,
                service_stop: p.range("$XDSDocumentEntryServiceStopTime")?,
            })),
            ids::FIND_SUBMISSION_SETS => StoredQuery::FindSubmissionSets(FindSubmissionSets {
                patient_id: p.one_required("$XDSSubmissionSetPatientId")?,
                statuses: p.required("$XDSSubmissionSetStatus")?,
                source_ids: p.many("$XDSSubmissionSetSourceId"),
                content_types: p.many("$XDSSubmissionSetContentType"),
                submission: p.range("$XDSSubmissionSetSubmissionTime")?,
            }),
            ids::GET_DOCUMENTS => StoredQuery::GetDocuments(
                p.key("$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")?,
            ),
            ids::GET_DOCUMENTS_AND_ASSOCIATIONS => StoredQuery::GetDocumentsAndAssociations(
                p.key("$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")?,
            ),
            ids::GET_ASSOCIATIONS => StoredQuery::GetAssociations(p.required("$uuid")?),
            ids::GET_SUBMISSION_SETS => StoredQuery::GetSubmissionSets(p.required("$uuid")?),
            ids::GET_SUBMISSION_SET_AND_CONTENTS => StoredQuery::GetSubmissionSetAndContents(
                p.key("$XDSSubmissionSetEntryUUID", "$XDSSubmissionSetUniqueId")?,
            ),
            ids::GET_RELATED_DOCUMENTS => StoredQuery::GetRelatedDocuments(
                p.key("$XDSDocumentEntryEntryUUID", "$XDSDocumentEntryUniqueId")?,
                p.required("$AssociationTypes")?,
            ),
            other => {
                return Err(RegistryError::new(
                    ErrorCode::UnknownStoredQuery,
                    format!("stored query {other} is not supported"),
                ));
            }
        })
    }
}

struct Params<'a>(&'a HashMap<String, Vec<String>>);

impl Params<'_> {
    fn many(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }

    fn required(&self, name: &str) -> Result<Vec<String>, RegistryError> {
        let v = self.many(name);
        if v.is_empty() {
            Err(missing(name))
        } else {
            Ok(v)
        }
    }

    fn one(&self, name: &str) -> Result<Option<String>, RegistryError> {
        let v = self.many(name);
        match v.len() {
            0 => Ok(None),
            1 => Ok(v.into_iter().next()),
            _ => Err(RegistryError::new(
                ErrorCode::StoredQueryParamNumber,
                format!("{name} takes one value, {} given", v.len()),
            )),
        }
    }

    fn one_required(&self, name: &str) -> Result<String, RegistryError> {
        self.one(name)?.ok_or_else(|| missing(name))
    }

    fn range(&self, prefix: &str) -> Result<(Option<String>, Option<String>), RegistryError> {
        Ok((
            self.one(&format!("{prefix}From"))?,
            self.one(&format!("{prefix}To"))?,
        ))
    }

    fn key(&self, uuid: &str, unique: &str) -> Result<ObjectKey, RegistryError> {
        match (self.many(uuid), self.many(unique)) {
            (u, i) if !u.is_empty() && i.is_empty() => Ok(ObjectKey::Uuids(u)),
            (u, i) if u.is_empty() && !i.is_empty() => Ok(ObjectKey::UniqueIds(i)),
            (u, _) if u.is_empty() => Err(missing(&format!("{uuid} or {unique}"))),
            _ => Err(RegistryError::new(
                ErrorCode::StoredQueryParamNumber,
                format!("give {uuid} or {unique}, not both"),
            )),
        }
    }
}

fn missing(name: &str) -> RegistryError {
    RegistryError::new(
        ErrorCode::StoredQueryMissingParam,
        format!("required parameter {name} is missing"),
    )
}

/// Writes an AdhocQueryResponse. `objects` are rim elements already written (LeafClass)
/// or ids (ObjectRef, written as `rim:ObjectRef`).
pub fn write_query_response(
    return_type: ReturnType,
    objects: &[String],
    errors: &[RegistryError],
) -> String {
    let status = super::response::status_of(!objects.is_empty(), errors);
    let mut out = format!(
        "<query:AdhocQueryResponse xmlns:query=\"{QUERY}\" xmlns:rim=\"{RIM}\" xmlns:rs=\"{RS}\" status=\"{status}\">"
    );
    super::response::write_error_list(&mut out, errors, super::response::LOCATION);
    out.push_str("<rim:RegistryObjectList>");
    for o in objects {
        match return_type {
            ReturnType::LeafClass => out.push_str(o),
            ReturnType::ObjectRef => crate::rim::write_object_ref(&mut out, o),
        }
    }
    out.push_str("</rim:RegistryObjectList></query:AdhocQueryResponse>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_values_in_every_form() {
        assert_eq!(split_value("('a','b')"), ["a", "b"]);
        assert_eq!(split_value("'a'"), ["a"]);
        assert_eq!(split_value("20240101"), ["20240101"]);
        assert_eq!(split_value("('x,y', 'z')"), ["x,y", "z"]);
        assert_eq!(
            split_value("RSSMRA75C03F839K^^^&2.16.840.1.113883.2.9.4.3.2&ISO"),
            ["RSSMRA75C03F839K^^^&2.16.840.1.113883.2.9.4.3.2&ISO"]
        );
    }
}
