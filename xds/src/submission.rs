//! Checks a registry applies to a submission (ITI-41/42) before storing it, and the
//! assignment of entryUUIDs to symbolic ids. These are IHE's registry rules, not the
//! gateway's: mandatory metadata, one patient per submission, unique ids unique within
//! the message, associations that point somewhere.

use std::collections::{HashMap, HashSet};

use crate::entry::{DocumentEntry, PackageKind, SubmissionSet, package_kind};
use crate::ns::{self, assoc, doc};
use crate::registry_error::{ErrorCode, RegistryError};
use crate::rim::{ExtrinsicObject, RegistryObject};

/// A submission whose metadata passed the message-level checks, with UUIDs assigned.
#[derive(Debug, Clone)]
pub struct Submission {
    /// Every object, ids rewritten to `urn:uuid:…`, statuses set to Approved.
    pub objects: Vec<RegistryObject>,
    /// The SubmissionSet.
    pub set: SubmissionSet,
    /// The DocumentEntries.
    pub documents: Vec<DocumentEntry>,
    /// Folders' entryUUIDs.
    pub folders: Vec<String>,
    /// Association targets and sources that are not in the message: they must exist in
    /// the registry.
    pub external_refs: Vec<String>,
    /// Symbolic id → assigned UUID.
    pub assigned: HashMap<String, String>,
}

/// DocumentEntry slots IHE requires at the registry (ITI-42).
const DOCUMENT_SLOTS: &[&str] = &[
    "creationTime",
    "languageCode",
    "sourcePatientId",
    "hash",
    "size",
    "repositoryUniqueId",
];

/// DocumentEntry classifications IHE requires, with their names for messages.
const DOCUMENT_CODES: &[(&str, &str)] = &[
    (doc::CLASS_CODE, "classCode"),
    (doc::TYPE_CODE, "typeCode"),
    (doc::FORMAT_CODE, "formatCode"),
    (doc::CONFIDENTIALITY_CODE, "confidentialityCode"),
    (doc::FACILITY_TYPE_CODE, "healthcareFacilityTypeCode"),
    (doc::PRACTICE_SETTING_CODE, "practiceSettingCode"),
];

/// Checks the metadata and assigns UUIDs. `new_uuid` yields fresh `urn:uuid:` ids.
pub fn prepare(
    mut objects: Vec<RegistryObject>,
    mut new_uuid: impl FnMut() -> String,
) -> Result<Submission, Vec<RegistryError>> {
    let mut errors = Findings::default();
    let assigned = assign_uuids(&mut objects, &mut new_uuid);
    move_markers(&mut objects, &mut new_uuid);
    let Some((set, folders)) = packages(&objects, &mut errors) else {
        return Err(errors.0);
    };
    check_set(&set, &mut errors);
    let documents: Vec<DocumentEntry> = objects
        .iter()
        .filter_map(|o| match o {
            RegistryObject::Extrinsic(e) => Some(check_entry(e, &set, &mut errors)),
            _ => None,
        })
        .collect();
    unique_ids(&documents, &set, &mut errors);
    let external_refs = associations(&objects, &set, &documents, &mut errors);
    if errors.0.is_empty() {
        Ok(Submission {
            objects,
            set,
            documents,
            folders,
            external_refs,
            assigned,
        })
    } else {
        Err(errors.0)
    }
}

/// The errors found so far in a submission.
#[derive(Default)]
struct Findings(Vec<RegistryError>);

impl Findings {
    /// An `XDSRegistryMetadataError`.
    fn meta(&mut self, context: String) {
        self.0.push(RegistryError::new(
            ErrorCode::RegistryMetadataError,
            context,
        ));
    }

    fn push(&mut self, code: ErrorCode, context: String) {
        self.0.push(RegistryError::new(code, context));
    }
}

