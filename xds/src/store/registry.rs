//! Registering (ITI-42 and the register half of ITI-41), updating (ITI-57) and
//! deleting (ITI-62) registry metadata, each in one database transaction.

use std::collections::{HashMap, HashSet};

use deadpool_postgres::{Pool, Transaction};

use crate::Error;
use crate::entry::{DocumentEntry, PackageKind, SubmissionSet, package_kind};
use crate::ns::{assoc, status};
use crate::registry_error::{ErrorCode, RegistryError};
use crate::rim::{RegistryObject, write_object};
use crate::submission::Submission;

/// Who registers: INI and the ASL repositories (authoritative), or the middleware
/// indexing locally while the gateway cannot be reached (provisional).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// An ITI-42/57 from INI or a repository.
    Authoritative(&'static str),
    /// Local indexing during a gateway outage.
    Provisional,
}

// === impl Origin ===

impl Origin {
    fn source(self) -> &'static str {
        match self {
            Self::Authoritative(s) => s,
            Self::Provisional => "provisional",
        }
    }
}

/// The regional registry.
#[derive(Clone, Debug)]
pub struct Registry {
    pool: Pool,
}

/// Association types that point at a previous document.
const RELATIONSHIPS: &[&str] = &[
    assoc::RPLC,
    assoc::APND,
    assoc::XFRM,
    assoc::XFRM_RPLC,
    assoc::SIGNS,
];

// === impl Registry ===

