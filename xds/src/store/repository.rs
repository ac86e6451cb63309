//! Document content of the repositories: keyed by repository and document unique id,
//! checked against the metadata on ingest, never changed once stored.

use deadpool_postgres::Pool;

use crate::Error;

/// A stored document.
#[derive(Debug, Clone)]
pub struct StoredDocument {
    /// MIME type.
    pub mime_type: String,
    /// SHA-1 (hex) of the content.
    pub sha1_hex: String,
    /// The bytes.
    pub content: Vec<u8>,
}

/// What happened to a `put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PutOutcome {
    /// Newly stored.
    Stored,
    /// The same bytes were already stored under this id.
    AlreadyStored,
    /// Other bytes are stored under this id.
    Conflict,
}

/// The repositories' content store (all repositories share the table).
#[derive(Clone, Debug)]
pub struct Repository {
    pool: Pool,
}

// === impl Repository ===

impl Repository {
    /// A store over this pool (migrated).
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Stores a document unless the id is taken.
    pub async fn put(
        &self,
        repository: &str,
        document: &str,
        mime_type: &str,
        sha1_hex: &str,
        content: &[u8],
    ) -> Result<PutOutcome, Error> {
        let client = self.pool.get().await?;
        let size = content.len() as i64;
        let inserted = client
            .execute(
                "INSERT INTO xds_repository_document (repository_unique_id, document_unique_id, \
                 mime_type, sha1_hex, size, content) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT DO NOTHING",
                &[
                    &repository,
                    &document,
                    &mime_type,
                    &sha1_hex,
                    &size,
                    &content,
                ],
            )
            .await?;
        if inserted == 1 {
            return Ok(PutOutcome::Stored);
        }
        let row = client
            .query_one(
                "SELECT sha1_hex, size FROM xds_repository_document \
                 WHERE repository_unique_id = $1 AND document_unique_id = $2",
                &[&repository, &document],
            )
            .await?;
        let (h, s): (String, i64) = (row.get(0), row.get(1));
        Ok(if h == sha1_hex && s == size {
            PutOutcome::AlreadyStored
        } else {
            PutOutcome::Conflict
        })
    }

    /// Removes a document stored by a submission that the registry then refused.
    pub async fn forget(&self, repository: &str, document: &str) -> Result<(), Error> {
        let client = self.pool.get().await?;
        client
            .execute(
                "DELETE FROM xds_repository_document WHERE repository_unique_id = $1 AND document_unique_id = $2",
                &[&repository, &document],
            )
            .await?;
        Ok(())
    }

    /// Reads a document.
    pub async fn get(
        &self,
        repository: &str,
        document: &str,
    ) -> Result<Option<StoredDocument>, Error> {
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT mime_type, sha1_hex, content FROM xds_repository_document \
                 WHERE repository_unique_id = $1 AND document_unique_id = $2",
                &[&repository, &document],
            )
            .await?;
        Ok(row.map(|r| StoredDocument {
            mime_type: r.get(0),
            sha1_hex: r.get(1),
            content: r.get(2),
        }))
    }
}