/// Symbolic ids → UUIDs, every reference rewritten; statuses of associations Approved.
fn assign_uuids(
    objects: &mut [RegistryObject],
    new_uuid: &mut impl FnMut() -> String,
) -> HashMap<String, String> {
    let mut assigned = HashMap::new();
    for o in objects.iter() {
        let id = o.id();
        if !matches!(o, RegistryObject::Ref(_)) && !id.starts_with("urn:uuid:") {
            assigned
                .entry(id.to_string())
                .or_insert_with(&mut *new_uuid);
        }
    }
    let fix = |id: &mut String| {
        if let Some(u) = assigned.get(id.as_str()) {
            *id = u.clone();
        }
    };
    for o in objects.iter_mut() {
        match o {
            RegistryObject::Extrinsic(e) => fix_core(&mut e.core, &fix, new_uuid),
            RegistryObject::Package(p) => fix_core(&mut p.core, &fix, new_uuid),
            RegistryObject::Association(a) => {
                fix(&mut a.id);
                fix(&mut a.source);
                fix(&mut a.target);
                a.status = Some(ns::status::APPROVED.to_string());
            }
            RegistryObject::Classification(c) => {
                fix(&mut c.id);
                fix(&mut c.classified_object);
            }
            RegistryObject::Ref(_) => {}
        }
    }
    assigned
}

/// Top-level SubmissionSet/Folder markers move into their package, where a registry
/// returns them.
fn move_markers(objects: &mut Vec<RegistryObject>, new_uuid: &mut impl FnMut() -> String) {
    let markers: Vec<crate::rim::Classification> = objects
        .iter()
        .filter_map(|o| match o {
            RegistryObject::Classification(c) if c.node.is_some() => Some(c.clone()),
            _ => None,
        })
        .collect();
    for mut m in markers {
        let owner = objects.iter_mut().find_map(|o| match o {
            RegistryObject::Package(p) if p.core.id == m.classified_object => Some(p),
            _ => None,
        });
        if let Some(p) = owner {
            if !m.id.starts_with("urn:uuid:") {
                m.id = new_uuid();
            }
            p.core.classifications.push(m);
        }
    }
    objects.retain(|o| !matches!(o, RegistryObject::Classification(c) if c.node.is_some()));
}

/// Packages: exactly one SubmissionSet (else `None`, the errors said why), and the Folders'
/// entryUUIDs.
fn packages(
    objects: &[RegistryObject],
    errors: &mut Findings,
) -> Option<(SubmissionSet, Vec<String>)> {
    let mut sets = Vec::new();
    let mut folders = Vec::new();
    for o in objects {
        let RegistryObject::Package(p) = o else {
            continue;
        };
        match package_kind(objects, p) {
            Some(PackageKind::SubmissionSet) => sets.push(SubmissionSet::of(p)),
            Some(PackageKind::Folder) => folders.push(p.core.id.clone()),
            None => errors.meta(format!(
                "RegistryPackage {} is neither a SubmissionSet nor a Folder",
                p.core.id
            )),
        }
    }
    match sets.len() {
        1 => Some((sets.remove(0), folders)),
        0 => {
            errors.meta("the submission has no SubmissionSet".into());
            None
        }
        _ => {
            errors.meta("the submission has more than one SubmissionSet".into());
            None
        }
    }
}

/// The SubmissionSet's mandatory attributes.
fn check_set(set: &SubmissionSet, errors: &mut Findings) {
    for (value, name) in [
        (&set.unique_id, "uniqueId"),
        (&set.source_id, "sourceId"),
        (&set.patient_id, "patientId"),
        (&set.submission_time, "submissionTime"),
        (&set.content_type_code, "contentTypeCode"),
    ] {
        if value.is_none() {
            errors.meta(format!("SubmissionSet {} has no {name}", set.entry_uuid));
        }
    }
}

/// One DocumentEntry: type, mandatory attributes, slots and codes, author, the set's patient.
fn check_entry(e: &ExtrinsicObject, set: &SubmissionSet, errors: &mut Findings) -> DocumentEntry {
    let entry = DocumentEntry::of(e);
    let name = entry.unique_id.clone().unwrap_or_else(|| e.core.id.clone());
    if e.object_type != ns::DOCUMENT_ENTRY && e.object_type != ns::ON_DEMAND_ENTRY {
        errors.meta(format!(
            "DocumentEntry {name}: unknown objectType {:?}",
            e.object_type
        ));
    }
    if e.mime_type.is_empty() {
        errors.meta(format!("DocumentEntry {name} has no mimeType"));
    }
    if entry.unique_id.is_none() {
        errors.meta(format!("DocumentEntry {} has no uniqueId", e.core.id));
    }
    if entry.patient_id.is_none() {
        errors.meta(format!("DocumentEntry {name} has no patientId"));
    }
    check_entry_slots_and_codes(e, &name, errors);
    if let (Some(p), Some(sp)) = (&entry.patient_id, &set.patient_id)
        && p != sp
    {
        errors.push(
            ErrorCode::PatientIdDoesNotMatch,
            format!("SubmissionSet patientId {sp} differs from DocumentEntry {name} patientId {p}"),
        );
    }
    entry
}

