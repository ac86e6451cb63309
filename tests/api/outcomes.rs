//! Every document's outcome (issue 19), first part: the gateway's status pushes reach the
//! region's touchpoint (mutual TLS, the gateway's CA), each event stored once and read in
//! event-time order, whatever the pushes repeat or reorder.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, form, tokens};
use middleware::db::workflow_events;
use serde_json::json;

use crate::gateway_status::status_as;
use crate::{publication_body, read, signed_lab, validate};

/// The region's `sub` the producers' status tokens name.
const OURS: &str = "S1#160#80017210727FSEMW";

/// Publishes the signed lab report as `id` asking the gateway to push to `callback`; the
/// workflowInstanceId.
async fn publish_with_callback(stack: &TestStack, id: &str, callback: &str) -> String {
    let pdf = signed_lab();
    assert_eq!(read(validate(stack, &pdf).await).await.0, 201);
    let (auth, sig) = tokens(JwtOperation::Create, Some(&pdf), json!({}), "producer");
    let r = stack
        .client(Some("producer"))
        .post(format!("{}/documents", stack.mw_url))
        .header("Authorization", auth)
        .header("FSE-JWT-Signature", sig)
        .header("X-Callback-Url", callback)
        .multipart(form(&publication_body(id), pdf))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(s, 202, "{b}");
    b["workflowInstanceId"].as_str().unwrap().to_string()
}

async fn push_fault(stack: &TestStack, fault: &str) {
    let r = reqwest::Client::new()
        .post(format!("{}/faults", stack.sim_admin_url))
        .json(&json!({"push": fault}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
}

/// The event types stored for `wii`, once `n` are there (or what is there after 30 s).
async fn stored_types(stack: &TestStack, wii: &str, n: usize) -> Vec<String> {
    for _ in 0..300 {
        let events = workflow_events::of_workflow(&stack.state.pool, wii)
            .await
            .unwrap();
        if events.len() >= n {
            return events.into_iter().map(|e| e.event_type).collect();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let events = workflow_events::of_workflow(&stack.state.pool, wii)
        .await
        .unwrap();
    events.into_iter().map(|e| e.event_type).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushed_events_are_stored_once_each_in_event_order() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // The workflow's whole list, the validation first (spec 2.22 §11.3's example).
    let all = [
        "VALIDATION",
        "PUBLICATION",
        "SEND_TO_INI",
        "SEND_TO_EDS",
        "EDS_WORKFLOW",
        "SEND_TO_UAR",
        "UAR_FINAL_STATUS",
    ];
    // Each notification twice, then newest first: every event once, oldest first.
    push_fault(&stack, "duplicate").await;
    let wii = publish_with_callback(
        &stack,
        "2.16.840.1.113883.2.9.2.160.4.4^PUSH-1",
        &stack.touchpoint_url,
    )
    .await;
    assert_eq!(stored_types(&stack, &wii, 7).await, all);
    push_fault(&stack, "reorder").await;
    let wii = publish_with_callback(
        &stack,
        "2.16.840.1.113883.2.9.2.160.4.4^PUSH-2",
        &stack.touchpoint_url,
    )
    .await;
    assert_eq!(stored_types(&stack, &wii, 7).await, all);
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_touchpoint_events_total{kind=\"repeated\"}"),
        "{metrics}"
    );
    // Dropped: nothing arrives.
    push_fault(&stack, "drop").await;
    let wii = publish_with_callback(
        &stack,
        "2.16.840.1.113883.2.9.2.160.4.4^PUSH-3",
        &stack.touchpoint_url,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(6_000)).await;
    assert!(
        workflow_events::of_workflow(&stack.state.pool, &wii)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_touchpoint_takes_the_gateways_certificate_and_the_ministrys_schema_only() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let url = format!("{}/v1/workflow/status", stack.touchpoint_url);
    let good = json!({"workflowInstanceId": "w-1", "events": [
        {"eventType": "VALIDATION", "eventDate": "2025-10-10T13:48:38.425Z", "eventStatus": "SUCCESS", "issuer": "integrity:S1#111#TEST"}
    ]});
    // A producer's certificate (regional CA) is refused in the handshake.
    let producer = stack
        .client(Some("producer"))
        .post(&url)
        .json(&good)
        .send()
        .await;
    assert!(producer.is_err(), "{producer:?}");
    // The gateway's (national CA): stored, then the same again is not stored twice.
    let gateway = stack.client(Some("gtw-notifier"));
    for stored in [1, 0] {
        let r = gateway.post(&url).json(&good).send().await.unwrap();
        assert_eq!(r.status(), 200);
        let b: serde_json::Value = r.json().await.unwrap();
        assert_eq!(
            (b["received"].as_u64(), b["stored"].as_u64()),
            (Some(1), Some(stored)),
            "{b}"
        );
    }
    // Outside the schema: a problem document, nothing stored.
    let bad = json!({"workflowInstanceId": "w-2", "events": [{"eventType": "X", "eventStatus": "S", "eventDate": "yesterday"}]});
    let r = gateway.post(&url).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let b: serde_json::Value = r.json().await.unwrap();
    assert_eq!(b["type"], "mw/bad-request", "{b}");
    assert!(b["detail"].as_str().unwrap().contains("eventDate"), "{b}");
    assert!(
        workflow_events::of_workflow(&stack.state.pool, "w-2")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_producer_reads_the_status_of_its_own_workflows_only() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    stack.register_second_producer().await;
    let (s, _, v) = read(validate(&stack, &crate::pdf(crate::LAB_OK)).await).await;
    assert_eq!(s, 201, "{v}");
    let by_wii = format!("/status/{}", v["workflowInstanceId"].as_str().unwrap());
    let by_trace = format!("/status/search/{}", v["traceID"].as_str().unwrap());
    for path in [&by_wii, &by_trace] {
        let (s, b) = status_as(&stack, "producer", path, OURS).await;
        assert_eq!(s, 200, "the owner: {path} {b}");
        let before = stack.observed().await.len();
        let (s, b) = status_as(&stack, "producer-unregistered", path, OURS).await;
        assert_eq!(
            (s, b),
            (404, gateway_contract::problem::status_not_found_body()),
            "another producer: {path}"
        );
        assert_eq!(stack.observed().await.len(), before, "never forwarded");
    }
}
