//! GovWay's own answers in front of the dispatcher (docs/gateway-fidelity.md row S13), in
//! certificate case 1 where the producer's tokens reach the gateway untouched: a token that
//! does not verify is 401 `TokenAuthenticationFailed` "Invalid token", one that verifies but
//! breaks the ModI profile (`iss` not bound to its certificate, `iat` in the future) is 400
//! `InteroperabilityInvalidRequest` with the fixed detail, and the transaction id of the
//! body is the header's.

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::tokens;
use serde_json::{Value, json};

use crate::signing::{case_1_stack, register_signing_certs};
use crate::{LAB_OK, pdf, validate_with};

const NOT_CONFORM: &str =
    "Received request is not conform to the required interoperability profile";

/// The GovWay problem's fields, and whether its id is a time-based UUID.
fn govway(b: &Value) -> (&str, &str, bool) {
    let id = b["govway_id"]
        .as_str()
        .and_then(|i| uuid::Uuid::parse_str(i).ok());
    (
        b["title"].as_str().unwrap_or_default(),
        b["detail"].as_str().unwrap_or_default(),
        id.is_some_and(|u| u.get_version_num() == 1),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn govway_refuses_tokens_as_its_front_end_does() {
    let stack = case_1_stack().await;
    register_signing_certs(&stack).await;
    let lab = pdf(LAB_OK);
    let signer = "producer-national-sig";
    let send = |claims: Value| {
        let (auth, sig) = tokens(JwtOperation::Validation, Some(&lab), claims, signer);
        let stack = &stack;
        let lab = &lab;
        async move { validate_with(stack, Some("producer"), lab, (&auth, &sig)).await }
    };
    // `iss` naming another certificate than the token's own x5c.
    let (s, _, b) = send(json!({"iss": "integrity:S1#160#99999999999ALTRO"})).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        govway(&b),
        ("InteroperabilityInvalidRequest", NOT_CONFORM, true),
        "{b}"
    );
    // Issued in the future.
    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let (s, _, b) = send(json!({"iat": later})).await;
    assert_eq!(s, 400, "{b}");
    assert_eq!(
        govway(&b),
        ("InteroperabilityInvalidRequest", NOT_CONFORM, true),
        "{b}"
    );
    // The same tokens with their own `iss` and `iat` pass.
    let (s, _, b) = send(json!({})).await;
    assert_eq!(s, 201, "{b}");

    // A signature token whose signature is another's: 401, GovWay's WWW-Authenticate.
    let (auth, sig) = tokens(JwtOperation::Validation, Some(&lab), json!({}), signer);
    let (_, other) = tokens(
        JwtOperation::Validation,
        Some(&lab),
        json!({"jti": "x"}),
        signer,
    );
    let forged = format!(
        "{}.{}",
        sig.rsplit_once('.').unwrap().0,
        other.rsplit_once('.').unwrap().1
    );
    let r = stack
        .call(
            Some("producer"),
            reqwest::Method::POST,
            "/documents/validation",
            Some((&auth, &forged)),
        )
        .multipart(integration_tests::stack::form(
            crate::VALIDATION_BODY,
            lab.clone(),
        ))
        .send()
        .await
        .unwrap();
    let header = |n: &str| r.headers().get(n).map(|v| v.to_str().unwrap().to_string());
    let (www, id, kind) = (
        header("www-authenticate"),
        header("govway-transaction-id"),
        header("govway-transaction-errortype"),
    );
    let (s, _, b) = crate::read(r).await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(
        govway(&b),
        ("TokenAuthenticationFailed", "Invalid token", true),
        "{b}"
    );
    assert_eq!(id.as_deref(), b["govway_id"].as_str());
    assert_eq!(kind.as_deref(), Some("TokenAuthenticationFailed"));
    assert_eq!(
        www.as_deref(),
        Some(
            r#"Bearer realm="FSE-JWT-Signature", error="invalid_token", error_description="Token invalid""#
        )
    );
}