/// The slots and classifications IHE requires of a DocumentEntry at the registry.
fn check_entry_slots_and_codes(e: &ExtrinsicObject, name: &str, errors: &mut Findings) {
    for slot in DOCUMENT_SLOTS {
        if e.core.slot(slot).is_none_or(str::is_empty) {
            errors.meta(format!("DocumentEntry {name} has no {slot}"));
        }
    }
    if let Some(size) = e.core.slot("size")
        && size.parse::<u64>().is_err()
    {
        errors.meta(format!(
            "DocumentEntry {name}: size {size:?} is not a number"
        ));
    }
    for (scheme, code) in DOCUMENT_CODES {
        match e.core.classified(scheme).next() {
            None => errors.meta(format!("DocumentEntry {name} has no {code}")),
            Some(c) if c.slot("codingScheme").is_none() => {
                errors.meta(format!("DocumentEntry {name}: {code} has no codingScheme"));
            }
            Some(_) => {}
        }
    }
    if e.core.classified(doc::AUTHOR).next().is_none() {
        errors.meta(format!("DocumentEntry {name} has no author"));
    }
}

/// uniqueIds unique within the message.
fn unique_ids(documents: &[DocumentEntry], set: &SubmissionSet, errors: &mut Findings) {
    let mut seen = HashSet::new();
    let ids = documents
        .iter()
        .filter_map(|d| d.unique_id.as_deref())
        .chain(set.unique_id.as_deref());
    for id in ids {
        if !seen.insert(id) {
            errors.push(
                ErrorCode::RegistryDuplicateUniqueIdInMessage,
                format!("uniqueId {id} appears more than once in the submission"),
            );
        }
    }
}

/// Associations: ends in the message or UUIDs of the registry (returned, to be checked
/// there), every DocumentEntry a member of the set with its SubmissionSetStatus.
fn associations(
    objects: &[RegistryObject],
    set: &SubmissionSet,
    documents: &[DocumentEntry],
    errors: &mut Findings,
) -> Vec<String> {
    let local: HashSet<&str> = objects.iter().map(RegistryObject::id).collect();
    let mut external_refs = Vec::new();
    let mut members = HashSet::new();
    for o in objects {
        let RegistryObject::Association(a) = o else {
            continue;
        };
        for end in [&a.source, &a.target] {
            if local.contains(end.as_str()) {
                continue;
            }
            if end.starts_with("urn:uuid:") {
                external_refs.push(end.clone());
            } else {
                errors.push(
                    ErrorCode::UnresolvedReference,
                    format!(
                        "Association {} points at {end}, which is neither in the submission nor a UUID",
                        a.id
                    ),
                );
            }
        }
        if a.association_type == assoc::HAS_MEMBER && a.source == set.entry_uuid {
            members.insert(a.target.clone());
            if local.contains(a.target.as_str())
                && documents.iter().any(|d| d.entry_uuid == a.target)
                && a.slot("SubmissionSetStatus").is_none()
            {
                errors.meta(format!("Association {} has no SubmissionSetStatus", a.id));
            }
        }
    }
    for d in documents {
        if !members.contains(&d.entry_uuid) {
            errors.meta(format!(
                "DocumentEntry {} is not a member of the SubmissionSet",
                d.unique_id.as_deref().unwrap_or(&d.entry_uuid)
            ));
        }
    }
    external_refs
}

fn fix_core(
    core: &mut crate::rim::ObjectCore,
    fix: &impl Fn(&mut String),
    new_uuid: &mut impl FnMut() -> String,
) {
    fix(&mut core.id);
    if core
        .lid
        .as_deref()
        .is_none_or(|l| !l.starts_with("urn:uuid:"))
    {
        core.lid = Some(core.id.clone());
    }
    core.status = Some(ns::status::APPROVED.to_string());
    for c in &mut core.classifications {
        if c.id.starts_with("urn:uuid:") {
            fix(&mut c.id);
        } else {
            c.id = new_uuid();
        }
        fix(&mut c.classified_object);
    }
    for e in &mut core.external_ids {
        if !e.id.starts_with("urn:uuid:") {
            e.id = new_uuid();
        }
        fix(&mut e.registry_object);
    }
}
