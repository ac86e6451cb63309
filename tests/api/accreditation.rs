//! The gateway's test environment as producers accredit against it, through the middleware
//! (docs/gateway-fidelity.md rows S3, S8, S11, S18, S25): the document-id prefixes, the
//! replaced document looked up first, INI's refusal after the record is consumed, and the
//! error texts the dispatcher's handlers really print.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, tokens};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{LAB_OK, pdf, publication_body, read, send_read, signed_lab, validate};

async fn create(stack: &TestStack, id: &str) -> (u16, Value) {
    let (s, _, b) = crate::create(stack, id, json!({})).await;
    (s, b)
}

async fn replace(stack: &TestStack, old: &str, new: &str) -> (u16, Value) {
    let path = format!("/documents/{}", old.replace('^', "%5E"));
    let (s, _, b) = send_read(
        stack,
        Method::PUT,
        &path,
        JwtOperation::Replace,
        &signed_lab(),
        &publication_body(new),
        json!({}),
    )
    .await;
    (s, b)
}

async fn delete(stack: &TestStack, id: &str) -> (u16, Value) {
    let (auth, sig) = tokens(JwtOperation::Delete, None, json!({}), "producer");
    let path = format!("/documents/{}", id.replace('^', "%5E"));
    let r = stack
        .call(Some("producer"), Method::DELETE, &path, Some((&auth, &sig)))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    (s, b)
}

/// The problem fields after the trace ids.
fn problem(b: &Value) -> (String, String, String, String) {
    let f = |k: &str| b[k].as_str().unwrap_or("<absent>").to_string();
    (f("type"), f("title"), f("detail"), f("instance"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn document_id_prefixes_simulate_a_timeout_or_skip_the_validation() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // CRASH_TIMEOUT: the dispatcher's connection-refused answer, relayed as it is.
    let (s, b) = create(&stack, "CRASH_TIMEOUT^1").await;
    assert_eq!(s, 504, "{b}");
    assert_eq!(
        problem(&b),
        (
            "/msg/generic-timeout".into(),
            "Generic timeout.".into(),
            "Generic timeout.".into(),
            String::new()
        )
    );
    // SKIP_VALIDATION: published with no validation before, under a new workflowInstanceId.
    let (s, b) = create(&stack, "SKIP_VALIDATION^2").await;
    assert_eq!(s, 202, "{b}");
    assert!(
        b["workflowInstanceId"]
            .as_str()
            .unwrap()
            .ends_with("^^^^urn:ihe:iti:xdw:2013:workflowInstanceId")
    );
    // A validate-and-create with CRASH_TIMEOUT: the timeout escapes the dispatcher's first
    // `try`, so the connection-refused handler answers 500.
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents/validate-and-create",
        JwtOperation::Create,
        &signed_lab(),
        &publication_body("CRASH_TIMEOUT^VC"),
        json!({}),
    )
    .await;
    assert_eq!(s, 500, "{b}");
    assert_eq!(
        problem(&b),
        (
            "/msg/connection-refused".into(),
            "Timeout simulation".into(),
            "Timeout simulation".into(),
            "/msg/connection-refused".into()
        )
    );
    // Without a prefix the validation is needed.
    let (s, b) = create(&stack, "2.16.840.1.113883.2.9.2.160.4.4^NOPREFIX").await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replace_looks_its_document_up_first_and_ini_refuses_after_the_record_is_used() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    let signed = signed_lab();
    // Never published: the status service's 404, before the validation record is touched.
    assert_eq!(read(validate(&stack, &signed).await).await.0, 201);
    let (s, b) = replace(
        &stack,
        "2.16.840.1.113883.2.9.2.160.4.4^NEVER",
        "2.16.840.1.113883.2.9.2.160.4.4^N2",
    )
    .await;
    assert_eq!(s, 404, "{b}");
    assert_eq!(
        b,
        json!({"type": "/err/resource", "title": "Resource error", "detail": "Id documento non presente", "status": 404, "instance": "/not-found"})
    );
    // The record is still there: a create of the same CDA uses it.
    let first = "2.16.840.1.113883.2.9.2.160.4.4^ACC1";
    assert_eq!(create(&stack, first).await.0, 202);
    // Published, then deleted: the lookup finds its events, INI does not know it any more.
    assert_eq!(delete(&stack, first).await.0, 200);
    assert_eq!(read(validate(&stack, &signed).await).await.0, 201);
    let (s, b) = replace(&stack, first, "2.16.840.1.113883.2.9.2.160.4.4^ACC2").await;
    assert_eq!(s, 404, "{b}");
    let (kind, title, detail, instance) = problem(&b);
    assert_eq!(
        (kind.as_str(), title.as_str(), instance.as_str()),
        ("/msg/record-not-found", "Record non trovato.", "")
    );
    assert!(detail.starts_with("IniException: "), "{b}");
    // That refusal came after the record was consumed.
    let (s, b) = create(&stack, "2.16.840.1.113883.2.9.2.160.4.4^ACC3").await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "{b}"
    );
    // Deleting what INI does not know: the same handler, no instance.
    let (s, b) = delete(&stack, first).await;
    assert_eq!((s, b["instance"].as_str()), (404, Some("")), "{b}");
    // An id over 256 characters is not refused for its length (`@Size` is not enforced).
    let long = format!("2.16.840.1.113883.2.9.2.160.4.4^{}", "L".repeat(300));
    let (s, b) = replace(&stack, &long, "2.16.840.1.113883.2.9.2.160.4.4^ACC4").await;
    assert_eq!(
        (s, b["detail"].as_str()),
        (404, Some("Id documento non presente")),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handlers_print_the_enums_title_and_generic_errors_carry_no_workflow_id() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    // An unsigned PDF: the title is the enum's, not the instance `SignSRV` puts in it.
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &pdf(LAB_OK),
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^UNSIGNED"),
        json!({}),
    )
    .await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        problem(&b),
        (
            "/msg/sign-error".into(),
            "Sign error".into(),
            "Il pdf non risulta firmato".into(),
            "/msg/sign-error".into()
        )
    );
    // A validation without its file part: Spring's error, the plain problem (no wii).
    let (auth, sig) = tokens(JwtOperation::Validation, None, json!({}), "producer");
    let form = reqwest::multipart::Form::new().text("requestBody", crate::VALIDATION_BODY);
    let r = stack
        .call(
            Some("producer"),
            Method::POST,
            "/documents/validation",
            Some((&auth, &sig)),
        )
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/generic-error")),
        "{b}"
    );
    assert!(b.get("workflowInstanceId").is_none(), "{b}");
    // A dispatcher refusal on the same path keeps it.
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &pdf(LAB_OK),
        r#"{"healthDataFormat":"CDA","mode":"ATTACHMENT"}"#,
        json!({}),
    )
    .await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/mandatory-element")),
        "{b}"
    );
    assert_eq!(b["workflowInstanceId"], "UNKNOWN_WORKFLOW_ID");
}

