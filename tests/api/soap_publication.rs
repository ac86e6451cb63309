//! IDocumentService publication: a signed lab report sent with `addDocument` is stored in
//! the ASL's repository, published to the gateway simulator with tokens the region mints
//! from the caller's assertion, and found by consultation only with the patient's
//! consultation consent; replace, metadata update (obscuring) and delete follow the same
//! path; a refusal by the gateway leaves nothing behind; an outage queues the publication.

use base64::Engine;
use hsm::jwt::Jwt;
use integration_tests::soap::{Identity, OPERATOR_CF, envelope};
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::testdata;
use integration_tests::xds::fault_code;
use serde_json::json;

use crate::LAB_OK;
use crate::outbox::drained_in;
use crate::soap_document::call;

/// The patient of `SIGNED_LAB1.pdf`.
const PATIENT: &str = "PROVAX00X00X000Y";
const ASL_REPOSITORY: &str = "2.16.840.1.113883.2.9.2.160.4.5.160114";

fn metadata(id: &str, events: &[&str]) -> String {
    let events: String = events
        .iter()
        .map(|e| format!("<attiCliniciRegoleAccesso>{e}</attiCliniciRegoleAccesso>"))
        .collect();
    format!(
        "<metadati><identificativoDoc>{id}</identificativoDoc><tipologiaStruttura>Ospedale</tipologiaStruttura><tipoDocumentoLivAlto>REF</tipoDocumentoLivAlto><assettoOrganizzativo>AD_PSC001</assettoOrganizzativo><tipoAttivitaClinica>CON</tipoAttivitaClinica><dataInizioPrestazione>20241020110012</dataInizioPrestazione>{events}<descriptions>019655^Bentelan^2.16.840.1.113883.2.9.6.1.5</descriptions><administrativeRequest>SSN</administrativeRequest></metadati>"
    )
}

fn document(pdf: &[u8]) -> String {
    format!(
        "<document><document>{}</document><documentName>Referto</documentName><status>Approved</status></document>",
        base64::engine::general_purpose::STANDARD.encode(pdf)
    )
}

async fn documents(
    stack: &TestStack,
    operation: &str,
    inner: String,
    purpose: &str,
) -> (u16, String) {
    let header = Identity::new(PATIENT, purpose).header();
    call(
        stack,
        "IDocumentService",
        envelope(operation, &inner, &header),
    )
    .await
}

fn field(answer: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let rest = answer.split(&open).nth(1).unwrap_or_default();
    rest[..rest.find('<').unwrap_or(0)].to_string()
}

async fn get(stack: &TestStack, id: &str) -> (u16, String) {
    documents(
        stack,
        "getDocument",
        format!("<uniqueId>{id}</uniqueId>"),
        "TREATMENT",
    )
    .await
}

async fn find(stack: &TestStack) -> (u16, String) {
    documents(
        stack,
        "findDocuments",
        format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente>"),
        "TREATMENT",
    )
    .await
}

