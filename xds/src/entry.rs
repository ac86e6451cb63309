//! Typed views of the XDS metadata carried by ebRIM objects.

use crate::ns::{self, doc, set};
use crate::rim::{Classification, ExtrinsicObject, RegistryObject, RegistryPackage};

/// What kind of package a RegistryPackage is (by its top-level classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageKind {
    /// A SubmissionSet.
    SubmissionSet,
    /// A Folder.
    Folder,
}

/// The package kind of `id` according to the marker classifications in `objects`
/// (top-level, or nested in the package itself).
pub fn package_kind(objects: &[RegistryObject], package: &RegistryPackage) -> Option<PackageKind> {
    let marker = |c: &Classification| {
        if c.classified_object != package.core.id {
            return None;
        }
        match c.node.as_deref() {
            Some(ns::SUBMISSION_SET_NODE) => Some(PackageKind::SubmissionSet),
            Some(ns::FOLDER_NODE) => Some(PackageKind::Folder),
            _ => None,
        }
    };
    package
        .core
        .classifications
        .iter()
        .find_map(marker)
        .or_else(|| {
            objects.iter().find_map(|o| match o {
                RegistryObject::Classification(c) => marker(c),
                _ => None,
            })
        })
        // A package with SubmissionSet identifiers is a SubmissionSet even without the marker.
        .or_else(|| {
            package
                .core
                .external_id(set::UNIQUE_ID)
                .map(|_| PackageKind::SubmissionSet)
        })
}

/// The fields of a DocumentEntry that the registry indexes and checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DocumentEntry {
    /// entryUUID (or the symbolic id before registration).
    pub entry_uuid: String,
    /// Logical id.
    pub lid: Option<String>,
    /// `XDSDocumentEntry.uniqueId`.
    pub unique_id: Option<String>,
    /// `XDSDocumentEntry.patientId`.
    pub patient_id: Option<String>,
    /// `repositoryUniqueId` slot.
    pub repository_unique_id: Option<String>,
    /// `hash` slot.
    pub hash: Option<String>,
    /// `size` slot.
    pub size: Option<String>,
    /// `creationTime` slot.
    pub creation_time: Option<String>,
    /// `serviceStartTime` slot.
    pub service_start_time: Option<String>,
    /// `serviceStopTime` slot.
    pub service_stop_time: Option<String>,
    /// classCode as `code^^scheme`.
    pub class_code: Option<String>,
    /// typeCode as `code^^scheme`.
    pub type_code: Option<String>,
    /// formatCode as `code^^scheme`.
    pub format_code: Option<String>,
    /// practiceSettingCode as `code^^scheme`.
    pub practice_setting_code: Option<String>,
    /// healthcareFacilityTypeCode as `code^^scheme`.
    pub facility_type_code: Option<String>,
    /// confidentialityCode values as `code^^scheme`.
    pub confidentiality_codes: Vec<String>,
    /// eventCodeList values as `code^^scheme`.
    pub event_codes: Vec<String>,
    /// authorPerson values of every author.
    pub author_persons: Vec<String>,
    /// `urn:ihe:iti:xds:2013:referenceIdList` values.
    pub reference_ids: Vec<String>,
    /// Availability status.
    pub status: Option<String>,
    /// MIME type.
    pub mime_type: String,
}

// === impl DocumentEntry ===

impl DocumentEntry {
    /// Reads the indexed fields of an ExtrinsicObject.
    pub fn of(e: &ExtrinsicObject) -> Self {
        let c = &e.core;
        let first = |scheme: &str| c.classified(scheme).find_map(Classification::coded);
        let all = |scheme: &str| {
            c.classified(scheme)
                .filter_map(Classification::coded)
                .collect()
        };
        Self {
            entry_uuid: c.id.clone(),
            lid: c.lid.clone(),
            unique_id: c.external_id(doc::UNIQUE_ID).map(str::to_string),
            patient_id: c.external_id(doc::PATIENT_ID).map(str::to_string),
            repository_unique_id: c.slot("repositoryUniqueId").map(str::to_string),
            hash: c.slot("hash").map(str::to_string),
            size: c.slot("size").map(str::to_string),
            creation_time: c.slot("creationTime").map(str::to_string),
            service_start_time: c.slot("serviceStartTime").map(str::to_string),
            service_stop_time: c.slot("serviceStopTime").map(str::to_string),
            class_code: first(doc::CLASS_CODE),
            type_code: first(doc::TYPE_CODE),
            format_code: first(doc::FORMAT_CODE),
            practice_setting_code: first(doc::PRACTICE_SETTING_CODE),
            facility_type_code: first(doc::FACILITY_TYPE_CODE),
            confidentiality_codes: all(doc::CONFIDENTIALITY_CODE),
            event_codes: all(doc::EVENT_CODE),
            author_persons: c
                .classified(doc::AUTHOR)
                .flat_map(|a| a.slots.iter().filter(|s| s.name == "authorPerson"))
                .flat_map(|s| s.values.iter().cloned())
                .collect(),
            reference_ids: c
                .slot_values("urn:ihe:iti:xds:2013:referenceIdList")
                .into_iter()
                .map(str::to_string)
                .collect(),
            status: c.status.clone(),
            mime_type: e.mime_type.clone(),
        }
    }
}

/// The fields of a SubmissionSet the registry indexes and checks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubmissionSet {
    /// entryUUID.
    pub entry_uuid: String,
    /// `XDSSubmissionSet.uniqueId`.
    pub unique_id: Option<String>,
    /// `XDSSubmissionSet.sourceId`.
    pub source_id: Option<String>,
    /// `XDSSubmissionSet.patientId`.
    pub patient_id: Option<String>,
    /// `submissionTime` slot.
    pub submission_time: Option<String>,
    /// contentTypeCode as `code^^scheme`.
    pub content_type_code: Option<String>,
    /// authorPerson values.
    pub author_persons: Vec<String>,
}

// === impl SubmissionSet ===

impl SubmissionSet {
    /// Reads the indexed fields of a RegistryPackage.
    pub fn of(p: &RegistryPackage) -> Self {
        let c = &p.core;
        Self {
            entry_uuid: c.id.clone(),
            unique_id: c.external_id(set::UNIQUE_ID).map(str::to_string),
            source_id: c.external_id(set::SOURCE_ID).map(str::to_string),
            patient_id: c.external_id(set::PATIENT_ID).map(str::to_string),
            submission_time: c.slot("submissionTime").map(str::to_string),
            content_type_code: c
                .classified(set::CONTENT_TYPE_CODE)
                .find_map(Classification::coded),
            author_persons: c
                .classified(set::AUTHOR)
                .flat_map(|a| a.slots.iter().filter(|s| s.name == "authorPerson"))
                .flat_map(|s| s.values.iter().cloned())
                .collect(),
        }
    }
}
