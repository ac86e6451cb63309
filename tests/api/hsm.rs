//! The regional keys in the token: refused when unsafe, recovered after a token
//! failure without a restart, rotated without downtime.

use std::sync::Arc;
use std::time::Duration;

use cryptoki::session::UserType;
use cryptoki::types::AuthPin;
use hsm::pkcs11::Token;
use hsm::pkcs11::admin::generate_rsa_key_pair;
use integration_tests::stack::{StackOptions, TestStack, keys_config, new_token};
use middleware::keys::KeyStore;

use crate::{LAB_OK, pdf, read, validate};

#[test]
fn unsafe_or_mismatched_keys_are_refused_at_start() {
    middleware::install_crypto_provider();
    let token = new_token("unsafe");
    // A wrong PIN is named as such. (PKCS#11 login is per application: this holds
    // while no session of this process is logged in to the token.)
    let mut cfg = keys_config(&token);
    let bad_pin = std::env::temp_dir().join(format!("fsemw-bad-pin-{}", std::process::id()));
    std::fs::write(&bad_pin, "0000").unwrap();
    cfg.pkcs11.as_mut().unwrap().pin_file = Some(bad_pin.display().to_string());
    let e = KeyStore::open(&cfg).unwrap_err().to_string();
    assert!(e.contains("C_Login"), "{e}");

    let opened = Token::open(
        &token.module,
        &token.label,
        "1234-test".to_string().into(),
        1,
    )
    .unwrap();
    generate_rsa_key_pair(&opened, &[3], "exportable", true).unwrap();

    let mut cfg = keys_config(&token);
    cfg.auth_cert = Some(token.files.auth_cert.display().to_string());
    cfg.pkcs11.as_mut().unwrap().signature_key_id = "03".into();
    cfg.signature_cert = Some(token.files.signature_cert.display().to_string());
    let e = KeyStore::open(&cfg).unwrap_err().to_string();
    assert!(e.contains("can leave the token"), "{e}");

    // The signature key with the authentication certificate: not its key.
    let mut cfg = keys_config(&token);
    cfg.signature_cert = Some(token.files.auth_cert.display().to_string());
    let e = KeyStore::open(&cfg).unwrap_err().to_string();
    assert!(e.contains("does not match"), "{e}");

    assert!(
        KeyStore::open(&keys_config(&token)).is_ok(),
        "the same token with its own keys is fine"
    );
}

/// Changes the user PIN of `token` (the application is logged out afterwards).
fn change_pin(token: &integration_tests::stack::HsmToken, old: &str, new: &str) {
    let ctx = hsm::pkcs11::token::module(&token.module).unwrap();
    let t = Token::open(&token.module, &token.label, old.to_string().into(), 1).unwrap();
    let session = ctx.open_rw_session(t.slot().unwrap()).unwrap();
    let _ = session.login(UserType::User, Some(&AuthPin::new(old.to_string().into())));
    session
        .set_pin(
            &AuthPin::new(old.to_string().into()),
            &AuthPin::new(new.to_string().into()),
        )
        .unwrap();
    session.logout().unwrap();
}