async fn consultation_consent(stack: &TestStack) {
    let header = Identity::new(PATIENT, "CONSENT").header();
    let (s, a) = call(
        stack,
        "IGestoreConsensoService",
        envelope(
            "registraConsensi",
            &format!("<codiceFiscalePaziente>{PATIENT}</codiceFiscalePaziente><operatore><codiceFiscale>{OPERATOR_CF}</codiceFiscale></operatore><consenso><codice>C2</codice><valore>true</valore></consenso>"),
            &header,
        ),
    )
    .await;
    assert_eq!(s, 200, "{a}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn add_document_is_stored_published_and_consulted_with_consent() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let pdf = crate::signed_lab();
    let id = "2.16.840.1.113883.2.9.2.160.4.4^SOAP-ADD-1";
    let (s, a) = documents(
        &stack,
        "addDocument",
        format!("{}{}", document(&pdf), metadata(id, &[])),
        "TREATMENT",
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(field(&a, "stato"), "PUBBLICATO", "{a}");
    assert_eq!(field(&a, "uniqueId"), id);
    assert_eq!(field(&a, "repositoryUniqueId"), ASL_REPOSITORY);
    let wii = field(&a, "workflowInstanceId");
    assert!(
        wii.ends_with("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId"),
        "{a}"
    );

    // Stored in the ASL's repository, bytes unchanged.
    let stored = stack
        .state
        .xds
        .repository
        .get(ASL_REPOSITORY, id)
        .await
        .unwrap()
        .expect("stored in the ASL repository");
    assert_eq!(stored.content, pdf);

    // Published: one validate-and-create, tokens minted by the region from the assertion.
    let observed = stack.observed().await;
    let sent: Vec<_> = observed
        .iter()
        .filter(|o| o["request"] == "POST /v1/documents/validate-and-create")
        .collect();
    assert_eq!(sent.len(), 1, "{observed:?}");
    assert_eq!(sent[0]["response_status"], 202);
    let token = Jwt::parse(sent[0]["signature"].as_str().unwrap()).unwrap();
    let claim = |n: &str| token.claims.string(n).unwrap_or_default();
    assert!(
        claim("iss").starts_with("integrity:S1#160#"),
        "{}",
        claim("iss")
    );
    assert_eq!(
        claim("sub"),
        format!("{OPERATOR_CF}^^^&2.16.840.1.113883.2.9.4.3.2&ISO")
    );
    assert_eq!(
        claim("person_id"),
        format!("{PATIENT}^^^&2.16.840.1.113883.2.9.4.3.2&ISO")
    );
    assert_eq!(claim("action_id"), "CREATE");
    assert_eq!(claim("purpose_of_use"), "TREATMENT");
    assert_eq!(
        claim("resource_hl7_type"),
        "('11502-2^^2.16.840.1.113883.6.1')"
    );
    assert_eq!(claim("subject_application_id"), "LABDEMO");
    let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &pdf);
    assert_eq!(claim("attachment_hash"), hex::encode(hash.as_ref()));
    let bearer = sent[0]["authorization"].as_str().unwrap();
    let bearer = Jwt::parse(bearer.trim_start_matches("Bearer ")).unwrap();
    assert!(bearer.claims.string("person_id").is_none());

    // Consultation: only with the consultation consent.
    let (_, a) = find(&stack).await;
    assert_eq!(fault_code(&a), "env:E000240", "{a}");
    consultation_consent(&stack).await;
    let (s, list) = find(&stack).await;
    assert_eq!(s, 200, "{list}");
    assert!(
        list.contains(&format!("<uniqueId>{id}</uniqueId>")),
        "{list}"
    );
    let (s, got) = get(&stack, id).await;
    assert_eq!(s, 200, "{got}");
    let content = base64::engine::general_purpose::STANDARD
        .decode(field(&got, "documento"))
        .unwrap();
    assert_eq!(content, pdf);

    // Audited as one transaction with the gateway's identifiers.
    let rows = stack
        .transactions("document_id=2.16.840.1.113883.2.9.2.160.4.4%5ESOAP-ADD-1")
        .await;
    let add = rows
        .iter()
        .find(|r| r["operation"] == "IDocumentService.addDocument")
        .expect("addDocument audited");
    assert_eq!(add["outcome"], "success");
    assert_eq!(add["workflow_instance_id"], wii.as_str());
    assert!(add["gtw_trace_id"].is_string(), "{add}");
    assert_eq!(add["http_status"], 200);

    // Replace: the new version is listed, the old one is not.
    let id2 = "2.16.840.1.113883.2.9.2.160.4.4^SOAP-ADD-2";
    let (s, a) = documents(
        &stack,
        "replaceDocument",
        format!(
            "<identificativoDocDaSostituire>{id}</identificativoDocDaSostituire>{}{}",
            document(&pdf),
            metadata(id2, &[])
        ),
        "UPDATE",
    )
    .await;
    assert_eq!((s, field(&a, "stato")), (200, "PUBBLICATO".into()), "{a}");
    let (_, list) = find(&stack).await;
    assert!(
        list.contains(id2) && !list.contains(&format!("{id}<")),
        "{list}"
    );

    // Metadata update: the patient's obscuring hides the document at once.
    let (s, a) = documents(
        &stack,
        "updateMetadata",
        format!("<uniqueId>{id2}</uniqueId>{}", metadata(id2, &["P99"])),
        "UPDATE",
    )
    .await;
    assert_eq!((s, field(&a, "stato")), (200, "ESEGUITO".into()), "{a}");
    let (_, list) = find(&stack).await;
    assert!(!list.contains(id2), "{list}");
    let (_, a) = get(&stack, id2).await;
    assert_eq!(fault_code(&a), "env:E000241", "{a}");

    // Delete: gone from the gateway, the registry and the repository.
    let (s, a) = documents(
        &stack,
        "deleteDocument",
        format!("<uniqueId>{id2}</uniqueId>"),
        "UPDATE",
    )
    .await;
    assert_eq!((s, field(&a, "stato")), (200, "ESEGUITO".into()), "{a}");
    let (_, a) = get(&stack, id2).await;
    assert_eq!(fault_code(&a), "env:E000242", "{a}");
    assert!(
        stack
            .state
            .xds
            .repository
            .get(ASL_REPOSITORY, id2)
            .await
            .unwrap()
            .is_none()
    );
    let seen: Vec<String> = stack
        .observed()
        .await
        .iter()
        .map(|o| format!("{} {}", o["request"], o["response_status"]))
        .collect();
    for expected in [
        "PUT /v1/documents/validate-and-replace/2.16.840.1.113883.2.9.2.160.4.4%5ESOAP-ADD-1",
        "PUT /v1/documents/2.16.840.1.113883.2.9.2.160.4.4%5ESOAP-ADD-2/metadata-iti-57",
        "DELETE /v1/documents/2.16.840.1.113883.2.9.2.160.4.4%5ESOAP-ADD-2",
    ] {
        assert!(
            seen.iter()
                .any(|s| s.starts_with(&format!("\"{expected}\" 20"))),
            "{expected}: {seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_refusals_leave_nothing_and_outages_are_queued() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // An unsigned PDF: the gateway refuses it, its error reaches the caller, nothing is kept.
    let unsigned = testdata(LAB_OK);
    let refused = "2.16.840.1.113883.2.9.2.160.4.4^SOAP-REFUSED";
    let header = Identity::new("RSSMRA22A01A399Z", "TREATMENT").header();
    let (_, a) = call(
        &stack,
        "IDocumentService",
        envelope(
            "addDocument",
            &format!("{}{}", document(&unsigned), metadata(refused, &[])),
            &header,
        ),
    )
    .await;
    assert_eq!(fault_code(&a), "env:E000250", "{a}");
    assert!(a.contains("/msg/sign-error"), "{a}");
    assert!(
        stack
            .state
            .xds
            .repository
            .get(ASL_REPOSITORY, refused)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        stack
            .state
            .xds
            .registry
            .approved_document(refused)
            .await
            .unwrap()
            .is_none()
    );
    // Not a PDF, and a CDA whose patient is not the assertion's.
    let (_, a) = documents(
        &stack,
        "addDocument",
        format!("{}{}", document(b"<html/>"), metadata(refused, &[])),
        "TREATMENT",
    )
    .await;
    assert_eq!(fault_code(&a), "env:E000252", "{a}");
    let (_, a) = documents(
        &stack,
        "addDocument",
        format!("{}{}", document(&unsigned), metadata(refused, &[])),
        "TREATMENT",
    )
    .await;
    assert_eq!(fault_code(&a), "env:E000233", "{a}");

    // The gateway down: accepted, kept, indexed, and delivered once it is back.
    stack.fault(json!({"mode": "down"})).await;
    let id = "2.16.840.1.113883.2.9.2.160.4.4^SOAP-QUEUED";
    let pdf = crate::signed_lab();
    let (s, a) = documents(
        &stack,
        "addDocument",
        format!("{}{}", document(&pdf), metadata(id, &[])),
        "TREATMENT",
    )
    .await;
    assert_eq!((s, field(&a, "stato")), (200, "IN_CODA".into()), "{a}");
    assert!(a.contains("MW-QUEUED"), "{a}");
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains(
            "fsemw_soap_calls_total{operation=\"IDocumentService.addDocument\",outcome=\"queued\"} 1"
        ),
        "{metrics}"
    );
    consultation_consent(&stack).await;
    let (_, list) = find(&stack).await;
    assert!(list.contains(id), "indexed while queued: {list}");
    stack.fault(json!({"mode": "none"})).await;
    let (client, conn) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    drained_in(&client, std::time::Duration::from_secs(30))
        .await
        .unwrap();
    let delivered: Vec<_> = stack
        .observed()
        .await
        .into_iter()
        .filter(|o| o["request"] == "POST /v1/documents/validate-and-create")
        .skip(1) // the refused unsigned PDF
        .map(|o| o["response_status"].as_u64().unwrap())
        .collect();
    let events: Vec<String> = client
        .query(
            "SELECT events::text || ' ' || coalesce(last_error, '') FROM outbox",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(delivered, [202], "delivered once: {events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dot_segment_unique_id_never_moves_the_gateway_call() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // The gateway refuses a document called "..", but while it is down the publication is
    // indexed in the region and queued: the id is then a registry entry like any other.
    stack.fault(json!({"mode": "down"})).await;
    let (s, a) = documents(
        &stack,
        "addDocument",
        format!("{}{}", document(&crate::signed_lab()), metadata("..", &[])),
        "TREATMENT",
    )
    .await;
    assert_eq!((s, field(&a, "uniqueId")), (200, "..".into()), "{a}");
    stack.fault(json!({"mode": "none"})).await;
    // Deleting or updating it would send `DELETE /v1/documents/..` (that is, `/v1/`) with
    // the region's certificate: refused before anything is sent or queued.
    for operation in ["deleteDocument", "updateMetadata"] {
        let inner = match operation {
            "deleteDocument" => "<uniqueId>..</uniqueId>".to_string(),
            _ => format!("<uniqueId>..</uniqueId>{}", metadata("..", &["P99"])),
        };
        let (s, a) = documents(&stack, operation, inner, "UPDATE").await;
        assert_eq!(
            (s, fault_code(&a)),
            (500, "env:E000253".into()),
            "{operation}: {a}"
        );
    }
    let sent: Vec<String> = stack
        .observed()
        .await
        .iter()
        .map(|o| o["request"].as_str().unwrap_or_default().to_string())
        .filter(|r| !r.ends_with("/documents/validate-and-create"))
        .collect();
    assert!(sent.is_empty(), "{sent:?}");
    let queued: i64 = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .map(|(client, conn)| {
            tokio::spawn(conn);
            client
        })
        .unwrap()
        .query_one("SELECT count(*) FROM outbox WHERE method <> 'POST'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(queued, 0, "nothing else queued");
}
