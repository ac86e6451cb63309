//! Changes the region applies to its own registry once the national gateway has accepted
//! them for a document published through the legacy services: new event codes (a
//! metadata update, e.g. the patient's obscuring `P99`) and the removal of a document.
//! INI's own ITI-57 / ITI-62 towards the registry carry the same change later.

use crate::Error;
use crate::ns::{doc, status};
use crate::rim::{Classification, RegistryObject, Slot, write_object};

use super::Registry;

impl Registry {
    /// Replaces the eventCodeList of the Approved entry `unique_id` with `codes` (in
    /// `coding_scheme`), in its stored metadata and in its index column; `new_id` names
    /// the new classifications (`urn:uuid:…`). Returns whether the entry exists.
    pub async fn set_event_codes(
        &self,
        unique_id: &str,
        codes: &[String],
        coding_scheme: &str,
        mut new_id: impl FnMut() -> String,
    ) -> Result<bool, Error> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT entry_uuid, xml FROM xds_document_entry \
                 WHERE unique_id = $1 AND status = $2 FOR UPDATE",
                &[&unique_id, &status::APPROVED],
            )
            .await?
        else {
            return Ok(false);
        };
        let (uuid, xml): (String, String) = (row.get(0), row.get(1));
        // Stored as written in responses: `rim:` prefix, declared by the enclosing list.
        let wrapped = format!("<list xmlns:rim=\"{}\">{xml}</list>", crate::ns::RIM);
        let parsed =
            roxmltree::Document::parse(&wrapped).map_err(|e| Error::Store(e.to_string()))?;
        let object = parsed
            .root_element()
            .first_element_child()
            .ok_or_else(|| Error::Store(format!("{uuid}: stored metadata empty")))?;
        let Some(RegistryObject::Extrinsic(mut entry)) = crate::rim::parse_object(object)? else {
            return Err(Error::Store(format!("{uuid}: stored metadata unreadable")));
        };
        entry
            .core
            .classifications
            .retain(|c| c.scheme.as_deref() != Some(doc::EVENT_CODE));
        for code in codes {
            entry.core.classifications.push(Classification {
                id: new_id(),
                scheme: Some(doc::EVENT_CODE.into()),
                classified_object: uuid.clone(),
                node_representation: Some(code.clone()),
                slots: vec![Slot {
                    name: "codingScheme".into(),
                    values: vec![coding_scheme.into()],
                }],
                name: Some(code.clone()),
                ..Default::default()
            });
        }
        let mut text = String::new();
        write_object(&mut text, &RegistryObject::Extrinsic(entry));
        let column: Vec<String> = codes
            .iter()
            .map(|c| format!("{c}^^{coding_scheme}"))
            .collect();
        tx.execute(
            "UPDATE xds_document_entry SET xml = $2, event_codes = $3 WHERE entry_uuid = $1",
            &[&uuid, &text, &column],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Removes the Approved entry `unique_id` and the associations that point at it
    /// (its SubmissionSet stays). Returns whether there was one.
    pub async fn remove_document(&self, unique_id: &str) -> Result<bool, Error> {
        let mut client = self.pool().get().await?;
        let tx = client.transaction().await?;
        let Some(row) = tx
            .query_opt(
                "SELECT entry_uuid FROM xds_document_entry WHERE unique_id = $1 AND status = $2",
                &[&unique_id, &status::APPROVED],
            )
            .await?
        else {
            return Ok(false);
        };
        let uuid: String = row.get(0);
        tx.execute(
            "DELETE FROM xds_association WHERE source_uuid = $1 OR target_uuid = $1",
            &[&uuid],
        )
        .await?;
        tx.execute(
            "DELETE FROM xds_document_entry WHERE entry_uuid = $1",
            &[&uuid],
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
