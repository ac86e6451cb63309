//! The FHIR operations of OpenAPI 2.6.3 through the middleware: `/documents/fhir-validation`
//! then `POST /fhir-documents` and `PUT /fhir-documents/{id}`, with the bundle in a PDF as
//! the dispatcher reads it; and the gateway's paths as configured data (M5).

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, tokens};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{publication_body, read, send_read};

/// A lab report bundle for the dev tokens' default patient and document type.
pub(crate) fn bundle(id: &str) -> String {
    json!({
        "resourceType": "Bundle", "type": "document",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": format!("urn:uuid:{id}")},
        "entry": [
            {"resource": {"resourceType": "Composition", "status": "final",
                "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]}}},
            {"resource": {"resourceType": "Patient",
                "identifier": [{"system": "http://hl7.it/sid/codiceFiscale", "value": "RSSMRA22A01A399Z"}]}}
        ]
    })
    .to_string()
}

/// A one-page PDF carrying `bundle` as the embedded file `bundle.json`.
pub(crate) fn pdf_with(bundle: &str) -> Vec<u8> {
    crate::pdf_attaching("bundle.json", bundle.as_bytes())
}

async fn fhir_validate(stack: &TestStack, pdf: &[u8], claims: Value) -> (u16, String, Value) {
    let body = r#"{"activity":"VALIDATION","mode":"ATTACHMENT"}"#;
    let path = "/documents/fhir-validation";
    send_read(
        stack,
        Method::POST,
        path,
        JwtOperation::Validation,
        pdf,
        body,
        claims,
    )
    .await
}

async fn fhir_publish(
    stack: &TestStack,
    method: Method,
    path: &str,
    pdf: &[u8],
    doc_id: &str,
) -> (u16, String, Value) {
    let body = publication_body(doc_id);
    send_read(
        stack,
        method,
        path,
        JwtOperation::Validation,
        pdf,
        &body,
        json!({}),
    )
    .await
}

/// The national fields of an answer, without the middleware's notes.
fn national(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(w) = v.get("warning").and_then(Value::as_str) {
        let kept = w.split("--middlewarewarning--").next().unwrap_or_default();
        v["warning"] = json!(kept);
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bundle_is_validated_published_and_replaced() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let first = pdf_with(&bundle("1"));
    let (s, _, v) = fhir_validate(&stack, &first, json!({})).await;
    // 200, not the 201 the OpenAPI promises (`ValidationCTL.fhirValidate`).
    assert_eq!(s, 200, "{v}");
    let wii = v["workflowInstanceId"].as_str().unwrap().to_string();
    assert!(wii.starts_with("urn:ietf:rfc:3986."), "{wii}");

    let id = "2.16.840.1.113883.2.9.2.160.4.4^FHIR-1";
    let (s, _, b) = fhir_publish(&stack, Method::POST, "/fhir-documents", &first, id).await;
    assert_eq!(s, 201, "{b}");
    let n = national(&b);
    let keys: Vec<&String> = n.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["traceID", "spanID", "warning", "workflowInstanceId"]);
    assert_eq!(n["workflowInstanceId"], wii.as_str(), "the validation's id");
    assert_eq!(n["warning"], "");

    // The validation record served once.
    let (s, _, b) = fhir_publish(&stack, Method::POST, "/fhir-documents", &first, id).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "{b}"
    );

    // Replace: a new bundle, validated, then PUT on the old id (200 with the new id's record).
    let second = pdf_with(&bundle("2"));
    let (s, _, v) = fhir_validate(&stack, &second, json!({})).await;
    assert_eq!(s, 200, "{v}");
    let enc = id.replace('^', "%5E");
    let new_id = "2.16.840.1.113883.2.9.2.160.4.4^FHIR-2";
    let path = format!("/fhir-documents/{enc}");
    let (s, _, b) = fhir_publish(&stack, Method::PUT, &path, &second, new_id).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["workflowInstanceId"], v["workflowInstanceId"]);
    let seen: Vec<String> = stack
        .observed()
        .await
        .iter()
        .map(|o| o["request"].as_str().unwrap().to_string())
        .collect();
    assert!(
        seen.contains(
            &"PUT /v1/fhir-documents/2.16.840.1.113883.2.9.2.160.4.4%5EFHIR-1".to_string()
        ),
        "{seen:?}"
    );
    let rows = stack.transactions("operation=fhir_replace").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_checked_against_the_bundle() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    let pdf = pdf_with(&bundle("3"));
    let other = json!({"person_id": "PRVPVL00A01H501K^^^&2.16.840.1.113883.2.9.4.3.2&ISO"});
    let (s, _, v) = fhir_validate(&stack, &pdf, other).await;
    assert_eq!(s, 403, "{v}");
    assert_eq!(v["instance"], "/jwt-person-id");
    assert_eq!(
        v["detail"],
        "JWT payload: codice fiscale 'PRVPVL00A01H501K' non corrisponde ad alcun Patient.identifier nel Bundle FHIR"
    );
    let discharge = json!({"resource_hl7_type": "('34105-7^^2.16.840.1.113883.6.1')"});
    let (s, _, v) = fhir_validate(&stack, &pdf, discharge).await;
    assert_eq!(
        (s, v["instance"].as_str()),
        (403, Some("/jwt-document-type")),
        "{v}"
    );
    // A body refusal before the bundle is read: an event under the placeholder id.
    let body = r#"{"mode":"ATTACHMENT"}"#;
    let path = "/documents/fhir-validation";
    let (s, _, v) = send_read(
        &stack,
        Method::POST,
        path,
        JwtOperation::Validation,
        &pdf,
        body,
        json!({}),
    )
    .await;
    assert_eq!(s, 400, "{v}");
    let (auth, _) = tokens(
        JwtOperation::Validation,
        None,
        json!({"sub": "S1#160#80017210727FSEMW"}),
        "producer",
    );
    let search = format!("/status/search/{}", v["traceID"].as_str().unwrap());
    let r = stack
        .call(Some("producer"), Method::GET, &search, None)
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    let (_, _, b) = read(r).await;
    assert_eq!(
        b["transactionData"][0]["workflowInstanceId"], "UNKNOWN_WORKFLOW_ID",
        "{b}"
    );
    // Not validated: no record, the publication is refused.
    let (s, _, b) = fhir_publish(
        &stack,
        Method::POST,
        "/fhir-documents",
        &pdf,
        "2.16.840.1.113883.2.9.2.160.4.4^FHIR-3",
    )
    .await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "{b}"
    );
}

/// The allow-list is configuration: a path outside it never reaches the gateway; a path
/// configured `pass_through` does, untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_configured_paths_reach_the_gateway() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (auth, sig) = tokens(JwtOperation::Validation, None, json!({}), "producer");
    let call = |path: &'static str| {
        stack
            .call(Some("producer"), Method::POST, path, Some((&auth, &sig)))
            .body("opaque")
            .header("Content-Type", "text/plain")
            .send()
    };
    let (s, _, b) = read(call("/documents/not-in-the-list").await.unwrap()).await;
    assert_eq!((s, b["type"].as_str()), (404, Some("mw/not-found")), "{b}");
    assert!(stack.observed().await.is_empty());

    let (s, _, _) = read(call("/not-yet-published").await.unwrap()).await;
    // The simulator has no such endpoint: its own 404, relayed.
    assert_eq!(s, 404);
    let seen = stack.observed().await;
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0]["request"], "POST /v1/not-yet-published");
    let rows = stack.transactions("operation=pass_through").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
}
