//! ITI-41 → ITI-18 → ITI-43 through every ASL repository, with real MTOM messages,
//! and the IHE errors of bad submissions.

use aws_lc_rs::digest;
use integration_tests::stack::{StackOptions, TEST_REPOSITORIES, TestStack};
use integration_tests::testdata;
use integration_tests::xds::{
    EntrySpec, PATIENT, document_entry, error_codes, has_member, mtom, response_status, soap12,
    split_multipart, submission_set, submit,
};

use crate::LAB_OK;

const PROVIDE: &str = "urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b";
const QUERY: &str = "urn:ihe:iti:2007:RegistryStoredQuery";
const RETRIEVE: &str = "urn:ihe:iti:2007:RetrieveDocumentSet";

/// POSTs a SOAP request; returns status, content type and body.
pub(crate) async fn post(
    stack: &TestStack,
    path: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, String, Vec<u8>) {
    let base = stack.mw_url.trim_end_matches("/v1");
    let r = stack
        .client(Some("producer"))
        .post(format!("{base}{path}"))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("answer");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, ct, r.bytes().await.unwrap().to_vec())
}

/// The envelope of an answer (the root part when it is MTOM).
pub(crate) fn envelope_of(ct: &str, body: &[u8]) -> String {
    if ct.starts_with("multipart/related") {
        split_multipart(ct, body).0
    } else {
        String::from_utf8(body.to_vec()).unwrap()
    }
}

