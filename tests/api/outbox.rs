//! Publications during a gateway outage: accepted (202), indexed provisionally, queued,
//! delivered in order when the gateway is back, re-validated when the validation record
//! is gone, and final failures visible.

use std::time::{Duration, Instant};

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack};
use integration_tests::xds::{EntrySpec, document_entry, has_member, submission_set, submit};
use reqwest::Method;
use serde_json::{Value, json};

use crate::xds_repository::soap;
use crate::{create, publication_body, read, send_read, signed_lab, validate};

async fn db(stack: &TestStack) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

/// Waits until no queued publication is pending or being sent.
async fn drained(stack: &TestStack) {
    let client = db(stack).await;
    if let Err(dump) = drained_in(&client, Duration::from_secs(30)).await {
        panic!("{dump}");
    }
}

/// Waits up to `timeout` for the outbox of `client`'s database to have nothing left to
/// deliver; else the rows still open, one per line.
pub(crate) async fn drained_in(
    client: &tokio_postgres::Client,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        let open: i64 = client
            .query_one(
                "SELECT count(*) FROM outbox WHERE state IN ('pending', 'sending')",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if open == 0 {
            return Ok(());
        }
        if Instant::now() > deadline {
            let rows = client
                .query("SELECT id, state, attempts, last_error, events::text, next_attempt_at::text, lease_until::text FROM outbox WHERE state IN ('pending', 'sending')", &[])
                .await
                .unwrap();
            let dump: Vec<String> = rows
                .iter()
                .map(|r| {
                    format!(
                        "{} {} {} {:?} {} {:?} {:?}",
                        r.get::<_, i64>(0),
                        r.get::<_, String>(1),
                        r.get::<_, i32>(2),
                        r.get::<_, Option<String>>(3),
                        r.get::<_, String>(4),
                        r.get::<_, Option<String>>(5),
                        r.get::<_, Option<String>>(6)
                    )
                })
                .collect();
            return Err(format!(
                "{open} publications still queued:\n{}",
                dump.join("\n")
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn requests(observed: &[Value]) -> Vec<(String, u64)> {
    observed
        .iter()
        .map(|o| {
            (
                o["request"].as_str().unwrap().to_string(),
                o["response_status"].as_u64().unwrap(),
            )
        })
        .filter(|(r, _)| !r.contains("/validation"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_during_an_outage_is_queued_indexed_and_delivered() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (s, _, v) = read(validate(&stack, &signed_lab()).await).await;
    assert_eq!(s, 201, "{v}");
    stack.fault(json!({"mode": "down"})).await;
    let id = "2.16.840.1.113883.2.9.2.160.4.4^OUTAGE-1";
    let (s, tx, b) = create(&stack, id, json!({})).await;
    assert_eq!(s, 202, "{b}");
    let warning = b["warning"].as_str().unwrap();
    assert!(
        warning.starts_with("--middlewarewarning--[MW-QUEUED]"),
        "{b}"
    );
    // Only the region's ids: its transaction as traceID (hyphenated, never a gateway
    // trace), no spanID, no workflowInstanceId (the request carried none, and the
    // gateway's has a random part), and where the gateway's will be found.
    assert_eq!(b["traceID"], tx.as_str(), "{b}");
    assert_eq!(tx.len(), 36);
    assert!(b.get("spanID").is_none(), "{b}");
    assert!(b.get("workflowInstanceId").is_none(), "{b}");
    assert!(warning.contains(&format!("/status/search/{tx}")), "{b}");

    // Indexed locally, provisionally, with the metadata INI would get.
    let client = db(&stack).await;
    let events: Value = client
        .query_one("SELECT events FROM outbox", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(events[1]["eventStatus"], "SUCCESS", "{events}");
    let row = client
        .query_one(
            "SELECT provisional, patient_id, class_code, type_code, format_code, repository_unique_id \
             FROM xds_document_entry WHERE unique_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert!(row.get::<_, bool>(0));
    assert_eq!(
        row.get::<_, String>(1),
        "PROVAX00X00X000Y^^^&2.16.840.1.113883.2.9.4.3.2&ISO"
    );
    assert_eq!(
        row.get::<_, Option<String>>(2).as_deref(),
        Some("REF^^2.16.840.1.113883.2.9.3.3.6.1.5")
    );
    assert_eq!(
        row.get::<_, Option<String>>(3).as_deref(),
        Some("11502-2^^2.16.840.1.113883.6.1")
    );
    assert_eq!(
        row.get::<_, Option<String>>(4).as_deref(),
        Some("2.16.840.1.113883.2.9.10.1.1^^2.16.840.1.113883.2.9.3.3.6.1.6")
    );
    assert_eq!(
        row.get::<_, Option<String>>(5).as_deref(),
        Some("2.16.840.1.113883.2.9.2.160.4.5.1")
    );

    // While the gateway is down the status service answers with the middleware's events.
    let (auth, _) = integration_tests::stack::tokens(
        JwtOperation::Validation,
        None,
        json!({"sub": "S1#160#80017210727FSEMW"}),
        "producer",
    );
    let status = |stack: &TestStack, path: String| {
        let r = stack
            .call(Some("producer"), Method::GET, &path, None)
            .header("Authorization", &auth)
            .send();
        async move { read(r.await.unwrap()).await }
    };
    let search = format!("/status/search/{tx}");
    let (s, status_tx, events) = status(&stack, search.clone()).await;
    assert_eq!(s, 200, "{events}");
    let kinds: Vec<&str> = events["transactionData"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventType"].as_str().unwrap())
        .collect();
    // The worker may already have tried again (RETRY events follow).
    assert_eq!(kinds[..2], ["QUEUED", "INDEXED"], "{events}");
    assert!(kinds[2..].iter().all(|k| *k == "RETRY"), "{events}");
    // The gateway's schema (closed): no warning, no spanID; the status call's own trace;
    // the middleware's events name the regional transaction and the document.
    assert_eq!(
        events.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["traceID", "transactionData"],
        "{events}"
    );
    assert_eq!(events["traceID"], status_tx.as_str());
    assert_eq!(events["transactionData"][0]["traceId"], tx.as_str());
    assert_eq!(events["transactionData"][0]["identificativoDocumento"], id);
    assert!(
        events["transactionData"][0]
            .get("workflowInstanceId")
            .is_none()
    );
    // Another producer asking for the same id does not get the trail, nor does its call
    // reach the gateway: the id is not its own (issue 19 §5), the status service's 404.
    stack.register_second_producer().await;
    let (other, _) = integration_tests::stack::tokens(
        JwtOperation::Validation,
        None,
        json!({"sub": "S1#160#80017210727FSEMW"}),
        "producer-unregistered",
    );
    let r = stack
        .call(Some("producer-unregistered"), Method::GET, &search, None)
        .header("Authorization", &other)
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!((s, b["type"].as_str()), (404, Some("/err/resource")), "{b}");

    // The gateway is back: delivered once, the transaction records it.
    stack.fault(json!({"mode": "none"})).await;
    drained(&stack).await;
    let seen = requests(&stack.observed().await);
    assert_eq!(seen, [("POST /v1/documents".to_string(), 202)], "{seen:?}");
    let rows = stack.transactions(&format!("id={tx}")).await;
    assert_eq!(rows[0]["outcome"], "queued");
    assert_eq!(rows[0]["http_status"], 202);
    assert_eq!(rows[0]["delivery"], "delivered");
    assert_eq!(rows[0]["delivery_status"], 202);
    assert!(rows[0]["gtw_trace_id"].is_string());
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_outbox_deliveries_total{outcome=\"delivered\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fsemw_outbox_rows{state=\"delivered\"} 1"));
    assert!(metrics.contains("fsemw_outbox_queued_total 1"));
    // The transaction now carries the gateway's ids, and so does the regional trail
    // (answered here, never asked of the gateway: the id is the region's).
    let delivered_wii = rows[0]["workflow_instance_id"]
        .as_str()
        .unwrap()
        .to_string();
    let gtw_trace = rows[0]["gtw_trace_id"].as_str().unwrap().to_string();
    assert_eq!(gtw_trace.len(), 32, "{gtw_trace}");
    let (s, _, events) = status(&stack, search).await;
    assert_eq!(s, 200, "{events}");
    let forwarded = events["transactionData"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(forwarded["eventType"], "FORWARDED", "{events}");
    assert_eq!(forwarded["eventStatus"], "SUCCESS", "{events}");
    assert_eq!(forwarded["traceId"], gtw_trace.as_str(), "{events}");
    assert_eq!(forwarded["workflowInstanceId"], delivered_wii.as_str());
    // Earlier events now name the publication's workflowInstanceId too.
    assert_eq!(
        events["transactionData"][0]["workflowInstanceId"],
        delivered_wii.as_str()
    );
    let seen = requests(&stack.observed().await);
    assert_eq!(seen, [("POST /v1/documents".to_string(), 202)], "{seen:?}");
    // The gateway answers for its own workflowInstanceId.
    let (s, _, events) = status(&stack, format!("/status/{delivered_wii}")).await;
    assert_eq!(s, 200, "{events}");
    assert_eq!(events["traceID"].as_str().unwrap().len(), 32, "{events}");
    assert_eq!(
        events["transactionData"][1]["eventType"], "PUBLICATION",
        "{events}"
    );

    // INI's metadata for the same document replaces the provisional entry.
    let mut entry = EntrySpec::lab("Document01", id);
    entry.patient = "PROVAX00X00X000Y^^^&2.16.840.1.113883.2.9.4.3.2&ISO".into();
    entry.stored = Some((
        "2.16.840.1.113883.2.9.2.160.4.5.1".into(),
        "ab".repeat(20),
        1234,
    ));
    let ini = submit(&format!(
        "{}{}{}",
        document_entry(&entry),
        submission_set("2.16.840.1.113883.2.9.2.160.4.3.9001", &entry.patient),
        has_member("hm", "Document01")
    ));
    let answer = soap(
        &stack,
        "/xds/registry",
        "urn:ihe:iti:2007:RegisterDocumentSet-b",
        &ini,
    )
    .await;
    assert!(answer.contains("ResponseStatusType:Success"), "{answer}");
    let rows = client
        .query(
            "SELECT provisional, size FROM xds_document_entry WHERE unique_id = $1",
            &[&id],
        )
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert!(!rows[0].get::<_, bool>(0));
    assert_eq!(rows[0].get::<_, Option<i64>>(1), Some(1234));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_publication_without_its_validation_record_is_validated_and_created() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    stack.fault(json!({"mode": "down"})).await;
    let (s, _, b) = create(
        &stack,
        "2.16.840.1.113883.2.9.2.160.4.4^OUTAGE-2",
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    // A create whose claims the gateway refuses for good: attachment_hash of another file.
    let (s, tx_bad, b) = create(
        &stack,
        "2.16.840.1.113883.2.9.2.160.4.4^OUTAGE-3",
        json!({"attachment_hash": "00"}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    stack.fault(json!({"mode": "none"})).await;
    drained(&stack).await;
    // The two documents may be delivered in either order; each one's pair is in order.
    let mut seen = requests(&stack.observed().await);
    seen.sort();
    assert_eq!(
        seen,
        [
            ("POST /v1/documents".to_string(), 400),
            ("POST /v1/documents".to_string(), 400),
            ("POST /v1/documents/validate-and-create".to_string(), 202),
            ("POST /v1/documents/validate-and-create".to_string(), 400),
        ],
        "{seen:?}"
    );
    let client = db(&stack).await;
    let rows = client
        .query(
            "SELECT operation, state, final_status FROM outbox ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let got: Vec<(String, String, Option<i32>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        got,
        [
            (
                "validate_and_create".to_string(),
                "delivered".to_string(),
                Some(202)
            ),
            (
                "validate_and_create".to_string(),
                "failed".to_string(),
                Some(400)
            ),
        ]
    );
    // The failure is on the transaction and counted.
    let rows = stack.transactions(&format!("id={tx_bad}")).await;
    assert_eq!(rows[0]["delivery"], "failed");
    assert_eq!(rows[0]["delivery_status"], 400);
    assert!(
        stack
            .metrics()
            .await
            .contains("fsemw_outbox_deliveries_total{outcome=\"failed\"} 1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_deliver_each_queued_publication_once() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let second = stack.replica().await;
    stack.fault(json!({"mode": "down"})).await;
    let signed = signed_lab();
    for i in 0..40 {
        let base = if i % 2 == 0 {
            stack.mw_url.clone()
        } else {
            second.clone()
        };
        let (auth, sig) = integration_tests::stack::tokens(
            JwtOperation::Create,
            Some(&signed),
            json!({}),
            "producer",
        );
        let body = publication_body(&format!("2.16.840.1.113883.2.9.2.160.4.4^REPLICA-{i}"))
            .replace("489592", &format!("7{i:05}"));
        let r = stack
            .client(Some("producer"))
            .post(format!("{base}/documents/validate-and-create"))
            .header("Authorization", auth)
            .header("FSE-JWT-Signature", sig)
            .multipart(integration_tests::stack::form(&body, signed.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 202, "{}", r.text().await.unwrap());
    }
    stack.fault(json!({"mode": "none"})).await;
    drained(&stack).await;
    let seen = stack.observed().await;
    let hashes: std::collections::HashSet<&str> = seen
        .iter()
        .filter(|o| o["request"] == "POST /v1/documents/validate-and-create")
        .map(|o| o["body_sha256"].as_str().unwrap())
        .collect();
    let publications = seen
        .iter()
        .filter(|o| o["request"] == "POST /v1/documents/validate-and-create")
        .count();
    // Two workers competed for the same rows: each publication went out exactly once.
    assert_eq!((publications, hashes.len()), (40, 40));
    let client = db(&stack).await;
    let delivered: i64 = client
        .query_one("SELECT count(*) FROM outbox WHERE state = 'delivered'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(delivered, 40);
}

/// An outage longer than the validation window: the queued create still carries the old
/// validation's workflowInstanceId. The gateway refuses the create (past the window), and
/// the validate-and-create the outbox sends instead makes its own validation record, so it
/// must go without the old id (with it, the gateway answers `/msg/cda-match`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_past_the_validation_window_recovers_the_publication() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (s, _, v) = read(validate(&stack, &signed_lab()).await).await;
    assert_eq!(s, 201, "{v}");
    let mut body: Value = serde_json::from_str(&publication_body(
        "2.16.840.1.113883.2.9.2.160.4.4^LONG-OUTAGE",
    ))
    .unwrap();
    body["workflowInstanceId"] = v["workflowInstanceId"].clone();
    stack.fault(json!({"mode": "down"})).await;
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed_lab(),
        &body.to_string(),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "queued: {b}");
    // The validation's id is the gateway's: the queued answer gives it back, and while the
    // gateway is down its status is the middleware's trail.
    let wii = v["workflowInstanceId"].as_str().unwrap();
    assert_eq!(b["workflowInstanceId"], wii, "{b}");
    let (auth, _) = integration_tests::stack::tokens(
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
    let (s, _, events) = read(r).await;
    assert_eq!(s, 200, "{events}");
    assert_eq!(events["transactionData"][0]["eventType"], "QUEUED");
    assert_eq!(events["transactionData"][0]["workflowInstanceId"], wii);
    assert!(events.get("warning").is_none(), "{events}");
    // Six whole days pass on the gateway's clock before it is reachable again.
    let r = reqwest::Client::new()
        .post(format!("{}/clock", stack.sim_admin_url))
        .json(&json!({"offset_secs": 6 * 24 * 3600}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    stack.fault(json!({"mode": "none"})).await;
    drained(&stack).await;
    assert_eq!(
        requests(&stack.observed().await),
        [
            ("POST /v1/documents".to_string(), 400),
            ("POST /v1/documents/validate-and-create".to_string(), 202),
        ]
    );
    let client = db(&stack).await;
    let row = client
        .query_one("SELECT operation, state, final_status FROM outbox", &[])
        .await
        .unwrap();
    let got: (String, String, Option<i32>) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        got,
        ("validate_and_create".into(), "delivered".into(), Some(202))
    );
}

/// A metadata update queued after the create of its document is delivered after it, under
/// the document's id (the route's `{id}`, not the path's last segment `metadata-iti-57`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_metadata_update_follows_its_documents_create() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (s, _, v) = read(validate(&stack, &signed_lab()).await).await;
    assert_eq!(s, 201, "{v}");
    stack.fault(json!({"mode": "down"})).await;
    let id = "2.16.840.1.113883.2.9.2.160.4.4^OUTAGE-META";
    let (s, _, b) = create(&stack, id, json!({})).await;
    assert_eq!(s, 202, "{b}");
    let (auth, sig) =
        integration_tests::stack::tokens(JwtOperation::Metadata, None, json!({}), "producer");
    let path = format!("/documents/{}/metadata-iti-57", id.replace('^', "%5E"));
    let r = stack
        .call(Some("producer"), Method::PUT, &path, Some((&auth, &sig)))
        .json(&json!({"tipologiaStruttura": "Ospedale", "tipoDocumentoLivAlto": "REF", "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON", "identificativoSottomissione": "2.16.840.1.113883.2.9.2.160.4.3.1"}))
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(s, 202, "{b}");
    let client = db(&stack).await;
    let rows = client
        .query(
            "SELECT ordering_key, document_id, path_id FROM outbox ORDER BY id",
            &[],
        )
        .await
        .unwrap();
    let keys: Vec<(String, Option<String>, Option<String>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    assert_eq!(
        keys[1],
        (id.to_string(), Some(id.to_string()), Some(id.to_string()))
    );
    assert_eq!(keys[0].0, id, "one document, one ordering key: {keys:?}");
    stack.fault(json!({"mode": "none"})).await;
    drained(&stack).await;
    assert_eq!(
        requests(&stack.observed().await),
        [
            ("POST /v1/documents".to_string(), 202),
            (format!("PUT /v1{path}"), 200),
        ]
    );
}
