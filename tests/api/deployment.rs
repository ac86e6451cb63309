//! What deployment relies on: the systemd unit passes `systemd-analyze verify`, every
//! Kubernetes manifest passes kubernetes-validate (strict), and SIGTERM drains: a request
//! in flight when the process is told to stop still gets its answer, new connections are
//! refused, and the process exits cleanly.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use integration_tests::process::{MwProcess, fsemw_binary};
use integration_tests::stack::{StackOptions, TestStack, pki};
use serde_json::json;

use crate::{LAB_OK, pdf};

fn ops() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../ops")
}

#[test]
fn the_systemd_unit_verifies() {
    let unit = std::fs::read_to_string(ops().join("systemd/fsemw.service")).unwrap();
    // Verified as installed, the binary of this build in place of /usr/local/bin/fsemw.
    let dir = std::env::temp_dir().join(format!("fsemw-unit-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fsemw.service");
    let binary = fsemw_binary();
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/fsemw", binary.to_str().unwrap()),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian package systemd)");
    let text = integration_tests::printed(&out);
    // Unknown keys are only warnings: the output must be empty too.
    assert!(out.status.success() && text.trim().is_empty(), "{text}");
}

#[test]
fn every_kubernetes_manifest_validates() {
    let mut files = Vec::new();
    let mut dirs = vec![ops().join("k8s")];
    while let Some(d) = dirs.pop() {
        for e in std::fs::read_dir(d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                dirs.push(p);
            } else if p.extension().is_some_and(|x| x == "yaml") {
                files.push(p);
            }
        }
    }
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    let tool = integration_tests::py_tools().join("bin/kubernetes-validate");
    let out = Command::new(tool)
        .arg("--strict")
        .args(&files)
        .output()
        .expect("kubernetes-validate");
    let text = integration_tests::printed(&out);
    assert!(out.status.success() && !text.contains("ERROR"), "{text}");
    for kind in [
        "deployment/fsemw",
        "service/fsemw",
        "service/fsemw-admin",
        "poddisruptionbudget/fsemw",
        "networkpolicy/fsemw",
    ] {
        assert!(
            text.contains(&format!("passed for resource {kind}")),
            "{kind}: {text}"
        );
    }
    // Probes on the admin listener's health and readiness, a drain window after SIGTERM.
    let deployment = std::fs::read_to_string(ops().join("k8s/base/deployment.yaml")).unwrap();
    for needed in [
        "path: /readyz",
        "path: /healthz",
        "terminationGracePeriodSeconds: 45",
    ] {
        assert!(deployment.contains(needed), "{needed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_requests_in_flight_finish() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let (mut mw, _db) = MwProcess::with_demo_producer(&stack, "term").await;
    // The gateway takes 2 s: the request is in flight when SIGTERM arrives.
    stack
        .fault(json!({"mode": "delay", "delay_ms": 2000}))
        .await;
    let lab = pdf(LAB_OK);
    let (bearer, signature) = integration_tests::stack::tokens(
        dev_tools::dev_jwt::JwtOperation::Validation,
        Some(&lab),
        json!({}),
        "producer",
    );
    let client = stack.client(Some("producer"));
    let url = format!("{}/documents/validation", mw.mw_url);
    let form = integration_tests::stack::form(crate::VALIDATION_BODY, lab.clone());
    let in_flight = tokio::spawn(
        client
            .post(url.clone())
            .header("Authorization", bearer)
            .header("FSE-JWT-Signature", signature)
            .multipart(form)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let status = mw.terminate(Duration::from_secs(40)).await;
    let answer = in_flight.await.unwrap().expect("answered, not cut");
    assert_eq!(answer.status(), 201, "{:?}", answer.text().await);
    let status = status.expect("exited within the drain window");
    assert!(status.success(), "exit status {status}");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    // Stopped: nothing listens any more.
    let fresh = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(pki().cert("ca-bundle")).unwrap())
                .unwrap(),
        )
        .build()
        .unwrap();
    assert!(fresh.get(&url).send().await.is_err());
    stack.fault(json!({"mode": "none"})).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_refuses_to_start_with_weak_secrets() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let dir = std::env::temp_dir().join(format!("fsemw-secrets-{}", uuid::Uuid::new_v4().simple()));
    let production =
        |text: String| text.replace("environment = \"test\"", "environment = \"production\"");
    let strong = "k".repeat(48);
    let cases = [
        ("cf_hmac_key = \"change-me\"", "audit.cf_hmac_key"),
        (
            "cf_hmac_key = \"short-but-not-a-placeholder\"",
            "audit.cf_hmac_key",
        ),
    ];
    for (line, key) in cases {
        let out = MwProcess::check_config(&stack, &dir, |t| {
            production(t).replace(
                "cf_hmac_key = \"test-key-of-the-integration-tests-0123456789\"",
                line,
            )
        });
        let text = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{line}: accepted");
        assert!(
            text.contains(key) && !text.contains("change-me"),
            "{line}: {text}"
        );
    }
    // The session key too, when one is set.
    let out = MwProcess::check_config(&stack, &dir, |t| {
        format!("{}\n[console]\nsession_key = \"changeme\"\n", production(t))
    });
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && text.contains("console.session_key"),
        "{text}"
    );
    // Long random-looking keys start; the same weak key is accepted in the test environment.
    let out = MwProcess::check_config(&stack, &dir, |t| {
        format!(
            "{}\n[console]\nsession_key = \"{strong}\"\n",
            production(t).replace(
                "cf_hmac_key = \"test-key-of-the-integration-tests-0123456789\"",
                &format!("cf_hmac_key = \"{strong}\""),
            )
        )
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = MwProcess::check_config(&stack, &dir, |t| {
        t.replace(
            "cf_hmac_key = \"test-key-of-the-integration-tests-0123456789\"",
            "cf_hmac_key = \"change-me\"",
        )
    });
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
}