impl Registry {
    /// A registry over this pool (migrated).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Registers a checked submission. `Ok(errors)` with errors means nothing was stored.
    pub async fn register(
        &self,
        sub: &Submission,
        origin: Origin,
    ) -> Result<Vec<RegistryError>, Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let errors = register_in(&tx, sub, origin).await?;
        if errors.is_empty() {
            tx.commit().await?;
        }
        Ok(errors)
    }

    /// The entryUUID of the Approved DocumentEntry with this uniqueId.
    pub async fn approved_uuid(&self, unique_id: &str) -> Result<Option<String>, Error> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT entry_uuid FROM xds_document_entry WHERE unique_id = $1 AND status = $2",
                &[&unique_id, &status::APPROVED],
            )
            .await?;
        Ok(row.map(|r| r.get(0)))
    }

    /// Removes objects (ITI-62): every id must exist, and no association outside the
    /// request may still point at a removed object.
    pub async fn delete(&self, ids: &[String]) -> Result<Vec<RegistryError>, Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let mut errors = Vec::new();
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        for id in ids {
            let exists = tx
                .query_opt(
                    "SELECT 1 FROM xds_document_entry WHERE entry_uuid = $1 \
                     UNION ALL SELECT 1 FROM xds_package WHERE entry_uuid = $1 \
                     UNION ALL SELECT 1 FROM xds_association WHERE entry_uuid = $1",
                    &[id],
                )
                .await?;
            if exists.is_none() {
                errors.push(RegistryError::new(
                    ErrorCode::UnresolvedReference,
                    format!("{id} is not in the registry"),
                ));
                continue;
            }
            for row in tx
                .query(
                    "SELECT entry_uuid FROM xds_association WHERE source_uuid = $1 OR target_uuid = $1",
                    &[id],
                )
                .await?
            {
                let a: String = row.get(0);
                if !wanted.contains(a.as_str()) {
                    errors.push(RegistryError::new(
                        ErrorCode::ReferencesExist,
                        format!("{id} is still referenced by association {a}"),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Ok(errors);
        }
        for table in ["xds_association", "xds_document_entry", "xds_package"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE entry_uuid = ANY($1)"),
                &[&ids],
            )
            .await?;
        }
        tx.commit().await?;
        Ok(errors)
    }
}

/// First key of the transaction locks taken per DocumentEntry uniqueId ("XDSu"); the second
/// is the uniqueId's hash.
const UNIQUE_ID_LOCKS: i32 = 0x5844_5375;

/// Inserts the submission; returns the registry-level errors (nothing stored if any).
pub(crate) async fn register_in(
    tx: &Transaction<'_>,
    sub: &Submission,
    origin: Origin,
) -> Result<Vec<RegistryError>, Error> {
    let mut errors = Vec::new();
    let provisional = origin == Origin::Provisional;
    lock_unique_ids(tx, sub).await?;
    // A document already in the registry (indexed before, or from INI) is not indexed
    // provisionally a second time.
    if provisional && already_registered(tx, sub).await? {
        return Ok(errors);
    }
    check_registered_entries(tx, sub, provisional, &mut errors).await?;
    if let Some(u) = &sub.set.unique_id
        && tx
            .query_opt("SELECT 1 FROM xds_package WHERE unique_id = $1", &[u])
            .await?
            .is_some()
    {
        errors.push(RegistryError::new(
            ErrorCode::DuplicateUniqueIdInRegistry,
            format!("SubmissionSet uniqueId {u} is already registered"),
        ));
    }
    let deprecate = check_references(tx, sub, &mut errors).await?;
    if !errors.is_empty() {
        return Ok(errors);
    }
    for id in &deprecate {
        tx.execute(
            "UPDATE xds_document_entry SET status = $2 WHERE entry_uuid = $1",
            &[id, &status::DEPRECATED],
        )
        .await?;
    }
    insert_objects(tx, sub, origin, &HashMap::new()).await?;
    Ok(errors)
}

/// Two submissions of one uniqueId at once (the request that queued a publication and the
/// outbox worker, two producers' retries) would both find it absent and both insert it:
/// their checks and inserts take turns, per uniqueId, until the transaction ends. Locks are
/// taken in one order so that two multi-document submissions cannot wait on each other.
async fn lock_unique_ids(tx: &Transaction<'_>, sub: &Submission) -> Result<(), Error> {
    let mut uniques: Vec<&str> = sub
        .documents
        .iter()
        .filter_map(|d| d.unique_id.as_deref())
        .collect();
    uniques.sort_unstable();
    uniques.dedup();
    for unique in &uniques {
        tx.execute(
            "SELECT pg_advisory_xact_lock($1, hashtext($2))",
            &[&UNIQUE_ID_LOCKS, unique],
        )
        .await?;
    }
    Ok(())
}

/// Whether one of the submission's documents is registered (approved) already.
async fn already_registered(tx: &Transaction<'_>, sub: &Submission) -> Result<bool, Error> {
    let uniques: Vec<&str> = sub
        .documents
        .iter()
        .filter_map(|d| d.unique_id.as_deref())
        .collect();
    let known = tx
        .query_opt(
            "SELECT 1 FROM xds_document_entry WHERE unique_id = ANY($1) AND status = $2",
            &[&uniques, &status::APPROVED],
        )
        .await?;
    Ok(known.is_some())
}

/// A document registered with the same uniqueId must have the same hash and size; a
/// provisional entry is replaced by an authoritative one.
async fn check_registered_entries(
    tx: &Transaction<'_>,
    sub: &Submission,
    provisional: bool,
    errors: &mut Vec<RegistryError>,
) -> Result<(), Error> {
    for d in &sub.documents {
        let unique = d.unique_id.as_deref().unwrap_or_default();
        for row in tx
            .query(
                "SELECT entry_uuid, hash, size, provisional FROM xds_document_entry \
                 WHERE unique_id = $1 AND status = $2",
                &[&unique, &status::APPROVED],
            )
            .await?
        {
            let (uuid, hash, size, was_provisional): (String, Option<String>, Option<i64>, bool) =
                (row.get(0), row.get(1), row.get(2), row.get(3));
            if was_provisional && !provisional {
                // INI's (or the repository's) metadata replaces the local entry.
                remove_provisional(tx, &uuid).await?;
                continue;
            }
            if hash.as_deref().map(str::to_ascii_lowercase)
                != d.hash.as_deref().map(str::to_ascii_lowercase)
            {
                errors.push(RegistryError::new(
                    ErrorCode::NonIdenticalHash,
                    format!("DocumentEntry {unique} is registered with another hash"),
                ));
            } else if size != d.size.as_deref().and_then(|s| s.parse().ok()) {
                errors.push(RegistryError::new(
                    ErrorCode::NonIdenticalSize,
                    format!("DocumentEntry {unique} is registered with another size"),
                ));
            }
        }
    }
    Ok(())
}

/// References to objects already registered: they exist, a relationship's target is
/// approved and the same patient's; the entries a replacement deprecates.
async fn check_references(
    tx: &Transaction<'_>,
    sub: &Submission,
    errors: &mut Vec<RegistryError>,
) -> Result<Vec<String>, Error> {
    let mut deprecate = Vec::new();
    for o in &sub.objects {
        let RegistryObject::Association(a) = o else {
            continue;
        };
        for end in [&a.source, &a.target] {
            if !sub.external_refs.contains(end) {
                continue;
            }
            let row = tx
                .query_opt(
                    "SELECT status, patient_id FROM xds_document_entry WHERE entry_uuid = $1 \
                     UNION ALL SELECT status, patient_id FROM xds_package WHERE entry_uuid = $1",
                    &[end],
                )
                .await?;
            let Some(row) = row else {
                errors.push(RegistryError::new(
                    ErrorCode::UnresolvedReference,
                    format!(
                        "Association {} points at {end}, which is not in the registry",
                        a.id
                    ),
                ));
                continue;
            };
            if !RELATIONSHIPS.contains(&a.association_type.as_str()) || end != &a.target {
                continue;
            }
            let (st, patient): (String, String) = (row.get(0), row.get(1));
            if st != status::APPROVED {
                errors.push(RegistryError::new(
                    ErrorCode::RegistryDeprecatedDocumentError,
                    format!("{end} is deprecated and cannot be the target of {}", a.id),
                ));
            }
            if sub.set.patient_id.as_deref() != Some(patient.as_str()) {
                errors.push(RegistryError::new(
                    ErrorCode::PatientIdDoesNotMatch,
                    format!("{end} belongs to another patient"),
                ));
            }
            if a.association_type == assoc::RPLC || a.association_type == assoc::XFRM_RPLC {
                deprecate.push(end.clone());
            }
        }
    }
    Ok(deprecate)
}

/// Inserts every object of a submission; DocumentEntries get the version in
/// `versions` (by entryUUID), else 1.
pub(crate) async fn insert_objects(
    tx: &Transaction<'_>,
    sub: &Submission,
    origin: Origin,
    versions: &HashMap<String, i32>,
) -> Result<(), Error> {
    let provisional = origin == Origin::Provisional;
    let source = origin.source();
    for o in &sub.objects {
        let mut xml = String::new();
        match o {
            RegistryObject::Extrinsic(e) => {
                let version = versions.get(&e.core.id).copied().unwrap_or(1);
                let mut e = e.clone();
                e.core.version_name = Some(version.to_string());
                write_object(&mut xml, &RegistryObject::Extrinsic(e.clone()));
                let row = EntryRow {
                    entry: &DocumentEntry::of(&e),
                    version,
                    xml: &xml,
                    provisional,
                    source,
                };
                insert_entry(tx, row).await?;
            }
            RegistryObject::Package(p) => {
                write_object(&mut xml, o);
                let kind = match package_kind(&sub.objects, p) {
                    Some(PackageKind::Folder) => "Folder",
                    _ => "SubmissionSet",
                };
                insert_package(tx, kind, &SubmissionSet::of(p), &xml, provisional, source).await?;
            }
            RegistryObject::Association(a) => {
                write_object(&mut xml, o);
                tx.execute(
                    "INSERT INTO xds_association (entry_uuid, association_type, source_uuid, target_uuid, status, xml) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                    &[&a.id, &a.association_type, &a.source, &a.target, &status::APPROVED, &xml],
                )
                .await?;
            }
            // SubmissionSet markers were moved into their package by `prepare`.
            RegistryObject::Classification(_) | RegistryObject::Ref(_) => {}
        }
    }
    Ok(())
}

struct EntryRow<'a> {
    entry: &'a DocumentEntry,
    version: i32,
    xml: &'a str,
    provisional: bool,
    source: &'a str,
}

