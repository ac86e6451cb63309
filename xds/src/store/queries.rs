//! The stored queries (ITI-18) over the registry tables.

use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;

use super::{Registry, with_status};
use crate::Error;
use crate::messages::query::{FindDocuments, FindSubmissionSets, ObjectKey, StoredQuery};
use crate::ns::assoc;
use crate::registry_error::{ErrorCode, RegistryError};

/// Most objects one query may return.
pub const MAX_RESULTS: usize = 5_000;

/// One object found: its id and its ebRIM XML.
#[derive(Debug, Clone)]
pub struct Found {
    /// entryUUID.
    pub id: String,
    /// `rim:` element as stored, with the current status.
    pub xml: String,
}

// === impl Registry ===

impl Registry {
    /// Runs a stored query; `leaf` false (ObjectRef) leaves the XML of the Find queries
    /// unread. `Ok(Err(_))` is an IHE error for the response.
    pub async fn query(
        &self,
        q: &StoredQuery,
        leaf: bool,
    ) -> Result<Result<Vec<Found>, RegistryError>, Error> {
        let client = self.pool().get().await?;
        let found = match q {
            StoredQuery::FindDocuments(f) => find_documents(&client, f, leaf).await?,
            StoredQuery::FindSubmissionSets(f) => find_submission_sets(&client, f, leaf).await?,
            StoredQuery::GetDocuments(key) => documents_by_key(&client, key).await?,
            StoredQuery::GetDocumentsAndAssociations(key) => {
                let docs = documents_by_key(&client, key).await?;
                let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
                let mut out = docs;
                out.extend(associations_of(&client, &ids, None).await?);
                out
            }
            StoredQuery::GetAssociations(ids) => associations_of(&client, ids, None).await?,
            StoredQuery::GetSubmissionSets(ids) => submission_sets_of(&client, ids).await?,
            StoredQuery::GetSubmissionSetAndContents(key) => {
                submission_set_and_contents(&client, key).await?
            }
            StoredQuery::GetRelatedDocuments(key, types) => {
                related_documents(&client, key, types).await?
            }
        };
        if found.len() > MAX_RESULTS {
            return Ok(Err(RegistryError::new(
                ErrorCode::TooManyResults,
                format!(
                    "{} objects match, at most {MAX_RESULTS} are returned",
                    found.len()
                ),
            )));
        }
        Ok(Ok(found))
    }
}

/// GetSubmissionSets: the sets that have the objects as members, and those associations.
async fn submission_sets_of(client: &Client, ids: &[String]) -> Result<Vec<Found>, Error> {
    let assocs = client
        .query(
            "SELECT a.entry_uuid, a.status, a.xml FROM xds_association a \
             JOIN xds_package p ON p.entry_uuid = a.source_uuid AND p.kind = 'SubmissionSet' \
             WHERE a.target_uuid = ANY($1) AND a.association_type = $2",
            &[&ids, &assoc::HAS_MEMBER],
        )
        .await?;
    let sets = client
        .query(
            "SELECT DISTINCT p.entry_uuid, p.status, p.xml FROM xds_package p \
             JOIN xds_association a ON a.source_uuid = p.entry_uuid \
             WHERE a.target_uuid = ANY($1) AND a.association_type = $2 AND p.kind = 'SubmissionSet'",
            &[&ids, &assoc::HAS_MEMBER],
        )
        .await?;
    let mut out = rows_to_found(&sets);
    out.extend(rows_to_found(&assocs));
    Ok(out)
}

