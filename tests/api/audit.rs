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

/// Rows are written in batches under load; every answer still waits for its own row, and a
/// row the database refuses fails alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_written_together_are_all_there_and_a_bad_one_fails_alone() {
    use middleware::db::transaction_writer::{Stored, TransactionWriter};
    let url = integration_tests::pg::fresh_database().await;
    let pool = middleware::db::pool(&middleware::config::DatabaseConfig {
        url: url.clone(),
        password: None,
        pool_size: 4,
        sslmode: Default::default(),
        sslrootcert: None,
    })
    .unwrap();
    middleware::db::migrate(&pool).await.unwrap();
    let sizes =
        prometheus::Histogram::with_opts(prometheus::HistogramOpts::new("rows", "rows")).unwrap();
    let writer = TransactionWriter::start(pool.clone(), sizes.clone(), None);
    let mut written = tokio::task::JoinSet::new();
    for i in 0..300 {
        let (writer, mut rec) = (
            writer.clone(),
            middleware::audit::TxContext::start().record("validation", "POST", "/v1/x", 1),
        );
        rec.http_status = 201;
        rec.outcome = middleware::db::outcome::Outcome::Forwarded;
        // Row 150 names a producer that does not exist: the foreign key refuses it.
        if i == 150 {
            rec.producer_id = Some(987_654);
        }
        written.spawn(async move { (i, rec.tx_id, writer.write(rec).await) });
    }
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let mut refused = Vec::new();
    while let Some(r) = written.join_next().await {
        let (i, tx_id, outcome) = r.unwrap();
        // Each answer comes after its own row is committed.
        let rows = client
            .query("SELECT 1 FROM transactions WHERE tx_id = $1", &[&tx_id])
            .await
            .unwrap();
        match outcome {
            Ok(stored) => {
                assert_eq!(stored, Stored::Database, "row {i}");
                assert_eq!(rows.len(), 1, "row {i}");
            }
            Err(e) => {
                assert!(rows.is_empty());
                assert!(e.to_string().contains("23503"), "{e}");
                refused.push(i);
            }
        }
    }
    assert_eq!(refused, vec![150]);
    let count: i64 = client
        .query_one("SELECT count(*) FROM transactions", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, 299);
    // Written together: fewer statements than rows.
    assert_eq!(sizes.get_sample_sum(), 300.0);
    assert!(
        sizes.get_sample_count() < 300,
        "{} statements",
        sizes.get_sample_count()
    );
}
