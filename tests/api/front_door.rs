//! The one front door: REST, XDS and legacy SOAP requests alike get a transaction id in the
//! header, an audit row written before the answer, the caller looked up once and a refusal
//! counted once, each answered in its service's own format.

use integration_tests::stack::{StackOptions, TestStack};

use crate::read;

fn refusals(metrics: &str, reason: &str) -> u64 {
    let series = format!("fsemw_producer_refusals_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_is_behind_the_same_door() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let base = stack.mw_url.trim_end_matches("/v1").to_string();
    let before = refusals(&stack.metrics().await, "unregistered");
    let stranger = stack.client(Some("producer-unregistered"));
    let soap =
        "<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body/></s:Envelope>";
    // (path, status, what the body must hold, the row's operation and outcome)
    let cases = [
        (
            "/v1/documents/validation",
            403,
            "mw/unauthorized",
            "validation",
            "refused",
        ),
        (
            "/v1/no/such/path",
            403,
            "mw/unauthorized",
            "unknown",
            "refused",
        ),
        ("/xds/registry", 401, "FailedAuthentication", "xds", "fault"),
        // SOAP 1.1 answers every fault with 500 (its HTTP binding).
        (
            "/aslba/IDocumentService",
            500,
            "FailedAuthentication",
            "IDocumentService",
            "fault",
        ),
    ];
    for (path, status, holds, operation, outcome) in cases {
        let r = stranger
            .post(format!("{base}{path}"))
            .header("content-type", "text/xml")
            .body(soap)
            .send()
            .await
            .unwrap();
        let (s, tx, body) = read(r).await;
        assert_eq!(s, status, "{path}: {body}");
        assert!(body.to_string().contains(holds), "{path}: {body}");
        assert!(!tx.is_empty(), "{path}: no transaction header");
        let rows = stack.transactions(&format!("id={tx}")).await;
        assert_eq!(rows.len(), 1, "{path}: {rows:?}");
        let row = &rows[0];
        assert_eq!(row["operation"], operation, "{path}: {row}");
        assert_eq!(row["outcome"], outcome, "{path}: {row}");
        assert_eq!(row["http_status"], status, "{path}: {row}");
        assert_eq!(row["client_cn"], "11111111111.ignoto.it", "{path}: {row}");
        assert!(row["producer_id"].is_null(), "{path}: {row}");
    }
    // Each refusal counted once, whichever service it reached.
    let after = refusals(&stack.metrics().await, "unregistered");
    assert_eq!(after - before, cases.len() as u64);

    // A service description is a transaction too, served to anyone the TLS layer admits.
    let r = stranger
        .get(format!("{base}/xds/registry?wsdl"))
        .send()
        .await
        .unwrap();
    let (s, tx, body) = read(r).await;
    assert_eq!(s, 200);
    assert!(
        body.as_str()
            .unwrap()
            .contains("<definitions name=\"RegionalDocumentRegistry\""),
        "{body}"
    );
    let rows = stack.transactions(&format!("id={tx}")).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["operation"], "xds.wsdl");
    assert_eq!(rows[0]["outcome"], "success");
}
