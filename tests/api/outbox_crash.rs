//! The outage test: the gateway is down, 4 producers publish 200 documents, the
//! middleware is killed (SIGKILL) and restarted twice meanwhile, then the gateway comes
//! back. Exactly 200 publications reach the gateway, none twice; all are indexed; nothing
//! is left to deliver; every transaction records its delivery.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::process::MwProcess;
use integration_tests::stack::{StackOptions, TestStack, form, tokens};
use serde_json::json;

use crate::outbox::drained_in;
use crate::signed_lab;

const PRODUCERS: usize = 4;
const EACH: usize = 50;

fn body(id: &str, n: usize) -> String {
    json!({
        "healthDataFormat": "CDA", "mode": "ATTACHMENT",
        "tipologiaStruttura": "Ospedale", "attiCliniciRegoleAccesso": ["P99"], "identificativoDoc": id,
        "identificativoRep": "2.16.840.1.113883.2.9.2.160.4.5.1", "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001", "dataInizioPrestazione": "20241020110012",
        "dataFinePrestazione": "20241020110012", "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": format!("2.16.840.1.113883.2.9.2.160.4.3.{n}"),
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_publications_survive_an_outage_and_two_crashes() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (mut mw, db) = MwProcess::with_demo_producer(&stack, "crash").await;

    stack.fault(json!({"mode": "down"})).await;
    let accepted = Arc::new(AtomicUsize::new(0));
    let url = Arc::new(std::sync::RwLock::new(mw.mw_url.clone()));
    let signed = Arc::new(signed_lab());
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let (accepted, url, signed) = (accepted.clone(), url.clone(), signed.clone());
        let client = stack.client(Some("producer"));
        producers.push(tokio::spawn(async move {
            for i in 0..EACH {
                let n = p * EACH + i;
                let id = format!("2.16.840.1.113883.2.9.2.160.4.4^CRASH-{n}");
                let request = body(&id, n);
                // A producer that gets no answer sends the same request again.
                let mut tries = 0;
                loop {
                    tries += 1;
                    assert!(tries < 200, "{id}: never accepted");
                    let (auth, sig) =
                        tokens(JwtOperation::Create, Some(&signed), json!({}), "producer");
                    let base = url.read().unwrap().clone();
                    let sent = client
                        .post(format!("{base}/documents/validate-and-create"))
                        .header("Authorization", auth)
                        .header("FSE-JWT-Signature", sig)
                        .multipart(form(&request, signed.to_vec()))
                        .send()
                        .await;
                    match sent {
                        Ok(r) if r.status().as_u16() == 202 => break,
                        Ok(r) => panic!(
                            "{id}: HTTP {} {}",
                            r.status(),
                            r.text().await.unwrap_or_default()
                        ),
                        Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                    }
                }
                accepted.fetch_add(1, Ordering::SeqCst);
            }
        }));
    }
    // Two crashes while the producers are sending.
    for threshold in [60, 130] {
        let deadline = Instant::now() + Duration::from_secs(120);
        while accepted.load(Ordering::SeqCst) < threshold {
            assert!(Instant::now() < deadline, "producers stalled");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        mw.kill();
        tokio::time::sleep(Duration::from_millis(300)).await;
        mw.restart().await;
    }
    for p in producers {
        p.await.expect("producer");
    }
    assert_eq!(accepted.load(Ordering::SeqCst), PRODUCERS * EACH);

    // Every document is queued exactly once, even those sent twice around a crash.
    let row = db
        .query_one(
            "SELECT count(*), count(DISTINCT ordering_key) FROM outbox",
            &[],
        )
        .await
        .unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (200, 200));
    assert!(
        stack.observed().await.is_empty(),
        "the gateway saw something while down"
    );

    // The gateway is back.
    stack.fault(json!({"mode": "none"})).await;
    if let Err(dump) = drained_in(&db, Duration::from_secs(120)).await {
        panic!("{dump}\n{}", mw.log_text());
    }

    // Exactly 200 publications reached the gateway, each once, all accepted.
    let seen = stack.observed().await;
    let publications: Vec<_> = seen
        .iter()
        .filter(|o| o["request"] == "POST /v1/documents/validate-and-create")
        .collect();
    assert_eq!(publications.len(), 200, "{} requests seen", seen.len());
    let distinct: std::collections::HashSet<&str> = publications
        .iter()
        .map(|o| o["body_sha256"].as_str().unwrap())
        .collect();
    assert_eq!(distinct.len(), 200, "a publication was delivered twice");
    let refused: Vec<u64> = publications
        .iter()
        .map(|o| o["response_status"].as_u64().unwrap())
        .filter(|s| s / 100 != 2)
        .collect();
    let finals = db
        .query(
            "SELECT final_body FROM outbox WHERE final_status >= 300 LIMIT 3",
            &[],
        )
        .await
        .unwrap();
    let bodies: Vec<Option<String>> = finals.iter().map(|r| r.get(0)).collect();
    assert!(refused.is_empty(), "{refused:?} {bodies:?}");
    let states = db
        .query_one(
            "SELECT count(*) FILTER (WHERE state = 'delivered'), count(*) FROM outbox",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        (states.get::<_, i64>(0), states.get::<_, i64>(1)),
        (200, 200)
    );

    // All indexed (provisionally: INI has not sent its metadata yet).
    let indexed: i64 = db
        .query_one(
            "SELECT count(DISTINCT unique_id) FROM xds_document_entry WHERE provisional AND unique_id LIKE '%^CRASH-%'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(indexed, 200);

    // Every accepted request's transaction records the delivery.
    let tx = db
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE delivery = 'delivered'), count(DISTINCT document_id) \
             FROM transactions WHERE outcome = 'queued'",
            &[],
        )
        .await
        .unwrap();
    let (all, delivered, docs): (i64, i64, i64) = (tx.get(0), tx.get(1), tx.get(2));
    assert!(all >= 200, "{all} queued transactions");
    assert_eq!(delivered, all, "a queued transaction without its delivery");
    assert_eq!(docs, 200);
    mw.kill();
    let _ = std::fs::remove_dir_all(mw.folder());
}
