//! Certificate cases: case 2 re-signs with the regional key, case 1 forwards untouched.

use dev_tools::dev_jwt::JwtOperation;
use hsm::jwt::Jwt;
use integration_tests::stack::{StackOptions, TestStack, pki, shared_token, tokens};
use serde_json::json;

use crate::{LAB_OK, VALIDATION_BODY, pdf, read, send_multipart, validate_with};

const REISSUED: [&str; 5] = ["iss", "aud", "iat", "exp", "jti"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_2_tokens_are_regional_and_keep_the_producer_claims() {
    let stack = TestStack::spawn(StackOptions {
        case: 2,
        ..Default::default()
    })
    .await;
    let lab = pdf(LAB_OK);
    let (auth, sig) = tokens(
        JwtOperation::Validation,
        Some(&lab),
        json!({"subject_application_version": "1.0"}),
        "producer",
    );
    let (s, _, b) = validate_with(&stack, Some("producer"), &lab, (&auth, &sig)).await;
    assert_eq!(s, 201, "the simulator accepted the regional tokens: {b}");

    let seen = stack.observed().await.pop().unwrap();
    // The keys live in SoftHSM2; their certificates are the token's.
    let files = &shared_token().files;
    let load = |p: &std::path::Path| {
        hsm::Certificate::load_pem_chain(&p.display().to_string())
            .unwrap()
            .remove(0)
    };
    let region_auth = load(&files.auth_cert);
    let region_sig = load(&files.signature_cert);
    assert_eq!(
        seen["tls_client_cn"],
        region_auth.subject_cn(),
        "TLS to the gateway uses the regional authentication certificate"
    );

    let sent = Jwt::parse(&sig).unwrap();
    let got = Jwt::parse(seen["signature"].as_str().unwrap()).unwrap();
    got.verify_with(&region_sig)
        .expect("signed with the regional signature key");
    assert_eq!(
        got.x5c_leaf().unwrap().subject_cn(),
        region_sig.subject_cn()
    );
    assert_eq!(
        got.claims.names().collect::<Vec<_>>(),
        sent.claims.names().collect::<Vec<_>>(),
        "claim order kept"
    );
    for name in sent.claims.names() {
        if !REISSUED.contains(&name) {
            assert_eq!(
                got.claims.raw(name),
                sent.claims.raw(name),
                "claim {name} must be byte-identical"
            );
        }
    }
    assert_eq!(
        got.claims.string("iss").unwrap(),
        format!("integrity:{}", region_sig.subject_cn())
    );
    assert_eq!(got.claims.string("aud").unwrap(), stack.sim_url);
    assert_ne!(got.claims.raw("jti"), sent.claims.raw("jti"));

    let bearer = Jwt::parse(
        seen["authorization"]
            .as_str()
            .unwrap()
            .strip_prefix("Bearer ")
            .unwrap(),
    )
    .unwrap();
    bearer.verify_with(&region_sig).unwrap();
    assert_eq!(
        bearer.claims.string("iss").unwrap(),
        format!("auth:{}", region_sig.subject_cn())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_2_refuses_tokens_not_signed_by_the_producer() {
    let stack = TestStack::spawn(StackOptions {
        case: 2,
        ..Default::default()
    })
    .await;
    let lab = pdf(LAB_OK);
    // Signed by another key than the producer's certificate.
    let (auth, sig) = tokens(
        JwtOperation::Validation,
        Some(&lab),
        json!({}),
        "producer-unregistered",
    );
    let (s, tx, b) = validate_with(&stack, Some("producer"), &lab, (&auth, &sig)).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (403, Some("mw/unauthorized")),
        "{b}"
    );
    assert!(!tx.is_empty());
    // Expired token.
    let r = send_multipart(
        &stack,
        reqwest::Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        &lab,
        VALIDATION_BODY,
        json!({"exp": 1_000_000}),
    )
    .await;
    let (s, _, b) = read(r).await;
    assert_eq!(s, 403, "{b}");
    assert!(b["detail"].as_str().unwrap().contains("expired"));
    assert!(
        stack.observed().await.is_empty(),
        "nothing reached the gateway"
    );
}

/// A stack in certificate case 1 (tokens forwarded untouched) that reads the registry on
/// every request, so a registration applies at once.
pub(crate) async fn case_1_stack() -> TestStack {
    TestStack::spawn(StackOptions {
        case: 1,
        sim_checks_audience: false,
        producer_cache_secs: 0,
        ..Default::default()
    })
    .await
}

/// Registers the demo producer's signing certificates: its TLS one and its national one.
pub(crate) async fn register_signing_certs(stack: &TestStack) {
    let pem = ["producer", "producer-national-sig"]
        .map(|n| std::fs::read_to_string(pki().cert(n)).unwrap())
        .concat();
    middleware::db::producers::upsert(
        &stack.state.pool,
        &integration_tests::stack::demo_producer(Some(pem)),
    )
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_1_forwards_the_tokens_untouched() {
    let stack = case_1_stack().await;
    register_signing_certs(&stack).await;
    let lab = pdf(LAB_OK);
    let (auth, sig) = tokens(
        JwtOperation::Validation,
        Some(&lab),
        json!({}),
        "producer-national-sig",
    );
    let (s, _, b) = validate_with(&stack, Some("producer"), &lab, (&auth, &sig)).await;
    assert_eq!(s, 201, "{b}");
    let seen = stack.observed().await.pop().unwrap();
    assert_eq!(seen["authorization"], auth.as_str());
    assert_eq!(seen["signature"], sig.as_str());
    let body_hash =
        hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"").as_ref());
    assert_ne!(seen["body_sha256"], body_hash.as_str());
    assert_eq!(
        seen["tls_client_cn"].as_str().unwrap().split('#').next(),
        Some("A1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_1_refuses_tokens_whose_x5c_is_not_the_producers() {
    let stack = case_1_stack().await;
    let lab = pdf(LAB_OK);
    let pair = |signer: &str| tokens(JwtOperation::Validation, Some(&lab), json!({}), signer);
    let (stack, lab) = (&stack, &lab);
    let send = |auth: String, sig: String| async move {
        validate_with(stack, Some("producer"), lab, (&auth, &sig)).await
    };
    // Not registered: only its TLS certificate may sign, so a national certificate is not its own.
    let (auth, sig) = pair("producer-national-sig");
    let (s, _, b) = send(auth.clone(), sig.clone()).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (403, Some("mw/unauthorized")),
        "{b}"
    );
    assert!(b["detail"].as_str().unwrap().contains("x5c"), "{b}");

    register_signing_certs(stack).await;
    // Another party's valid tokens (here: the region's own signature certificate).
    let (other_auth, other_sig) = pair("region-sig");
    let (s, _, b) = send(other_auth.clone(), other_sig.clone()).await;
    assert_eq!(
        (s, b["type"].as_str()),
        (403, Some("mw/unauthorized")),
        "{b}"
    );
    crate::assert_jwt_refusals_not_forwarded(stack, 2).await;
    // Another party's signature under the producer's own x5c: forwarded, and the gateway,
    // which checks signatures in case 1, refuses it.
    let own_header = auth
        .trim_start_matches("Bearer ")
        .split('.')
        .next()
        .unwrap();
    let graft = |token: &str, prefix: &str| {
        let rest: Vec<&str> = token.trim_start_matches(prefix).splitn(2, '.').collect();
        format!("{prefix}{own_header}.{}", rest[1])
    };
    let (s, _, b) = send(graft(&other_auth, "Bearer "), graft(&other_sig, "")).await;
    // GovWay's own refusal of a signature that does not verify (live #742).
    assert_eq!(
        (s, b["title"].as_str()),
        (401, Some("TokenAuthenticationFailed")),
        "{b}"
    );
    // Its own tokens still go through, untouched.
    let (s, _, b) = send(auth.clone(), sig.clone()).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        stack.observed().await.pop().unwrap()["authorization"],
        auth.as_str()
    );
}