async fn insert_entry(tx: &Transaction<'_>, row: EntryRow<'_>) -> Result<(), Error> {
    let d = row.entry;
    let (xml, provisional, source) = (row.xml, row.provisional, row.source);
    let size: Option<i64> = d.size.as_deref().and_then(|s| s.parse().ok());
    tx.execute(
        "INSERT INTO xds_document_entry (entry_uuid, lid, unique_id, patient_id, status, \
         repository_unique_id, hash, size, mime_type, creation_time, service_start_time, \
         service_stop_time, class_code, type_code, format_code, practice_setting_code, \
         facility_type_code, confidentiality_codes, event_codes, author_persons, reference_ids, \
         provisional, source, xml, version) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17,$18,$19,$20,$21,$22,$23,$24,$25)",
        &[
            &d.entry_uuid,
            &d.lid.as_deref().unwrap_or(&d.entry_uuid),
            &d.unique_id.as_deref().unwrap_or_default(),
            &d.patient_id.as_deref().unwrap_or_default(),
            &status::APPROVED,
            &d.repository_unique_id,
            &d.hash,
            &size,
            &d.mime_type,
            &d.creation_time,
            &d.service_start_time,
            &d.service_stop_time,
            &d.class_code,
            &d.type_code,
            &d.format_code,
            &d.practice_setting_code,
            &d.facility_type_code,
            &d.confidentiality_codes,
            &d.event_codes,
            &d.author_persons,
            &d.reference_ids,
            &provisional,
            &source,
            &xml,
            &row.version,
        ],
    )
    .await?;
    Ok(())
}

