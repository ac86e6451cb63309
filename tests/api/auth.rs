//! Producer authentication: certificate, CN convention, registry.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{PRODUCER_CN, StackOptions, TestStack, tokens};
use serde_json::json;

use crate::{LAB_OK, pdf, validate_with};

async fn call_as(stack: &TestStack, cert: Option<&str>) -> (u16, String, serde_json::Value) {
    let lab = pdf(LAB_OK);
    let (auth, sig) = tokens(JwtOperation::Validation, Some(&lab), json!({}), "producer");
    validate_with(stack, cert, &lab, (&auth, &sig)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_expired_unregistered_and_disabled_producers_are_refused() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    for (cert, status, reason) in [
        (None, 401, "certificate"),
        (Some("producer-stranger"), 401, "certificate"),
        (Some("producer-expired"), 401, "certificate"),
        (Some("producer-badcn"), 403, "cn_pattern"),
        (Some("producer-unregistered"), 403, "unregistered"),
    ] {
        let (s, tx, b) = call_as(&stack, cert).await;
        assert_eq!(
            (s, b["type"].as_str()),
            (status, Some("mw/unauthorized")),
            "{cert:?}: {b}"
        );
        assert!(!tx.is_empty(), "refusals carry a transaction id");
        assert_eq!(b["instance"], format!("urn:uuid:{tx}"));
        let rows = stack.transactions(&format!("id={tx}")).await;
        assert_eq!(rows[0]["outcome"], "refused", "{reason}");
    }
    middleware::db::producers::disable(&stack.state.pool, PRODUCER_CN)
        .await
        .unwrap();
    let (s, _, b) = call_as(&stack, Some("producer")).await;
    assert_eq!(s, 403, "{b}");
    assert!(
        stack.observed().await.is_empty(),
        "no refused call reached the gateway"
    );
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_producer_refusals_total{reason=\"certificate\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("fsemw_producer_refusals_total{reason=\"disabled\"} 1"));
}
