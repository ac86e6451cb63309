//! `/xds/repository/<name>`: ITI-41 Provide and Register (store, then register in the
//! regional registry) and ITI-43 Retrieve.

use std::collections::HashMap;

use aws_lc_rs::digest;
use bytes::Bytes;
use roxmltree::Node;
use xds::messages::response::registry_response;
use xds::messages::retrieve::{DocumentResponse, parse_retrieve, write_retrieve_response};
use xds::messages::submit::{DocumentContent, parse_provide_and_register};
use xds::registry_error::{ErrorCode, RegistryError};
use xds::rim::RegistryObject;
use xds::store::Origin;
use xds::store::repository::PutOutcome;
use xds::submission::prepare;

use super::registry_endpoint::{metadata_error, new_uuid};
use super::{Fault, Reply, internal};
use crate::audit::TxContext;
use crate::startup::AppState;

/// ITI-41.
pub const PROVIDE: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
/// ITI-43.
pub const RETRIEVE: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";

/// Dispatches on the action.
pub(super) async fn handle(
    state: &AppState,
    tx: &TxContext,
    index: usize,
    action: &str,
    payload: Node<'_, '_>,
    parts: &HashMap<String, Bytes>,
) -> Result<Reply, Fault> {
    match action {
        PROVIDE => {
            let (errors, doc) = provide(state, tx, index, payload, parts).await;
            Ok(Reply {
                transaction: "ITI-41",
                action: "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse",
                body: registry_response(&errors),
                parts: Vec::new(),
                errors,
                document_id: doc,
            })
        }
        RETRIEVE => Ok(retrieve(state, tx, index, payload).await),
        other => Err(Fault::sender(
            Some("wsa:ActionNotSupported"),
            format!("the repository does not support the action {other}"),
        )),
    }
}

fn repo_error(code: ErrorCode, ctx: String) -> RegistryError {
    RegistryError::new(code, ctx)
}

async fn provide(
    state: &AppState,
    tx: &TxContext,
    index: usize,
    payload: Node<'_, '_>,
    parts: &HashMap<String, Bytes>,
) -> (Vec<RegistryError>, Option<String>) {
    let repo = &state.xds.repositories[index];
    let mut request = match parse_provide_and_register(payload) {
        Ok(r) => r,
        Err(e) => return (vec![metadata_error(&e)], None),
    };
    let mut errors = Vec::new();
    let contents = contents_of(&request.documents, parts, &mut errors);
    describe(
        &mut request.objects,
        &contents,
        &repo.unique_id,
        &mut errors,
    );
    if !errors.is_empty() {
        return (errors, None);
    }
    let sub = match prepare(request.objects, new_uuid) {
        Ok(s) => s,
        Err(errors) => return (errors, None),
    };
    let first = sub.documents.first().and_then(|d| d.unique_id.clone());

    // Store the content, then register; undo the new content if the registry refuses.
    let stored = store(state, tx, &repo.unique_id, &sub, &contents, &mut errors).await;
    if errors.is_empty() {
        errors = state
            .xds
            .registry
            .register(&sub, Origin::Authoritative("ITI-41"))
            .await
            .unwrap_or_else(|e| vec![internal(tx, "registry", &e)]);
    }
    if errors.iter().any(|e| !e.warning) {
        for unique in &stored {
            if let Err(e) = state.xds.repository.forget(&repo.unique_id, unique).await {
                tracing::error!(tx = %tx.id, error = %e, document = %unique, "stored document not removed after a refused registration");
            }
        }
    }
    (errors, first)
}

/// The bytes of each document, inline or in its MTOM part, by the document's id.
fn contents_of(
    documents: &[xds::messages::submit::ProvidedDocument],
    parts: &HashMap<String, Bytes>,
    errors: &mut Vec<RegistryError>,
) -> HashMap<String, Bytes> {
    let mut contents = HashMap::new();
    for d in documents {
        let bytes = match &d.content {
            DocumentContent::Inline(b) => Some(Bytes::from(b.clone())),
            DocumentContent::Attachment(cid) => parts.get(cid.as_str()).cloned(),
        };
        match bytes {
            Some(b) => {
                contents.insert(d.id.clone(), b);
            }
            None => errors.push(repo_error(
                ErrorCode::MissingDocument,
                format!("Document {}: no MTOM part with that Content-ID", d.id),
            )),
        }
    }
    contents
}