async fn insert_package(
    tx: &Transaction<'_>,
    kind: &str,
    s: &SubmissionSet,
    xml: &str,
    provisional: bool,
    source: &str,
) -> Result<(), Error> {
    tx.execute(
        "INSERT INTO xds_package (entry_uuid, kind, unique_id, patient_id, status, source_id, \
         submission_time, content_type_code, author_persons, provisional, source, xml) \
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)",
        &[
            &s.entry_uuid,
            &kind,
            &s.unique_id.as_deref().unwrap_or(&s.entry_uuid),
            &s.patient_id.as_deref().unwrap_or_default(),
            &status::APPROVED,
            &s.source_id,
            &s.submission_time,
            &s.content_type_code,
            &s.author_persons,
            &provisional,
            &source,
            &xml,
        ],
    )
    .await?;
    Ok(())
}

/// Drops a provisional DocumentEntry, its associations and any provisional package left
/// without members.
async fn remove_provisional(tx: &Transaction<'_>, uuid: &str) -> Result<(), Error> {
    let sets: Vec<String> = tx
        .query(
            "DELETE FROM xds_association WHERE source_uuid = $1 OR target_uuid = $1 RETURNING source_uuid",
            &[&uuid],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.execute(
        "DELETE FROM xds_document_entry WHERE entry_uuid = $1",
        &[&uuid],
    )
    .await?;
    tx.execute(
        "DELETE FROM xds_package p WHERE p.entry_uuid = ANY($1) AND p.provisional \
         AND NOT EXISTS (SELECT 1 FROM xds_association a WHERE a.source_uuid = p.entry_uuid)",
        &[&sets],
    )
    .await?;
    Ok(())
}
