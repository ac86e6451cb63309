//! The regional registry fed as INI feeds it: ITI-42, ITI-18, ITI-57 and ITI-62 in the
//! shapes of the published Italian XDS messages.

use integration_tests::shared_dir;
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::xds::{
    EntrySpec, PATIENT, association, document_entry, error_codes, has_member, response_status,
    submission_set, submit,
};

use crate::xds_repository::{envelope_of, post, soap};

const REGISTER: &str = "urn:ihe:iti:2007:RegisterDocumentSet-b";
const QUERY: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
const UPDATE: &str = "urn:ihe:iti:2010:UpdateDocumentSet";
const DELETE: &str = "urn:ihe:iti:2010:DeleteDocumentSet";
const INI_DELETE: &str =
    "urn:ihe:iti:xds-b:2010:XDSDeletetWS:DocumentRegistry_DeleteDocumentSetRequest";
/// The DocumentEntry of the published ITI-42 example.
const EXAMPLE_UUID: &str = "urn:uuid:d53730ee-0bfd-4b0a-8e2c-fa178a4ab9b5";
const EXAMPLE_UID: &str = "2.16.840.1.113883.2.9.2.120.4.4^0000000001";
const EXAMPLE_PATIENT: &str = "RSSMRA75C03F839K^^^&2.16.840.1.113883.2.9.4.3.2&ISO";

fn example(name: &str) -> String {
    std::fs::read_to_string(shared_dir().join("reference/upstream/examples").join(name)).unwrap()
}

fn body_of(envelope: &str) -> String {
    let start = envelope.find("<soap:Body>").unwrap() + "<soap:Body>".len();
    let end = envelope.find("</soap:Body>").unwrap();
    envelope[start..end].to_string()
}

fn get_documents(key: &str, values: &str, return_type: &str) -> String {
    stored_query(
        "urn:uuid:5c4f972b-d56b-40ac-a5fc-c8ca9b40b9d4",
        return_type,
        &[(key, values)],
    )
}

fn stored_query(id: &str, return_type: &str, params: &[(&str, &str)]) -> String {
    let slots: String = params
        .iter()
        .map(|(n, v)| format!("<rim:Slot name=\"{n}\"><rim:ValueList><rim:Value>{}</rim:Value></rim:ValueList></rim:Slot>", v.replace('&', "&amp;")))
        .collect();
    format!(
        "<query:AdhocQueryRequest xmlns:query=\"urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><query:ResponseOption returnComposedObjects=\"true\" returnType=\"{return_type}\"/><rim:AdhocQuery id=\"{id}\">{slots}</rim:AdhocQuery></query:AdhocQueryRequest>"
    )
}

