//! The operations console in headless Chromium (Playwright): sign in, filter by producer
//! and by workflowInstanceId, open a transaction, download its support bundle, with
//! screenshots in `target/console-artifacts/`. Around it: the sign-in is required, the
//! help desk role cannot retry, every bundle is recorded, the public page has no
//! identifiers.

use std::path::PathBuf;
use std::process::Command;

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{CONSOLE_USERS, PRODUCER_CN, StackOptions, TestStack, tokens};
use serde_json::{Value, json};

use crate::{
    LAB_OK, VALIDATION_BODY, pdf, publication_body, read, send_read, signed_lab, validate,
};

const OTHER_PRODUCER: &str = "11111111111.ignoto.it";

/// Traffic of two producers; the workflowInstanceId of a validated and published document.
async fn traffic(stack: &TestStack) -> String {
    stack.register_second_producer().await;
    let signed = signed_lab();
    let (s, _, v) = read(validate(stack, &signed).await).await;
    assert_eq!(s, 201, "{v}");
    let wii = v["workflowInstanceId"].as_str().unwrap().to_string();
    let (s, _, b) = send_read(
        stack,
        reqwest::Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed,
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^CONSOLE-1"),
        json!({}),
    )
    .await;
    assert_eq!(s, 202, "{b}");
    // Refused by the gateway: in the rejection report.
    let (s, _, _) = send_read(
        stack,
        reqwest::Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &pdf(LAB_OK),
        VALIDATION_BODY,
        json!({"purpose_of_use": "NOT_A_PURPOSE"}),
    )
    .await;
    assert_eq!(s, 403);
    // The other producer.
    let lab = pdf(LAB_OK);
    let (bearer, signature) = tokens(
        JwtOperation::Validation,
        Some(&lab),
        json!({}),
        "producer-unregistered",
    );
    let r = stack
        .client(Some("producer-unregistered"))
        .post(format!("{}/documents/validation", stack.mw_url))
        .header("Authorization", bearer)
        .header("FSE-JWT-Signature", signature)
        .multipart(integration_tests::stack::form(VALIDATION_BODY, lab))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    wii
}

