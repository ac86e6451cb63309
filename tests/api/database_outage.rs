//! The middleware's database unreachable while producers call: known producers are still
//! served and their audit rows wait on local disk; an unknown one gets 503
//! `mw/unavailable`, a SOAP consultation the fault `E000503`; when the database is back every row is written, none lost.
//! (`ops/chaos/postgres.sh` does the same with a real restart under load.)

use std::time::Duration;

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::xds::fault_code;
use serde_json::json;

use crate::{LAB_OK, pdf, publication_body, read, send_read, signed_lab, validate};

/// The database's name and a superuser connection to the cluster.
async fn cluster(stack: &TestStack) -> (String, tokio_postgres::Client) {
    let name = stack
        .database_url
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix("dbname="))
        .unwrap()
        .to_string();
    let url = stack
        .database_url
        .replace(&format!("dbname={name}"), "dbname=postgres");
    let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    (name, client)
}

fn gauge(metrics: &str, name: &str) -> i64 {
    metrics
        .lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_rows_wait_on_disk_while_the_database_is_down() {
    let stack = TestStack::spawn(StackOptions {
        producer_cache_secs: 1,
        ..StackOptions::default()
    })
    .await;
    assert_eq!(read(validate(&stack, &pdf(LAB_OK)).await).await.0, 201);
    let (db, admin) = cluster(&stack).await;
    // Down: no new connection, and the pool's connections are cut.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {db} ALLOW_CONNECTIONS false; \
             SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;

    // The demo producer was read a moment ago: served, its rows kept on disk.
    let mut served = Vec::new();
    for _ in 0..3 {
        let (s, tx, b) = read(validate(&stack, &pdf(LAB_OK)).await).await;
        assert_eq!(s, 201, "{b}");
        served.push(tx);
    }
    let (s, tx, b) = send_read(
        &stack,
        reqwest::Method::POST,
        "/documents/validate-and-create",
        JwtOperation::Create,
        &signed_lab(),
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^DB-DOWN-1"),
        json!({}),
    )
    .await;
    assert!(s == 201 || s == 202, "{b}");
    served.push(tx);
    let metrics = stack.metrics().await;
    assert_eq!(
        gauge(&metrics, "fsemw_audit_rows_journaled_total"),
        4,
        "{metrics}"
    );
    assert_eq!(gauge(&metrics, "fsemw_audit_journal_rows"), 4);
    assert_eq!(gauge(&metrics, "fsemw_audit_write_failures_total"), 0);

    // A producer the middleware has not read yet cannot be checked: 503, try again.
    let r = stack
        .call(
            Some("producer-unregistered"),
            reqwest::Method::POST,
            "/documents/validation",
            None,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["retry-after"], "5");
    let (s, refused, b) = read(r).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (503, Some("mw/unavailable")),
        "{b}"
    );
    served.push(refused);

    // A SOAP consultation needs the database (consents, registry): a fault that says "try
    // again", not an internal error.
    let find = crate::soap_document::envelope(
        "findDocuments",
        &format!(
            "<codiceFiscalePaziente>{}</codiceFiscalePaziente>",
            crate::soap_document::CF
        ),
    );
    let (s, a) = crate::soap_document::call(&stack, "IDocumentService", find).await;
    assert_eq!((s, fault_code(&a)), (500, "env:E000503".to_string()), "{a}");
    assert!(a.contains("ripetere la richiesta"), "{a}");

    // Replay rounds while the database still gives no connection set nothing aside: after
    // one, the rows of this outage keep waiting in the one file.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (s, tx, _) = read(validate(&stack, &pdf(LAB_OK)).await).await;
    assert_eq!(s, 201);
    served.push(tx);
    let journal = integration_tests::stack::spool_dir(&stack.database_url).join("audit-journal");
    let files: Vec<String> = std::fs::read_dir(&journal)
        .unwrap()
        .flatten()
        .flat_map(|own| std::fs::read_dir(own.path()).unwrap().flatten())
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    assert_eq!(files, ["current.jsonl"], "{files:?}");

    // A process that died with rows in its journal (its folder's lock is free): taken over.
    let orphan_tx = uuid::Uuid::new_v4();
    let orphan = integration_tests::stack::spool_dir(&stack.database_url)
        .join("audit-journal")
        .join(uuid::Uuid::new_v4().to_string());
    std::fs::create_dir_all(&orphan).unwrap();
    std::fs::write(orphan.join("lock"), "").unwrap();
    let now = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let row = json!({
        "tx_id": orphan_tx, "received_at": now, "operation": "validation",
        "method": "POST", "path": "/v1/documents/validation", "http_status": 201,
        "outcome": "forwarded", "certificate_case": 2, "duration_ms": 12.5,
    });
    std::fs::write(orphan.join("current.jsonl"), format!("{row}\n")).unwrap();
    served.push(orphan_tx.to_string());

    // Back: every row written, the journal empty.
    admin
        .batch_execute(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS true"))
        .await
        .unwrap();
    let mut left = -1;
    for _ in 0..100 {
        left = gauge(&stack.metrics().await, "fsemw_audit_journal_rows");
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, 0, "journal drained");
    assert!(
        !orphan.exists(),
        "the dead process's folder is gone once written"
    );
    for tx in &served {
        let rows = stack.transactions(&format!("id={tx}")).await;
        assert_eq!(rows.len(), 1, "{tx}");
    }
    let (s, _, _) = read(validate(&stack, &pdf(LAB_OK)).await).await;
    assert_eq!(s, 201);
}
