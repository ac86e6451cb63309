//! ITI-57 Update Document Set: new metadata versions and availability status changes.

use std::collections::HashMap;

use super::registry::{Origin, Registry, insert_objects};
use crate::Error;
use crate::ns::assoc;
use crate::registry_error::{ErrorCode, RegistryError};
use crate::rim::RegistryObject;
use crate::submission::Submission;
use deadpool_postgres::Transaction;

/// What an update changes once its checks pass.
#[derive(Default)]
struct Changes {
    /// New DocumentEntry versions: entryUUID → version number.
    versions: HashMap<String, i32>,
    /// Entries the new versions replace.
    deprecate: Vec<String>,
    /// Availability status changes: entryUUID, new status.
    status_changes: Vec<(String, String)>,
}

fn err(code: ErrorCode, ctx: String) -> RegistryError {
    RegistryError::new(code, ctx)
}

// === impl Registry ===

impl Registry {
    /// Applies a metadata update. `Ok(errors)` with errors means nothing changed.
    pub async fn update(
        &self,
        sub: &Submission,
        origin: Origin,
    ) -> Result<Vec<RegistryError>, Error> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let mut errors = Vec::new();
        let mut changes = Changes::default();
        new_versions(&tx, sub, &mut changes, &mut errors).await?;
        status_changes(&tx, sub, &mut changes, &mut errors).await?;
        if sub.documents.is_empty() && changes.status_changes.is_empty() && errors.is_empty() {
            errors.push(err(
                ErrorCode::MetadataUpdateOperationError,
                "the submission neither versions a DocumentEntry nor changes a status".into(),
            ));
        }
        if !errors.is_empty() {
            return Ok(errors);
        }
        let deprecated = changes
            .deprecate
            .iter()
            .map(|uuid| (uuid.clone(), crate::ns::status::DEPRECATED.to_string()));
        for (uuid, to) in deprecated.chain(changes.status_changes.iter().cloned()) {
            tx.execute(
                "UPDATE xds_document_entry SET status = $2 WHERE entry_uuid = $1",
                &[&uuid, &to],
            )
            .await?;
        }
        // The status-change associations themselves are not stored as relationships.
        let mut kept = sub.clone();
        kept.objects.retain(|o| {
            !matches!(o, RegistryObject::Association(a) if a.association_type == assoc::UPDATE_AVAILABILITY_STATUS)
        });
        insert_objects(&tx, &kept, origin, &changes.versions).await?;
        tx.commit().await?;
        Ok(errors)
    }
}

/// New versions of DocumentEntries: same lid, PreviousVersion = current version, same patient.
async fn new_versions(
    tx: &Transaction<'_>,
    sub: &Submission,
    changes: &mut Changes,
    errors: &mut Vec<RegistryError>,
) -> Result<(), Error> {
    for d in &sub.documents {
        let lid = d.lid.clone().unwrap_or_default();
        let current = tx
            .query_opt(
                "SELECT entry_uuid, version, patient_id FROM xds_document_entry \
                 WHERE lid = $1 AND status = $2 FOR UPDATE",
                &[&lid, &crate::ns::status::APPROVED],
            )
            .await?;
        let Some(row) = current else {
            errors.push(err(
                ErrorCode::MetadataUpdateError,
                format!("no approved DocumentEntry has lid {lid}"),
            ));
            continue;
        };
        let (old_uuid, version, patient): (String, i32, String) =
            (row.get(0), row.get(1), row.get(2));
        let previous = sub.objects.iter().find_map(|o| match o {
            RegistryObject::Association(a)
                if a.association_type == assoc::HAS_MEMBER && a.target == d.entry_uuid =>
            {
                a.slot("PreviousVersion").map(str::to_string)
            }
            _ => None,
        });
        match previous {
            None => errors.push(err(
                ErrorCode::MetadataUpdateError,
                format!(
                    "the HasMember association of {} has no PreviousVersion",
                    d.entry_uuid
                ),
            )),
            Some(p) if p != version.to_string() => errors.push(err(
                ErrorCode::MetadataVersionError,
                format!("PreviousVersion {p} but the current version of {lid} is {version}"),
            )),
            Some(_) => {}
        }
        if d.patient_id.as_deref() != Some(patient.as_str()) {
            errors.push(err(
                ErrorCode::PatientIdReconciliationError,
                format!("the update of {lid} changes its patientId"),
            ));
        }
        changes.versions.insert(d.entry_uuid.clone(), version + 1);
        changes.deprecate.push(old_uuid);
    }
    Ok(())
}

/// Availability status changes: from the status the entry has to the new one.
async fn status_changes(
    tx: &Transaction<'_>,
    sub: &Submission,
    changes: &mut Changes,
    errors: &mut Vec<RegistryError>,
) -> Result<(), Error> {
    for o in &sub.objects {
        let RegistryObject::Association(a) = o else {
            continue;
        };
        if a.association_type != assoc::UPDATE_AVAILABILITY_STATUS {
            continue;
        }
        let (Some(from), Some(to)) = (a.slot("OriginalStatus"), a.slot("NewStatus")) else {
            errors.push(err(
                ErrorCode::MetadataUpdateError,
                format!("{} needs OriginalStatus and NewStatus", a.id),
            ));
            continue;
        };
        let row = tx
            .query_opt(
                "SELECT entry_uuid, status FROM xds_document_entry WHERE entry_uuid = $1 OR (lid = $1 AND status = $2)",
                &[&a.target, &from],
            )
            .await?;
        match row {
            Some(r) if r.get::<_, String>(1) == from => {
                changes
                    .status_changes
                    .push((r.get::<_, String>(0), to.to_string()));
            }
            Some(r) => errors.push(err(
                ErrorCode::MetadataUpdateError,
                format!("{} is {}, not {from}", a.target, r.get::<_, String>(1)),
            )),
            None => errors.push(err(
                ErrorCode::UnresolvedReference,
                format!("{} is not in the registry", a.target),
            )),
        }
    }
    Ok(())
}