async fn burst(stack: &TestStack, n: usize) -> Vec<(u16, String)> {
    let lab = Arc::new(pdf(LAB_OK));
    let mut handles = Vec::new();
    for _ in 0..n {
        let lab = lab.clone();
        handles.push(async move { read(validate(stack, &lab).await).await });
    }
    futures_util::future::join_all(handles)
        .await
        .into_iter()
        .map(|(s, _, b)| (s, b["type"].as_str().unwrap_or_default().to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_failure_under_load_recovers_without_restart() {
    let token = new_token("recovery");
    let stack = TestStack::spawn(StackOptions {
        token: Some(token.clone()),
        ..Default::default()
    })
    .await;
    assert!(burst(&stack, 8).await.iter().all(|(s, _)| *s == 201));

    // Every session loses its login (token reset, sessions killed): re-opened transparently.
    let probe = Token::open(
        &token.module,
        &token.label,
        "1234-test".to_string().into(),
        1,
    )
    .unwrap();
    probe.logout_all().unwrap();
    let after_logout = burst(&stack, 8).await;
    assert!(
        after_logout.iter().all(|(s, _)| *s == 201),
        "{after_logout:?}"
    );

    // The token refuses the PIN for a while: requests fail cleanly, the server stays up.
    change_pin(&token, "1234-test", "changed-pin");
    let gap = burst(&stack, 8).await;
    assert!(
        gap.iter().all(|(s, t)| *s == 503 && t == "mw/unavailable"),
        "{gap:?}"
    );
    let ready = reqwest::get(format!("{}/readyz", stack.admin_url))
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["keys"]["status"], "down");

    // The token is back: no restart needed.
    change_pin(&token, "changed-pin", "1234-test");
    tokio::time::sleep(Duration::from_millis(50)).await;
    let back = burst(&stack, 8).await;
    assert!(back.iter().all(|(s, _)| *s == 201), "{back:?}");
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains("fsemw_signing_errors_total{backend=\"pkcs11\"}"),
        "{metrics}"
    );
    assert!(
        !metrics.contains("fsemw_hsm_session_reopens{key=\"signature\"} 0"),
        "{metrics}"
    );
    assert!(metrics.contains("fsemw_hsm_up{key=\"signature\"} 1"));
    let ready = reqwest::get(format!("{}/readyz", stack.admin_url))
        .await
        .unwrap();
    assert_eq!(ready.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_reload_under_load_without_failures() {
    let stack = TestStack::spawn(StackOptions::default()).await;
    let load = burst(&stack, 16);
    let reload = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        stack
            .admin(reqwest::Method::POST, "/admin/keys/reload")
            .send()
            .await
            .unwrap()
    };
    let (results, reloaded) = tokio::join!(load, reload);
    assert_eq!(reloaded.status().as_u16(), 200);
    let body: serde_json::Value = reloaded.json().await.unwrap();
    assert_eq!(body["certificates"].as_array().unwrap().len(), 2);
    assert!(results.iter().all(|(s, _)| *s == 201), "{results:?}");
    let metrics = stack.metrics().await;
    assert!(metrics.contains("fsemw_certificate_expiry_seconds{certificate=\"signature\"}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_2_and_1_3_client_authentication_sign_in_the_token() {
    use integration_tests::stack::{pki, shared_token};
    use middleware::server::tls::{load_certs, load_key, load_roots};
    middleware::install_crypto_provider();
    let pki = pki();
    let store = KeyStore::open(&keys_config(shared_token())).unwrap();
    for version in [&rustls::version::TLS12, &rustls::version::TLS13] {
        let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(
            load_roots(&pki.cert("national-ca")).unwrap(),
        ))
        .build()
        .unwrap();
        let server = rustls::ServerConfig::builder_with_protocol_versions(&[version])
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                load_certs(&pki.cert("gtw-sim")).unwrap(),
                load_key(&pki.key("gtw-sim")).unwrap(),
            )
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let server_side = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.expect("server handshake");
            let (_, conn) = tls.get_ref();
            let peer = conn.peer_certificates().unwrap()[0].clone();
            (
                conn.protocol_version(),
                hsm::Certificate::from_der(peer.into_owned())
                    .unwrap()
                    .subject_cn()
                    .to_string(),
            )
        });
        let client = rustls::ClientConfig::builder_with_protocol_versions(&[version])
            .with_root_certificates(load_roots(&pki.cert("national-ca")).unwrap())
            .with_client_cert_resolver(Arc::new(integration_tests::FixedClientCert(
                store.current().tls.clone(),
            )));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        tokio_rustls::TlsConnector::from(Arc::new(client))
            .connect(name, tcp)
            .await
            .expect("client handshake");
        let (negotiated, cn) = server_side.await.unwrap();
        assert_eq!(negotiated, Some(version.version));
        assert!(cn.starts_with("A1#160#"), "{cn}");
    }
}