/// Metadata ↔ documents: each DocumentEntry has its document and each document its entry;
/// the values only the repository knows (hash, size, repositoryUniqueId) checked and set.
fn describe(
    objects: &mut [RegistryObject],
    contents: &HashMap<String, Bytes>,
    repository: &str,
    errors: &mut Vec<RegistryError>,
) {
    let mut described = Vec::new();
    for o in objects.iter_mut() {
        let RegistryObject::Extrinsic(e) = o else {
            continue;
        };
        described.push(e.core.id.clone());
        let Some(bytes) = contents.get(&e.core.id) else {
            if !errors.iter().any(|x| x.code == ErrorCode::MissingDocument) {
                errors.push(repo_error(
                    ErrorCode::MissingDocument,
                    format!("DocumentEntry {} has no document", e.core.id),
                ));
            }
            continue;
        };
        let sha1 = hex::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, bytes));
        let size = bytes.len().to_string();
        for why in conflicts(e, &sha1, &size, repository) {
            errors.push(repo_error(ErrorCode::RepositoryMetadataError, why));
        }
        e.core.set_slot("hash", &sha1);
        e.core.set_slot("size", &size);
        e.core.set_slot("repositoryUniqueId", repository);
    }
    for id in contents.keys() {
        if !described.contains(id) {
            errors.push(repo_error(
                ErrorCode::MissingDocumentMetadata,
                format!("Document {id} has no DocumentEntry"),
            ));
        }
    }
}

/// Where the entry's hash, size or repositoryUniqueId (when given) differ from the
/// document's and this repository's.
fn conflicts(
    e: &xds::rim::ExtrinsicObject,
    sha1: &str,
    size: &str,
    repository: &str,
) -> Vec<String> {
    let id = &e.core.id;
    let mut out = Vec::new();
    if let Some(h) = e.core.slot("hash")
        && !h.eq_ignore_ascii_case(sha1)
    {
        out.push(format!(
            "DocumentEntry {id}: hash {h} but the document's SHA-1 is {sha1}"
        ));
    }
    if let Some(s) = e.core.slot("size")
        && s != size
    {
        out.push(format!(
            "DocumentEntry {id}: size {s} but the document has {size} bytes"
        ));
    }
    if let Some(r) = e.core.slot("repositoryUniqueId")
        && r != repository
    {
        out.push(format!(
            "DocumentEntry {id}: repositoryUniqueId {r} is not this repository ({repository})"
        ));
    }
    out
}

/// Stores each document's content; the uniqueIds this call stored (to forget if the
/// registry refuses).
async fn store(
    state: &AppState,
    tx: &TxContext,
    repository: &str,
    sub: &xds::submission::Submission,
    contents: &HashMap<String, Bytes>,
    errors: &mut Vec<RegistryError>,
) -> Vec<String> {
    let mut stored = Vec::new();
    for d in &sub.documents {
        let symbolic = sub
            .assigned
            .iter()
            .find(|(_, u)| **u == d.entry_uuid)
            .map(|(s, _)| s.clone())
            .unwrap_or_else(|| d.entry_uuid.clone());
        let Some(bytes) = contents.get(&symbolic) else {
            continue;
        };
        let unique = d.unique_id.clone().unwrap_or_default();
        let hash = d.hash.as_deref().unwrap_or_default();
        let put = state
            .xds
            .repository
            .put(repository, &unique, &d.mime_type, hash, bytes)
            .await;
        match put {
            Ok(PutOutcome::Stored) => stored.push(unique),
            Ok(PutOutcome::AlreadyStored) => {}
            Ok(PutOutcome::Conflict) => errors.push(repo_error(
                ErrorCode::NonIdenticalHash,
                format!("document {unique} is already stored with other content"),
            )),
            Err(e) => errors.push(internal(tx, "repository store", &e)),
        }
    }
    stored
}

async fn retrieve(state: &AppState, tx: &TxContext, index: usize, payload: Node<'_, '_>) -> Reply {
    let repo = &state.xds.repositories[index];
    let action = "urn:ihe:iti:2007:RetrieveDocumentSetResponse";
    let requests = match parse_retrieve(payload) {
        Ok(r) => r,
        Err(e) => {
            let errors = vec![repo_error(
                ErrorCode::RepositoryMetadataError,
                e.to_string(),
            )];
            return Reply {
                transaction: "ITI-43",
                action,
                body: write_retrieve_response(&[], &errors),
                parts: Vec::new(),
                errors,
                document_id: None,
            };
        }
    };
    let mut found = Vec::new();
    let mut parts = Vec::new();
    let mut errors = Vec::new();
    for r in &requests {
        if r.repository != repo.unique_id {
            errors.push(repo_error(
                ErrorCode::UnknownRepositoryId,
                format!(
                    "{} is not this repository ({})",
                    r.repository, repo.unique_id
                ),
            ));
            continue;
        }
        match state.xds.repository.get(&r.repository, &r.document).await {
            Ok(Some(doc)) => {
                let cid = format!("{}@fsemw", uuid::Uuid::new_v4().simple());
                parts.push((cid.clone(), doc.mime_type.clone(), Bytes::from(doc.content)));
                found.push(DocumentResponse {
                    request: r.clone(),
                    mime_type: doc.mime_type,
                    content_id: cid,
                });
            }
            Ok(None) => errors.push(repo_error(
                ErrorCode::DocumentUniqueIdError,
                format!("document {} is not in this repository", r.document),
            )),
            Err(e) => errors.push(internal(tx, "repository read", &e)),
        }
    }
    let document_id = requests.first().map(|r| r.document.clone());
    Reply {
        transaction: "ITI-43",
        action,
        body: write_retrieve_response(&found, &errors),
        parts,
        errors,
        document_id,
    }
}
