//! The warning merge rule, and regional checks that never block.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{StackOptions, TestStack, tokens};
use middleware::config::Environment;
use reqwest::Method;
use serde_json::json;

use crate::{
    LAB_OK, VALIDATION_BODY, pdf, publication_body, read, send_multipart, send_read, signed_lab,
    validate,
};

const NO_MODE: &str = r#"{"activity":"VERIFICA"}"#;
const WITH_MODE: &str = r#"{"mode":"ATTACHMENT","activity":"VERIFICA"}"#;
const EXTRACT: &str =
    "[[WARNING_EXTRACT]Attenzione, non è stata selezionata la modalità di estrazione del CDA]";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn national_only_local_only_and_both() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let lab = pdf(LAB_OK);
    let post = |body: &'static str, claims: serde_json::Value| {
        send_multipart(
            &stack,
            Method::POST,
            "/documents/validation",
            JwtOperation::Validation,
            &lab,
            body,
            claims,
        )
    };
    let (s, _, b) = read(post(NO_MODE, json!({})).await).await;
    assert_eq!(s, 200);
    assert_eq!(b["warning"], EXTRACT, "national only: untouched");

    let other_app = json!({"subject_application_version": "9.9"});
    let (s, _, b) = read(post(WITH_MODE, other_app.clone()).await).await;
    assert_eq!(s, 200);
    let w = b["warning"].as_str().unwrap();
    assert!(
        w.starts_with("--middlewarewarning--[MW-APP]"),
        "local only: {w}"
    );

    let (s, tx, b) = read(post(NO_MODE, other_app).await).await;
    assert_eq!(s, 200);
    let w = b["warning"].as_str().unwrap();
    assert!(
        w.starts_with(&format!("{EXTRACT}--middlewarewarning--[MW-APP]")),
        "both: {w}"
    );
    assert_eq!(w.matches("--middlewarewarning--").count(), 1);
    let key_order: Vec<&String> = b.as_object().unwrap().keys().collect();
    assert_eq!(
        key_order,
        ["traceID", "spanID", "workflowInstanceId", "warning"]
    );
    let rows = stack.transactions(&format!("id={tx}")).await;
    assert!(
        rows[0]["local_warnings"]
            .as_str()
            .unwrap()
            .contains("MW-APP")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regional_checks_never_block_and_errors_stay_national() {
    let stack = TestStack::spawn(StackOptions {
        environment: Environment::Production,
        test_fiscal_codes: vec!["PROVAX00X00X000Y".into()],
        ..Default::default()
    })
    .await;
    let signed = signed_lab();
    assert_eq!(read(validate(&stack, &signed).await).await.0, 201);
    // Document id outside the regional OID form, a test fiscal code in production,
    // a different application triplet: all forwarded, the gateway decides.
    let body = publication_body("2.16.840.1.113883.2.9.2.999.4.4^ALIEN");
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &body,
        json!({"subject_application_id": "OTHER"}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    let w = b["warning"].as_str().unwrap();
    for code in ["[MW-APP]", "[MW-TESTCF]", "[MW-OID] identificativoDoc"] {
        assert!(w.contains(code), "{code} missing in {w}");
    }
    // On a gateway error no local data is added.
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &body,
        json!({"subject_application_id": "OTHER"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(b["type"], "/msg/cda-match");
    assert!(!b.to_string().contains("middlewarewarning"));
}

/// Regional warnings go only into answers whose `warning` is a note (validation,
/// publication): never into status answers (`TransactionInspectResDTO` has no `warning`),
/// nor into delete and metadata answers (`ResponseWifDTO`: a warning there means an INI
/// retry). The producer's application differs from the registered one throughout, so the
/// triplet check would fire everywhere. GovWay's answer headers come back unchanged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_delete_and_metadata_answers_get_no_regional_warning() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let signed = signed_lab();
    let other_app = json!({"subject_application_version": "9.9"});
    let id = "2.16.840.1.113883.2.9.2.160.4.4^NOTESONLY";
    let r = send_multipart(
        &stack,
        Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &signed,
        VALIDATION_BODY,
        other_app.clone(),
    )
    .await;
    let govway = r
        .headers()
        .get("govway-transaction-id")
        .map(|v| v.to_str().unwrap().to_string());
    let (s, _, v) = read(r).await;
    assert_eq!(s, 201, "{v}");
    assert!(v["warning"].as_str().unwrap().contains("[MW-APP]"), "{v}");
    assert!(
        govway.is_some_and(|g| uuid::Uuid::parse_str(&g).is_ok()),
        "GovWay-Transaction-ID passed back"
    );
    let wii = v["workflowInstanceId"].as_str().unwrap().to_string();
    let (s, _, b) = send_read(
        &stack,
        Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &publication_body(id),
        other_app.clone(),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    assert!(b["warning"].as_str().unwrap().contains("[MW-APP]"), "{b}");

    let (auth, _) = tokens(
        JwtOperation::Validation,
        None,
        json!({"sub": "S1#160#80017210727FSEMW"}),
        "producer",
    );
    for path in [
        format!("/status/{wii}"),
        format!("/status/search/{}", b["traceID"].as_str().unwrap()),
    ] {
        let r = stack
            .call(Some("producer"), Method::GET, &path, None)
            .header("Authorization", &auth)
            .send()
            .await
            .unwrap();
        let (s, _, b) = read(r).await;
        assert_eq!(s, 200, "{path}: {b}");
        assert!(b.get("warning").is_none(), "{path}: {b}");
        let keys: Vec<&String> = b.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["traceID", "spanID", "transactionData"], "{path}");
    }

    let enc = id.replace('^', "%5E");
    let (auth, sig) = tokens(JwtOperation::Metadata, None, other_app.clone(), "producer");
    let r = stack
        .call(Some("producer"), Method::PUT, &format!("/documents/{enc}/metadata-iti-57"), Some((&auth, &sig)))
        .json(&json!({"tipologiaStruttura": "Ospedale", "tipoDocumentoLivAlto": "REF", "assettoOrganizzativo": "AD_PSC001", "tipoAttivitaClinica": "CON", "identificativoSottomissione": "2.16.840.1.113883.2.9.2.160.4.3.1"}))
        .send()
        .await
        .unwrap();
    let (s, tx, b) = read(r).await;
    assert_eq!(s, 200, "metadata: {b}");
    assert!(b.get("warning").is_none(), "metadata: {b}");
    let rows = stack.transactions(&format!("id={tx}")).await;
    assert!(rows[0]["local_warnings"].is_null(), "{}", rows[0]);

    let (auth, sig) = tokens(JwtOperation::Delete, None, other_app, "producer");
    let r = stack
        .call(
            Some("producer"),
            Method::DELETE,
            &format!("/documents/{enc}"),
            Some((&auth, &sig)),
        )
        .send()
        .await
        .unwrap();
    let (s, _, b) = read(r).await;
    assert_eq!(s, 200, "delete: {b}");
    assert!(b.get("warning").is_none(), "delete: {b}");
}

/// A refusal of GovWay's front end keeps its identifiers: the error type and the
/// transaction id the body names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn govway_refusals_keep_their_headers() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    // A status of the producer's own trace (another's never reaches the gateway), asked
    // without a token.
    let (s, _, v) = read(validate(&stack, &pdf(LAB_OK)).await).await;
    assert_eq!(s, 201, "{v}");
    let search = format!("/status/search/{}", v["traceID"].as_str().unwrap());
    let r = stack
        .call(Some("producer"), Method::GET, &search, None)
        .send()
        .await
        .unwrap();
    let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let (kind, id) = (
        header("govway-transaction-errortype"),
        header("govway-transaction-id"),
    );
    let (s, _, b) = read(r).await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(kind.as_deref(), Some("TokenAuthenticationRequired"));
    assert_eq!(id.as_deref(), b["govway_id"].as_str(), "{b}");
}
