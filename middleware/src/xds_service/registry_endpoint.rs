//! `/xds/registry`: ITI-42 register, ITI-18 stored query, ITI-57 update, ITI-62 delete.

use roxmltree::Node;
use xds::messages::query::{ReturnType, parse_query, write_query_response};
use xds::messages::remove::parse_remove;
use xds::messages::response::registry_response;
use xds::messages::submit::parse_submit;
use xds::registry_error::{ErrorCode, RegistryError};
use xds::store::Origin;
use xds::submission::prepare;

use super::{Fault, Reply, internal};
use crate::audit::TxContext;
use crate::startup::AppState;

/// ITI-42.
pub const REGISTER: &str = "urn:ihe:iti:2007:RegisterDocumentSet-b";
/// ITI-18.
pub const QUERY: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
/// ITI-57.
pub const UPDATE: &str = "urn:ihe:iti:2010:UpdateDocumentSet";
/// ITI-62.
pub const DELETE: &str = "urn:ihe:iti:2010:DeleteDocumentSet";
/// INI's delete action.
pub const INI_DELETE: &str =
    "urn:ihe:iti:xds-b:2010:XDSDeletetWS:DocumentRegistry_DeleteDocumentSetRequest";

/// A fresh entryUUID.
pub fn new_uuid() -> String {
    format!("urn:uuid:{}", uuid::Uuid::new_v4())
}

/// Dispatches on the action.
pub(super) async fn handle(
    state: &AppState,
    tx: &TxContext,
    action: &str,
    payload: Node<'_, '_>,
) -> Result<Reply, Fault> {
    let registry = &state.xds.registry;
    match action {
        REGISTER => Ok(submit(registry, tx, Submit::Register, payload).await),
        UPDATE => Ok(submit(registry, tx, Submit::Update, payload).await),
        QUERY => Ok(query(registry, tx, payload).await),
        DELETE | INI_DELETE => {
            let response_action = if action == DELETE {
                "urn:ihe:iti:2010:DeleteDocumentSetResponse"
            } else {
                "urn:ihe:iti:xds-b:2010:XDSDeletetWS:DocumentRegistry_DeleteDocumentSetResponse"
            };
            let errors = match parse_remove(payload) {
                Err(e) => vec![metadata_error(&e)],
                Ok(ids) => registry
                    .delete(&ids)
                    .await
                    .unwrap_or_else(|e| vec![internal(tx, "registry delete", &e)]),
            };
            let body = registry_response(&errors);
            Ok(reply("ITI-62", response_action, body, errors, None))
        }
        other => Err(Fault::sender(
            Some("wsa:ActionNotSupported"),
            format!("the registry does not support the action {other}"),
        )),
    }
}

fn reply(
    transaction: &'static str,
    action: &'static str,
    body: String,
    errors: Vec<RegistryError>,
    document_id: Option<String>,
) -> Reply {
    Reply {
        transaction,
        action,
        body,
        parts: Vec::new(),
        errors,
        document_id,
    }
}

/// The two submissions to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Submit {
    /// ITI-42 Register Document Set-b.
    Register,
    /// ITI-57 Update Document Set.
    Update,
}

/// ITI-42 or ITI-57: the metadata checked, then registered or applied as an update.
async fn submit(
    registry: &xds::store::Registry,
    tx: &TxContext,
    kind: Submit,
    payload: Node<'_, '_>,
) -> Reply {
    let (transaction, response_action) = match kind {
        Submit::Register => ("ITI-42", "urn:ihe:iti:2007:RegisterDocumentSet-bResponse"),
        Submit::Update => ("ITI-57", "urn:ihe:iti:2010:UpdateDocumentSetResponse"),
    };
    let mut doc = None;
    let errors = match parse_submit(payload) {
        Err(e) => vec![metadata_error(&e)],
        Ok(objects) => match prepare(objects, new_uuid) {
            Err(errors) => errors,
            Ok(sub) => {
                doc = sub.documents.first().and_then(|d| d.unique_id.clone());
                let origin = Origin::Authoritative(transaction);
                let stored = match kind {
                    Submit::Register => registry.register(&sub, origin).await,
                    Submit::Update => registry.update(&sub, origin).await,
                };
                stored.unwrap_or_else(|e| vec![internal(tx, "registry", &e)])
            }
        },
    };
    let body = registry_response(&errors);
    reply(transaction, response_action, body, errors, doc)
}

/// ITI-18 Registry Stored Query: object references or whole objects.
async fn query(registry: &xds::store::Registry, tx: &TxContext, payload: Node<'_, '_>) -> Reply {
    const ACTION: &str = "urn:ihe:iti:2007:RegistryStoredQueryResponse";
    let q = match parse_query(payload) {
        Ok(q) => q,
        Err(e) => {
            let errors = vec![metadata_error(&e)];
            let body = write_query_response(ReturnType::ObjectRef, &[], &errors);
            return reply("ITI-18", ACTION, body, errors, None);
        }
    };
    let (items, errors) = match q.stored() {
        Err(e) => (Vec::new(), vec![e]),
        Ok(stored) => match registry
            .query(&stored, q.return_type == ReturnType::LeafClass)
            .await
        {
            Ok(Ok(found)) => (
                found
                    .into_iter()
                    .map(|f| match q.return_type {
                        ReturnType::LeafClass => f.xml,
                        ReturnType::ObjectRef => f.id,
                    })
                    .collect(),
                Vec::new(),
            ),
            Ok(Err(e)) => (Vec::new(), vec![e]),
            Err(e) => (Vec::new(), vec![internal(tx, "registry query", &e)]),
        },
    };
    let body = write_query_response(q.return_type, &items, &errors);
    reply("ITI-18", ACTION, body, errors, None)
}

/// A body that cannot be read as the transaction's request.
pub(super) fn metadata_error(e: &xds::Error) -> RegistryError {
    RegistryError::new(ErrorCode::RegistryMetadataError, e.to_string())
}
