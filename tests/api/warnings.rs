//! The warning merge rule, and regional checks that never block.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack};
use middleware::config::Environment;
use reqwest::Method;
use serde_json::json;

use crate::{LAB_OK, SIGNED_LAB, pdf, publication_body, read, send_multipart, send_read, validate};

const NO_MODE: &str = r#"{"activity":"VERIFICA"}"#;
const WITH_MODE: &str = r#"{"mode":"ATTACHMENT","activity":"VERIFICA"}"#;
const EXTRACT: &str =
    "[[WARNING_EXTRACT]Attenzione, non è stata selezionata la modalità di estrazione del CDA]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_only_local_only_and_both() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = pdf(LAB_OK);
    let post = |body: &'static str, claims: serde_json::Value| {
        send_multipart(
            &stack,
            Method::POST,
            "/documents/validation",
            JwtOperation::Validation,
            &lab,
            body,
            claims,
        )
    };
    let (s, _, b) = read(post(NO_MODE, json!({})).await).await;
    assert_eq!(s, 200);
    assert_eq!(b["warning"], EXTRACT, "national only: untouched");

    let other_app = json!({"subject_application_version": "9.9"});
    let (s, _, b) = read(post(WITH_MODE, other_app.clone()).await).await;
    assert_eq!(s, 200);
    let w = b["warning"].as_str().unwrap();
    assert!(
        w.starts_with("--middlewarewarning--[MW-APP]"),
        "local only: {w}"
    );

    let (s, tx, b) = read(post(NO_MODE, other_app).await).await;
    assert_eq!(s, 200);
    let w = b["warning"].as_str().unwrap();
    assert!(
        w.starts_with(&format!("{EXTRACT}--middlewarewarning--[MW-APP]")),
        "both: {w}"
    );
    assert_eq!(w.matches("--middlewarewarning--").count(), 1);
    let key_order: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(
        key_order,
        ["traceID", "spanID", "workflowInstanceId", "warning"]
    );
    let rows = stack.transactions(&format!("id={tx}")).await;
    assert!(
        rows[0]["local_warnings"]
            .as_str()
            .unwrap()
            .contains("MW-APP")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_checks_never_block_and_errors_stay_national() {
    let stack = TestStack::spawn(StackOptions {
        environment: Environment::Production,
        test_fiscal_codes: vec!["PROVAX00X00X000Y".into()],
        ..Default::default()
    })
    .await;
    let signed = pdf(SIGNED_LAB);
    assert_eq!(read(validate(&stack, &signed).await).await.0, 201);
    // Document id outside the regional OID form, a test fiscal code in production,
    // a different application triplet: all forwarded, the gateway decides.
    let body = publication_body("2.16.840.1.113883.2.9.2.999.4.4^ALIEN");
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &body,
        json!({"subject_application_id": "OTHER"}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let w = b["warning"].as_str().unwrap();
    for code in ["[MW-APP]", "[MW-TESTCF]", "[MW-OID] identificativoDoc"] {
        assert!(w.contains(code), "{code} missing in {w}");
    }
    // On a gateway error no local data is added.
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &body,
        json!({"subject_application_id": "OTHER"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["type"], "/msg/cda-match");
    assert!(!b.to_string().contains("middlewarewarning"));
}