fn statuses(xml: &str) -> Vec<(String, String)> {
    let doc = roxmltree::Document::parse(xml).unwrap();
    doc.descendants()
        .filter(|n| n.tag_name().name() == "ExtrinsicObject")
        .map(|n| {
            (
                n.attribute("id").unwrap().to_string(),
                n.attribute("status")
                    .unwrap()
                    .rsplit(':')
                    .next()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
}

async fn raw(stack: &TestStack, envelope: String) -> String {
    let (status, ct, body) = post(
        stack,
        "/xds/registry",
        "application/soap+xml; charset=UTF-8",
        envelope.into_bytes(),
    )
    .await;
    let text = envelope_of(&ct, &body);
    assert_eq!(status, 200, "{text}");
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ini_shaped_register_query_update_delete() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // ITI-42 exactly as published (SAML header included): accepted.
    let answer = raw(&stack, example("wxdsb/register_req.xml")).await;
    assert_eq!(response_status(&answer), "Success", "{answer}");
    assert!(answer.contains("urn:ihe:iti:2007:RegisterDocumentSet-bResponse"));
    assert!(
        answer.contains("<wsa:RelatesTo>uuid:2b50ea8f-ec84-45a1-80fa-c4d3076952b1</wsa:RelatesTo>")
    );
    // The same submission again: the SubmissionSet uniqueId is taken.
    let again = raw(&stack, example("wxdsb/register_req.xml")).await;
    assert_eq!(
        error_codes(&again),
        ["XDSDuplicateUniqueIdInRegistry"],
        "{again}"
    );

    // ITI-18 FindDocuments exactly as published (patient, status, two type codes).
    let found = raw(&stack, example("wxdsb/query_req.xml")).await;
    assert_eq!(response_status(&found), "Success");
    assert_eq!(
        statuses(&found),
        [(EXAMPLE_UUID.to_string(), "Approved".to_string())],
        "{found}"
    );
    assert!(found.contains(EXAMPLE_UID));
    // GetDocuments by uniqueId, as INI asks (`('<uniqueId>')`), both return types.
    let refs = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &get_documents(
            "$XDSDocumentEntryUniqueId",
            &format!("('{EXAMPLE_UID}')"),
            "ObjectRef",
        ),
    )
    .await;
    assert!(
        refs.contains(&format!("<rim:ObjectRef id=\"{EXAMPLE_UUID}\"/>")),
        "{refs}"
    );

    // ITI-57: a new version of the metadata (same lid, PreviousVersion 1).
    let mut v2 = EntrySpec::lab("urn:uuid:5d8f6a43-30a9-4b7c-a3a8-1f2b3c4d5e6f", EXAMPLE_UID);
    v2.lid = Some(EXAMPLE_UUID.into());
    v2.patient = EXAMPLE_PATIENT.into();
    v2.stored = Some((
        "2.16.840.1.113883.2.9.2.120.4.5.120101".into(),
        "ZuFYdA+BgNxQyzdwXOdi8qKqb5o=".into(),
        12018,
    ));
    v2.type_code = "60591-5".into();
    let update = |previous: &str| {
        submit(&format!(
            "{}{}{}",
            document_entry(&v2),
            submission_set("2.16.840.1.113883.2.9.2.160.4.3.5701", EXAMPLE_PATIENT),
            association(
                "hm57",
                "urn:oasis:names:tc:ebxml-regrep:AssociationType:HasMember",
                "SubmissionSet01",
                &v2.id,
                &[
                    ("SubmissionSetStatus", "Original"),
                    ("PreviousVersion", previous)
                ]
            ),
        ))
    };
    let wrong = soap(&stack, "/xds/registry", UPDATE, &update("7")).await;
    assert_eq!(error_codes(&wrong), ["XDSMetadataVersionError"], "{wrong}");
    let ok = soap(&stack, "/xds/registry", UPDATE, &update("1")).await;
    assert_eq!(response_status(&ok), "Success", "{ok}");
    let versions = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &get_documents(
            "$XDSDocumentEntryUniqueId",
            &format!("('{EXAMPLE_UID}')"),
            "LeafClass",
        ),
    )
    .await;
    let mut got = statuses(&versions);
    got.sort();
    assert_eq!(
        got,
        [
            (
                "urn:uuid:5d8f6a43-30a9-4b7c-a3a8-1f2b3c4d5e6f".to_string(),
                "Approved".to_string()
            ),
            (EXAMPLE_UUID.to_string(), "Deprecated".to_string()),
        ]
    );
    assert!(
        versions.contains("<rim:VersionInfo versionName=\"2\"/>"),
        "{versions}"
    );

    // A replacement (RPLC) deprecates the current version; GetRelatedDocuments links them.
    let replacement = EntrySpec {
        patient: EXAMPLE_PATIENT.into(),
        stored: Some((
            "2.16.840.1.113883.2.9.2.120.4.5.120101".into(),
            "aa".repeat(20),
            100,
        )),
        ..EntrySpec::lab("Document02", "2.16.840.1.113883.2.9.2.120.4.4^0000000002")
    };
    let rplc = submit(&format!(
        "{}{}{}{}",
        document_entry(&replacement),
        submission_set("2.16.840.1.113883.2.9.2.160.4.3.5702", EXAMPLE_PATIENT),
        has_member("hm1", "Document02"),
        association(
            "rplc1",
            "urn:ihe:iti:2007:AssociationType:RPLC",
            "Document02",
            "urn:uuid:5d8f6a43-30a9-4b7c-a3a8-1f2b3c4d5e6f",
            &[]
        ),
    ));
    let answer = soap(&stack, "/xds/registry", REGISTER, &rplc).await;
    assert_eq!(response_status(&answer), "Success", "{answer}");
    // Replacing a deprecated document is refused.
    let again = soap(
        &stack,
        "/xds/registry",
        REGISTER,
        &rplc
            .replace("5702", "5703")
            .replace("0000000002", "0000000003"),
    )
    .await;
    assert_eq!(
        error_codes(&again),
        ["XDSRegistryDeprecatedDocumentError"],
        "{again}"
    );
    let related = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:d90e5407-b356-4d91-a89f-873917b4b0e6",
            "LeafClass",
            &[
                (
                    "$XDSDocumentEntryUniqueId",
                    "('2.16.840.1.113883.2.9.2.120.4.4^0000000002')",
                ),
                (
                    "$AssociationTypes",
                    "('urn:ihe:iti:2007:AssociationType:RPLC')",
                ),
            ],
        ),
    )
    .await;
    assert_eq!(statuses(&related).len(), 2, "{related}");
    assert!(related.contains("urn:ihe:iti:2007:AssociationType:RPLC"));
    // The published FindDocuments (types 60591-5 and 11502-2) now sees only the replacement.
    let approved = raw(&stack, example("wxdsb/query_req.xml")).await;
    let approved_ids = statuses(&approved);
    assert_eq!(approved_ids.len(), 1, "{approved}");
    assert!(approved.contains("2.16.840.1.113883.2.9.2.120.4.4^0000000002"));

    // Stored-query errors.
    let unknown = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:00000000-0000-0000-0000-000000000000",
            "ObjectRef",
            &[],
        ),
    )
    .await;
    assert_eq!(error_codes(&unknown), ["XDSUnknownStoredQuery"]);
    let missing = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d",
            "ObjectRef",
            &[("$XDSDocumentEntryPatientId", PATIENT)],
        ),
    )
    .await;
    assert_eq!(error_codes(&missing), ["XDSStoredQueryMissingParam"]);
    let twice = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d",
            "ObjectRef",
            &[
                (
                    "$XDSDocumentEntryPatientId",
                    &format!("('{PATIENT}','{EXAMPLE_PATIENT}')"),
                ),
                (
                    "$XDSDocumentEntryStatus",
                    "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')",
                ),
            ],
        ),
    )
    .await;
    assert_eq!(error_codes(&twice), ["XDSStoredQueryParamNumber"]);

    // ITI-62: the published request names an object that does not exist.
    let published = body_of(&example("wxdsb/remove_req.xml"));
    let answer = soap(&stack, "/xds/registry", DELETE, &published).await;
    assert_eq!(
        error_codes(&answer),
        ["UnresolvedReferenceException"],
        "{answer}"
    );
    // Removing a document still referenced by associations outside the request.
    let remove = |ids: &[&str]| {
        let refs: String = ids
            .iter()
            .map(|i| format!("<rim:ObjectRef id=\"{i}\"/>"))
            .collect();
        format!(
            "<lcm:RemoveObjectsRequest xmlns:lcm=\"urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><rim:ObjectRefList>{refs}</rim:ObjectRefList></lcm:RemoveObjectsRequest>"
        )
    };
    let answer = soap(
        &stack,
        "/xds/registry",
        INI_DELETE,
        &remove(&[EXAMPLE_UUID]),
    )
    .await;
    assert_eq!(
        error_codes(&answer),
        ["ReferencesExistException"],
        "{answer}"
    );
    assert!(answer.contains("DocumentRegistry_DeleteDocumentSetResponse"));
    // With its association, INI's delete action removes it.
    let assoc = "urn:uuid:1fdb443f-41da-45b8-aaa5-6b41b7e78e0e";
    let answer = soap(
        &stack,
        "/xds/registry",
        INI_DELETE,
        &remove(&[EXAMPLE_UUID, assoc]),
    )
    .await;
    assert_eq!(response_status(&answer), "Success", "{answer}");
    let after = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &get_documents(
            "$XDSDocumentEntryEntryUUID",
            &format!("('{EXAMPLE_UUID}')"),
            "ObjectRef",
        ),
    )
    .await;
    assert!(!after.contains(EXAMPLE_UUID), "{after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submission_set_and_association_queries() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let answer = raw(&stack, example("wxdsb/register_req.xml")).await;
    assert_eq!(response_status(&answer), "Success", "{answer}");
    let set_uuid = {
        let found = soap(
            &stack,
            "/xds/registry",
            QUERY,
            &stored_query(
                "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9",
                "LeafClass",
                &[
                    (
                        "$XDSSubmissionSetPatientId",
                        &format!("'{EXAMPLE_PATIENT}'"),
                    ),
                    (
                        "$XDSSubmissionSetStatus",
                        "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')",
                    ),
                    (
                        "$XDSSubmissionSetContentType",
                        "('ERP^^2.16.840.1.113883.2.9.3.3.6.1.4')",
                    ),
                ],
            ),
        )
        .await;
        let doc = roxmltree::Document::parse(&found).unwrap();
        let sets: Vec<_> = doc
            .descendants()
            .filter(|n| n.tag_name().name() == "RegistryPackage")
            .collect();
        assert_eq!(sets.len(), 1, "{found}");
        // The SubmissionSet marker is returned inside the package.
        assert!(
            found.contains("classificationNode=\"urn:uuid:a54d6aa5-d40d-43f9-88c5-b4633d873bdd\"")
        );
        assert!(found.contains("2.16.840.1.113883.2.9.2.120.4.3.0000000001"));
        sets[0].attribute("id").unwrap().to_string()
    };
    // Another content type finds nothing.
    let none = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:f26abbcb-ac74-4422-8a30-edb644bbc1a9",
            "ObjectRef",
            &[
                (
                    "$XDSSubmissionSetPatientId",
                    &format!("'{EXAMPLE_PATIENT}'"),
                ),
                (
                    "$XDSSubmissionSetStatus",
                    "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')",
                ),
                (
                    "$XDSSubmissionSetContentType",
                    "('PHR^^2.16.840.1.113883.2.9.3.3.6.1.4')",
                ),
            ],
        ),
    )
    .await;
    assert_eq!(none.matches("<rim:ObjectRef ").count(), 0, "{none}");
    // GetSubmissionSetAndContents: the set, its document, the HasMember.
    let contents = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:e8e3cb2c-e39c-46b9-99e4-c12f57260b83",
            "ObjectRef",
            &[("$XDSSubmissionSetEntryUUID", &format!("('{set_uuid}')"))],
        ),
    )
    .await;
    for id in [
        set_uuid.as_str(),
        EXAMPLE_UUID,
        "urn:uuid:1fdb443f-41da-45b8-aaa5-6b41b7e78e0e",
    ] {
        assert!(
            contents.contains(&format!("<rim:ObjectRef id=\"{id}\"/>")),
            "{id}: {contents}"
        );
    }
    // GetAssociations and GetDocumentsAndAssociations of the document.
    let assocs = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:a7ae438b-4bc2-4642-93e9-be891f7bb155",
            "LeafClass",
            &[("$uuid", &format!("('{EXAMPLE_UUID}')"))],
        ),
    )
    .await;
    assert_eq!(assocs.matches("<rim:Association ").count(), 1, "{assocs}");
    assert!(assocs.contains("SubmissionSetStatus"));
    let both = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:bab9529a-4a10-40b3-a01f-f68a615d247a",
            "LeafClass",
            &[("$XDSDocumentEntryUniqueId", &format!("('{EXAMPLE_UID}')"))],
        ),
    )
    .await;
    assert_eq!(
        (
            both.matches("<rim:ExtrinsicObject ").count(),
            both.matches("<rim:Association ").count()
        ),
        (1, 1),
        "{both}"
    );
    // GetSubmissionSets of the document.
    let sets = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &stored_query(
            "urn:uuid:51224314-5390-4169-9b91-b1980040715a",
            "ObjectRef",
            &[("$uuid", &format!("('{EXAMPLE_UUID}')"))],
        ),
    )
    .await;
    assert!(
        sets.contains(&format!("<rim:ObjectRef id=\"{set_uuid}\"/>")),
        "{sets}"
    );
    // FindDocuments filters: creation time window and author.
    let find = |extra: Vec<(&'static str, String)>| {
        let mut params = vec![
            ("$XDSDocumentEntryPatientId", format!("'{EXAMPLE_PATIENT}'")),
            (
                "$XDSDocumentEntryStatus",
                "('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')".to_string(),
            ),
        ];
        params.extend(extra);
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        stored_query(
            "urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d",
            "ObjectRef",
            &params,
        )
    };
    for (extra, expected) in [
        (
            vec![(
                "$XDSDocumentEntryCreationTimeFrom",
                "20160303000000".to_string(),
            )],
            1,
        ),
        (
            vec![("$XDSDocumentEntryCreationTimeFrom", "20160304".to_string())],
            0,
        ),
        (
            vec![(
                "$XDSDocumentEntryAuthorPerson",
                "('VRDMRC67T20I257E%')".to_string(),
            )],
            1,
        ),
        (
            vec![(
                "$XDSDocumentEntryClassCode",
                "('REF^^2.16.840.1.113883.2.9.3.3.6.1.5')".to_string(),
            )],
            1,
        ),
        (
            vec![(
                "$XDSDocumentEntryClassCode",
                "('LDO^^2.16.840.1.113883.2.9.3.3.6.1.5')".to_string(),
            )],
            0,
        ),
    ] {
        let answer = soap(&stack, "/xds/registry", QUERY, &find(extra.clone())).await;
        assert_eq!(
            answer.matches("<rim:ObjectRef ").count(),
            expected,
            "{extra:?}: {answer}"
        );
    }
    // ITI-57 status change: Approved → Deprecated.
    let change = submit(&format!(
        "{}{}",
        submission_set("2.16.840.1.113883.2.9.2.160.4.3.5799", EXAMPLE_PATIENT),
        association(
            "status1",
            "urn:ihe:iti:2010:AssociationType:UpdateAvailabilityStatus",
            "SubmissionSet01",
            EXAMPLE_UUID,
            &[
                (
                    "OriginalStatus",
                    "urn:oasis:names:tc:ebxml-regrep:StatusType:Approved"
                ),
                (
                    "NewStatus",
                    "urn:oasis:names:tc:ebxml-regrep:StatusType:Deprecated"
                ),
            ],
        ),
    ));
    let answer = soap(&stack, "/xds/registry", UPDATE, &change).await;
    assert_eq!(response_status(&answer), "Success", "{answer}");
    let after = soap(&stack, "/xds/registry", QUERY, &find(vec![])).await;
    assert_eq!(after.matches("<rim:ObjectRef ").count(), 0, "{after}");
}

