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
    let reply = |transaction, action, body: String, errors: Vec<RegistryError>, doc| Reply {
        transaction,
        action,
        body,
        parts: Vec::new(),
        errors,
        document_id: doc,
    };
    let registry = &state.xds.registry;
    match action {
        REGISTER | UPDATE => {
            let (transaction, response_action) = if action == REGISTER {
                ("ITI-42", "urn:ihe:iti:2007:RegisterDocumentSet-bResponse")
            } else {
                ("ITI-57", "urn:ihe:iti:2010:UpdateDocumentSetResponse")
            };
            let mut doc = None;
            let errors = match parse_submit(payload) {
                Err(e) => vec![metadata_error(&e)],
                Ok(objects) => match prepare(objects, new_uuid) {
                    Err(errors) => errors,
                    Ok(sub) => {
                        doc = sub.documents.first().and_then(|d| d.unique_id.clone());
                        let stored = if action == REGISTER {
                            registry
                                .register(&sub, Origin::Authoritative(transaction))
                                .await
                        } else {
                            registry
                                .update(&sub, Origin::Authoritative(transaction))
                                .await
                        };
                        stored.unwrap_or_else(|e| vec![internal(tx, "registry", &e)])
                    }
                },
            };
            Ok(reply(
                transaction,
                response_action,
                registry_response(&errors),
                errors,
                doc,
            ))
        }
        QUERY => {
            let q = match parse_query(payload) {
                Ok(q) => q,
                Err(e) => {
                    let errors = vec![metadata_error(&e)];
                    let body = write_query_response(ReturnType::ObjectRef, &[], &errors);
                    return Ok(reply(
                        "ITI-18",
                        "urn:ihe:iti:2007:RegistryStoredQueryResponse",
                        body,
                        errors,
                        None,
                    ));
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
            Ok(reply(
                "ITI-18",
                "urn:ihe:iti:2007:RegistryStoredQueryResponse",
                body,
                errors,
                None,
            ))
        }
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
            Ok(reply(
                "ITI-62",
                response_action,
                registry_response(&errors),
                errors,
                None,
            ))
        }
        other => Err(Fault::sender(
            Some("wsa:ActionNotSupported"),
            format!("the registry does not support the action {other}"),
        )),
    }
}

/// A body that cannot be read as the transaction's request.
pub(super) fn metadata_error(e: &xds::Error) -> RegistryError {
    RegistryError::new(ErrorCode::RegistryMetadataError, e.to_string())
}