/// An `application/x-www-form-urlencoded` body.
fn form(pairs: &[(&str, &str)]) -> String {
    let enc = |v: &str| {
        v.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

const FORM: &str = "application/x-www-form-urlencoded";

fn artifacts() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/console-artifacts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_in_a_real_browser() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let wii = traffic(&stack).await;
    let node_tools = integration_tests::node_tools();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ops/console/e2e.mjs");
    let (user, password, _) = CONSOLE_USERS[0];
    let admin = stack.admin_url.clone();
    let out_dir = artifacts();
    let w = wii.clone();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args([&admin, user, password, PRODUCER_CN, &w])
            .arg(&out_dir)
            .env(
                "PLAYWRIGHT_CORE",
                node_tools.join("node_modules/playwright-core/index.mjs"),
            )
            .output()
            .expect("node (Debian package nodejs; ops/test.sh installs it)")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    let summary: Value = serde_json::from_str(stdout.trim().lines().last().unwrap()).unwrap();
    // The producer filter keeps that producer's rows only; the workflow filter keeps the
    // validation and the publication of one document.
    assert_eq!(summary["producers"], json!([PRODUCER_CN]), "{summary}");
    let (all, by_producer) = (
        summary["all"].as_u64().unwrap(),
        summary["byProducer"].as_u64().unwrap(),
    );
    assert!(by_producer >= 3 && by_producer < all, "{summary}");
    assert_eq!(summary["workflowIds"], json!([wii]), "{summary}");
    assert_eq!(summary["byWorkflow"], 2, "{summary}");
    assert!(
        summary["health"]
            .as_str()
            .unwrap()
            .contains("raggiungibile"),
        "{summary}"
    );
    // The bundle: the opened transaction, its request, the answer and the CDA.
    let bundle: Value = serde_json::from_str(
        &std::fs::read_to_string(summary["bundleFile"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(bundle["transactionId"], summary["opened"]);
    assert_eq!(bundle["transaction"]["operation"], "create");
    let signed_sha =
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &signed_lab()).as_ref());
    assert_eq!(bundle["transaction"]["file_sha256"], signed_sha.as_str());
    assert_eq!(
        bundle["request"]["identificativoDoc"],
        "2.16.840.1.113883.2.9.2.160.4.4^CONSOLE-1"
    );
    assert_eq!(bundle["response"]["httpStatus"], 202);
    assert_eq!(
        bundle["response"]["body"]["workflowInstanceId"],
        wii.as_str()
    );
    assert!(
        bundle["cda"].as_str().unwrap().contains("ClinicalDocument"),
        "{bundle}"
    );
    assert_eq!(bundle["relatedTransactions"][0]["operation"], "validation");
    for shot in [
        "02-transactions",
        "03-filter-producer",
        "05-transaction",
        "06-rejections",
    ] {
        let png = std::fs::read(artifacts().join(format!("{shot}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 5_000, "{shot}");
    }
    // Every bundle is on record.
    let (db, conn) = tokio_postgres::connect(&stack.database_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let n: i64 = db
        .query_one(
            "SELECT count(*) FROM console_audit WHERE username = $1 AND action = 'support-bundle'",
            &[&user],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_roles_and_the_public_page() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    traffic(&stack).await;
    let admin = &stack.admin_url;
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Signed out: every page and the bundle lead to the sign-in.
    for path in [
        "/console/transactions",
        "/console/health",
        "/console/outbox",
    ] {
        let r = plain.get(format!("{admin}{path}")).send().await.unwrap();
        assert!(r.status().is_redirection(), "{path}");
        assert_eq!(r.headers()["location"], "/console/login");
    }
    let r = plain
        .post(format!("{admin}/console/login"))
        .header("content-type", FORM)
        .body(form(&[("user", "sportello"), ("password", "sbagliata")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let sign_in = |user: &'static str, password: &'static str| {
        let plain = plain.clone();
        let admin = admin.clone();
        async move {
            let r = plain
                .post(format!("{admin}/console/login"))
                .header("content-type", FORM)
                .body(form(&[("user", user), ("password", password)]))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_redirection());
            let cookie = r.headers()["set-cookie"].to_str().unwrap();
            assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
            cookie.split(';').next().unwrap().to_string()
        }
    };
    let helpdesk = sign_in(CONSOLE_USERS[0].0, CONSOLE_USERS[0].1).await;
    let operator = sign_in(CONSOLE_USERS[1].0, CONSOLE_USERS[1].1).await;
    // A queued publication to retry.
    stack.fault(json!({"mode": "down"})).await;
    let (s, _, _) = send_read(
        &stack,
        reqwest::Method::POST,
        "/documents",
        JwtOperation::Create,
        &signed_lab(),
        &publication_body("2.16.840.1.113883.2.9.2.160.4.4^CONSOLE-Q"),
        json!({}),
    )
    .await;
    assert_eq!(s, 202);
    let page = |cookie: String, path: &'static str| {
        let plain = plain.clone();
        let admin = admin.clone();
        async move {
            plain
                .get(format!("{admin}{path}"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    let helpdesk_view = page(helpdesk.clone(), "/console/outbox").await;
    assert!(helpdesk_view.contains("CONSOLE-Q") && !helpdesk_view.contains("Riprova ora"));
    // The retry form is offered only between attempts, never while the worker is sending the
    // row: read the page again until it is offered.
    let mut operator_view = String::new();
    let mut csrf = None;
    for _ in 0..100 {
        operator_view = page(operator.clone(), "/console/outbox").await;
        csrf = operator_view
            .split("name=\"csrf\" value=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .map(str::to_string);
        if csrf.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let csrf = csrf.expect("retry form");
    let id = operator_view
        .split("/console/outbox/")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_string();
    let retry = |cookie: String, token: String| {
        let plain = plain.clone();
        let url = format!("{admin}/console/outbox/{id}/retry");
        async move {
            plain
                .post(url)
                .header("cookie", cookie)
                .header("content-type", FORM)
                .body(form(&[("csrf", &token)]))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    // The help desk cannot; a form without this session's token is refused; the operator can.
    assert_eq!(retry(helpdesk.clone(), csrf.clone()).await, 403);
    assert_eq!(retry(operator.clone(), "forged".into()).await, 403);
    // The worker keeps trying while the gateway is down: a row being sent is not retried by
    // hand (409); between attempts it is.
    let mut status = 0;
    for _ in 0..100 {
        status = retry(operator.clone(), csrf.clone()).await;
        if status != 409 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, 303);
    stack.fault(json!({"mode": "none"})).await;
    // The rejection report names the cause, the ASL and the document type.
    let report = page(helpdesk, "/console/rejections").await;
    assert!(
        report.contains("/msg/jwt-validation")
            && report.contains("aslba")
            && report.contains("11502-2"),
        "{report}"
    );
    // The public page: volumes, no identifiers.
    let public = plain
        .get(format!("{admin}/public"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public.contains("Richieste per operazione") && public.contains("validation"));
    for secret in [PRODUCER_CN, OTHER_PRODUCER, "CONSOLE-1", "aslba"] {
        assert!(!public.contains(secret), "{secret} on the public page");
    }
}
