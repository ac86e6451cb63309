//! Every endpoint of the contract is forwarded and answered by the gateway.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, tokens};
use reqwest::Method;
use serde_json::json;

use crate::{
    LAB_OK, VALIDATION_BODY, pdf, publication_body, read, send_multipart, send_read, signed_lab,
    validate,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_returns_the_gateway_answer_with_a_transaction_id() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (status, tx, body) = read(validate(&stack, &pdf(LAB_OK)).await).await;
    assert_eq!(status, 201, "{body}");
    assert!(!tx.is_empty());
    // OpenTelemetry ids, as the live gateway gives them (it-fse-support #2488, #3043): a
    // 32-hex trace and another, 16-hex span.
    let (trace, span) = (
        body["traceID"].as_str().unwrap(),
        body["spanID"].as_str().unwrap(),
    );
    assert_eq!((trace.len(), span.len()), (32, 16), "{body}");
    assert!(
        trace
            .bytes()
            .chain(span.bytes())
            .all(|b| b.is_ascii_hexdigit())
    );
    assert!(!trace.starts_with(span), "{body}");
    assert!(
        body["workflowInstanceId"]
            .as_str()
            .unwrap()
            .ends_with("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId")
    );
    assert!(
        body.get("warning").is_none(),
        "no national and no local warning expected: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_document_lifecycle_goes_through() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let signed = signed_lab();
    let id = "2.16.840.1.113883.2.9.2.160.4.4^LIFECYCLE1";
    let (s, _, v) = read(validate(&stack, &signed).await).await;
    assert_eq!(s, 201, "{v}");
    let wii = v["workflowInstanceId"].as_str().unwrap().to_string();

    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &publication_body(id),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "create: {b}");
    assert_eq!(
        b["workflowInstanceId"],
        wii.as_str(),
        "publication is linked to its validation"
    );
    // PublicationResDTO declares `warning` before `workflowInstanceId` (live: #3043).
    let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["traceID", "spanID", "warning", "workflowInstanceId"]);

    // Status by workflowInstanceId: the visibility rule needs a region after '#' in the bearer sub.
    let (auth, _) = tokens(
        JwtOperation::Validation,
        None,
        json!({"sub": "S1#160#80017210727FSEMW"}),
        "producer",
    );
    let r = stack
        .call(
            Some("producer"),
            Method::GET,
            &format!("/status/{wii}"),
            None,
        )
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(s, 200, "status: {b}");
    let types: Vec<&str> = b["transactionData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["VALIDATION", "PUBLICATION"]);

    let trace = b["transactionData"][1]["traceId"]
        .as_str()
        .unwrap()
        .to_string();
    let r = stack
        .call(
            Some("producer"),
            Method::GET,
            &format!("/status/search/{trace}"),
            None,
        )
        .header("Authorization", &auth)
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 200);

    let enc = id.replace('^', "%5E");
    for (path, op) in [
        (format!("/documents/{enc}/metadata"), "metadata"),
        (
            format!("/documents/{enc}/metadata-iti-57"),
            "metadata-iti-57",
        ),
    ] {
        let (auth, sig) = tokens(JwtOperation::Metadata, None, json!({}), "producer");
        let r = stack.call(Some("producer"), reqwest::Method::PUT, &path, Some((&auth, &sig)))
            .json(&json!({"tipologiaStruttura": "Ospedale", "tipoDocumentoLivAlto": "REF", "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON", "identificativoSottomissione": "2.16.840.1.113883.2.9.2.160.4.3.1"}))
            .send().await.unwrap();
        let (s, _, b) = read(r).await;
        assert_eq!(s, 200, "{op}: {b}");
    }

    // Replace needs a fresh validation of the (same) document.
    assert_eq!(read(validate(&stack, &signed).await).await.0, 201);
    let new_id = "2.16.840.1.113883.2.9.2.160.4.4^LIFECYCLE2";
    let (s, _, b) = send_read(
        &stack,
        Method::PUT,
        &format!("/documents/{enc}"),
        JwtOperation::Replace,
        &signed,
        &publication_body(new_id),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "replace: {b}");

    let enc2 = new_id.replace('^', "%5E");
    let (s, _, b) = send_read(
        &stack,
        Method::PUT,
        &format!("/documents/validate-and-replace/{enc2}"),
        JwtOperation::Replace,
        &signed,
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^LIFECYCLE3"),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "validate-and-replace: {b}");

    let (auth, sig) = tokens(JwtOperation::Delete, None, json!({}), "producer");
    let lifecycle3 = "/documents/2.16.840.1.113883.2.9.2.160.4.4%5ELIFECYCLE3";
    let r = stack
        .call(
            Some("producer"),
            Method::DELETE,
            lifecycle3,
            Some((&auth, &sig)),
        )
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(s, 200, "delete: {b}");
    // Deleting again: the gateway's 404 comes back.
    let r = stack
        .call(
            Some("producer"),
            Method::DELETE,
            lifecycle3,
            Some((&auth, &sig)),
        )
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (404, Some("/msg/record-not-found"))
    );

    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents/validate-and-create",
        JwtOperation::Create,
        &signed,
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^VC1"),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "validate-and-create: {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fhir_validation_and_the_alias_base_are_forwarded() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = pdf(LAB_OK);
    let r = send_multipart(
        &stack,
        Method::POST,
        "/documents/fhir-validation",
        JwtOperation::Validation,
        &crate::fhir::pdf_with(&crate::fhir::bundle("alias")),
        r#"{"mode":"ATTACHMENT","activity":"VERIFICA"}"#,
        json!({}),
    )
    .await;
    let (s, _, b) = read(r).await;
    assert_eq!(s, 200, "{b}");
    let (auth, sig) = tokens(JwtOperation::Validation, Some(&lab), json!({}), "producer");
    let alias = stack.mw_url.replace("/v1", "/gateway/v2");
    let r = stack
        .client(Some("producer"))
        .post(format!("{alias}/documents/validation"))
        .header("Authorization", auth)
        .header("FSE-JWT-Signature", sig)
        .multipart(integration_tests::stack::form(VALIDATION_BODY, lab))
        .send()
        .await
        .unwrap();
    assert_eq!(read(r).await.0, 201);
    let seen = stack.observed().await;
    assert!(
        seen.iter()
            .all(|o| o["request"].as_str().unwrap().contains(" /v1/documents/")),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publication_without_validation_gets_the_gateway_refusal() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let signed = signed_lab();
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^X"),
        json!({}),
    )
    .await;
    assert_eq!(
        (s, b["type"].as_str(), b["detail"].as_str()),
        (
            400,
            Some("/msg/cda-match"),
            Some("Il CDA non risulta validato")
        )
    );
    // An unsigned PDF cannot be published.
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &pdf(LAB_OK),
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^Y"),
        json!({}),
    )
    .await;
    assert_eq!((s, b["type"].as_str()), (400, Some("/msg/sign-error")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_extraction_modes_and_the_extraction_error() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let resource = pdf("pdf/resource/CDA_RESOURCE.pdf");
    let body = r#"{"healthDataFormat":"CDA","mode":"RESOURCE","activity":"VERIFICA"}"#;
    let r = send_multipart(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &resource,
        body,
        json!({}),
    );
    let (s, _, b) = read(r.await).await;
    assert_eq!(s, 200, "RESOURCE mode: {b}");
    // No mode: RESOURCE is tried first, with the extraction warning.
    let r = send_multipart(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &resource,
        r#"{"activity":"VERIFICA"}"#,
        json!({}),
    );
    let (s, _, b) = read(r.await).await;
    assert_eq!(s, 200, "{b}");
    assert!(b["warning"].as_str().unwrap().contains("[WARNING_EXTRACT]"));
    // The signed sample names its attachment cda1.xml: the gateway cannot extract it.
    let signed = pdf("pdf/attachment/CDA_OK_SIGNED.pdf");
    let r = send_multipart(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &signed,
        VALIDATION_BODY,
        json!({}),
    );
    let (s, _, b) = read(r.await).await;
    assert_eq!(
        (s, b["type"].as_str(), b["instance"].as_str()),
        (400, Some("/msg/cda-element"), Some("/cda-extraction"))
    );
    assert_eq!(b["workflowInstanceId"], "UNKNOWN_WORKFLOW_ID");
    // A signed PDF at validation gets the signature warning.
    let signed_lab = signed_lab();
    let r = send_multipart(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &signed_lab,
        VALIDATION_BODY,
        json!({}),
    );
    let (s, _, b) = read(r.await).await;
    assert_eq!(s, 201);
    assert!(b["warning"].as_str().unwrap().contains("SIGN_WARN"), "{b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sandbox_gives_the_gateway_verdicts_through_the_middleware() {
    let stack = TestStack::spawn(StackOptions {
        full_validation: true,
        ..Default::default()
    })
    .await;
    let rad = pdf("pdf/accreditamento/SIGNED_RAD1.pdf");
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &rad,
        VALIDATION_BODY,
        json!({}),
    )
    .await;
    assert_eq!(s, 201, "{b}");
    // LAB_OK.pdf predates LAB rules 27.1: its organizations carry Home telecoms (ERRORE-45).
    let (s, _, b) = read(validate(&stack, &pdf(LAB_OK)).await).await;
    assert_eq!(
        (s, b["type"].as_str(), b["instance"].as_str()),
        (422, Some("/msg/semantic"), Some("/validation/error"))
    );
    assert!(
        b["detail"].as_str().unwrap().starts_with("[ERRORE-45|"),
        "{b}"
    );
    assert!(
        b["workflowInstanceId"]
            .as_str()
            .unwrap()
            .ends_with("urn:ihe:iti:xdw:2013:workflowInstanceId")
    );
    let vacc = pdf("pdf/accreditamento/SIGNED_SING_VACC1.pdf");
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &vacc,
        VALIDATION_BODY,
        json!({}),
    )
    .await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/vocabulary")),
        "{b}"
    );
}
