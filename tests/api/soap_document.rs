//! IDocumentService consultation: a patient's documents are listed and returned only
//! while the consultation consent is active, and never when the document is obscured.

use base64::Engine;
use integration_tests::soap::{Identity, OPERATOR_CF};
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::testdata;
use integration_tests::xds::{
    EntrySpec, PATIENT, document_entry, fault_code, has_member, mtom, response_status, soap12,
    submission_set, submit,
};

use crate::LAB_OK;
use crate::xds_repository::{envelope_of, post};

pub(crate) const CF: &str = "RSSMRA75C03F839K";

pub(crate) fn envelope(operation: &str, inner: &str) -> String {
    let purpose = if operation == "registraConsensi" {
        "CONSENT"
    } else {
        "TREATMENT"
    };
    integration_tests::soap::envelope(operation, inner, &Identity::new(CF, purpose).header())
}

/// A SOAP call to `service` of ASL `aslba`: HTTP status and envelope.
pub(crate) async fn call(stack: &TestStack, service: &str, body: String) -> (u16, String) {
    let (s, ct, bytes) = post(
        stack,
        &format!("/aslba/{service}"),
        "text/xml; charset=UTF-8",
        body.into_bytes(),
    )
    .await;
    (s, envelope_of(&ct, &bytes))
}

pub(crate) async fn provide(stack: &TestStack, entry: EntrySpec, set: &str, doc: &[u8]) {
    let objects = format!(
        "{}{}{}",
        document_entry(&entry),
        submission_set(set, PATIENT),
        has_member("hm", &entry.id)
    );
    let body = format!(
        "<xdsb:ProvideAndRegisterDocumentSetRequest xmlns:xdsb=\"urn:ihe:iti:xds-b:2007\">{}<xdsb:Document id=\"{}\"><xop:Include xmlns:xop=\"http://www.w3.org/2004/08/xop/include\" href=\"cid:d@x\"/></xdsb:Document></xdsb:ProvideAndRegisterDocumentSetRequest>",
        submit(&objects),
        entry.id
    );
    let (ct, bytes) = mtom(
        &soap12("urn:ihe:iti:2007:ProvideAndRegisterDocumentSet-b", &body),
        &[("d@x", "application/pdf", doc)],
    );
    let (_, rct, answer) = post(stack, "/xds/repository/aslba", &ct, bytes).await;
    let answer = envelope_of(&rct, &answer);
    assert_eq!(response_status(&answer), "Success", "{answer}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consultation_follows_the_consent_and_the_access_rules() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let pdf = testdata(LAB_OK);
    let visible = "2.16.840.1.113883.2.9.2.160.4.4^CONS-1";
    let obscured = "2.16.840.1.113883.2.9.2.160.4.4^CONS-2";
    provide(
        &stack,
        EntrySpec::lab("Document01", visible),
        "2.16.840.1.113883.2.9.2.160.4.3.901",
        &pdf,
    )
    .await;
    let mut hidden = EntrySpec::lab("Document01", obscured);
    hidden.event_code = Some("P99".into());
    let mut other = pdf.clone();
    other.push(b'\n');
    provide(
        &stack,
        hidden,
        "2.16.840.1.113883.2.9.2.160.4.3.902",
        &other,
    )
    .await;

    // Each call is signed anew: a message is accepted once.
    let find = || {
        envelope(
            "findDocuments",
            &format!("<codiceFiscalePaziente>{CF}</codiceFiscalePaziente>"),
        )
    };
    let get = |uid: &str| envelope("getDocument", &format!("<uniqueId>{uid}</uniqueId>"));
    // No consent yet.
    let (s, a) = call(&stack, "IDocumentService", find()).await;
    assert_eq!((s, fault_code(&a)), (500, "env:E000240".to_string()), "{a}");
    let (_, a) = call(&stack, "IDocumentService", get(visible)).await;
    assert_eq!(fault_code(&a), "env:E000240", "{a}");
    // Consultation consent given: the visible document only.
    let consent = |value: bool| {
        envelope(
            "registraConsensi",
            &format!(
                "<codiceFiscalePaziente>{CF}</codiceFiscalePaziente><operatore><codiceFiscale>{OPERATOR_CF}</codiceFiscale></operatore><consenso><codice>C2</codice><valore>{value}</valore></consenso>"
            ),
        )
    };
    let (s, a) = call(&stack, "IGestoreConsensoService", consent(true)).await;
    assert_eq!(s, 200, "{a}");
    let (s, list) = call(&stack, "IDocumentService", find()).await;
    assert_eq!(s, 200, "{list}");
    assert!(
        list.contains(&format!("<uniqueId>{visible}</uniqueId>")),
        "{list}"
    );
    assert!(!list.contains(obscured), "{list}");
    assert!(list.contains(
        "<repositoryUniqueId>2.16.840.1.113883.2.9.2.160.4.5.160114</repositoryUniqueId>"
    ));
    let (s, doc) = call(&stack, "IDocumentService", get(visible)).await;
    assert_eq!(s, 200, "{doc}");
    let b64 = doc.split("<documento>").nth(1).unwrap();
    let b64 = &b64[..b64.find('<').unwrap()];
    assert_eq!(
        base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap(),
        pdf
    );
    let (_, a) = call(&stack, "IDocumentService", get(obscured)).await;
    assert_eq!(fault_code(&a), "env:E000241", "{a}");
    let (_, a) = call(
        &stack,
        "IDocumentService",
        get("2.16.840.1.113883.2.9.2.160.4.4^NONE"),
    )
    .await;
    assert_eq!(fault_code(&a), "env:E000242", "{a}");
    // Revoked: nothing again, at once.
    call(&stack, "IGestoreConsensoService", consent(false)).await;
    let (_, a) = call(&stack, "IDocumentService", find()).await;
    assert_eq!(fault_code(&a), "env:E000240", "{a}");
    let rows = stack
        .transactions("document_id=2.16.840.1.113883.2.9.2.160.4.4%5ECONS-1")
        .await;
    assert!(
        rows.iter()
            .any(|r| r["operation"] == "IDocumentService.getDocument" && r["outcome"] == "success"),
        "{rows:?}"
    );
}
