//! Every call leaves an audit row: searchable by transaction, trace, workflow, document, patient.

use integration_tests::stack::{StackOptions, TestStack};

use crate::{LAB_OK, pdf, read, validate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trail_answers_what_happened_to_a_document() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = pdf(LAB_OK);
    let (s, tx, b) = read(validate(&stack, &lab).await).await;
    assert_eq!(s, 201);
    let trace = b["traceID"].as_str().unwrap();
    let wii = b["workflowInstanceId"].as_str().unwrap();
    let by_tx = stack.transactions(&format!("id={tx}")).await;
    assert_eq!(by_tx.len(), 1);
    let row = &by_tx[0];
    assert_eq!(row["gtw_trace_id"], trace);
    assert_eq!(row["workflow_instance_id"], wii);
    assert_eq!(row["http_status"], 201);
    assert_eq!(row["outcome"], "forwarded");
    assert_eq!(row["operation"], "validation");
    assert_eq!(row["client_cn"], "01234567890.labdemo.it");
    assert_eq!(row["application_id"], "LABDEMO");
    // Validations record the file's size; publications also its SHA-256 (docs/performance.md).
    assert!(row["file_sha256"].is_null(), "{row}");
    assert_eq!(row["file_bytes"], lab.len());
    assert!(row["gtw_duration_ms"].as_f64().unwrap() > 0.0);
    // The patient is searchable by fiscal code but never stored in clear.
    let hmac = row["patient_cf_hmac"].as_str().unwrap();
    assert!(!hmac.contains("RSSMRA"));
    assert_eq!(stack.transactions(&format!("id={trace}")).await.len(), 1);
    let wii_enc = wii.replace('^', "%5E").replace(':', "%3A");
    assert_eq!(stack.transactions(&format!("id={wii_enc}")).await.len(), 1);
    assert_eq!(stack.transactions("cf=rssmra22a01a399z").await.len(), 1);
    assert_eq!(stack.transactions("cf=PROVAX00X00X000Y").await.len(), 0);
    // Nothing clinical in the table.
    let (client, conn) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let dump: String = client
        .query_one("SELECT string_agg(t::text, ' ') FROM transactions t", &[])
        .await
        .unwrap()
        .get(0);
    assert!(
        !dump.contains("RSSMRA22A01A399Z"),
        "no clear fiscal code in the audit table"
    );
    // Readiness sees the database and the gateway.
    let r = reqwest::get(format!("{}/readyz", stack.admin_url))
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_requests_total{operation=\"validation\",profile=\"puglia\",status=\"201\",status_class=\"2xx\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fsemw_gateway_request_duration_seconds_bucket"));
    assert!(!metrics.contains("RSSMRA"));
}
