//! End-to-end tests over real TLS and a real PostgreSQL (one binary, a module per feature).

mod accreditation;
mod admin_surface;
mod attacks;
mod audit;
mod auth;
mod bad_input;
mod console;
mod corpus;
mod database_outage;
mod database_tls;
mod deployment;
mod differential;
mod fhir;
mod forwarding;
mod front_door;
mod gateway_failures;
mod gateway_rules;
mod gateway_status;
mod govway_frontier;
mod hsm;
mod internal_errors;
mod outbox;
mod outbox_crash;
mod outcomes;
mod pades;
mod prometheus;
mod request_rules;
mod revocation;
mod saml;
mod schemathesis;
mod schematron;
mod signing;
mod soap_attacks;
mod soap_consent;
mod soap_document;
mod soap_notebook;
mod soap_publication;
mod soap_security;
mod soap_zeep;
mod twin;
mod vocabulary;
mod warnings;
mod xds_registry;
mod xds_repository;
mod xsd;

use dev_tools::dev_jwt::JwtOperation;
use integration_tests::stack::{TestStack, form, tokens};
use integration_tests::testdata;
use serde_json::{Value, json};

pub(crate) const LAB_OK: &str = "pdf/attachment/LAB_OK.pdf";
pub(crate) const SIGNED_LAB: &str = "pdf/accreditamento/SIGNED_LAB1.pdf";

/// The lab report of [`SIGNED_LAB`] signed by a test signer (`fsemw-dev sign-pdf`): the
/// sample's own signature does not verify (docs/gateway-fidelity.md, row S21), so the
/// simulator, like the gateway, refuses to publish it.
pub(crate) fn signed_lab() -> Vec<u8> {
    static SIGNED: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    SIGNED
        .get_or_init(|| dev_tools::dev_pades::sign_now(&pdf(SIGNED_LAB)).expect("a signed PDF"))
        .clone()
}
pub(crate) const VALIDATION_BODY: &str =
    r#"{"healthDataFormat":"CDA","mode":"ATTACHMENT","activity":"VALIDATION"}"#;

/// A publication `requestBody` for document `id`.
pub(crate) fn publication_body(id: &str) -> String {
    json!({
        "healthDataFormat": "CDA", "mode": "ATTACHMENT", "tipologiaStruttura": "Ospedale",
        "attiCliniciRegoleAccesso": ["P99"], "identificativoDoc": id,
        "identificativoRep": "2.16.840.1.113883.2.9.2.160.4.5.1", "tipoDocumentoLivAlto": "REF",
        "assettoOrganizzativo": "AD_PSC001", "dataInizioPrestazione": "20241020110012",
        "dataFinePrestazione": "20241020110012", "tipoAttivitaClinica": "CON",
        "identificativoSottomissione": "2.16.840.1.113883.2.9.2.160.4.3.489592",
        "descriptions": ["019655^Bentelan^2.16.840.1.113883.2.9.6.1.5"], "administrativeRequest": ["SSN"]
    })
    .to_string()
}

/// Sends a multipart request through the middleware as the demo producer.
pub(crate) async fn send_multipart(
    stack: &TestStack,
    method: reqwest::Method,
    path: &str,
    op: JwtOperation,
    pdf: &[u8],
    body: &str,
    overrides: Value,
) -> reqwest::Response {
    let (auth, sig) = tokens(op, Some(pdf), overrides, "producer");
    stack
        .call(Some("producer"), method, path, Some((&auth, &sig)))
        .header("Accept", "application/json")
        .multipart(form(body, pdf.to_vec()))
        .send()
        .await
        .expect("request")
}

/// [`send_multipart`], read as (status, transaction id, JSON body).
pub(crate) async fn send_read(
    stack: &TestStack,
    method: reqwest::Method,
    path: &str,
    op: JwtOperation,
    pdf: &[u8],
    body: &str,
    overrides: Value,
) -> (u16, String, Value) {
    read(send_multipart(stack, method, path, op, pdf, body, overrides).await).await
}

/// Publishes the signed lab report as document `id` (`POST /documents`) with the token
/// claims `claims` overridden, read as (status, transaction id, JSON body).
pub(crate) async fn create(stack: &TestStack, id: &str, claims: Value) -> (u16, String, Value) {
    let body = publication_body(id);
    let signed = signed_lab();
    let (m, op) = (reqwest::Method::POST, JwtOperation::Create);
    send_read(stack, m, "/documents", op, &signed, &body, claims).await
}

/// A one-page PDF carrying `content` as the embedded file `name` (`cda.xml`, `bundle.json`).
pub(crate) fn pdf_attaching(name: &str, content: &[u8]) -> Vec<u8> {
    use lopdf::{Document, Object, Stream, dictionary};
    let mut doc = Document::with_version("1.7");
    let pages = doc.new_object_id();
    let page = doc.add_object(dictionary! {
        "Type" => "Page", "Parent" => pages,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages,
        Object::Dictionary(
            dictionary! {"Type" => "Pages", "Kids" => vec![page.into()], "Count" => 1},
        ),
    );
    let file = doc.add_object(Stream::new(
        dictionary! {"Type" => "EmbeddedFile"},
        content.to_vec(),
    ));
    let spec = doc.add_object(dictionary! {
        "Type" => "Filespec", "F" => Object::string_literal(name),
        "EF" => dictionary! {"F" => file},
    });
    let names = dictionary! {"EmbeddedFiles" => dictionary! {
        "Names" => vec![Object::string_literal(name), spec.into()],
    }};
    let catalog =
        doc.add_object(dictionary! {"Type" => "Catalog", "Pages" => pages, "Names" => names});
    doc.trailer.set("Root", catalog);
    let mut out = Vec::new();
    doc.save_to(&mut out).unwrap();
    out
}

/// Validates `pdf` presenting `cert` (`None`: no client certificate) with the token pair
/// `(auth, sig)`, read as (status, transaction id, JSON body).
pub(crate) async fn validate_with(
    stack: &TestStack,
    cert: Option<&str>,
    pdf: &[u8],
    (auth, sig): (&str, &str),
) -> (u16, String, Value) {
    let r = stack
        .call(
            cert,
            reqwest::Method::POST,
            "/documents/validation",
            Some((auth, sig)),
        )
        .multipart(form(VALIDATION_BODY, pdf.to_vec()))
        .send()
        .await
        .expect("request");
    read(r).await
}

/// Validates `pdf` (activity VALIDATION) through the middleware.
pub(crate) async fn validate(stack: &TestStack, pdf: &[u8]) -> reqwest::Response {
    send_multipart(
        stack,
        reqwest::Method::POST,
        "/documents/validation",
        JwtOperation::Validation,
        pdf,
        VALIDATION_BODY,
        json!({}),
    )
    .await
}

/// Nothing reached the gateway, and `count` requests were refused for their JWT.
pub(crate) async fn assert_jwt_refusals_not_forwarded(stack: &TestStack, count: u32) {
    assert!(
        stack.observed().await.is_empty(),
        "nothing reached the gateway"
    );
    let metrics = stack.metrics().await;
    assert!(
        metrics.contains(&format!(
            "fsemw_producer_refusals_total{{reason=\"jwt\"}} {count}"
        )),
        "{metrics}"
    );
}

/// Reads a response as (status, transaction id, JSON body).
pub(crate) async fn read(r: reqwest::Response) -> (u16, String, Value) {
    let status = r.status().as_u16();
    let tx = r
        .headers()
        .get("x-transaction-id")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = r.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, tx, body)
}

pub(crate) fn pdf(rel: &str) -> Vec<u8> {
    testdata(rel)
}