/// Spring's own refusals before the controller (row S10): a body of another type than the
/// mapping consumes — or none — is 415 with Spring's ProblemDetail, and an `Accept` without
/// JSON on a mapping that produces JSON is 406.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spring_refuses_media_types_before_the_dispatcher_reads_the_call() {
    let stack = TestStack::spawn(StackOptions {
        // The dispatcher's own answers: behind GovWay's content validation (off here, as a
        // GovWay configuration may have it) most of these requests would not reach it
        // (docs/gateway-fidelity.md, row S13).
        govway_validates_content: false,
        ..Default::default()
    })
    .await;
    let (auth, sig) = tokens(JwtOperation::Validation, None, json!({}), "producer");
    let call =
        |path: &'static str| stack.call(Some("producer"), Method::POST, path, Some((&auth, &sig)));
    let r = call("/documents/validation")
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    let content_type = r.headers().get("content-type").cloned();
    let (s, _, b) = read(r).await;
    assert_eq!(s, 415, "{b}");
    assert_eq!(content_type.unwrap(), "application/problem+json");
    assert_eq!(
        b,
        json!({"type": "about:blank", "title": "Unsupported Media Type", "status": 415,
               "detail": "Content-Type 'application/json' is not supported.",
               "instance": "/v1/documents/validation"})
    );
    let r = call("/documents/validation")
        .header("Accept", "application/xml")
        .multipart(integration_tests::stack::form(
            crate::VALIDATION_BODY,
            pdf(LAB_OK),
        ))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!((s, b), (406, json!("")));
    // Without a body or a content type: still 415 (Spring's `bodyRequired` is true).
    let r = call("/documents/validation").send().await.unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(s, 415, "{b}");
    assert_eq!(b["detail"], "Content-Type 'null' is not supported.", "{b}");
    // What reached the gateway had no body either, and a length of 0.
    let seen = stack.observed().await;
    assert_eq!(seen.len(), 3, "{seen:?}");
    let empty = hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"").as_ref());
    assert_eq!(seen[2]["body_sha256"], empty.as_str(), "{seen:?}");
}
