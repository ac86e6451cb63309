//! Gateway rules the simulator enforces and the middleware passes through:
//! the 5-day limit, `attachment_hash`, and the single-use validation record.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack};
use reqwest::Method;
use serde_json::json;

use crate::{publication_body, read, send_multipart, signed_lab, validate};

/// Moves the simulator's clock `offset_secs` ahead of real time.
pub(crate) async fn set_clock(stack: &TestStack, offset_secs: i64) {
    let r = reqwest::Client::new()
        .post(format!("{}/clock", stack.sim_admin_url))
        .json(&json!({ "offset_secs": offset_secs }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

async fn create(
    stack: &TestStack,
    id: &str,
    claims: serde_json::Value,
) -> (u16, serde_json::Value) {
    let signed = signed_lab();
    let body = publication_body(id);
    let r = send_multipart(
        stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &body,
        claims,
    );
    let (s, _, b) = read(r.await).await;
    (s, b)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publication_more_than_five_days_after_validation_is_refused() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    assert_eq!(read(validate(&stack, &signed_lab()).await).await.0, 201);
    set_clock(&stack, 6 * 24 * 3600).await;
    let (s, b) = create(&stack, "2.16.840.1.113883.2.9.2.160.4.4^LATE", json!({})).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/max-day-limit-exceed")),
        "{b}"
    );
    // The record was consumed by that attempt: a retry needs a new validation.
    set_clock(&stack, 0).await;
    let (s, b) = create(&stack, "2.16.840.1.113883.2.9.2.160.4.4^LATE", json!({})).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "{b}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attachment_hash_must_match_the_file() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    assert_eq!(read(validate(&stack, &signed_lab()).await).await.0, 201);
    let wrong = json!({ "attachment_hash": "00".repeat(32) });
    let (s, b) = create(&stack, "2.16.840.1.113883.2.9.2.160.4.4^HASH", wrong).await;
    assert_eq!(
        (s, b["type"].as_str(), b["instance"].as_str()),
        (400, Some("/msg/document-hash"), Some("/jwt-hash-match"))
    );
}

/// The validation record (dispatcher `CdaSRV`, `ValidationUtility.checkDayAfterValidation`,
/// review row S14): a publication naming another workflowInstanceId is refused without
/// consuming the record, and the limit counts whole days (five days and an hour are
/// still within it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mismatched_id_leaves_the_record_and_the_limit_counts_whole_days() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    assert_eq!(read(validate(&stack, &signed_lab()).await).await.0, 201);
    let id = "2.16.840.1.113883.2.9.2.160.4.4^RECORD";
    let mut body: serde_json::Value = serde_json::from_str(&publication_body(id)).unwrap();
    body["workflowInstanceId"] =
        json!("2.16.840.1.113883.2.9.2.160.4.4.ffff^^^^urn:ihe:iti:xdw:2013:workflowInstanceId");
    let (signed, text) = (signed_lab(), body.to_string());
    let r = send_multipart(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &text,
        json!({}),
    );
    let (s, _, b) = read(r.await).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (400, Some("/msg/cda-match")),
        "{b}"
    );
    set_clock(&stack, 5 * 24 * 3600 + 3600).await;
    let (s, b) = create(&stack, id, json!({})).await;
    assert_eq!(
        s, 202,
        "the record is still there and within the limit: {b}"
    );
}

/// The dispatcher's claim checks in its order (`JwtSRV` @ de019846, review row S7): the
/// enumerated values are checked before the operation's coherence, `resource_hl7_type`
/// last, an absent `sub` is refused, `purpose_of_use` in any case is accepted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_values_are_checked_in_the_dispatchers_order() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = signed_lab();
    let validate_with = |claims: serde_json::Value| {
        send_multipart(
            &stack,
            Method::POST,
            "/documents/validation",
            JwtOperation::Validation,
            &lab,
            crate::VALIDATION_BODY,
            claims,
        )
    };
    let cases = [
        (
            json!({"action_id": "WRITE", "resource_hl7_type": ""}),
            "Il campo action_id non è corretto",
        ),
        (
            json!({"purpose_of_use": "CURIOSITY"}),
            "Il campo purpose_of_use non è corretto",
        ),
        (
            json!({"subject_organization": "Regione Atlantide"}),
            "Il campo subject_organization non è corretto",
        ),
        (
            json!({"sub": null}),
            "Il codice fiscale nel campo sub non è corretto",
        ),
        (
            json!({"resource_hl7_type": ""}),
            "Il campo resource_hl7_type non è valorizzato",
        ),
    ];
    for (claims, detail) in cases {
        let (s, _, b) = read(validate_with(claims.clone()).await).await;
        assert_eq!(s, 403, "{claims}: {b}");
        assert_eq!(b["detail"], detail, "{claims}: {b}");
    }
    let (s, _, b) = read(validate_with(json!({"purpose_of_use": "treatment"})).await).await;
    assert_eq!(s, 201, "purpose_of_use in lower case: {b}");
    // Fiscal codes are read in upper case (`CfUtility.validaCF`, review row S6), and a `sub`
    // whose authority is not the MEF is not a fiscal code.
    for sub in [
        "rssmra22a01a399z^^^&2.16.840.1.113883.2.9.4.3.2&ISO",
        "OPERATORE-42^^^&2.16.840.1.113883.2.9.2.160.4.99&ISO",
    ] {
        let (s, _, b) = read(validate_with(json!({ "sub": sub })).await).await;
        assert_eq!(s, 201, "{sub}: {b}");
    }
}