/// A plain SOAP 1.2 call.
pub(crate) async fn soap(stack: &TestStack, path: &str, action: &str, body: &str) -> String {
    let (status, ct, bytes) = post(
        stack,
        path,
        "application/soap+xml; charset=UTF-8",
        soap12(action, body).into_bytes(),
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    envelope_of(&ct, &bytes)
}

fn provide_request(entries: &[EntrySpec], set_uid: &str, docs: &[(&str, &str)]) -> String {
    let mut objects: String = entries.iter().map(document_entry).collect();
    objects += &submission_set(set_uid, PATIENT);
    for (i, e) in entries.iter().enumerate() {
        objects += &has_member(&format!("hm{i}"), &e.id);
    }
    let documents: String = docs
        .iter()
        .map(|(id, cid)| {
            format!("<xdsb:Document id=\"{id}\"><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:{}\"/></xdsb:Document>", cid.replace('@', "%40"))
        })
        .collect();
    format!(
        "<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb=\"urn:ihe:iti:xds-b:2007\">{}{documents}</xdsb:ProvideAndRegisterDocumentSetRequest>",
        submit(&objects)
    )
}

fn find_documents(patient: &str, return_type: &str) -> String {
    format!(
        "<query:AdhocQueryRequest xmlns:query=\"urn:oasis:names:tc:ebxml-regrep:xsd:query:3.0\" xmlns:rim=\"urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0\"><query:ResponseOption returnComposedObjects=\"true\" returnType=\"{return_type}\"/><rim:AdhocQuery id=\"urn:uuid:14d4debf-8f97-4251-9a74-a90016b0af0d\"><rim:Slot name=\"$XDSDocumentEntryPatientId\"><rim:ValueList><rim:Value>'{}'</rim:Value></rim:ValueList></rim:Slot><rim:Slot name=\"$XDSDocumentEntryStatus\"><rim:ValueList><rim:Value>('urn:oasis:names:tc:ebxml-regrep:StatusType:Approved')</rim:Value></rim:ValueList></rim:Slot></rim:AdhocQuery></query:AdhocQueryRequest>",
        patient.replace('&', "&amp;")
    )
}

fn retrieve_request(repo: &str, doc: &str) -> String {
    format!(
        "<xdsb:RetrieveDocumentSetRequest xmlns:xdsb=\"urn:ihe:iti:xds-b:2007\"><xdsb:DocumentRequest><xdsb:RepositoryUniqueId>{repo}</xdsb:RepositoryUniqueId><xdsb:DocumentUniqueId>{doc}</xdsb:DocumentUniqueId></xdsb:DocumentRequest></xdsb:RetrieveDocumentSetRequest>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provide_query_retrieve_round_trip_per_asl_repository() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let pdf = testdata(LAB_OK);
    let sha1 = hex::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &pdf));
    for (i, (name, repo_id)) in TEST_REPOSITORIES.iter().enumerate() {
        // Each ASL stores its own copy of the report (a different byte at the end).
        let mut doc = pdf.clone();
        doc.extend_from_slice(format!("\n% {name}\n").as_bytes());
        let unique = format!("2.16.840.1.113883.2.9.2.160.4.4^RT-{name}");
        let entry = EntrySpec::lab("Document01", &unique);
        let cid = format!("1.urn:uuid:{}@apache.org", uuid::Uuid::new_v4());
        let envelope = soap12(
            PROVIDE,
            &provide_request(
                &[entry],
                &format!("2.16.840.1.113883.2.9.2.160.4.3.{i}"),
                &[("Document01", &cid)],
            ),
        );
        let (ct, body) = mtom(&envelope, &[(&cid, "application/pdf", &doc)]);
        let path = format!("/xds/repository/{name}");
        let (status, rct, answer) = post(&stack, &path, &ct, body).await;
        let answer = envelope_of(&rct, &answer);
        assert_eq!(status, 200, "{answer}");
        assert_eq!(response_status(&answer), "Success", "{name}: {answer}");
        assert!(answer.contains("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-bResponse"));

        // The registry indexed it with the repository's values.
        let found = soap(
            &stack,
            "/xds/registry",
            QUERY,
            &find_documents(PATIENT, "LeafClass"),
        )
        .await;
        assert_eq!(response_status(&found), "Success", "{found}");
        let doc_sha1 = hex::encode(digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &doc));
        let parsed = roxmltree::Document::parse(&found).unwrap();
        let entry = parsed
            .descendants()
            .filter(|n| n.tag_name().name() == "ExtrinsicObject")
            .find(|n| {
                n.descendants()
                    .any(|d| d.attribute("value") == Some(unique.as_str()))
            })
            .unwrap_or_else(|| panic!("{unique} not found: {found}"));
        let slot = |name: &str| {
            entry
                .children()
                .find(|s| s.attribute("name") == Some(name))
                .and_then(|s| s.descendants().find(|v| v.tag_name().name() == "Value"))
                .and_then(|v| v.text())
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(slot("repositoryUniqueId"), *repo_id);
        assert_eq!(slot("hash"), doc_sha1);
        assert_ne!(doc_sha1, sha1);
        assert_eq!(slot("size"), doc.len().to_string());
        assert!(entry.attribute("id").unwrap().starts_with("urn:uuid:"));
        assert_eq!(
            entry.attribute("status"),
            Some("urn:oasis:names:tc:ebxml-regrep:StatusType:Approved")
        );

        // ITI-43 gives the same bytes back, as MTOM.
        let (status, rct, answer) = post(
            &stack,
            &path,
            "application/soap+xml; charset=UTF-8",
            soap12(RETRIEVE, &retrieve_request(repo_id, &unique)).into_bytes(),
        )
        .await;
        assert_eq!(status, 200);
        assert!(rct.starts_with("multipart/related"), "{rct}");
        let (root, parts) = split_multipart(&rct, &answer);
        assert_eq!(response_status(&root), "Success", "{root}");
        let href = root.split("href=\"cid:").nth(1).unwrap();
        let cid = &href[..href.find('"').unwrap()];
        assert_eq!(
            parts.get(cid).map(Vec::as_slice),
            Some(doc.as_slice()),
            "{name}: bytes differ"
        );
        assert!(root.contains("<xdsb:mimeType>application/pdf+text/x-cda-r2+xml</xdsb:mimeType>"));
    }
    // Six documents, one per repository, all for the same patient.
    let all = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &find_documents(PATIENT, "ObjectRef"),
    )
    .await;
    assert_eq!(
        all.matches("<rim:ObjectRef ").count(),
        TEST_REPOSITORIES.len(),
        "{all}"
    );
    // Another repository does not serve a document it does not hold.
    let (aslba, aslba_id) = TEST_REPOSITORIES[0];
    let (_, rct, answer) = post(
        &stack,
        &format!("/xds/repository/{aslba}"),
        "application/soap+xml",
        soap12(
            RETRIEVE,
            &retrieve_request(
                TEST_REPOSITORIES[1].1,
                "2.16.840.1.113883.2.9.2.160.4.4^RT-aslbt",
            ),
        )
        .into_bytes(),
    )
    .await;
    let answer = envelope_of(&rct, &answer);
    assert_eq!(error_codes(&answer), ["XDSUnknownRepositoryId"], "{answer}");
    assert_eq!(response_status(&answer), "Failure");
    let (_, rct, answer) = post(
        &stack,
        &format!("/xds/repository/{aslba}"),
        "application/soap+xml",
        soap12(
            RETRIEVE,
            &retrieve_request(aslba_id, "2.16.840.1.113883.2.9.2.160.4.4^NONE"),
        )
        .into_bytes(),
    )
    .await;
    assert_eq!(
        error_codes(&envelope_of(&rct, &answer)),
        ["XDSDocumentUniqueIdError"]
    );
    // Every call is in the audit trail, and counted.
    // "What happened to this document?": stored at 1 (ITI-41), read back (ITI-43).
    let rows = stack
        .transactions("document_id=2.16.840.1.113883.2.9.2.160.4.4%5ERT-aslba")
        .await;
    let ops: Vec<&str> = rows
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert_eq!(ops.len(), 2, "{rows:?}");
    assert!(
        ops.contains(&"ITI-41") && ops.contains(&"ITI-43"),
        "{ops:?}"
    );
    assert!(
        rows.iter()
            .all(|r| r["outcome"] == "success" && r["client_cn"] == "01234567890.labdemo.it")
    );
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_xds_transactions_total{endpoint=\"aslba\",outcome=\"success\",transaction=\"ITI-41\"} 1"),
        "{metrics}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_submissions_get_ihe_error_codes() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let pdf = testdata(LAB_OK);
    let path = "/xds/repository/aslbt";
    let send = |entries: Vec<EntrySpec>,
                docs: Vec<(&'static str, &'static str)>,
                parts: Vec<(&'static str, Vec<u8>)>| {
        let envelope = soap12(
            PROVIDE,
            &provide_request(&entries, "2.16.840.1.113883.2.9.2.160.4.3.77", &docs),
        );
        let parts: Vec<(&str, &str, &[u8])> = parts
            .iter()
            .map(|(c, d)| (*c, "application/pdf", d.as_slice()))
            .collect();
        mtom(&envelope, &parts)
    };
    let codes = |ct: String, body: Vec<u8>| {
        let stack = &stack;
        async move {
            let (status, rct, answer) = post(stack, path, &ct, body).await;
            assert_eq!(status, 200);
            let answer = envelope_of(&rct, &answer);
            assert_eq!(response_status(&answer), "Failure", "{answer}");
            error_codes(&answer)
        }
    };
    let uid = "2.16.840.1.113883.2.9.2.160.4.4^BAD-1";
    // Metadata without its attachment.
    let (ct, body) = send(
        vec![EntrySpec::lab("Document01", uid)],
        vec![("Document01", "a@x")],
        vec![],
    );
    assert_eq!(codes(ct, body).await, ["XDSMissingDocument"]);
    // An attachment without metadata.
    let (ct, body) = send(
        vec![EntrySpec::lab("Document01", uid)],
        vec![("Document01", "a@x"), ("Document02", "b@x")],
        vec![("a@x", pdf.clone()), ("b@x", pdf.clone())],
    );
    assert_eq!(codes(ct, body).await, ["XDSMissingDocumentMetadata"]);
    // A hash that is not the document's.
    let mut wrong = EntrySpec::lab("Document01", uid);
    wrong.stored = Some((
        "2.16.840.1.113883.2.9.2.160.4.5.160113".into(),
        "00".repeat(20),
        pdf.len(),
    ));
    let (ct, body) = send(
        vec![wrong],
        vec![("Document01", "a@x")],
        vec![("a@x", pdf.clone())],
    );
    assert_eq!(codes(ct, body).await, ["XDSRepositoryMetadataError"]);
    // A DocumentEntry of another patient.
    let mut other = EntrySpec::lab("Document01", uid);
    other.patient = "PRVMRA80A41F205X^^^&2.16.840.1.113883.2.9.4.3.2&ISO".into();
    let (ct, body) = send(
        vec![other],
        vec![("Document01", "a@x")],
        vec![("a@x", pdf.clone())],
    );
    assert_eq!(codes(ct, body).await, ["XDSPatientIdDoesNotMatch"]);
    // The same uniqueId twice in one message.
    let (ct, body) = send(
        vec![
            EntrySpec::lab("Document01", uid),
            EntrySpec::lab("Document02", uid),
        ],
        vec![("Document01", "a@x"), ("Document02", "b@x")],
        vec![("a@x", pdf.clone()), ("b@x", pdf.clone())],
    );
    assert_eq!(
        codes(ct, body).await,
        ["XDSRegistryDuplicateUniqueIdInMessage"]
    );
    // A mandatory code left out.
    let mut no_class = EntrySpec::lab("Document01", uid);
    no_class.without_class_code = true;
    let (ct, body) = send(
        vec![no_class],
        vec![("Document01", "a@x")],
        vec![("a@x", pdf.clone())],
    );
    let answer_codes = codes(ct, body).await;
    assert_eq!(answer_codes, ["XDSRegistryMetadataError"]);
    // Nothing of the refused submissions was kept.
    let found = soap(
        &stack,
        "/xds/registry",
        QUERY,
        &find_documents(PATIENT, "ObjectRef"),
    )
    .await;
    assert_eq!(found.matches("<rim:ObjectRef ").count(), 0, "{found}");
    // The same uniqueId with other bytes after a good submission.
    let (ct, body) = send(
        vec![EntrySpec::lab("Document01", uid)],
        vec![("Document01", "a@x")],
        vec![("a@x", pdf.clone())],
    );
    let (_, rct, answer) = post(&stack, path, &ct, body).await;
    assert_eq!(response_status(&envelope_of(&rct, &answer)), "Success");
    let mut changed = pdf.clone();
    changed.push(b'\n');
    let envelope = soap12(
        PROVIDE,
        &provide_request(
            &[EntrySpec::lab("Document01", uid)],
            "2.16.840.1.113883.2.9.2.160.4.3.78",
            &[("Document01", "a@x")],
        ),
    );
    let (ct, body) = mtom(&envelope, &[("a@x", "application/pdf", &changed)]);
    assert_eq!(codes(ct, body).await, ["XDSNonIdenticalHash"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_a_soap_call_gets_a_fault() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // Unknown action.
    let (status, ct, body) = post(
        &stack,
        "/xds/registry",
        "application/soap+xml",
        soap12("urn:example:Nothing", "<x/>").into_bytes(),
    )
    .await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(ct.starts_with("application/soap+xml"));
    assert!(text.contains("wsa:ActionNotSupported"), "{text}");
    // Not XML; a DOCTYPE.
    let (status, _, body) = post(
        &stack,
        "/xds/registry",
        "application/soap+xml",
        b"hello".to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(String::from_utf8(body).unwrap().contains("soap:Sender"));
    let doctype = "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]><soap:Envelope xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\"><soap:Body>&e;</soap:Body></soap:Envelope>";
    let (status, _, body) = post(
        &stack,
        "/xds/registry",
        "application/soap+xml",
        doctype.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(!String::from_utf8(body).unwrap().contains("root:"));
    // Nesting beyond the limit.
    let deep = soap12(
        QUERY,
        &format!("{}{}", "<x>".repeat(100), "</x>".repeat(100)),
    );
    let (status, _, body) = post(
        &stack,
        "/xds/registry",
        "application/soap+xml",
        deep.into_bytes(),
    )
    .await;
    let text = String::from_utf8(body).unwrap();
    assert_eq!(status, 400, "{text}");
    assert!(text.contains("nested deeper than 64"), "{text}");
    // No client certificate.
    let base = stack.mw_url.trim_end_matches("/v1");
    let r = stack
        .client(None)
        .post(format!("{base}/xds/registry"))
        .header("content-type", "application/soap+xml")
        .body(soap12(QUERY, &find_documents(PATIENT, "ObjectRef")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("wsse:FailedAuthentication")
    );
    // The WSDLs, addressed at the caller's host.
    let wsdl = stack.wsdl("/xds/repository/aslfg").await;
    assert!(wsdl.contains("/xds/repository/aslfg\""), "{wsdl}");
    assert!(wsdl.contains("2.16.840.1.113883.2.9.2.160.4.5.160112"));
    roxmltree::Document::parse(&wsdl).expect("well-formed WSDL");
}
