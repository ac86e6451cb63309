//! The gateway's own errors pass through byte for byte; no answer means mw/io_error.

use std::time::{Duration, Instant};

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack};
use serde_json::json;

use crate::{LAB_OK, VALIDATION_BODY, pdf, read, send_multipart, validate};

fn sha(b: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b).as_ref())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_errors_come_back_byte_identical() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = pdf(LAB_OK);
    let wrong_patient = json!({"person_id": "PROVAX00X00X000Y^^^&2.16.840.1.113883.2.9.4.3.2&ISO"});
    let r = send_multipart(
        &stack,
        reqwest::Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &lab,
        VALIDATION_BODY,
        wrong_patient,
    )
    .await;
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let body = r.bytes().await.unwrap();
    let seen = stack.observed().await.pop().unwrap();
    assert_eq!(seen["response_status"], 403);
    assert_eq!(
        seen["response_sha256"],
        sha(&body).as_str(),
        "body returned verbatim"
    );
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v["instance"], "/jwt-person-id");

    stack.fault(json!({"mode": "error", "status": 503})).await;
    let r = validate(&stack, &lab).await;
    assert_eq!(r.status().as_u16(), 503);
    let body = r.bytes().await.unwrap();
    assert_eq!(
        stack.observed().await.pop().unwrap()["response_sha256"],
        sha(&body).as_str()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_down_or_slow_gives_io_error_within_the_timeout() {
    let stack = TestStack::spawn(StackOptions {
        request_timeout_ms: 1_500,
        ..Default::default()
    })
    .await;
    let lab = pdf(LAB_OK);
    for fault in [
        json!({"mode": "down"}),
        json!({"mode": "reset"}),
        json!({"mode": "delay", "delay_ms": 4000}),
    ] {
        stack.fault(fault.clone()).await;
        let started = Instant::now();
        let (s, tx, b) = read(validate(&stack, &lab).await).await;
        assert_eq!(
            (s, b["type"].as_str()),
            (504, Some("mw/io_error")),
            "{fault}: {b}"
        );
        assert_eq!(b["title"], "Errore comunicazione con GTW nazionale");
        assert!(!tx.is_empty());
        assert!(
            started.elapsed() < Duration::from_millis(3_500),
            "{fault}: took {:?}",
            started.elapsed()
        );
    }
    stack.fault(json!({"mode": "none"})).await;
    assert_eq!(
        read(validate(&stack, &lab).await).await.0,
        201,
        "recovers when the gateway is back"
    );
    assert!(
        stack
            .metrics()
            .await
            .contains("fsemw_gateway_failures_total{kind=\"unreachable\"} 3")
    );
}