/// GetSubmissionSetAndContents: the set, its members and the HasMember associations.
async fn submission_set_and_contents(
    client: &Client,
    key: &ObjectKey,
) -> Result<Vec<Found>, Error> {
    let sql = match key {
        ObjectKey::Uuids(_) => {
            "SELECT entry_uuid, status, xml FROM xds_package WHERE entry_uuid = ANY($1) AND kind = 'SubmissionSet'"
        }
        ObjectKey::UniqueIds(_) => {
            "SELECT entry_uuid, status, xml FROM xds_package WHERE unique_id = ANY($1) AND kind = 'SubmissionSet'"
        }
    };
    let sets = client.query(sql, &[key_values(key)]).await?;
    let set_ids: Vec<String> = sets.iter().map(|r| r.get(0)).collect();
    let mut out = rows_to_found(&sets);
    let assocs = client
        .query(
            "SELECT entry_uuid, status, xml, target_uuid FROM xds_association \
             WHERE source_uuid = ANY($1) AND association_type = $2",
            &[&set_ids, &assoc::HAS_MEMBER],
        )
        .await?;
    let targets: Vec<String> = assocs.iter().map(|r| r.get(3)).collect();
    let docs = client
        .query(
            "SELECT entry_uuid, status, xml FROM xds_document_entry WHERE entry_uuid = ANY($1) \
             UNION ALL SELECT entry_uuid, status, xml FROM xds_package WHERE entry_uuid = ANY($1)",
            &[&targets],
        )
        .await?;
    out.extend(rows_to_found(&docs));
    out.extend(rows_to_found(&assocs));
    Ok(out)
}

/// GetRelatedDocuments: the documents related by the given association types, and those
/// associations.
async fn related_documents(
    client: &Client,
    key: &ObjectKey,
    types: &[String],
) -> Result<Vec<Found>, Error> {
    let docs = documents_by_key(client, key).await?;
    let ids: Vec<String> = docs.iter().map(|d| d.id.clone()).collect();
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let assocs = client
        .query(
            "SELECT entry_uuid, status, xml, source_uuid, target_uuid FROM xds_association \
             WHERE (source_uuid = ANY($1) OR target_uuid = ANY($1)) AND association_type = ANY($2)",
            &[&ids, &types],
        )
        .await?;
    if assocs.is_empty() {
        return Ok(Vec::new());
    }
    let mut related: Vec<String> = Vec::new();
    for r in &assocs {
        for end in [r.get::<_, String>(3), r.get::<_, String>(4)] {
            if !related.contains(&end) {
                related.push(end);
            }
        }
    }
    let rows = client
        .query(
            "SELECT entry_uuid, status, xml FROM xds_document_entry WHERE entry_uuid = ANY($1)",
            &[&related],
        )
        .await?;
    let mut out = rows_to_found(&rows);
    out.extend(rows_to_found(&assocs));
    Ok(out)
}

fn rows_to_found(rows: &[tokio_postgres::Row]) -> Vec<Found> {
    rows.iter()
        .map(|r| {
            let (id, st, xml): (String, String, String) = (r.get(0), r.get(1), r.get(2));
            Found {
                id,
                xml: with_status(&xml, &st),
            }
        })
        .collect()
}

fn key_values(key: &ObjectKey) -> &(dyn ToSql + Sync) {
    match key {
        ObjectKey::Uuids(v) | ObjectKey::UniqueIds(v) => v,
    }
}

async fn documents_by_key(client: &Client, key: &ObjectKey) -> Result<Vec<Found>, Error> {
    let sql = match key {
        ObjectKey::Uuids(_) => {
            "SELECT entry_uuid, status, xml FROM xds_document_entry WHERE entry_uuid = ANY($1)"
        }
        ObjectKey::UniqueIds(_) => {
            "SELECT entry_uuid, status, xml FROM xds_document_entry WHERE unique_id = ANY($1) ORDER BY version"
        }
    };
    Ok(rows_to_found(&client.query(sql, &[key_values(key)]).await?))
}

async fn associations_of(
    client: &Client,
    ids: &[String],
    types: Option<&[&str]>,
) -> Result<Vec<Found>, Error> {
    let rows = match types {
        None => {
            client
                .query(
                    "SELECT entry_uuid, status, xml FROM xds_association \
                     WHERE source_uuid = ANY($1) OR target_uuid = ANY($1)",
                    &[&ids],
                )
                .await?
        }
        Some(t) => {
            client
                .query(
                    "SELECT entry_uuid, status, xml FROM xds_association \
                     WHERE (source_uuid = ANY($1) OR target_uuid = ANY($1)) AND association_type = ANY($2)",
                    &[&ids, &t],
                )
                .await?
        }
    };
    Ok(rows_to_found(&rows))
}

