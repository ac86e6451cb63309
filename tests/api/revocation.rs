//! Producer certificates revoked by their CA: the CRL in force refuses them, a new list
//! applies without a restart, a broken list changes nothing.

use dev_tools::dev_jwt::JwtOperation;
use dev_tools::dev_pki::{PkiNames, generate, write_crl};
use hsm::Purpose;
use integration_tests::stack::{StackOptions, TestStack, pki, tokens};
use middleware::trust::Trust;
use rustls_pki_types::pem::PemObject;
use serde_json::json;

use crate::{LAB_OK, pdf, validate_with};

const REVOKED_CN: &str = "33333333333.revocato.it";

async fn validate_as(stack: &TestStack, cert: &str) -> (u16, String, serde_json::Value) {
    let lab = pdf(LAB_OK);
    let (auth, sig) = tokens(JwtOperation::Validation, Some(&lab), json!({}), cert);
    validate_with(stack, Some(cert), &lab, (&auth, &sig)).await
}

async fn reload(stack: &TestStack) -> (u16, serde_json::Value) {
    let r = stack
        .admin(reqwest::Method::POST, "/admin/crls/reload")
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_producer_certificates_are_refused_until_the_list_says_otherwise() {
    let pki = pki();
    // The stack reads its own copy: the test replaces it as a CA's publication would.
    let dir = std::env::temp_dir().join(format!("fsemw-crl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let crl = dir.join("regional-ca.crl.pem");
    std::fs::copy(pki.dir.join("regional-ca.crl.pem"), &crl).unwrap();
    let stack = TestStack::spawn(StackOptions {
        client_crls: vec![crl.display().to_string()],
        ..StackOptions::default()
    })
    .await;
    let revoked = middleware::db::producers::NewProducer {
        cert_cn: REVOKED_CN.into(),
        application_id: "REVOCATO".into(),
        application_vendor: "FSEMW TEST".into(),
        application_version: "1.0".into(),
        role: "producer".into(),
        organization: "aslba".into(),
        signing_cert_pem: None,
    };
    middleware::db::producers::upsert(&stack.state.pool, &revoked)
        .await
        .unwrap();

    // Listed: refused before anything else, with the contract's problem document.
    let (s, tx, b) = validate_as(&stack, "producer-revoked").await;
    assert_eq!(
        (s, b["type"].as_str()),
        (401, Some("mw/unauthorized")),
        "{b}"
    );
    assert!(b["detail"].as_str().unwrap().contains("(revoked)"), "{b}");
    let rows = stack.transactions(&format!("id={tx}")).await;
    assert_eq!(rows[0]["outcome"], "refused");
    assert!(stack.observed().await.is_empty(), "nothing forwarded");
    // Not listed, same CA: served. Another CA is still refused as untrusted, not as revoked.
    let (s, _, b) = validate_as(&stack, "producer").await;
    assert_eq!(s, 201, "{b}");
    let (s, _, _) = validate_as(&stack, "producer-stranger").await;
    assert_eq!(s, 401);
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_producer_refusals_total{reason=\"revoked\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("fsemw_producer_refusals_total{reason=\"certificate\"} 1"));
    let due = metrics
        .lines()
        .find(|l| {
            l.starts_with("fsemw_client_crl_next_update_seconds{issuer=\"Dev Regional CA 160\"}")
        })
        .and_then(|l| l.rsplit(' ').next()?.parse::<i64>().ok())
        .expect("next-update gauge");
    assert!((6 * 86_400..=7 * 86_400).contains(&due), "{due}");

    // A damaged download: 409, the list in force stays.
    std::fs::write(
        &crl,
        "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
    )
    .unwrap();
    let (s, b) = reload(&stack).await;
    assert_eq!((s, b["status"].as_str()), (409, Some("failed")), "{b}");
    let (s, _, _) = validate_as(&stack, "producer-revoked").await;
    assert_eq!(s, 401, "the previous list still applies");

    // The CA's next list no longer names it (a suspension lifted): served, no restart.
    let ca_pem = std::fs::read_to_string(pki.cert("regional-ca")).unwrap();
    let ca_key =
        rcgen::KeyPair::from_pem(&std::fs::read_to_string(pki.key("regional-ca")).unwrap())
            .unwrap();
    let issuer = rcgen::Issuer::from_ca_cert_pem(&ca_pem, ca_key).unwrap();
    write_crl(&dir, "regional-ca", &issuer, &[]).unwrap();
    let (s, b) = reload(&stack).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["crls"][0]["revoked"], 0, "{b}");
    assert_eq!(b["crls"][0]["issuer"], "Dev Regional CA 160");
    let (s, _, b) = validate_as(&stack, "producer-revoked").await;
    assert_eq!(s, 201, "{b}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// The lists behind the trust store: read, described, reloaded when the file changes (PEM or
/// DER), and a broken file leaves the list in force.
#[test]
fn lists_are_read_described_and_reloaded_when_the_file_changes() {
    middleware::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("fsemw-trust-{}", std::process::id()));
    let pki = generate(&dir, &PkiNames::default()).unwrap();
    let crl = dir.join("regional-ca.crl.pem").display().to_string();
    let ca = [pki.cert("regional-ca")];
    let trust = Trust::load(Purpose::ClientAuth, &ca, std::slice::from_ref(&crl), false).unwrap();
    let crls = trust.crls();
    assert_eq!(crls.len(), 1);
    assert_eq!(
        (crls[0].issuer.as_str(), crls[0].revoked),
        ("Dev Regional CA 160", 1)
    );
    assert!(
        !trust.reload_if_changed().unwrap(),
        "unchanged file, no reload"
    );

    // The same list in DER form is read too.
    let der = rustls_pki_types::CertificateRevocationListDer::pem_file_iter(&crl)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    std::fs::write(&crl, der.as_ref()).unwrap();
    assert!(trust.reload_if_changed().unwrap());
    assert_eq!(trust.crls()[0].revoked, 1);

    // A file that is not a CRL fails the load and leaves the list in force.
    std::fs::write(&crl, b"not a list").unwrap();
    assert!(trust.reload().is_err());
    assert_eq!(trust.crls()[0].revoked, 1);
    assert!(Trust::load(Purpose::ClientAuth, &ca, &[crl], false).is_err());
    let _ = std::fs::remove_dir_all(&dir);
}