/// One document indexed provisionally by several tasks at once (the request that queued a
/// publication and the outbox worker, or two retries of a producer): one entry, not several.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_provisional_indexing_keeps_one_entry() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let uid = "2.16.840.1.113883.2.9.2.160.4.4^RACE-1";
    let tasks: Vec<_> = (0..8)
        .map(|n| {
            let state = stack.state.clone();
            let mut entry = EntrySpec::lab("Document01", uid);
            entry.stored = Some((
                "2.16.840.1.113883.2.9.2.160.4.5.1".into(),
                "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
                1024,
            ));
            let xml = submit(&format!(
                "{}{}{}",
                document_entry(&entry),
                submission_set(&format!("2.16.840.1.113883.2.9.2.160.4.3.77{n}"), PATIENT),
                has_member("hm", "Document01")
            ));
            tokio::spawn(async move {
                let objects = {
                    let doc = roxmltree::Document::parse(&xml).unwrap();
                    xds::messages::submit::parse_submit(doc.root_element()).unwrap()
                };
                let sub = xds::submission::prepare(objects, || {
                    format!("urn:uuid:{}", uuid::Uuid::new_v4())
                })
                .unwrap();
                state
                    .xds
                    .registry
                    .register(&sub, xds::store::Origin::Provisional)
                    .await
                    .unwrap()
            })
        })
        .collect();
    for t in tasks {
        let errors = t.await.unwrap();
        assert!(errors.is_empty(), "{errors:?}");
    }
    let entries: i64 = stack
        .state
        .pool
        .get()
        .await
        .unwrap()
        .query_one(
            "SELECT count(*) FROM xds_document_entry WHERE unique_id = $1",
            &[&uid],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(entries, 1);
}