/// Builds `AND col = ANY($n)` clauses.
struct Filter {
    sql: String,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Filter {
    fn new(base: &str) -> Self {
        Self {
            sql: base.to_string(),
            params: Vec::new(),
        }
    }

    fn push(&mut self, clause: &str, value: Box<dyn ToSql + Sync + Send>) {
        self.params.push(value);
        self.sql
            .push_str(&clause.replace("$n", &format!("${}", self.params.len())));
    }

    fn any(&mut self, column: &str, values: &[String]) {
        if !values.is_empty() {
            self.push(
                &format!(" AND {column} = ANY($n)"),
                Box::new(values.to_vec()),
            );
        }
    }

    fn overlap(&mut self, column: &str, values: &[String]) {
        if !values.is_empty() {
            self.push(&format!(" AND {column} && $n"), Box::new(values.to_vec()));
        }
    }

    fn range(&mut self, column: &str, (from, to): &(Option<String>, Option<String>)) {
        // Times are YYYY[MM[DD[hh[mm[ss]]]]] in UTC: string order is time order for
        // values of the same precision; From is inclusive, To exclusive (IHE).
        if let Some(f) = from {
            self.push(&format!(" AND {column} >= $n"), Box::new(f.clone()));
        }
        if let Some(t) = to {
            self.push(&format!(" AND {column} < $n"), Box::new(t.clone()));
        }
    }

    async fn run(self, client: &Client) -> Result<Vec<Found>, Error> {
        let params: Vec<&(dyn ToSql + Sync)> = self
            .params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect();
        let sql = format!("{} LIMIT {}", self.sql, MAX_RESULTS + 1);
        Ok(rows_to_found(&client.query(&sql, &params).await?))
    }
}

/// The selected columns: the XML only when it is returned.
fn columns(leaf: bool) -> &'static str {
    if leaf {
        "entry_uuid, status, xml"
    } else {
        "entry_uuid, status, ''::text AS xml"
    }
}

async fn find_documents(
    client: &Client,
    f: &FindDocuments,
    leaf: bool,
) -> Result<Vec<Found>, Error> {
    let mut q = Filter::new(&format!(
        "SELECT {} FROM xds_document_entry WHERE TRUE",
        columns(leaf)
    ));
    q.push(" AND patient_id = $n", Box::new(f.patient_id.clone()));
    q.any("status", &f.statuses);
    q.any("class_code", &f.class_codes);
    q.any("type_code", &f.type_codes);
    q.any("practice_setting_code", &f.practice_setting_codes);
    q.any("facility_type_code", &f.facility_type_codes);
    q.any("format_code", &f.format_codes);
    q.overlap("event_codes", &f.event_codes);
    q.overlap("confidentiality_codes", &f.confidentiality_codes);
    if !f.author_persons.is_empty() {
        q.push(
            " AND EXISTS (SELECT 1 FROM unnest(author_persons) a, unnest($n::text[]) p WHERE a LIKE p)",
            Box::new(f.author_persons.clone()),
        );
    }
    q.range("creation_time", &f.creation);
    q.range("service_start_time", &f.service_start);
    q.range("service_stop_time", &f.service_stop);
    q.run(client).await
}

async fn find_submission_sets(
    client: &Client,
    f: &FindSubmissionSets,
    leaf: bool,
) -> Result<Vec<Found>, Error> {
    let mut q = Filter::new(&format!(
        "SELECT {} FROM xds_package WHERE kind = 'SubmissionSet'",
        columns(leaf)
    ));
    q.push(" AND patient_id = $n", Box::new(f.patient_id.clone()));
    q.any("status", &f.statuses);
    q.any("source_id", &f.source_ids);
    q.any("content_type_code", &f.content_types);
    q.range("submission_time", &f.submission);
    q.run(client).await
}
